#include "dispatch/util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>

#include "common/crypto.h"
#include "common/json_limits.h"
#include "common/strings.h"
#include "common/time.h"

namespace dispatch {

using common::Result;
using common::Status;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string FormatMs(int64_t ms) {
  if (ms == 0) return "";
  return common::FormatIso8601Millis(common::FromUnixMillis(ms));
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return common::NotFound("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status WriteFile(const std::string& path, std::string_view data, int mode) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, mode);
  if (fd < 0) return common::Internal("cannot write " + tmp);
  ::fchmod(fd, static_cast<mode_t>(mode));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n <= 0) {
      ::close(fd);
      return common::Internal("write failed: " + tmp);
    }
    off += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return common::Internal("rename failed: " + path);
  return Status::Ok();
}

int64_t FileSize(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_size;
}

std::string ReadFileFrom(const std::string& path, int64_t offset, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(offset);
  std::string out(max_bytes, '\0');
  in.read(out.data(), static_cast<std::streamsize>(max_bytes));
  out.resize(static_cast<size_t>(in.gcount()));
  return out;
}

std::string TailFile(const std::string& path, size_t max_bytes) {
  int64_t size = FileSize(path);
  int64_t start =
      size > static_cast<int64_t>(max_bytes) ? size - static_cast<int64_t>(max_bytes) : 0;
  std::string out = ReadFileFrom(path, start, max_bytes);
  if (start > 0) {
    size_t nl = out.find('\n');
    if (nl != std::string::npos && nl + 1 < out.size()) out.erase(0, nl + 1);
  }
  return out;
}

int HttpStatusFor(const Status& status) {
  switch (status.code()) {
    case common::Code::kOk:
      return 200;
    case common::Code::kInvalidArgument:
      return 400;
    case common::Code::kNotFound:
      return 404;
    case common::Code::kAlreadyExists:
      return 409;
    case common::Code::kPermissionDenied:
      return 403;
    case common::Code::kUnauthenticated:
      return 401;
    case common::Code::kResourceExhausted:
      return 413;
    case common::Code::kFailedPrecondition:
      return 409;
    case common::Code::kUnavailable:
      return 503;
    case common::Code::kDeadlineExceeded:
      return 504;
    case common::Code::kAborted:
      return 409;
    case common::Code::kUnimplemented:
      return 501;
    case common::Code::kInternal:
      return 500;
  }
  return 500;
}

http::Response JsonResponse(int http_status, const nlohmann::json& body) {
  return http::Response::Json(http_status,
                              body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

http::Response ErrorResponse(int http_status, const std::string& message) {
  return JsonResponse(http_status, {{"code", http_status}, {"message", message}});
}

http::Response ErrorResponse(const Status& status) {
  return ErrorResponse(HttpStatusFor(status), status.message());
}

Result<nlohmann::json> ParseJson(std::string_view text) {
  // A payload (a run's input) one level inside the request, with a level to spare.
  return common::ParseJsonBounded(text, common::kMaxJsonDepth + 2);
}

bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(name[0])) return false;
  for (char c : name) {
    if (!alnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

std::string NewRunId() {
  std::string b = common::RandomBytes(16);
  uint64_t ms = static_cast<uint64_t>(NowMs());
  for (int i = 0; i < 6; ++i) b[i] = static_cast<char>((ms >> (8 * (5 - i))) & 0xff);
  b[6] = static_cast<char>((b[6] & 0x0f) | 0x70);  // version 7
  b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);  // RFC 9562 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[(static_cast<unsigned char>(b[i]) >> 4) & 0xf];
    out += kHex[static_cast<unsigned char>(b[i]) & 0xf];
  }
  return out;
}

std::string RandomName() {
  static const char* kAdjectives[] = {
      "innocent", "holy",   "trusting", "brave",  "calm",    "eager",  "gentle", "happy",
      "jolly",    "kind",   "lively",   "nimble", "proud",   "quiet",  "silly",  "witty",
      "zealous",  "amused", "bold",     "clever", "curious", "daring", "fierce", "giddy",
      "humble",   "keen",   "lucky",    "mellow", "noble",   "plucky", "rapid",  "sunny"};
  static const char* kNouns[] = {
      "werewolf", "grackle", "marlin", "otter",  "badger", "falcon", "heron",  "lynx",
      "mantis",   "narwhal", "ocelot", "panda",  "quokka", "raven",  "salmon", "tapir",
      "urchin",   "vulture", "walrus", "yak",    "zebra",  "beaver", "condor", "dingo",
      "egret",    "ferret",  "gecko",  "hornet", "ibis",   "jackal", "koala",  "lemur"};
  std::string r = common::RandomBytes(8);
  auto byte = [&](int i) { return static_cast<unsigned char>(r[static_cast<size_t>(i)]); };
  uint32_t number =
      (static_cast<uint32_t>(byte(2)) << 16 | static_cast<uint32_t>(byte(3)) << 8 | byte(4)) %
      1000000;
  char digits[8];
  std::snprintf(digits, sizeof digits, "%06u", number);
  return std::string(kAdjectives[byte(0) % 32]) + "-" + kNouns[byte(1) % 32] + "-" + digits;
}

Result<int64_t> ParseDurationSeconds(std::string_view text) {
  std::string_view t = common::Trim(text);
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
    return common::InvalidArgument("bad duration \"" + std::string(text) +
                                   "\": want a positive number with s, m, h or d, e.g. 6h");
  }
  return std::stoll(std::string(t)) * unit;
}

Result<int64_t> ParseTimeMs(std::string_view text, int64_t now_ms) {
  if (auto at = common::ParseIso8601(common::Trim(text))) return common::ToUnixMillis(*at);
  auto ago = ParseDurationSeconds(text);
  if (!ago.ok()) {
    return common::InvalidArgument("bad time \"" + std::string(text) +
                                   "\": want ISO-8601 (2026-12-03T10:00:00Z) or a duration "
                                   "before now (2h)");
  }
  return now_ms - *ago * 1000;
}

}  // namespace dispatch
