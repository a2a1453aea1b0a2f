// The CloudEvents 1.0 event model shared by every codec in this library.
//
// A CloudEvent is a plain value: copy it, compare it, move it between threads. Codecs live in
// json_format.h (CloudEvents 1.0 JSON and JSON batch), dispatch_format.h (Dispatch's
// CloudEvents 0.1 JSON) and http_binding.h (HTTP binary / structured / batched modes).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace cloudevents {

inline constexpr std::string_view kSpecVersion = "1.0";

// One event. Required attributes: id, source, specversion ("1.0"), type. Optional attributes
// are std::nullopt when absent. Extension values are kept in their canonical string form
// (a JSON integer 5 becomes "5", true becomes "true").
//
// The payload is at most one of:
//   - data:        a JSON value. For a JSON datacontenttype (or none) it is the data itself;
//                  for any other content type it is a JSON string holding the text;
//   - data_json:   JSON data as serialized text, for a JSON datacontenttype (or none). A
//                  producer that already holds the data as JSON text (a relay) sets this: the
//                  codecs write the text as it is instead of parsing and re-serializing it.
//                  The producer vouches that it is one valid JSON value;
//   - binary_data: raw bytes (data_base64 in JSON, the raw body in HTTP binary mode).
struct CloudEvent {
  std::string id;
  std::string source;
  std::string specversion = std::string(kSpecVersion);
  std::string type;
  std::optional<std::string> time;  // RFC 3339
  std::optional<std::string> subject;
  std::optional<std::string> datacontenttype;  // e.g. "application/json"
  std::optional<std::string> dataschema;       // URI
  std::map<std::string, std::string> extensions;
  std::optional<nlohmann::json> data;
  std::optional<std::string> data_json;
  std::optional<std::string> binary_data;

  bool has_data() const {
    return data.has_value() || data_json.has_value() || binary_data.has_value();
  }

  // The payload as it travels in an HTTP binary-mode body: JSON data serialized compactly, a
  // JSON string under a non-JSON content type written raw, bytes as they are. "" when none.
  std::string DataBytes() const;

  // The datacontenttype, or "application/json" when absent (the spec's default).
  std::string EffectiveContentType() const;

  // The value of an extension attribute, or `fallback` when the event has none of that name.
  std::string ExtensionOr(std::string_view name, std::string_view fallback = "") const;

  friend bool operator==(const CloudEvent&, const CloudEvent&) = default;
};

// Whether an encoder checks its event first, so that an event is checked once, where it is
// made, and not again on its way out. kCheck (the default) runs the encoder's checks (Validate
// for the 1.0 formats; id, type and time for Dispatch's 0.1 JSON). kAlreadyValid skips them,
// for an event that passed Validate (every 1.0 decoder here validates what it returns; the
// driver's mapper validates what it builds) or, for the 0.1 encoders only, one the 0.1
// decoder returned. Encoding an event that would fail the check with kAlreadyValid is a bug
// (asserted in debug builds).
enum class Validation { kCheck, kAlreadyValid };

// OK when the event satisfies the CloudEvents 1.0 rules this library enforces: required
// attributes present and non-empty, specversion "1.0", time a valid RFC 3339 timestamp,
// every extension name valid and not a core attribute name, data and binary_data not both
// set (nor data_json with either), data_json only under a JSON content type. Otherwise
// InvalidArgument naming the offending attribute.
common::Status Validate(const CloudEvent& event);
// Validate(event) under kCheck; OK under kAlreadyValid (asserting, in debug builds, that the
// event is valid indeed).
common::Status Check(const CloudEvent& event, Validation validation);

// True when `name` is a valid CloudEvents attribute name: one or more of a-z and 0-9.
// (The spec recommends at most 20 characters; longer names are accepted.)
bool IsValidAttributeName(std::string_view name);

// True for core attribute names (id, source, specversion, type, time, subject,
// datacontenttype, dataschema) and the reserved members data / data_base64.
bool IsCoreAttributeName(std::string_view name);

// True when the media type (parameters ignored, case-insensitive) is */json or */*+json.
bool IsJsonContentType(std::string_view content_type);

}  // namespace cloudevents
