// The AWS JSON 1.0/1.1 protocol (X-Amz-Target "<prefix><Operation>", a JSON object body):
// SQS and STS in their JSON form, EventBridge, CloudTrail.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "localcloud/core/protocol.h"

namespace localcloud {

struct JsonProtocolOptions {
  JsonProtocolOptions() = default;
  JsonProtocolOptions(std::string service, std::string version,
                      std::vector<std::string> target_prefixes)
      : service(std::move(service)),
        version(std::move(version)),
        target_prefixes(std::move(target_prefixes)) {}

  std::string service;          // "sqs": AwsError::service of the adapter's own errors
  std::string version = "1.1";  // Content-Type application/x-amz-json-<version>
  // X-Amz-Target prefixes ("AWSEvents."); the operation is what follows the first that
  // matches. CloudTrail answers two forms.
  std::vector<std::string> target_prefixes;
  std::string error_type_prefix;  // before the code in "__type" ("com.amazonaws.sqs#"), or ""
  // SQS: the legacy query-protocol code of an error, sent as x-amzn-query-error beside the
  // JSON type (SDKs that still know the old codes read it). Unset: no such header.
  std::function<std::string(std::string_view code)> query_error_code;
  // The error for an operation the table lacks; each service words it its own way. Unset:
  // UnknownOperationException "<service> does not implement <operation>".
  std::function<aws::AwsError(std::string_view operation)> unknown_operation;
};

// The JSON protocol adapter. Immutable, thread-safe.
//
// Errors it answers itself, as AWS's JSON services do: a body nested deeper than
// common::kMaxJsonDepth, not valid JSON (or UTF-8), or not an object: 400
// SerializationException; an operation the table lacks: options.unknown_operation. (The body
// size limit applies before the body is read: Service::MaxBodyBytes, kMaxApiBodyBytes.)
class JsonProtocol : public ProtocolAdapter {
 public:
  explicit JsonProtocol(JsonProtocolOptions options);

  // The operation an X-Amz-Target names: what follows the first prefix that matches; "" when
  // none does (or nothing follows it: that request gets the unknown-operation error).
  std::string OperationOf(std::string_view target) const;
  // Whether the request's X-Amz-Target starts with one of the prefixes (Service::Accepts).
  bool Accepts(const RouteInfo& route) const;

  // The request body as a JSON object ({} when empty), or the SerializationException above.
  static aws::Outcome<nlohmann::json> ParseBody(std::string_view body);

  void Serve(const OperationTable& operations, Call call, http::Respond respond) const override;
  http::Response RenderError(const Call& call, aws::AwsError error) const override;

 private:
  std::shared_ptr<const JsonProtocolOptions> options_;  // shared with pending replies
};

}  // namespace localcloud
