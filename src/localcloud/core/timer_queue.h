// Deferred callbacks on one shared thread: SQS long-poll deadlines and delayed messages,
// EventBridge schedules, CloudTrail delivery delays. No thread per waiter.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <thread>
#include <utility>

#include "common/mutex.h"

namespace localcloud {

// Runs callbacks at (or soon after) their due time on one background thread, in due-time
// order. Callbacks must be short and must not block; they may schedule or cancel timers.
// Thread-safe. The destructor stops the thread; pending callbacks are dropped.
class TimerQueue {
 public:
  using Clock = std::chrono::steady_clock;
  using TimerId = uint64_t;

  TimerQueue();
  ~TimerQueue();
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // Schedules `fn` at `when`. Returns an id for Cancel (never 0).
  TimerId ScheduleAt(Clock::time_point when, std::function<void()> fn);
  TimerId ScheduleAfter(std::chrono::milliseconds delay, std::function<void()> fn) {
    return ScheduleAt(Clock::now() + delay, std::move(fn));
  }
  // Cancels a pending timer. True when it was pending (so `fn` will not run); false when it
  // already ran, is running, or never existed.
  bool Cancel(TimerId id);
  // Stops the thread and drops pending timers. Idempotent. Not from a callback.
  void Stop();

 private:
  void Run();

  common::Mutex mu_;
  common::CondVar cv_;
  // (due, id) -> callback
  std::map<std::pair<Clock::time_point, TimerId>, std::function<void()>> timers_ GUARDED_BY(mu_);
  std::map<TimerId, Clock::time_point> due_by_id_ GUARDED_BY(mu_);
  TimerId next_id_ GUARDED_BY(mu_) = 1;
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace localcloud
