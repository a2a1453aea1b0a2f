// Dispatch's CloudEvents 0.1 JSON, the format Dispatch's event API ingests and its
// subscriptions match on (eventType, namespace, sourceType, sourceID):
//
//   {"namespace":"dispatchframework.io/aws-event","eventType":"aws.s3",
//    "eventTypeVersion":"0.1","cloudEventsVersion":"0.1","sourceType":"aws",
//    "sourceID":"<uuid>","source":"aws","eventID":"<id>","eventTime":"<RFC 3339>",
//    "schemaURL":"","contentType":"application/json","extensions":{...},"data":<JSON>}
//
// Mapping to the 1.0 model: eventType <-> type, eventID <-> id, eventTime <-> time,
// source <-> source, schemaURL <-> dataschema, contentType <-> datacontenttype, and the
// extensions "namespace", "sourcetype", "sourceid", "eventtypeversion" <-> namespace,
// sourceType, sourceID, eventTypeVersion. Every other 1.0 extension (and subject, which 0.1
// lacks) travels in the "extensions" object. Pure functions, thread-safe, no exceptions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "cloudevents/cloudevent.h"
#include "common/status.h"

namespace cloudevents {

// 1.0 extension names that carry the 0.1 top-level members.
inline constexpr std::string_view kExtNamespace = "namespace";
inline constexpr std::string_view kExtSourceType = "sourcetype";
inline constexpr std::string_view kExtSourceId = "sourceid";
inline constexpr std::string_view kExtEventTypeVersion = "eventtypeversion";
// The driver's defaults (DESIGN.md: driver flags).
inline constexpr std::string_view kDefaultNamespace = "dispatchframework.io/aws-event";

// The event in Dispatch's 0.1 shape, members in the order shown above. eventTypeVersion
// defaults to "0.1", schemaURL to "", contentType to "application/json"; eventTime and data
// are omitted when absent. Binary data is written as a JSON string when it is valid UTF-8
// (JSON when the content type is JSON and it parses). InvalidArgument when id or type is
// empty or time is not RFC 3339 (checked unless `validation` says it was already), or when
// the data cannot be represented (binary, data_json that does not parse).
common::Result<nlohmann::ordered_json> ToDispatchJsonValue(
    const CloudEvent& event, Validation validation = Validation::kCheck);
// The same, serialized compactly (data_json written as it is, not re-serialized).
common::Result<std::string> EncodeDispatchJson(const CloudEvent& event,
                                               Validation validation = Validation::kCheck);
// The same object as an nlohmann::json (members sorted by name, as the dispatch server stores
// events), built from an event the caller gives up: its data is moved in, not copied.
common::Result<nlohmann::json> ToDispatchJson(CloudEvent event,
                                              Validation validation = Validation::kCheck);

// Reads one 0.1 event object. Required: eventType and eventID (non-empty strings). Every
// other member is optional and, when present and not null, must have its documented type
// (strings; "extensions" an object of scalars; cloudEventsVersion "0.1"; eventTime
// RFC 3339). source falls back to sourceType, then namespace. InvalidArgument otherwise.
// The rvalue overload moves the object's data into the event instead of copying it.
common::Result<CloudEvent> FromDispatchJsonValue(const nlohmann::json& object);
common::Result<CloudEvent> FromDispatchJsonValue(nlohmann::json&& object);
// Parses one 0.1 event object or an array of them. InvalidArgument on malformed JSON, on
// any other JSON type, or on an invalid event (naming its index in an array).
common::Result<std::vector<CloudEvent>> DecodeDispatchJson(std::string_view json);
// The same for JSON already parsed, which the events' data is moved out of.
common::Result<std::vector<CloudEvent>> DecodeDispatchJsonValue(nlohmann::json&& value);

}  // namespace cloudevents
