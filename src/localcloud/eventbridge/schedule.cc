#include "localcloud/eventbridge/schedule.h"

#include <cstdlib>
#include <ctime>
#include <vector>

#include "common/strings.h"

namespace localcloud::eventbridge {
namespace {

using common::InvalidArgument;

common::Status Invalid() { return InvalidArgument("Parameter ScheduleExpression is not valid."); }

// A number or a name ("JAN", "MON") in [lo, hi]; -1 when invalid.
int ParseValue(std::string_view s, int lo, int hi, const std::vector<std::string>& names,
               int name_base) {
  std::string upper = common::ToUpper(s);
  for (size_t i = 0; i < names.size(); ++i) {
    if (upper == names[i]) return static_cast<int>(i) + name_base;
  }
  if (s.empty() || s.size() > 4) return -1;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
  }
  int v = std::atoi(std::string(s).c_str());
  return v >= lo && v <= hi ? v : -1;
}

// One cron field into a set of allowed values; `*any` true for '*' or '?'.
template <size_t N>
bool ParseField(std::string_view field, int lo, int hi, std::bitset<N>* out, bool* any,
                const std::vector<std::string>& names = {}, int name_base = 0,
                bool question_ok = false) {
  *any = false;
  if (field == "?") {
    if (!question_ok) return false;
    *any = true;
    for (int v = lo; v <= hi; ++v) out->set(v - (N == 200 ? 1970 : 0));
    return true;
  }
  for (const std::string& item : common::Split(field, ',')) {
    std::string_view range = item;
    int step = 1;
    if (auto slash = range.find('/'); slash != std::string_view::npos) {
      step = ParseValue(range.substr(slash + 1), 1, hi, {}, 0);
      if (step <= 0) return false;
      range = range.substr(0, slash);
    }
    int from, to;
    if (range == "*") {
      from = lo;
      to = hi;
      if (step == 1 && field == "*") *any = true;
    } else if (auto dash = range.find('-'); dash != std::string_view::npos) {
      from = ParseValue(range.substr(0, dash), lo, hi, names, name_base);
      to = ParseValue(range.substr(dash + 1), lo, hi, names, name_base);
      if (from < 0 || to < 0 || to < from) return false;
    } else {
      from = ParseValue(range, lo, hi, names, name_base);
      if (from < 0) return false;
      to = item.find('/') != std::string::npos ? hi : from;
    }
    for (int v = from; v <= to; v += step) out->set(v - (N == 200 ? 1970 : 0));
  }
  return true;
}

}  // namespace

common::Result<Schedule> ParseSchedule(std::string_view expression) {
  std::string_view e = common::Trim(expression);
  Schedule s;
  if (common::StartsWith(e, "rate(") && common::EndsWith(e, ")")) {
    auto parts = common::Split(common::Trim(e.substr(5, e.size() - 6)), ' ');
    if (parts.size() != 2) return Invalid();
    int n = ParseValue(parts[0], 1, 1'000'000, {}, 0);
    if (n <= 0) return Invalid();
    const std::string& unit = parts[1];
    // EventBridge insists on the singular for 1 and the plural otherwise.
    std::string singular = n == 1 ? unit : unit.substr(0, unit.size() - 1);
    if (n == 1 && common::EndsWith(unit, "s")) return Invalid();
    if (n != 1 && !common::EndsWith(unit, "s")) return Invalid();
    int minutes_per = singular == "minute" ? 1
                      : singular == "hour" ? 60
                      : singular == "day"  ? 1440
                                           : 0;
    if (minutes_per == 0) return Invalid();
    s.is_rate = true;
    s.rate = std::chrono::minutes(static_cast<int64_t>(n) * minutes_per);
    return s;
  }
  if (common::StartsWith(e, "cron(") && common::EndsWith(e, ")")) {
    std::vector<std::string> fields;
    for (const std::string& f : common::Split(common::Trim(e.substr(5, e.size() - 6)), ' ')) {
      if (!f.empty()) fields.push_back(f);
    }
    if (fields.size() != 6) return Invalid();
    for (const std::string& f : fields) {
      if (f.find_first_of("LW#") != std::string::npos) {
        return InvalidArgument("cron L, W and # are not supported by localcloud");
      }
    }
    static const std::vector<std::string> kMonths = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                     "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
    static const std::vector<std::string> kDays = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};
    bool any;
    if (!ParseField(fields[0], 0, 59, &s.minutes, &any)) return Invalid();
    if (!ParseField(fields[1], 0, 23, &s.hours, &any)) return Invalid();
    if (!ParseField(fields[2], 1, 31, &s.days_of_month, &s.any_day_of_month, {}, 0, true)) {
      return Invalid();
    }
    if (!ParseField(fields[3], 1, 12, &s.months, &any, kMonths, 1)) return Invalid();
    if (!ParseField(fields[4], 1, 7, &s.days_of_week, &s.any_day_of_week, kDays, 1, true)) {
      return Invalid();
    }
    if (!ParseField(fields[5], 1970, 2169, &s.years, &any)) return Invalid();
    // EventBridge: exactly one of day-of-month and day-of-week must be '?'.
    if ((fields[2] == "?") == (fields[4] == "?")) return Invalid();
    return s;
  }
  return Invalid();
}

std::optional<common::SystemTime> NextFire(const Schedule& s, common::SystemTime after) {
  if (s.is_rate) return after + s.rate;
  using namespace std::chrono;
  int64_t t = duration_cast<seconds>(after.time_since_epoch()).count();
  t = (t / 60 + 1) * 60;  // next whole minute
  const int64_t limit = t + int64_t{5} * 366 * 86400;
  while (t < limit) {
    time_t tt = static_cast<time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    int year = tm.tm_year + 1900;
    if (year - 1970 >= 200) return std::nullopt;
    bool day_ok =
        s.any_day_of_month ? s.days_of_week.test(tm.tm_wday + 1) : s.days_of_month.test(tm.tm_mday);
    if (!s.any_day_of_month && !s.any_day_of_week) {
      day_ok = s.days_of_month.test(tm.tm_mday) && s.days_of_week.test(tm.tm_wday + 1);
    }
    if (!s.years.test(year - 1970) || !s.months.test(tm.tm_mon + 1) || !day_ok) {
      // Skip to the next day.
      t = (t / 86400 + 1) * 86400;
      continue;
    }
    if (!s.hours.test(tm.tm_hour)) {
      t = (t / 3600 + 1) * 3600;
      continue;
    }
    if (s.minutes.test(tm.tm_min)) return system_clock::time_point(seconds(t));
    t += 60;
  }
  return std::nullopt;
}

}  // namespace localcloud::eventbridge
