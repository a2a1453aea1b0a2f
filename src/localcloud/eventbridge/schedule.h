// EventBridge schedule expressions: rate(N unit) and cron(min hour dom month dow year).
// Pure functions over UTC time; thread-safe.
#pragma once

#include <array>
#include <bitset>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/time.h"

namespace localcloud::eventbridge {

// A parsed schedule. Plain value.
struct Schedule {
  bool is_rate = false;
  std::chrono::minutes rate{0};  // rate(...) period
  // cron(...): allowed values per field. Day-of-week 1..7 = SUN..SAT as EventBridge numbers it.
  std::bitset<60> minutes;
  std::bitset<24> hours;
  std::bitset<32> days_of_month;  // 1..31
  std::bitset<13> months;         // 1..12
  std::bitset<8> days_of_week;    // 1..7
  bool any_day_of_month = true;   // '?' or '*'
  bool any_day_of_week = true;
  std::bitset<200> years;  // 1970..2169 as year-1970
};

// Parses "rate(5 minutes)", "rate(1 hour)", "rate(1 day)", "cron(0/15 * * * ? *)".
// InvalidArgument for anything EventBridge would refuse, and for cron's L, W and # forms,
// which this emulator does not implement (UNFINISHED: L/W/# day specifiers).
common::Result<Schedule> ParseSchedule(std::string_view expression);

// The first firing time strictly after `after` (UTC, whole minutes for cron; `after` plus the
// period for rate). nullopt when a cron never fires again (e.g. a past year).
std::optional<common::SystemTime> NextFire(const Schedule& schedule, common::SystemTime after);

}  // namespace localcloud::eventbridge
