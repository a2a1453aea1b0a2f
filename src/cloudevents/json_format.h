// CloudEvents 1.0 JSON event format (application/cloudevents+json) and JSON batch format
// (application/cloudevents-batch+json). Pure functions, thread-safe; no exception escapes.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "cloudevents/cloudevent.h"
#include "common/json_limits.h"
#include "common/status.h"

namespace cloudevents {

inline constexpr std::string_view kStructuredContentType =
    "application/cloudevents+json; charset=utf-8";
inline constexpr std::string_view kBatchContentType =
    "application/cloudevents-batch+json; charset=utf-8";

// The event as a JSON object, members in the order specversion, id, source, type, optional
// attributes, extensions (as strings), then "data" or "data_base64". InvalidArgument when
// Validate(event) fails (checked unless `validation` says it was already), or data_json is not
// valid JSON.
common::Result<nlohmann::ordered_json> ToJsonValue(const CloudEvent& event,
                                                   Validation validation = Validation::kCheck);
// The same, serialized compactly (data_json written as it is, not re-serialized).
common::Result<std::string> EncodeJson(const CloudEvent& event,
                                       Validation validation = Validation::kCheck);
// A JSON array of events (an empty batch is "[]").
common::Result<std::string> EncodeJsonBatch(const std::vector<CloudEvent>& events);

// Reads one event from a parsed JSON object. A null attribute counts as absent. Extension
// values may be strings, integers or booleans (kept in canonical string form); any other
// type, a missing required attribute, specversion other than "1.0", both data and
// data_base64, bad base64 or a bad timestamp give InvalidArgument. The rvalue overload moves
// the object's data into the event instead of copying it.
common::Result<CloudEvent> FromJsonValue(const nlohmann::json& object);
common::Result<CloudEvent> FromJsonValue(nlohmann::json&& object);
// Parses one JSON-format event. InvalidArgument on malformed JSON or an invalid event.
common::Result<CloudEvent> DecodeJson(std::string_view json);
// Parses a JSON batch (an array, possibly empty). Fails as a whole when any member is
// invalid, naming its index.
common::Result<std::vector<CloudEvent>> DecodeJsonBatch(std::string_view json);

// Appends "key": raw_json as the last member of a compactly serialized JSON object (text
// ending in '}'). raw_json must be one valid JSON value.
void AppendRawMember(std::string* object, std::string_view key, std::string_view raw_json);

// Nesting accepted in an event document: a payload (common::kMaxJsonDepth) inside an event
// inside a batch.
inline constexpr int kMaxEventJsonDepth = common::kMaxJsonDepth + 2;

// Parses JSON text without throwing: InvalidArgument "malformed JSON: …" on error, and on
// nesting deeper than kMaxEventJsonDepth (checked before parsing).
common::Result<nlohmann::json> ParseJson(std::string_view text);

}  // namespace cloudevents
