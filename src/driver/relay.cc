#include "driver/relay.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

#include "cloudevents/json_format.h"
#include "common/time.h"

namespace driver {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

template <typename T>
std::vector<std::vector<T>> Chunks(const std::vector<T>& items, size_t n) {
  std::vector<std::vector<T>> out;
  for (size_t i = 0; i < items.size(); i += n) {
    out.emplace_back(items.begin() + static_cast<long>(i),
                     items.begin() + static_cast<long>(std::min(items.size(), i + n)));
  }
  return out;
}

milliseconds Jitter(milliseconds cap) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<int64_t> dist(0, std::max<int64_t>(1, cap.count()));
  return milliseconds(dist(rng));
}

}  // namespace

struct Relay::Work {
  QueueMessage message;
  MappedMessage mapped;
  SteadyClock::time_point deadline;
};

Relay::Relay(MessageQueue& queue, Sink& sink, Metrics& metrics, RelayConfig config)
    : queue_(queue), sink_(sink), metrics_(metrics), config_(std::move(config)) {}

Relay::~Relay() { Stop(); }

void Relay::Start() {
  if (started_) return;
  started_ = true;
  queue_.SetInterrupt(&stopping_);  // Stop() ends the pollers' long polls at once
  for (int i = 0; i < config_.concurrency; ++i) {
    threads_.emplace_back([this, i] { PollLoop(i); });
  }
  threads_.emplace_back([this] { KeeperLoop(); });
}

void Relay::Stop() {
  if (!started_) return;
  {
    common::MutexLock l(mu_);
    stopping_ = true;
  }
  cv_.NotifyAll();
  for (auto& t : threads_) t.join();
  threads_.clear();
  started_ = false;
}

bool Relay::Ready(std::string* why) const {
  common::MutexLock l(mu_);
  if (!receive_ok_) {
    *why = "SQS: " + last_receive_error_;
    return false;
  }
  if (!sink_ok_) {
    *why = "sink: " + last_sink_error_;
    return false;
  }
  return true;
}

bool Relay::SleepFor(milliseconds d) {
  common::MutexLock l(mu_);
  return !cv_.WaitFor(mu_, d, [this] { return stopping_.load(); });
}

void Relay::PollLoop(int index) {
  milliseconds backoff{0};
  // What the last batch left to delete goes out with the next receive, in one round trip.
  std::vector<std::string> to_delete;
  while (!stopping_) {
    common::Result<std::vector<std::string>> deleted = std::vector<std::string>();
    for (const auto& h : to_delete) Untrack(h);  // delivered: no more visibility extensions
    auto received = queue_.DeleteThenReceive(to_delete, &deleted, 10, config_.wait_seconds);
    if (!to_delete.empty()) ReportDeleted(to_delete.size(), deleted);
    to_delete.clear();
    if (!received.ok() && stopping_) break;  // the long poll was interrupted by Stop()
    if (!received.ok()) {
      metrics_.receive_errors++;
      {
        common::MutexLock l(mu_);
        receive_ok_ = false;
        last_receive_error_ = received.status().ToString();
      }
      backoff = std::min(milliseconds(5000), std::max(milliseconds(200), backoff * 2));
      spdlog::warn("poller {}: ReceiveMessage failed, retrying in {} ms: {}", index,
                   backoff.count(), received.status().ToString());
      SleepFor(backoff);
      continue;
    }
    backoff = milliseconds(0);
    receive_ok_ = true;
    if (received->empty()) continue;
    if (stopping_) {
      // Received after the stop began: hand them straight back.
      std::vector<std::string> handles;
      for (const auto& m : *received) handles.push_back(m.receipt_handle);
      metrics_.messages_received += received->size();
      Release(handles);
      break;
    }
    to_delete = ProcessBatch(std::move(*received));
  }
  DeleteAll(to_delete);
}

void Relay::Track(const QueueMessage& m) {
  auto now = SteadyClock::now();
  int vis = std::max(1, queue_.visibility_timeout());
  common::MutexLock l(mu_);
  in_flight_[m.receipt_handle] =
      InFlight{now + milliseconds(vis * 500), now + config_.delivery_timeout};
  metrics_.in_flight = static_cast<int64_t>(in_flight_.size());
}

void Relay::Untrack(const std::string& receipt_handle) {
  common::MutexLock l(mu_);
  in_flight_.erase(receipt_handle);
  metrics_.in_flight = static_cast<int64_t>(in_flight_.size());
}

void Relay::Release(const std::vector<std::string>& handles) {
  for (const auto& chunk : Chunks(handles, 10)) {
    common::Status s = queue_.ChangeVisibilityBatch(chunk, 0);
    if (!s.ok())
      spdlog::warn("releasing {} messages failed (they return after their visibility timeout): {}",
                   chunk.size(), s.ToString());
  }
  metrics_.messages_released += handles.size();
  for (const auto& h : handles) Untrack(h);
}

void Relay::ReportDeleted(size_t count, const common::Result<std::vector<std::string>>& failed) {
  if (!failed.ok()) {
    spdlog::warn(
        "DeleteMessageBatch failed for {} messages (they will be redelivered and "
        "recognised as duplicates): {}",
        count, failed.status().ToString());
  } else if (!failed->empty()) {
    spdlog::warn("DeleteMessageBatch: {} of {} entries failed (they will be redelivered)",
                 failed->size(), count);
  }
}

void Relay::DeleteAll(const std::vector<std::string>& handles) {
  for (const auto& chunk : Chunks(handles, 10))
    ReportDeleted(chunk.size(), queue_.DeleteBatch(chunk));
  for (const auto& h : handles) Untrack(h);
}

void Relay::ThrottleFor(size_t events) {
  if (config_.max_rate <= 0 || events == 0) return;
  auto interval = std::chrono::duration_cast<SteadyClock::duration>(
      std::chrono::duration<double>(static_cast<double>(events) / config_.max_rate));
  SteadyClock::time_point slot;
  {
    common::MutexLock l(mu_);
    auto now = SteadyClock::now();
    if (next_token_ < now) next_token_ = now;
    slot = next_token_;
    next_token_ += interval;
  }
  auto wait = slot - SteadyClock::now();
  if (wait > SteadyClock::duration::zero()) {
    SleepFor(std::chrono::duration_cast<milliseconds>(wait));
  }
}

void Relay::NoteSinkFailure(const DeliveryResult& r) {
  common::MutexLock l(mu_);
  last_sink_error_ = r.reason;
  if (r.http_status == 0) sink_ok_ = false;  // no HTTP answer at all: not ready
}

DeliveryResult Relay::DeliverWithRetry(const std::vector<cloudevents::CloudEvent>& events,
                                       SteadyClock::time_point deadline) {
  milliseconds cap = config_.retry_base;
  while (true) {
    DeliveryResult r = sink_.Deliver(events);
    if (r.outcome == DeliveryOutcome::kAccepted) {
      sink_ok_ = true;
      return r;
    }
    metrics_.delivery_failures++;
    if (r.outcome == DeliveryOutcome::kRejected) return r;
    NoteSinkFailure(r);
    auto wait = Jitter(cap);
    if (stopping_ || SteadyClock::now() + wait >= deadline) return r;
    spdlog::debug("delivery failed ({}), retrying in {} ms", r.reason, wait.count());
    if (!SleepFor(wait)) return r;
    cap = std::min(config_.retry_cap, cap * 2);
  }
}

std::vector<std::string> Relay::ProcessBatch(std::vector<QueueMessage> messages) {
  auto now = SteadyClock::now();
  std::vector<Work> work;
  work.reserve(messages.size());
  for (auto& m : messages) {
    metrics_.messages_received++;
    if (m.receive_count > 1) metrics_.messages_redelivered++;
    if (!config_.dry_run) Track(m);
    Work w;
    w.mapped = MapMessage(m, config_.mapper);
    w.message = std::move(m);
    w.deadline = now + config_.delivery_timeout;
    work.push_back(std::move(w));
  }

  if (config_.dry_run) {
    for (const auto& w : work) {
      for (const auto& e : w.mapped.events) {
        auto j = cloudevents::EncodeJson(e, cloudevents::Validation::kAlreadyValid);
        spdlog::info("dry-run: message {} → event {}", w.message.message_id,
                     j.ok() ? *j : j.status().ToString());
      }
      if (w.mapped.disposition != Disposition::kDeliver) {
        spdlog::info("dry-run: message {} would not be delivered: {}", w.message.message_id,
                     w.mapped.reason);
      }
    }
    return {};
  }

  std::vector<std::string> to_delete, to_release;
  auto dead_letter = [&](const Work& w, const std::string& reason) {
    spdlog::error("message {}: {}; moving it to the dead-letter queue", w.message.message_id,
                  reason);
    common::Status s = queue_.SendToDeadLetter(w.message, reason);
    if (s.ok()) {
      metrics_.messages_dead_lettered++;
      to_delete.push_back(w.message.receipt_handle);
    } else {
      // No DLQ (or it failed): leave the message; SQS redrive or a later receive handles it.
      spdlog::error(
          "message {}: cannot move it to the dead-letter queue ({}); leaving it in the queue",
          w.message.message_id, s.ToString());
      Untrack(w.message.receipt_handle);
    }
  };
  auto accepted = [&](const Work& w) {
    metrics_.events_delivered += w.mapped.events.size();
    if (w.message.sent_timestamp_ms > 0) {
      double latency =
          static_cast<double>(common::ToUnixMillis(common::SystemClock::Instance().Now()) -
                              w.message.sent_timestamp_ms) /
          1000.0;
      metrics_.ObserveLatency(latency);
    }
    to_delete.push_back(w.message.receipt_handle);
  };

  std::vector<const Work*> deliverable;
  for (const auto& w : work) {
    switch (w.mapped.disposition) {
      case Disposition::kSkip:
        spdlog::debug("message {} skipped: {}", w.message.message_id, w.mapped.reason);
        metrics_.messages_skipped++;
        to_delete.push_back(w.message.receipt_handle);
        break;
      case Disposition::kDeadLetter:
        dead_letter(w, w.mapped.reason);
        break;
      case Disposition::kDeliver:
        deliverable.push_back(&w);
        break;
    }
  }

  // Fast path for standard queues: one request carries the whole batch (Dispatch's API takes
  // an array). A rejection falls back to one request per message to isolate the bad one.
  bool batched_done = false;
  if (deliverable.size() > 1 && !queue_.is_fifo() && sink_.batches()) {
    std::vector<cloudevents::CloudEvent> all;
    size_t total = 0;
    for (const Work* w : deliverable) total += w->mapped.events.size();
    all.reserve(total);
    for (const Work* w : deliverable)
      all.insert(all.end(), w->mapped.events.begin(), w->mapped.events.end());
    ThrottleFor(all.size());
    DeliveryResult r = DeliverWithRetry(all, deliverable.front()->deadline);
    if (r.outcome == DeliveryOutcome::kAccepted) {
      for (const Work* w : deliverable) accepted(*w);
      batched_done = true;
    } else if (r.outcome == DeliveryOutcome::kRetry) {
      spdlog::warn("{} messages not delivered ({}); {}", deliverable.size(), r.reason,
                   stopping_ ? "releasing them" : "leaving them for redelivery");
      for (const Work* w : deliverable) {
        if (stopping_)
          to_release.push_back(w->message.receipt_handle);
        else
          Untrack(w->message.receipt_handle);
      }
      batched_done = true;
    }
  }

  // Standard queues, one request per event (CloudEvents 1.0): the first attempt for the whole
  // batch goes out at once (pipelined by the sink); what is left over is retried one by one.
  if (!batched_done && deliverable.size() > 1 && !queue_.is_fifo()) {
    std::vector<const std::vector<cloudevents::CloudEvent>*> groups;
    size_t total = 0;
    for (const Work* w : deliverable) {
      groups.push_back(&w->mapped.events);
      total += w->mapped.events.size();
    }
    ThrottleFor(total);
    std::vector<DeliveryResult> results = sink_.DeliverEach(groups);
    std::vector<const Work*> retry;
    for (size_t i = 0; i < deliverable.size(); ++i) {
      const DeliveryResult& r = results[i];
      switch (r.outcome) {
        case DeliveryOutcome::kAccepted:
          sink_ok_ = true;
          accepted(*deliverable[i]);
          break;
        case DeliveryOutcome::kRejected:
          metrics_.delivery_failures++;
          dead_letter(*deliverable[i], "sink rejected the event: " + r.reason);
          break;
        case DeliveryOutcome::kRetry:
          metrics_.delivery_failures++;
          NoteSinkFailure(r);
          retry.push_back(deliverable[i]);
          break;
      }
    }
    deliverable = std::move(retry);
  }

  if (!batched_done) {
    std::map<std::string, bool> blocked_groups;  // FIFO: a failed message blocks its group
    for (const Work* w : deliverable) {
      const std::string& group = w->message.group_id;
      if (!group.empty() && blocked_groups[group]) {
        to_release.push_back(w->message.receipt_handle);
        continue;
      }
      ThrottleFor(w->mapped.events.size());
      DeliveryResult r = DeliverWithRetry(w->mapped.events, w->deadline);
      switch (r.outcome) {
        case DeliveryOutcome::kAccepted:
          accepted(*w);
          break;
        case DeliveryOutcome::kRejected:
          dead_letter(*w, "sink rejected the event: " + r.reason);
          break;
        case DeliveryOutcome::kRetry:
          if (!group.empty()) blocked_groups[group] = true;
          if (stopping_) {
            to_release.push_back(w->message.receipt_handle);
          } else {
            spdlog::warn(
                "message {} not delivered before its deadline ({}); it returns after "
                "its visibility timeout",
                w->message.message_id, r.reason);
            Untrack(w->message.receipt_handle);
          }
          break;
      }
    }
  }
  if (!to_release.empty()) Release(to_release);
  return to_delete;
}

void Relay::KeeperLoop() {
  auto next_backlog = SteadyClock::now();
  auto next_probe = SteadyClock::now() + milliseconds(2000);
  while (SleepFor(milliseconds(250))) {
    auto now = SteadyClock::now();
    int vis = std::max(1, queue_.visibility_timeout());
    std::vector<std::string> extend;
    {
      common::MutexLock l(mu_);
      for (auto& [handle, f] : in_flight_) {
        if (now >= f.next_extend && now < f.deadline) {
          extend.push_back(handle);
          f.next_extend = now + milliseconds(vis * 500);
        }
      }
    }
    for (const auto& chunk : Chunks(extend, 10)) {
      common::Status s = queue_.ChangeVisibilityBatch(chunk, vis);
      if (s.ok()) {
        metrics_.visibility_extensions += chunk.size();
      } else {
        spdlog::warn("extending visibility of {} in-flight messages failed: {}", chunk.size(),
                     s.ToString());
      }
    }
    if (now >= next_backlog) {
      auto backlog = queue_.ApproximateBacklog();
      if (backlog.ok()) metrics_.queue_backlog = *backlog;
      next_backlog = now + milliseconds(5000);
    }
    if (now >= next_probe) {
      // Probe only while idle; deliveries keep sink_ok_ current otherwise.
      bool idle;
      {
        common::MutexLock l(mu_);
        idle = in_flight_.empty();
      }
      if (idle) {
        common::Status s = sink_.Probe();
        common::MutexLock l(mu_);
        sink_ok_ = s.ok();
        if (!s.ok()) last_sink_error_ = s.ToString();
      }
      next_probe = now + milliseconds(5000);
    }
  }
}

}  // namespace driver
