#include "dispatch/event_manager.h"

#include <spdlog/spdlog.h>

#include <map>

#include "cloudevents/dispatch_format.h"
#include "cloudevents/http_binding.h"
#include "common/crypto.h"
#include "common/strings.h"
#include "common/time.h"
#include "dispatch/api_json.h"

namespace dispatch {

using cloudevents::CloudEvent;
using common::NowMs;
using common::Result;
using common::Status;
using nlohmann::json;

EventManager::EventManager(store::Store& store, store::GroupCommitter& committer,
                           FunctionRunner& runner, EventManagerOptions options)
    : store_(store), committer_(committer), runner_(runner), options_(options) {}

EventManager::~EventManager() { Stop(); }

Status EventManager::Start() {
  stopping_ = false;
  return ReloadSubscriptions();
}

void EventManager::Stop() { stopping_ = true; }

Status EventManager::ReloadSubscriptions() {
  DAT_ASSIGN_OR_RETURN(auto entities, store_.ListEntities(store::Kind::kSubscription));
  std::vector<Subscription> subs;
  for (const auto& e : entities) {
    if (e.status == store::kDeleting) continue;
    Subscription s;
    s.name = e.name;
    s.function = e.spec.value("function", "");
    s.event_type = e.spec.value("eventType", "");
    s.source_type = e.spec.value("sourceType", "");
    auto filter = e.spec.find("filter");
    if (filter != e.spec.end() && !filter->is_null()) {
      auto parsed = EventFilter::Parse(*filter);
      if (!parsed.ok()) {
        spdlog::warn("subscription {}: {}", e.name, parsed.status().message());
        continue;
      }
      s.filter = *parsed;
    }
    subs.push_back(std::move(s));
  }
  common::WriterLock l(subs_mu_);
  subscriptions_ = std::move(subs);
  return Status::Ok();
}

Result<std::vector<CloudEvent>> EventManager::ParseEvents(const http::Request& request) {
  std::vector<CloudEvent> events;
  std::string media = common::ToLower(request.headers.GetOr("Content-Type", ""));
  bool cloudevents_http =
      request.headers.Has("ce-specversion") || common::StartsWith(media, "application/cloudevents");
  if (cloudevents_http) {
    DAT_ASSIGN_OR_RETURN(events, cloudevents::ReadHttp(request));
  } else {
    // Dispatch's event API: CloudEvents 0.1 JSON, one object or an array.
    DAT_ASSIGN_OR_RETURN(events, cloudevents::DecodeDispatchJson(request.body));
  }
  if (events.empty()) return common::InvalidArgument("no events in the request");
  return events;
}

namespace {

// One decoded event on its way to the store and the runs: what the subscriptions match on,
// and the event as the store records it.
struct Incoming {
  std::string type;
  std::string source_type;  // the 0.1 sourceType; "" for a 1.0 event without the extension
  store::Event stored;
};

// Takes a decoded event: its identity for deduplication (the sender's sourceID, else the
// CloudEvents source; the event id), and its 0.1 JSON, rendered here once for the filters,
// the store and the function (the decoder has validated the event; its data is moved in).
// InvalidArgument when the event cannot be carried in 0.1 JSON (binary, non-UTF-8 data).
Result<Incoming> Admit(CloudEvent event) {
  Incoming in;
  in.type = event.type;
  in.source_type = event.ExtensionOr(cloudevents::kExtSourceType);
  in.stored.id = event.id;
  std::string source_id = event.ExtensionOr(cloudevents::kExtSourceId);
  in.stored.source = !source_id.empty() ? std::move(source_id) : event.source;
  DAT_ASSIGN_OR_RETURN(
      in.stored.cloud_event,
      cloudevents::ToDispatchJson(std::move(event), cloudevents::Validation::kAlreadyValid));
  return in;
}

}  // namespace

std::vector<store::Run> EventManager::Match(const std::string& type, const std::string& source_type,
                                            const json& dispatch_json, int64_t now) const {
  std::vector<store::Run> runs;
  common::ReaderLock l(subs_mu_);
  for (const Subscription& s : subscriptions_) {
    if (s.event_type != type) continue;
    if (!s.source_type.empty() && s.source_type != source_type) continue;
    if (s.filter && !s.filter->Matches(dispatch_json)) continue;
    store::Run run;
    run.id = common::NewUuidV7();
    run.function = s.function;
    run.subscription = s.name;
    run.created_ms = now;
    auto data = dispatch_json.find("data");
    run.input = data != dispatch_json.end() ? *data : json();
    run.max_attempts = 0;  // resolved from the function when it runs
    runs.push_back(std::move(run));
  }
  return runs;
}

void EventManager::Ingest(const http::Request& request, http::Respond respond) {
  if (request.body.size() > options_.max_event_bytes) {
    respond(ErrorResponse(413, "event body of " + std::to_string(request.body.size()) +
                                   " bytes is over the limit of " +
                                   std::to_string(options_.max_event_bytes) + " bytes"));
    return;
  }
  auto events = ParseEvents(request);
  if (!events.ok()) {
    respond(ErrorResponse(400, "bad event: " + events.status().message()));
    return;
  }
  std::vector<Incoming> incoming;
  incoming.reserve(events->size());
  for (CloudEvent& event : *events) {
    auto admitted = Admit(std::move(event));
    if (!admitted.ok()) {
      respond(ErrorResponse(400, "bad event: " + admitted.status().message()));
      return;
    }
    incoming.push_back(std::move(admitted).value());
  }
  if (stopping_) {
    respond(ErrorResponse(503, "server is shutting down"));
    return;
  }
  int64_t now = NowMs();
  store::WriteBatch batch;
  batch.dedup_since_ms = now - options_.dedup_window.count();
  batch.items.reserve(incoming.size());
  for (Incoming& in : incoming) {
    store::IngestItem item;
    item.runs = Match(in.type, in.source_type, in.stored.cloud_event, now);
    item.event = std::move(in.stored);
    item.event.received_ms = now;
    batch.items.push_back(std::move(item));
  }
  committer_.Submit(std::move(batch),
                    [this, respond = std::move(respond)](const Status& st, store::WriteBatch& b) {
                      Committed(st, b, respond);
                    });
}

void EventManager::Committed(const Status& st, store::WriteBatch& batch,
                             const http::Respond& respond) {
  if (!st.ok()) {
    spdlog::error("event commit failed: {}", st.message());
    respond(ErrorResponse(503, "events not stored: " + st.message()));
    return;
  }
  json results = json::array();
  int accepted = 0;
  int duplicates = 0;
  std::vector<store::Run> runs;
  std::map<int64_t, json> by_seq;
  for (store::IngestItem& item : batch.items) {
    json r = {{"eventID", item.event.id}, {"duplicate", item.duplicate}};
    if (item.duplicate) {
      ++duplicates;
    } else {
      ++accepted;
      json ids = json::array();
      for (auto& run : item.runs) {
        ids.push_back(run.id);
        runs.push_back(std::move(run));
      }
      r["runs"] = std::move(ids);
      if (!item.runs.empty()) by_seq[item.event.seq] = std::move(item.event.cloud_event);
    }
    results.push_back(std::move(r));
  }
  // The runs first: a warm function can start while the acknowledgement is on its way.
  if (!runs.empty()) runner_.Enqueue(runs, by_seq);
  respond(JsonResponse(
      200, {{"accepted", accepted}, {"duplicates", duplicates}, {"events", std::move(results)}}));
}

}  // namespace dispatch
