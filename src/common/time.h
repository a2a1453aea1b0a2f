// Time formats the AWS and X wire protocols use, and the clock seam tests replace.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/mutex.h"
#include "common/status.h"

namespace common {

using SystemTime = std::chrono::system_clock::time_point;

// The clock seam: code that reasons about time takes a Clock& so tests can move time.
// Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual SystemTime Now() const = 0;
};

// Wall clock.
class SystemClock : public Clock {
 public:
  SystemTime Now() const override { return std::chrono::system_clock::now(); }
  // A process-wide instance.
  static SystemClock& Instance();
};

// A clock that moves only when told to. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(SystemTime start) : now_(start) {}
  SystemTime Now() const override {
    common::MutexLock l(mu_);
    return now_;
  }
  void Advance(std::chrono::milliseconds d) {
    common::MutexLock l(mu_);
    now_ += d;
  }
  void Set(SystemTime t) {
    common::MutexLock l(mu_);
    now_ = t;
  }

 private:
  mutable common::Mutex mu_;
  SystemTime now_ GUARDED_BY(mu_);
};

// "20150830T123600Z" (SigV4 X-Amz-Date).
std::string FormatAmzDate(SystemTime t);
// "20150830"
std::string FormatDateStamp(SystemTime t);
// "2015-08-30T12:36:00Z" (EventBridge event time, seconds precision).
std::string FormatIso8601(SystemTime t);
// "2015-08-30T12:36:00.123Z" (S3 eventTime, CloudTrail, X created_at).
std::string FormatIso8601Millis(SystemTime t);
// "Sun, 30 Aug 2015 12:36:00 GMT" (HTTP Date, Last-Modified).
std::string FormatHttpDate(SystemTime t);

// Parses "20150830T123600Z".
std::optional<SystemTime> ParseAmzDate(std::string_view s);
// Parses ISO-8601 "YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)".
std::optional<SystemTime> ParseIso8601(std::string_view s);

int64_t ToUnixMillis(SystemTime t);
int64_t ToUnixSeconds(SystemTime t);
SystemTime FromUnixMillis(int64_t ms);
// Wall-clock milliseconds since the Unix epoch (the system clock, not a Clock seam).
int64_t NowMs();

// A duration such as "90s", "30m", "6h", "2d" or a bare number of seconds, in seconds.
// InvalidArgument for anything else, zero or negative.
Result<int64_t> ParseDurationSeconds(std::string_view text);
// A point in time as people type it: ISO-8601 ("2026-12-03T10:00:00Z"), or a duration before
// `now_ms` ("2h" = two hours ago). Milliseconds since the epoch; InvalidArgument otherwise.
Result<int64_t> ParseTimeMs(std::string_view text, int64_t now_ms);

}  // namespace common
