// The AWS query protocol (form parameters in, XML out) mapped onto the JSON protocol's
// shapes, so a service implements each operation once on JSON and serves both protocols.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "localcloud/core/json_protocol.h"
#include "localcloud/core/protocol.h"

namespace localcloud {

// Converts decoded query-protocol parameters ("Attribute.1.Name=…",
// "SendMessageBatchRequestEntry.2.MessageBody=…", "AttributeName.1=All", "Tag.1.Key=…") to
// the JSON protocol's request shape ({"Attributes": {…}, "Entries": […], "AttributeNames":
// […], "Tags": {…}}). Scalars stay strings; readers accept strings for numbers.
nlohmann::json QueryParamsToJson(const std::map<std::string, std::string>& params);

// Renders a JSON-shaped result as the query protocol's XML response:
// <{action}Response xmlns="{xmlns}"><{action}Result>…</{action}Result><ResponseMetadata>
// <RequestId>…</RequestId></ResponseMetadata></{action}Response> (the Result element also
// when empty: SDKs look for it). Objects become nested
// elements; "Attributes"/"Tags"/"MessageAttributes" maps become SQS's Name/Value (Key/Value)
// entries; arrays repeat an element named after the member ("Messages" → Message,
// "QueueUrls" → QueueUrl, "Successful" → {action}ResultEntry, "Failed" →
// BatchResultErrorEntry, others the member name).
std::string RenderQueryResponse(std::string_view action, const nlohmann::json& result,
                                std::string_view request_id, std::string_view xmlns);

struct QueryProtocolOptions {
  QueryProtocolOptions() = default;
  QueryProtocolOptions(std::string service, std::string xmlns)
      : service(std::move(service)), xmlns(std::move(xmlns)) {}

  std::string service;  // "sqs": AwsError::service of the adapter's own errors
  std::string xmlns;    // namespace of the <{Action}Response> element
  // SQS: the query protocol's code of an error the operations name by its JSON-protocol type
  // ("QueueDoesNotExist" → "AWS.SimpleQueueService.NonExistentQueue"). Unset: the same code.
  std::function<std::string(std::string_view code)> query_error_code;
  // The error for an Action the table lacks (also a missing Action: ""); each service words
  // it its own way. Unset: InvalidAction "The action <Action> is not valid for this endpoint."
  std::function<aws::AwsError(std::string_view action)> unknown_operation;
};

// The query protocol adapter: parameters from the query string and, overriding them, an
// application/x-www-form-urlencoded body; the operation is the Action parameter; the input
// is QueryParamsToJson of the parameters; results are RenderQueryResponse XML (text/xml),
// errors <ErrorResponse> XML (aws::ToQueryXmlResponse). Immutable, thread-safe.
class QueryProtocol : public ProtocolAdapter {
 public:
  explicit QueryProtocol(QueryProtocolOptions options);

  // The request's parameters, decoded: the query string's, then a form body's.
  static std::map<std::string, std::string> Parameters(const http::Request& request);

  void Serve(const OperationTable& operations, Call call, http::Respond respond) const override;
  http::Response RenderError(const Call& call, aws::AwsError error) const override;

 private:
  std::shared_ptr<const QueryProtocolOptions> options_;  // shared with pending replies
};

// Services that speak both (SQS, STS): the JSON protocol for requests with an X-Amz-Target,
// the query protocol for the others. Immutable, thread-safe.
class JsonOrQueryProtocol : public ProtocolAdapter {
 public:
  JsonOrQueryProtocol(JsonProtocolOptions json, QueryProtocolOptions query)
      : json_(std::move(json)), query_(std::move(query)) {}
  // The query protocol with the JSON one's service, error codes and unknown-operation error,
  // and `xmlns`.
  JsonOrQueryProtocol(const JsonProtocolOptions& json, std::string xmlns)
      : JsonOrQueryProtocol(json, QueryOptionsLike(json, std::move(xmlns))) {}

  const JsonProtocol& json() const { return json_; }

  void Serve(const OperationTable& operations, Call call, http::Respond respond) const override {
    For(call).Serve(operations, std::move(call), std::move(respond));
  }
  http::Response RenderError(const Call& call, aws::AwsError error) const override {
    return For(call).RenderError(call, std::move(error));
  }

 private:
  static QueryProtocolOptions QueryOptionsLike(const JsonProtocolOptions& json, std::string xmlns) {
    QueryProtocolOptions query(json.service, std::move(xmlns));
    query.query_error_code = json.query_error_code;
    query.unknown_operation = json.unknown_operation;
    return query;
  }
  const ProtocolAdapter& For(const Call& call) const {
    return IsJsonProtocol(call) ? static_cast<const ProtocolAdapter&>(json_) : query_;
  }

  JsonProtocol json_;
  QueryProtocol query_;
};

}  // namespace localcloud
