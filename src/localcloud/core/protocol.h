// The protocol layer of the JSON and query services (SQS, STS, EventBridge, CloudTrail): a
// service is a table of small per-operation functions on JSON-shaped input; a protocol
// adapter (json_protocol.h, query_protocol.h) parses the wire request, picks the operation
// from the table, and renders its result or error in the protocol's shape.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "aws/error.h"
#include "http/server.h"
#include "localcloud/core/cloud.h"

namespace localcloud {

// What an operation answers: the response's members (JSON-protocol shapes; the query adapter
// renders them as XML), or the AWS error to answer instead.
using OperationResult = aws::Outcome<nlohmann::json>;

// Takes an operation's outcome. Called exactly once, from any thread.
using Reply = std::function<void(OperationResult)>;

// One operation: the request's members in the JSON protocol's shape (query parameters are
// converted by the adapter, their scalars stay strings) and the authenticated call.
using Operation = std::function<OperationResult(const nlohmann::json& input, const Call& call)>;

// An operation that may answer later (SQS ReceiveMessage waits for messages): it calls
// `reply` exactly once, before returning or later from any thread. `input` and `call` are
// valid only until it returns: keep copies of what a later reply needs.
using AsyncOperation =
    std::function<void(const nlohmann::json& input, const Call& call, Reply reply)>;

// A service's operations by name (the X-Amz-Target suffix or query Action). Filled once
// before serving, read-only (thread-safe) afterwards.
class OperationTable {
 public:
  // Adds (or replaces) an operation. Returns *this to chain.
  OperationTable& Add(std::string name, Operation operation);
  OperationTable& AddAsync(std::string name, AsyncOperation operation);
  // Wraps every operation added so far: `check` runs first and its error, when it returns
  // one, answers instead (SQS refuses other accounts' queue URLs for every operation).
  void GuardAll(
      std::function<std::optional<aws::AwsError>(const nlohmann::json& input, const Call& call)>
          check);

  bool Contains(std::string_view name) const { return operations_.count(name) > 0; }
  // Runs operation `name`, which answers through `reply`; when the table has no such
  // operation, replies `unknown(name)` instead.
  void Run(std::string_view name, const nlohmann::json& input, const Call& call, Reply reply,
           const std::function<aws::AwsError(std::string_view name)>& unknown) const;

 private:
  std::map<std::string, AsyncOperation, std::less<>> operations_;
};

// An Operation that calls `method` on `object`, which must outlive the table.
template <typename T>
Operation BindOperation(T* object, OperationResult (T::*method)(const nlohmann::json& input,
                                                                const Call& call)) {
  return [object, method](const nlohmann::json& input, const Call& call) {
    return (object->*method)(input, call);
  };
}

// Parses wire requests of one protocol, runs their operation from a table and renders the
// outcome. Implementations are immutable after construction and thread-safe.
class ProtocolAdapter {
 public:
  virtual ~ProtocolAdapter() = default;
  // Parses `call`, runs its operation from `operations` and calls `respond` exactly once
  // (maybe later, from another thread, for an AsyncOperation) with the rendered result or
  // error. A malformed request or an operation the table lacks is answered with the
  // protocol's error without running anything. `operations` must outlive the call.
  virtual void Serve(const OperationTable& operations, Call call, http::Respond respond) const = 0;
  // `error` rendered for `call`'s protocol, with call.request_id as its request id
  // (Service::ErrorResponse of the services built on the adapter).
  virtual http::Response RenderError(const Call& call, aws::AwsError error) const = 0;
};

// An error a service answers: `service` ("sqs"), `code` (the JSON protocol's type or the
// query protocol's code), `message`, HTTP `status`.
aws::AwsError ServiceError(std::string service, std::string code, std::string message,
                           int status = 400);

// Whether `call` came in the JSON protocol (X-Amz-Target), not the query protocol (Action):
// for the few results whose shape differs (timestamps: epoch seconds in JSON, ISO 8601 in
// XML).
inline bool IsJsonProtocol(const Call& call) { return !call.route.target.empty(); }

// A member read whatever the protocol: query parameters are strings, JSON members typed
// (numbers and booleans come back as their JSON text, "true", "5"). nullopt when absent or
// null, or when `input` is not an object.
std::optional<std::string> ScalarMember(const nlohmann::json& input, std::string_view name);

}  // namespace localcloud
