#include "common/time.h"

#include <cstdio>
#include <ctime>

#include "common/strings.h"

namespace common {
namespace {

std::tm ToTm(SystemTime t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return tm;
}

std::string Format(SystemTime t, const char* fmt) {
  std::tm tm = ToTm(t);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, fmt, &tm);
  return std::string(buf, n);
}

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

std::optional<SystemTime> FromFields(int y, int mo, int d, int h, int mi, int sec) {
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

}  // namespace

SystemClock& SystemClock::Instance() {
  static SystemClock clock;
  return clock;
}

std::string FormatAmzDate(SystemTime t) { return Format(t, "%Y%m%dT%H%M%SZ"); }
std::string FormatDateStamp(SystemTime t) { return Format(t, "%Y%m%d"); }
std::string FormatIso8601(SystemTime t) { return Format(t, "%Y-%m-%dT%H:%M:%SZ"); }
std::string FormatHttpDate(SystemTime t) { return Format(t, "%a, %d %b %Y %H:%M:%S GMT"); }

std::string FormatIso8601Millis(SystemTime t) {
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  if (ms < 0) ms += 1000;
  char buf[8];
  std::snprintf(buf, sizeof buf, ".%03d", static_cast<int>(ms));
  return Format(t, "%Y-%m-%dT%H:%M:%S") + buf + "Z";
}

std::optional<SystemTime> ParseAmzDate(std::string_view s) {
  int y, mo, d, h, mi, sec;
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
  if (!Digits(s, 0, 4, &y) || !Digits(s, 4, 2, &mo) || !Digits(s, 6, 2, &d) ||
      !Digits(s, 9, 2, &h) || !Digits(s, 11, 2, &mi) || !Digits(s, 13, 2, &sec))
    return std::nullopt;
  return FromFields(y, mo, d, h, mi, sec);
}

std::optional<SystemTime> ParseIso8601(std::string_view s) {
  int y, mo, d, h, mi, sec;
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
      s[13] != ':' || s[16] != ':')
    return std::nullopt;
  if (!Digits(s, 0, 4, &y) || !Digits(s, 5, 2, &mo) || !Digits(s, 8, 2, &d) ||
      !Digits(s, 11, 2, &h) || !Digits(s, 14, 2, &mi) || !Digits(s, 17, 2, &sec))
    return std::nullopt;
  size_t pos = 19;
  int64_t millis = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int scale = 100;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      millis += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
  }
  auto base = FromFields(y, mo, d, h, mi, sec);
  if (!base) return std::nullopt;
  int offset_min = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!Digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, &om))
      return std::nullopt;
    offset_min = (oh * 60 + om) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  return *base + std::chrono::milliseconds(millis) - std::chrono::minutes(offset_min);
}

int64_t ToUnixMillis(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
int64_t ToUnixSeconds(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}
SystemTime FromUnixMillis(int64_t ms) {
  return SystemTime(
      std::chrono::duration_cast<SystemTime::duration>(std::chrono::milliseconds(ms)));
}

int64_t NowMs() { return ToUnixMillis(std::chrono::system_clock::now()); }

Result<int64_t> ParseDurationSeconds(std::string_view text) {
  std::string_view t = Trim(text);
  int64_t unit = 1;
  if (!t.empty()) {
    switch (t.back()) {
      case 's':
        unit = 1;
        break;
      case 'm':
        unit = 60;
        break;
      case 'h':
        unit = 3600;
        break;
      case 'd':
        unit = 86400;
        break;
      default:
        unit = 0;
    }
    if (unit != 0) t.remove_suffix(1);
    if (unit == 0) unit = 1;
  }
  if (t.empty() || t.size() > 9 || t.find_first_not_of("0123456789") != std::string_view::npos ||
      std::stoll(std::string(t)) <= 0) {
    return InvalidArgument("bad duration \"" + std::string(text) +
                           "\": want a positive number with s, m, h or d, e.g. 6h");
  }
  return std::stoll(std::string(t)) * unit;
}

Result<int64_t> ParseTimeMs(std::string_view text, int64_t now_ms) {
  if (auto at = ParseIso8601(Trim(text))) return ToUnixMillis(*at);
  auto ago = ParseDurationSeconds(text);
  if (!ago.ok()) {
    return InvalidArgument("bad time \"" + std::string(text) +
                           "\": want ISO-8601 (2026-12-03T10:00:00Z) or a duration "
                           "before now (2h)");
  }
  return now_ms - *ago * 1000;
}

}  // namespace common
