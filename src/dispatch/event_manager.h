// Event ingest and subscriptions: parses events posted to the event API (Dispatch
// CloudEvents 0.1 JSON, object or array; CloudEvents 1.0 HTTP binary, structured or batch),
// matches them against subscriptions (event type, source type, optional filter), and commits
// each event with the runs it triggers in one durable transaction before acknowledging it.
// Concurrent posts are committed together (store::GroupCommitter), and the runs are handed
// to the function runner straight from the commit.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cloudevents/cloudevent.h"
#include "common/mutex.h"
#include "common/status.h"
#include "dispatch/filter.h"
#include "dispatch/function_runner.h"
#include "http/server.h"
#include "store/group_commit.h"
#include "store/store.h"

namespace dispatch {

struct EventManagerOptions {
  size_t max_event_bytes = 1 << 20;  // a larger request body: 413
  std::chrono::milliseconds dedup_window{24 * 3600 * 1000};
};

// Thread-safe. Ingest may be called from any thread (it never blocks on the store).
class EventManager {
 public:
  // `committer` must be running while events are ingested.
  EventManager(store::Store& store, store::GroupCommitter& committer, FunctionRunner& runner,
               EventManagerOptions options);
  ~EventManager();
  EventManager(const EventManager&) = delete;
  EventManager& operator=(const EventManager&) = delete;

  common::Status Start();
  // Refuses further events (503). What was submitted is answered when its commit completes.
  void Stop();

  // Re-reads the subscriptions from the store (after one is created or deleted).
  common::Status ReloadSubscriptions();

  // Handles one POST to the event API. Answers 200 with {"accepted","duplicates","events"}
  // after the commit; 400 with the reason for a bad event; 413 over the size limit.
  void Ingest(const http::Request& request, http::Respond respond);

  // Decodes (and so validates) the events of a request body: Dispatch CloudEvents 0.1 JSON, or
  // CloudEvents 1.0 HTTP when the request says so (a ce-specversion header, an
  // application/cloudevents* Content-Type). InvalidArgument with the reason for anything that
  // is not a valid event, or for no events at all.
  static common::Result<std::vector<cloudevents::CloudEvent>> ParseEvents(
      const http::Request& request);

 private:
  struct Subscription {
    std::string name;
    std::string function;
    std::string event_type;
    std::string source_type;  // empty: any
    std::shared_ptr<const EventFilter> filter;
  };
  // The runs an event triggers: subscriptions of its type (and source type, when they name
  // one) whose filter, if any, matches its 0.1 JSON. Each run's input is the event's data.
  std::vector<store::Run> Match(const std::string& type, const std::string& source_type,
                                const nlohmann::json& dispatch_json, int64_t now) const;
  // After the commit: hands the runs to the runner, then acknowledges.
  void Committed(const common::Status& status, store::WriteBatch& batch,
                 const http::Respond& respond);

  store::Store& store_;
  store::GroupCommitter& committer_;
  FunctionRunner& runner_;
  const EventManagerOptions options_;

  mutable common::SharedMutex subs_mu_;
  std::vector<Subscription> subscriptions_ GUARDED_BY(subs_mu_);
  std::atomic<bool> stopping_{false};
};

}  // namespace dispatch
