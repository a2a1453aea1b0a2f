#include "function/protocol.h"

#include <exception>

#include "cloudevents/http_binding.h"
#include "cloudevents/json_format.h"
#include "common/strings.h"

namespace function {
namespace {

using nlohmann::json;

constexpr const char* kExpected =
    "expected a JSON object {\"context\": {...}, \"payload\": ...} (Dispatch function protocol) "
    "or a CloudEvents 1.0 HTTP request (binary mode with ce-* headers, or structured mode "
    "application/cloudevents+json)";

// The event data as the handler's payload: JSON as it is; bytes parsed as JSON when they are
// JSON, kept as a string otherwise (valid UTF-8 only: JSON strings cannot hold other bytes).
common::Result<json> PayloadOf(const cloudevents::CloudEvent& event) {
  if (event.data) return *event.data;
  if (event.data_json) {
    auto parsed = cloudevents::ParseJson(*event.data_json);
    if (!parsed.ok()) return parsed.status().WithContext("CloudEvent data");
    return std::move(*parsed);
  }
  if (!event.binary_data) return json();
  if (cloudevents::IsJsonContentType(event.EffectiveContentType())) {
    auto parsed = cloudevents::ParseJson(*event.binary_data);
    if (!parsed.ok()) return parsed.status().WithContext("CloudEvent data");
    return std::move(*parsed);
  }
  if (!common::IsValidUtf8(*event.binary_data)) {
    return common::InvalidArgument("CloudEvent data is binary; this function takes JSON or text");
  }
  return json(*event.binary_data);
}

common::Result<Invocation> FromCloudEvent(const cloudevents::CloudEvent& event, RequestKind kind) {
  Invocation inv;
  inv.kind = kind;
  DAT_ASSIGN_OR_RETURN(inv.payload, PayloadOf(event));
  auto event_json = cloudevents::ToJsonValue(event);
  if (!event_json.ok()) return event_json.status().WithContext("CloudEvent");
  inv.context = json{{"event", json::parse(event_json->dump())}};
  return inv;
}

}  // namespace

common::Result<Invocation> DecodeRequest(const http::Request& request) {
  const std::string content_type = common::ToLower(request.headers.GetOr("Content-Type", ""));
  if (request.headers.Has("ce-specversion")) {
    auto event = cloudevents::ReadHttpBinary(request.headers, request.body);
    if (!event.ok()) return event.status().WithContext("CloudEvents binary mode");
    return FromCloudEvent(*event, RequestKind::kCloudEventBinary);
  }
  if (common::StartsWith(content_type, "application/cloudevents-batch+json")) {
    return common::InvalidArgument("CloudEvents batches are not accepted; send one event");
  }
  auto body = common::ParseJsonBounded(request.body, kMaxRequestJsonDepth);
  if (!body.ok()) return body.status();
  if (common::StartsWith(content_type, "application/cloudevents+json") ||
      (body->is_object() && body->contains("specversion") && !body->contains("context") &&
       !body->contains("payload"))) {
    auto event = cloudevents::FromJsonValue(*body);
    if (!event.ok()) return event.status().WithContext("CloudEvents structured mode");
    return FromCloudEvent(*event, RequestKind::kCloudEventStructured);
  }
  if (!body->is_object() || (!body->contains("context") && !body->contains("payload"))) {
    return common::InvalidArgument(kExpected);
  }
  Invocation inv;
  inv.kind = RequestKind::kDispatch;
  auto context = body->find("context");
  if (context != body->end() && !context->is_null()) {
    if (!context->is_object()) return common::InvalidArgument("\"context\" must be an object");
    inv.context = std::move(*context);
  }
  auto payload = body->find("payload");
  if (payload != body->end()) inv.payload = std::move(*payload);
  return inv;
}

http::Response EncodeOutcome(const Outcome& outcome) {
  if (outcome.ok()) {
    return http::Response::Json(
        200, outcome.value().dump(-1, ' ', false, json::error_handler_t::replace));
  }
  const Error& error = outcome.error();
  http::Response response =
      http::Response::Json(ErrorTypeHttpStatus(error.type),
                           error.ToJson().dump(-1, ' ', false, json::error_handler_t::replace));
  if (error.retry_after) {
    auto seconds = (error.retry_after->count() + 999) / 1000;
    response.headers.Set("Retry-After", std::to_string(seconds));
  }
  return response;
}

http::Response Invoke(const http::Request& request, const Handler& handler,
                      const SecretFallback* fallback) {
  auto inv = DecodeRequest(request);
  if (!inv.ok()) return EncodeOutcome(Error::Input(inv.status().message()));
  Context context(std::move(inv->context), fallback);
  try {
    return EncodeOutcome(handler(context, inv->payload));
  } catch (const std::exception& e) {
    return EncodeOutcome(Error::System(std::string("function threw: ") + e.what()));
  } catch (...) {
    return EncodeOutcome(Error::System("function threw a non-standard exception"));
  }
}

}  // namespace function
