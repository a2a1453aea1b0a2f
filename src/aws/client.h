// What every service client shares: options, and ServiceCaller, which signs a request with
// fresh credentials, sends it through the HTTP client with the standard retry mode, and
// turns any non-2xx answer into an AwsError.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "aws/config.h"
#include "aws/credentials.h"
#include "aws/error.h"
#include "aws/retry.h"
#include "common/time.h"
#include "http/client.h"

namespace aws {

// How a client reaches its service. `credentials`, `http` and `clock` are not owned and must
// outlive the client; nullptr http means http::DefaultHttpClient(), nullptr clock the system
// clock. nullptr credentials sends requests unsigned (anonymous).
struct ClientOptions {
  ClientOptions() = default;
  ClientOptions(AwsConfig config_in, CredentialsProvider* credentials_in = nullptr,
                http::HttpClient* http_in = nullptr)
      : config(std::move(config_in)), credentials(credentials_in), http(http_in) {}

  AwsConfig config;  // region and endpoint overrides
  CredentialsProvider* credentials = nullptr;
  http::HttpClient* http = nullptr;
  const common::Clock* clock = nullptr;
  RetryOptions retry;  // standard mode by default
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds timeout{30'000};  // per attempt
};

// Per-call knobs of ServiceCaller::Send.
struct SendOptions {
  // Payload hash to sign instead of the body's SHA-256 (e.g. UNSIGNED-PAYLOAD).
  std::string payload_hash;
  // Per-attempt timeout instead of ClientOptions::timeout (long polls need more).
  std::optional<std::chrono::milliseconds> timeout;
  // Asked before each retry; false stops retrying (e.g. a streamed body already started).
  std::function<bool()> may_retry;
  // Send without signing even when credentials are configured.
  bool unsigned_request = false;
  // See http::ClientRequest::cancel; a cancelled call is not retried.
  const std::atomic<bool>* cancel = nullptr;
};

// One service's endpoint, signing name and region, with the send loop. Thread-safe.
class ServiceCaller {
 public:
  // `service_key` picks the endpoint ("s3", "sqs", "eventbridge", "cloudtrail", "sts");
  // `signing_name` is the SigV4 service ("s3", "sqs", "events", "cloudtrail", "sts").
  ServiceCaller(ClientOptions options, std::string service_key, std::string signing_name);

  const std::string& endpoint() const { return endpoint_; }  // no trailing slash
  const std::string& region() const { return region_; }
  bool endpoint_overridden() const { return endpoint_overridden_; }
  const std::string& signing_name() const { return signing_name_; }

  // Sends `request` (absolute URL) signed for this service, retrying retryable failures.
  // A 2xx response is returned as is; any other status becomes the parsed AwsError; a
  // transport failure becomes AwsError::FromTransport. Credentials errors come back as
  // AwsError::Local with the provider's status code.
  Outcome<http::Response> Send(http::ClientRequest request, const SendOptions& send = {}) const;

  // Several requests (absolute URLs, same endpoint) written on one connection at once and
  // answered in order, each signed with its SendOptions: one round trip for all. An answer
  // that failed in a retryable way is sent again on its own with the retry policy. For
  // requests that are safe to repeat.
  std::vector<Outcome<http::Response>> SendPipelined(std::vector<http::ClientRequest> requests,
                                                     const std::vector<SendOptions>& sends) const;

  // An unsigned AWS JSON request: POST / with X-Amz-Target `target` and `body`.
  http::ClientRequest JsonRequest(std::string_view target, std::string body,
                                  std::string_view json_version) const;

  // AWS JSON 1.0/1.1 call: POST / with X-Amz-Target `target` and the JSON body. Returns the
  // parsed response object ({} for an empty body); a response that is not JSON is an
  // AwsError::Local(kInternal).
  Outcome<nlohmann::json> CallJson(std::string_view target, const nlohmann::json& body,
                                   std::string_view json_version,
                                   const SendOptions& send = {}) const;

  // Query protocol call: POST / form-encoded Action, Version and `params`. Returns the raw
  // 2xx response (XML) for the caller to parse.
  Outcome<http::Response> CallQuery(std::string_view action, std::string_view version,
                                    const std::vector<std::pair<std::string, std::string>>& params,
                                    const SendOptions& send = {}) const;

 private:
  Outcome<http::Response> SendOnce(http::ClientRequest request, const SendOptions& send) const;
  // Sets the request's timeouts and signs it.
  AwsStatus Sign(http::ClientRequest& request, const SendOptions& send) const;
  // A transport failure or non-2xx answer as the AwsError it is.
  Outcome<http::Response> ToOutcome(common::Result<http::Response> response) const;

  ClientOptions options_;
  std::string service_key_;
  std::string signing_name_;
  std::string endpoint_;
  std::string region_;
  bool endpoint_overridden_ = false;
  RetryPolicy retry_;
};

}  // namespace aws
