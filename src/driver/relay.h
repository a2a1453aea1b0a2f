// The relay: long-polls the queue with N pollers, maps each message to CloudEvents, delivers
// them to the sink and deletes a message only after the sink accepted all its events.
//
// Threading: `concurrency` poller threads plus one keeper thread (visibility extensions,
// backlog gauge, sink probe). All are owned by the Relay and joined by Stop().
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "driver/event_mapper.h"
#include "driver/metrics.h"
#include "driver/queue.h"
#include "driver/sink.h"

namespace driver {

struct RelayConfig {
  int concurrency = 4;
  int wait_seconds = 20;                                // long-poll wait
  std::chrono::milliseconds delivery_timeout{300'000};  // per message, then released
  double max_rate = 0;                                  // events/s; 0 = unlimited
  bool dry_run = false;                                 // log only: no delivery, no delete
  MapperConfig mapper;
  std::chrono::milliseconds retry_base{100};   // delivery backoff: full jitter, doubling…
  std::chrono::milliseconds retry_cap{5'000};  // …up to this
};

// Thread-safe: Start/Stop from one controlling thread; Ready from any.
class Relay {
 public:
  // Does not own queue, sink or metrics; they must outlive the Relay.
  Relay(MessageQueue& queue, Sink& sink, Metrics& metrics, RelayConfig config);
  ~Relay();  // Stops.

  void Start();
  // Stops receiving, releases or finishes in-flight messages, joins every thread. A poller in
  // a long poll is interrupted (MessageQueue::SetInterrupt); messages it then holds are
  // released (visibility 0). Idempotent.
  void Stop();
  // True while the last ReceiveMessage succeeded and the sink answers; else *why says which.
  bool Ready(std::string* why) const;

 private:
  struct InFlight {
    std::chrono::steady_clock::time_point next_extend;
    std::chrono::steady_clock::time_point deadline;
  };
  struct Work;  // one received message being processed

  void PollLoop(int index);
  void KeeperLoop();
  // Maps, delivers and dead-letters one received batch; returns the receipt handles to
  // delete (the poller deletes them with its next receive).
  std::vector<std::string> ProcessBatch(std::vector<QueueMessage> messages);
  // Remembers a failed delivery's reason for /readyz; no HTTP answer marks the sink down.
  void NoteSinkFailure(const DeliveryResult& r);
  // Delivers with retries until accepted, rejected, the deadline or stop.
  DeliveryResult DeliverWithRetry(const std::vector<cloudevents::CloudEvent>& events,
                                  std::chrono::steady_clock::time_point deadline);
  void Track(const QueueMessage& m);
  void Untrack(const std::string& receipt_handle);
  void Release(const std::vector<std::string>& handles);
  void DeleteAll(const std::vector<std::string>& handles);
  // Logs a DeleteMessageBatch of `count` handles that failed in whole or in part.
  void ReportDeleted(size_t count, const common::Result<std::vector<std::string>>& failed);
  void ThrottleFor(size_t events);
  // Sleeps up to `d`; returns false when woken by Stop.
  bool SleepFor(std::chrono::milliseconds d);

  MessageQueue& queue_;
  Sink& sink_;
  Metrics& metrics_;
  const RelayConfig config_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> receive_ok_{true};
  std::atomic<bool> sink_ok_{true};
  mutable common::Mutex mu_;
  common::CondVar cv_;                                         // wakes sleepers on Stop
  std::map<std::string, InFlight> in_flight_ GUARDED_BY(mu_);  // by receipt handle
  std::string last_receive_error_ GUARDED_BY(mu_);
  std::string last_sink_error_ GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point next_token_ GUARDED_BY(mu_){};  // rate limit
  std::vector<std::thread> threads_;
  bool started_ = false;
};

}  // namespace driver
