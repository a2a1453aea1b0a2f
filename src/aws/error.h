// The AWS error type: what a service said went wrong (code, message, request id, status),
// parsed from every error wire format the project meets and rendered back by localcloud.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/status.h"
#include "http/message.h"

namespace aws {

// One failed AWS call. Either the service answered with an error (http_status != 0, `code`
// set), or the call never got an answer (http_status == 0, `transport` holds the transport
// failure: Unavailable, DeadlineExceeded, …). Plain value.
struct AwsError {
  std::string service;     // "s3", "sqs", "events", "cloudtrail", "sts"
  std::string code;        // "NoSuchBucket", "AWS.SimpleQueueService.NonExistentQueue", …
  std::string message;     // human text from the service ("" when none)
  std::string request_id;  // x-amz-request-id / x-amzn-RequestId / <RequestId>
  int http_status = 0;     // 0: no HTTP answer (transport failure)
  common::Code transport = common::Code::kOk;  // non-OK only for transport failures
  bool sender_fault = true;  // "Sender" vs "Receiver" (query protocol, x-amzn-query-error)

  // A transport failure (no HTTP answer) from the HTTP client's Status.
  static AwsError FromTransport(std::string service, const common::Status& status);
  // An error this code made itself (bad response, bad argument): http_status 0, code kept.
  static AwsError Local(std::string service, common::Code code, std::string message);

  bool IsTransportError() const { return http_status == 0 && transport != common::Code::kOk; }
  // Throttling codes of the AWS standard retry mode (Throttling, SlowDown, …) or HTTP 429.
  bool IsThrottling() const;
  // Transient: 5xx (500, 502, 503, 504), RequestTimeout(Exception), PriorRequestNotComplete,
  // or a transport failure (Unavailable, DeadlineExceeded).
  bool IsTransient() const;
  // Worth retrying under the standard retry mode: throttling or transient. Plain 4xx never.
  bool IsRetryable() const { return IsThrottling() || IsTransient(); }

  // The common::Status for this error. Message "<Service> <Code>: <message> (request id <id>)"
  // e.g. "sqs QueueDoesNotExist: The specified queue does not exist. (request id 7a…)".
  // The status code maps HTTP status and well-known codes: 400 InvalidArgument, 401
  // Unauthenticated, 403 PermissionDenied, 404 and *NotFound/NoSuch*/NonExistent* NotFound,
  // 409 and *AlreadyExists*/*AlreadyOwned* AlreadyExists, 412 FailedPrecondition,
  // throttling ResourceExhausted, 5xx Unavailable; transport errors keep their code.
  common::Status ToStatus() const;
  std::string ToString() const { return ToStatus().ToString(); }
};

// Parses an error response of any AWS protocol into an AwsError:
//  - XML: S3 `<Error><Code/><Message/><RequestId/></Error>` and the query protocol's
//    `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`;
//  - JSON: `__type` (anything up to '#' or ':' stripped, e.g.
//    "com.amazonaws.sqs#QueueDoesNotExist" → "QueueDoesNotExist"), `code`/`Code`,
//    `message`/`Message`;
//  - the header `x-amzn-query-error: Code;Sender` wins for the code (SQS's legacy codes);
//  - headers x-amzn-ErrorType, x-amz-request-id / x-amzn-RequestId for the request id;
//  - an empty or unparseable body (HEAD requests) gets a code from the status
//    (404 "NotFound", 403 "Forbidden", 400 "BadRequest", 301 "PermanentRedirect", …).
// Never fails.
AwsError ParseErrorResponse(std::string_view service, const http::Response& response);

// Rendering, for servers (localcloud). Each sets Content-Type and the request-id headers
// (x-amz-request-id and x-amzn-RequestId) from error.request_id.
// S3 style: <Error><Code/><Message/><RequestId/>[extra elements]</Error>.
http::Response ToS3XmlResponse(const AwsError& error,
                               const std::vector<std::pair<std::string, std::string>>& extra = {});
// Query protocol: <ErrorResponse><Error><Type>Sender|Receiver</Type><Code/><Message/>
// </Error><RequestId/></ErrorResponse>, Content-Type text/xml.
http::Response ToQueryXmlResponse(const AwsError& error);
// JSON 1.0/1.1: {"__type": "<type_prefix><code>", "message": …}, Content-Type
// application/x-amz-json-1.0 (or 1.1), header x-amzn-ErrorType; with `query_error_code`
// non-empty also `x-amzn-query-error: <query_error_code>;Sender|Receiver` (SQS).
http::Response ToJsonResponse(const AwsError& error, std::string_view json_version = "1.0",
                              std::string_view type_prefix = "",
                              std::string_view query_error_code = "");
// The bodies alone.
std::string ToXmlBody(const AwsError& error, bool query_protocol);
std::string ToJsonBody(const AwsError& error, std::string_view type_prefix = "");

// A value or an AwsError: what every service call returns. Accessing value() of an error is a
// bug (asserted).
template <typename T>
class Outcome {
 public:
  Outcome(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Outcome(AwsError error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  const AwsError& error() const {
    assert(!ok());
    return std::get<AwsError>(v_);
  }
  // OK, or error().ToStatus().
  common::Status status() const { return ok() ? common::Status::Ok() : error().ToStatus(); }

  T& value() & {
    assert(ok());
    return std::get<T>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  // As the project's generic Result (loses the AWS code except in the message).
  common::Result<T> ToResult() && {
    if (ok()) return std::move(std::get<T>(v_));
    return error().ToStatus();
  }

 private:
  std::variant<T, AwsError> v_;
};

// The value of a call that returns nothing.
struct Empty {};
using AwsStatus = Outcome<Empty>;

}  // namespace aws
