// Ingest of one request of the AWS driver (an array of Dispatch CloudEvents 0.1 events, each
// carrying an EventBridge "Object Created" event) up to what the dispatch server records:
// the event id and deduplication source, the type and source type subscriptions match on,
// the 0.1 JSON the store keeps, and a run's input (the data).
//
//   BM_IngestStraight: what EventManager does: decode once into typed events (the decoder
//     validates and moves the payload in), take the attributes from the typed event, render
//     the 0.1 JSON once (payload moved, not re-checked).
//   BM_IngestDetour: the path it replaced, kept as the baseline: decode (payload copied),
//     re-encode to ordered 0.1 JSON (checked again), convert to the stored JSON, read
//     "eventID", "sourceID", "eventType" and "sourceType" back out by key.
#include <benchmark/benchmark.h>

#include <nlohmann/json.hpp>
#include <string>

#include "cloudevents/dispatch_format.h"
#include "cloudevents/json_format.h"

namespace {

using nlohmann::json;

struct Recorded {
  std::string id, source, type, source_type;
  json stored;
  json input;
};

// `events` events of the driver's shape, as one JSON array.
std::string RequestBody(int events) {
  json array = json::array();
  for (int i = 0; i < events; ++i) {
    json aws = {{"version", "0"},
                {"id", "17793124-05d4-b198-2fde-7ededc63b10" + std::to_string(i)},
                {"detail-type", "Object Created"},
                {"source", "aws.s3"},
                {"account", "111122223333"},
                {"time", "2026-12-03T10:00:00Z"},
                {"region", "us-west-2"},
                {"resources", {"arn:aws:s3:::dispatch-events-aws-twitter-example"}},
                {"detail",
                 {{"version", "0"},
                  {"bucket", {{"name", "dispatch-events-aws-twitter-example"}}},
                  {"object",
                   {{"key", "images/photo-" + std::to_string(i) + ".jpg"},
                    {"size", 284311},
                    {"etag", "b1946ac92492d2347c6235b4d2611184"},
                    {"sequencer", "00617F08299329D189"}}},
                  {"request-id", "N4N7GDK58NMKJ12R"},
                  {"requester", "111122223333"},
                  {"source-ip-address", "127.0.0.1"},
                  {"reason", "PutObject"}}}};
    array.push_back(
        {{"namespace", "dispatchframework.io/aws-event"},
         {"eventType", "aws.s3"},
         {"eventTypeVersion", "0.1"},
         {"cloudEventsVersion", "0.1"},
         {"sourceType", "aws"},
         {"sourceID", "7d1f7f5e-7a5c-4b5e-9a57-2a3b0c3b6c11"},
         {"source", "aws"},
         {"eventID", aws["id"]},
         {"eventTime", "2026-12-03T10:00:00.000Z"},
         {"schemaURL", ""},
         {"contentType", "application/json"},
         {"extensions", {{"awsdetailtype", "Object Created"}, {"subject", "images/photo.jpg"}}},
         {"data", aws}});
  }
  return array.dump();
}

void BM_IngestStraight(benchmark::State& state) {
  std::string body = RequestBody(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto events = cloudevents::DecodeDispatchJson(body);
    if (!events.ok()) state.SkipWithError("decode failed");
    std::vector<Recorded> out;
    for (cloudevents::CloudEvent& event : *events) {
      Recorded r;
      r.type = event.type;
      r.source_type = event.ExtensionOr(cloudevents::kExtSourceType);
      r.id = event.id;
      std::string source_id = event.ExtensionOr(cloudevents::kExtSourceId);
      r.source = !source_id.empty() ? std::move(source_id) : event.source;
      auto stored =
          cloudevents::ToDispatchJson(std::move(event), cloudevents::Validation::kAlreadyValid);
      if (!stored.ok()) state.SkipWithError("render failed");
      r.stored = std::move(stored).value();
      r.input = r.stored["data"];
      out.push_back(std::move(r));
    }
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BM_IngestDetour(benchmark::State& state) {
  std::string body = RequestBody(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto parsed = cloudevents::ParseJson(body);
    if (!parsed.ok()) state.SkipWithError("parse failed");
    std::vector<Recorded> out;
    for (const json& element : *parsed) {
      auto event = cloudevents::FromDispatchJsonValue(element);  // payload copied
      if (!event.ok()) state.SkipWithError("decode failed");
      auto encoded = cloudevents::ToDispatchJsonValue(*event);  // checked again
      if (!encoded.ok()) state.SkipWithError("render failed");
      json j = json(*encoded);
      Recorded r;
      r.id = j.value("eventID", "");
      std::string source_id = j.value("sourceID", "");
      r.source = !source_id.empty() ? source_id : j.value("source", "");
      r.type = j.value("eventType", "");
      r.source_type = j.value("sourceType", "");
      r.input = j.contains("data") ? j["data"] : json();
      r.stored = std::move(j);
      out.push_back(std::move(r));
    }
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

// 1 event (one message) and 10 (a full SQS receive, which the driver posts as one request).
BENCHMARK(BM_IngestStraight)->Arg(1)->Arg(10);
BENCHMARK(BM_IngestDetour)->Arg(1)->Arg(10);

}  // namespace
