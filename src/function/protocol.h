// The wire side of a function: turns one HTTP request (Dispatch function protocol or
// CloudEvents 1.0 HTTP, binary or structured) into a handler call and its Outcome back into
// an HTTP response. Pure functions of their inputs apart from the handler; thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include "common/json_limits.h"
#include "common/status.h"
#include "function/function.h"
#include "http/message.h"

namespace function {

// How a request reached the function.
enum class RequestKind {
  kDispatch,              // {"context": {...}, "payload": ...}
  kCloudEventBinary,      // ce-* headers, the body is the data
  kCloudEventStructured,  // application/cloudevents+json (1.0), or a JSON CloudEvent body
};

// A decoded request: the context to run with and the payload.
struct Invocation {
  RequestKind kind = RequestKind::kDispatch;
  // For kDispatch: the request's context object. For CloudEvents: {"event": <the event as
  // a structured-mode JSON object>} (secrets then come from the SecretFallback).
  nlohmann::json context = nlohmann::json::object();
  // For kDispatch: the payload. For CloudEvents: the event data (JSON when the data is
  // JSON, a string otherwise).
  nlohmann::json payload;
};

// Nesting accepted in a request body: a payload (common::kMaxJsonDepth) wrapped by Dispatch
// in {"context": {"event": {"data": …}}, "payload": …}, with room to spare.
inline constexpr int kMaxRequestJsonDepth = common::kMaxJsonDepth + 8;

// Decodes a `POST /` request. InvalidArgument, with a message naming what was expected, for
// malformed JSON, JSON nested deeper than kMaxRequestJsonDepth (checked before parsing), a
// body that is neither {context, payload} nor a CloudEvent, a CloudEvent without its
// required attributes, or a batch.
common::Result<Invocation> DecodeRequest(const http::Request& request);

// The protocol's response for an outcome: 200 with the JSON result, or the error JSON with
// 400/500/502 (and Retry-After, in whole seconds rounded up, when the error carries a wait).
http::Response EncodeOutcome(const Outcome& outcome);

// Decodes, runs the handler (catching anything it throws as a SystemError) and encodes.
// Blocks for as long as the handler does.
http::Response Invoke(const http::Request& request, const Handler& handler,
                      const SecretFallback* fallback);

}  // namespace function
