#include "localcloud/core/timer_queue.h"

namespace localcloud {

TimerQueue::TimerQueue() : thread_([this] { Run(); }) {}

TimerQueue::~TimerQueue() { Stop(); }

TimerQueue::TimerId TimerQueue::ScheduleAt(Clock::time_point when, std::function<void()> fn) {
  common::MutexLock lock(mu_);
  TimerId id = next_id_++;
  bool earliest = timers_.empty() || when < timers_.begin()->first.first;
  timers_.emplace(std::make_pair(when, id), std::move(fn));
  due_by_id_.emplace(id, when);
  if (earliest) cv_.NotifyOne();
  return id;
}

bool TimerQueue::Cancel(TimerId id) {
  common::MutexLock lock(mu_);
  auto it = due_by_id_.find(id);
  if (it == due_by_id_.end()) return false;
  timers_.erase(std::make_pair(it->second, id));
  due_by_id_.erase(it);
  return true;
}

void TimerQueue::Stop() {
  {
    common::MutexLock lock(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
    timers_.clear();
    due_by_id_.clear();
  }
  cv_.NotifyAll();
  if (thread_.joinable()) thread_.join();
}

void TimerQueue::Run() {
  common::MutexLock lock(mu_);
  while (!stop_) {
    if (timers_.empty()) {
      cv_.Wait(mu_);
      continue;
    }
    auto first = timers_.begin();
    Clock::time_point due = first->first.first;
    if (Clock::now() < due) {
      cv_.WaitUntil(mu_, due);
      continue;
    }
    std::function<void()> fn = std::move(first->second);
    due_by_id_.erase(first->first.second);
    timers_.erase(first);
    lock.Unlock();
    fn();
    lock.Lock();
  }
}

}  // namespace localcloud
