#include "localcloud/core/json_protocol.h"

#include <utility>

#include "common/json_limits.h"
#include "common/strings.h"

namespace localcloud {
namespace {

using nlohmann::json;

http::Response RenderJsonError(const JsonProtocolOptions& options, aws::AwsError error,
                               const std::string& request_id) {
  error.request_id = request_id;
  std::string query_code = options.query_error_code ? options.query_error_code(error.code) : "";
  return aws::ToJsonResponse(error, options.version, options.error_type_prefix, query_code);
}

http::Response RenderJsonSuccess(const JsonProtocolOptions& options, const json& result,
                                 const std::string& request_id) {
  http::Response r =
      http::Response::Text(200, result.dump(), "application/x-amz-json-" + options.version);
  r.headers.Set("x-amzn-RequestId", request_id);
  return r;
}

}  // namespace

JsonProtocol::JsonProtocol(JsonProtocolOptions options) {
  if (!options.unknown_operation) {
    options.unknown_operation = [service = options.service](std::string_view operation) {
      return ServiceError(
          service, "UnknownOperationException",
          "localcloud " + service + " does not implement " + std::string(operation));
    };
  }
  options_ = std::make_shared<const JsonProtocolOptions>(std::move(options));
}

std::string JsonProtocol::OperationOf(std::string_view target) const {
  for (const std::string& prefix : options_->target_prefixes) {
    if (common::StartsWith(target, prefix)) return std::string(target.substr(prefix.size()));
  }
  return "";
}

bool JsonProtocol::Accepts(const RouteInfo& route) const {
  for (const std::string& prefix : options_->target_prefixes) {
    if (common::StartsWith(route.target, prefix)) return true;
  }
  return false;
}

// The body is walked recursively (parsed, matched, dumped): nesting is bounded before the
// parser runs.
aws::Outcome<json> JsonProtocol::ParseBody(std::string_view body) {
  auto invalid = [](std::string message) {
    return ServiceError("", "SerializationException", std::move(message));
  };
  if (body.empty()) return json::object();
  common::Status nesting = common::CheckJsonDepth(body, common::kMaxJsonDepth);
  if (!nesting.ok()) return invalid("Request body is not valid: " + nesting.message());
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return invalid("Request body is not valid JSON");
  if (!parsed.is_object()) return invalid("Request body is not a JSON object");
  return parsed;
}

void JsonProtocol::Serve(const OperationTable& operations, Call call, http::Respond respond) const {
  std::string operation = OperationOf(call.route.target);
  aws::Outcome<json> input = ParseBody(call.request.body);
  if (!input.ok()) {
    respond(RenderError(call, input.error()));
    return;
  }
  Reply reply = [options = options_, request_id = call.request_id,
                 respond = std::move(respond)](OperationResult outcome) {
    respond(outcome.ok() ? RenderJsonSuccess(*options, *outcome, request_id)
                         : RenderJsonError(*options, outcome.error(), request_id));
  };
  operations.Run(operation, *input, call, std::move(reply), options_->unknown_operation);
}

http::Response JsonProtocol::RenderError(const Call& call, aws::AwsError error) const {
  if (error.service.empty()) error.service = options_->service;
  return RenderJsonError(*options_, std::move(error), call.request_id);
}

}  // namespace localcloud
