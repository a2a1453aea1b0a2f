// The CloudEvents 1.0 HTTP protocol binding: binary mode (ce-* headers, Content-Type =
// datacontenttype, body = data), structured mode (application/cloudevents+json) and batched
// mode (application/cloudevents-batch+json). Works on header/body pairs so that requests and
// responses share one implementation. Pure functions, thread-safe, no exceptions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cloudevents/cloudevent.h"
#include "common/status.h"
#include "http/message.h"

namespace cloudevents {

enum class HttpMode { kBinary, kStructured };

// Writes the event into headers and body. Binary mode sets ce-specversion, ce-id, ce-source,
// ce-type, the optional ce-time/ce-subject/ce-dataschema and one ce-<name> per extension
// (values percent-encoded as the binding requires), and Content-Type (datacontenttype, or
// application/json when there is data but no datacontenttype); structured mode sets
// Content-Type application/cloudevents+json. Any ce-* header and Content-Type already present
// are replaced. InvalidArgument when Validate(event) fails (checked unless `validation` says
// it was already); headers/body are then unchanged.
common::Status WriteHttp(const CloudEvent& event, HttpMode mode, http::Headers* headers,
                         std::string* body, Validation validation = Validation::kCheck);
// Writes a batch (possibly empty) in batched mode.
common::Status WriteHttpBatch(const std::vector<CloudEvent>& events, http::Headers* headers,
                              std::string* body);

// Convenience for clients: fills request->headers/body as above (method and target are left
// as they are; set them before or after).
common::Status WriteHttp(const CloudEvent& event, HttpMode mode, http::Request* request,
                         Validation validation = Validation::kCheck);
common::Status WriteHttpBatch(const std::vector<CloudEvent>& events, http::Request* request);

// Reads the event(s) an HTTP message carries, recognising the mode as the binding says:
// Content-Type application/cloudevents+json -> structured (one event),
// application/cloudevents-batch+json -> batch (zero or more), a ce-specversion header ->
// binary (one event). As a convenience for Dispatch's event API, a JSON body carrying an
// "eventType" member with none of the above is read as Dispatch's CloudEvents 0.1 JSON
// (one object or an array). InvalidArgument with a clear message for anything else: no
// CloudEvent, malformed JSON, missing attributes, bad specversion, bad percent-encoding.
common::Result<std::vector<CloudEvent>> ReadHttp(const http::Headers& headers,
                                                 std::string_view body);
common::Result<std::vector<CloudEvent>> ReadHttp(const http::Request& request);

// Binary mode only (no mode detection). A body under a JSON Content-Type that is not valid
// JSON (the npm SDK sends string data unquoted) becomes a string (or bytes when not UTF-8).
// InvalidArgument as above.
common::Result<CloudEvent> ReadHttpBinary(const http::Headers& headers, std::string_view body);

// The binding's header-value encoding: space, '"', '%' and every byte outside printable
// ASCII as %XX (upper-case hex).
std::string PercentEncodeHeaderValue(std::string_view value);
// Unquotes an RFC 7230 quoted-string if the value is one, then percent-decodes once.
// InvalidArgument on a bad escape or a result that is not valid UTF-8.
common::Result<std::string> DecodeHeaderValue(std::string_view value);

}  // namespace cloudevents
