// The seams every localcloud service plugs into: the shared context (region, account,
// clock, credentials, timers), the Service interface, and what a service learns about a
// request once the dispatcher has authenticated it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "aws/error.h"
#include "common/mutex.h"
#include "common/status.h"
#include "common/time.h"
#include "http/message.h"
#include "http/server.h"
#include "localcloud/core/timer_queue.h"

namespace localcloud {

// Who a set of credentials belongs to. Static credentials (from flags) are the account's
// root; STS AssumeRoleWithWebIdentity adds temporary ones for an assumed role.
struct Principal {
  std::string access_key_id;
  std::string secret_access_key;  // never log it
  std::string session_token;      // when non-empty, requests must carry it (X-Amz-Security-Token)
  std::string account_id;
  std::string arn;  // "arn:aws:iam::000000000000:root", "arn:aws:sts::…:assumed-role/R/S"
  std::string principal_id;  // CloudTrail principalId / STS UserId ("000000000000", "AROA…:S")
  std::string type;          // CloudTrail userIdentity.type: "Root", "IAMUser", "AssumedRole"
  std::string role_arn;      // for "AssumedRole": arn:aws:iam::…:role/R (sessionIssuer)
  std::optional<common::SystemTime> expiration;  // temporary credentials only
};

// Access keys localcloud accepts. Thread-safe.
class CredentialStore {
 public:
  // Adds or replaces the principal of `principal.access_key_id`.
  void Add(Principal principal);
  // The principal of an access key; nullopt when unknown or expired at `now`.
  std::optional<Principal> Find(std::string_view access_key_id, common::SystemTime now) const;

 private:
  mutable common::Mutex mu_;
  std::unordered_map<std::string, Principal> by_key_ GUARDED_BY(mu_);
};

struct CloudConfig {
  std::string region = "us-west-2";
  std::string account_id = "000000000000";
  std::string data_dir;  // "" keeps all state in memory
  bool auth = true;      // false: --no-auth, signatures are not checked
  // "http://127.0.0.1:4566": the bound endpoint, used where a request has no Host header.
  std::string endpoint;
};

// Shared by every service for the life of the process. Thread-safe; config() is read-only
// once the server serves.
class CloudContext {
 public:
  CloudContext(CloudConfig config, common::Clock& clock)
      : config_(std::move(config)), clock_(clock) {}
  CloudContext(const CloudContext&) = delete;
  CloudContext& operator=(const CloudContext&) = delete;

  const CloudConfig& config() const { return config_; }
  CloudConfig& mutable_config() { return config_; }  // before serving only
  common::Clock& clock() const { return clock_; }
  CredentialStore& credentials() { return credentials_; }
  TimerQueue& timers() { return timers_; }

  // The account root principal (what --no-auth requests are attributed to).
  Principal RootPrincipal() const;

 private:
  CloudConfig config_;
  common::Clock& clock_;
  CredentialStore credentials_;
  TimerQueue timers_;
};

// What routing looks at; computed once per request by the dispatcher.
struct RouteInfo {
  std::string target;           // X-Amz-Target ("AmazonSQS.SendMessage"), "" when none
  std::string signing_service;  // service of the SigV4 credential scope ("s3", "sqs"), "" unsigned
  std::string signing_region;
  std::string action;  // query protocol Action (query string or form body), "" none
  std::string host;    // Host header without the port, lower case
};

// How the request was authenticated; what S3 needs to verify aws-chunked chunk signatures.
struct SigningInfo {
  bool signed_request = false;  // false with --no-auth or for unsigned operations
  bool presigned = false;       // signature in the query string (CloudTrail "QueryString")
  std::string seed_signature;   // hex signature of the request (chunk chain starts here)
  std::string signing_key;      // raw derived key (kSigning) for chunk signatures
  std::string amz_date;         // "20150830T123600Z"
  std::string scope;            // "20150830/us-east-1/s3/aws4_request"
};

// One authenticated request, as a service receives it. Move-only in practice.
struct Call {
  http::Request request;
  RouteInfo route;
  Principal caller;  // secret cleared; the root principal when unsigned or --no-auth
  SigningInfo signing;
  std::string request_id;  // from Service::NewRequestId; the service writes it on the response
                           // (x-amz-request-id / x-amzn-RequestId) and in its error bodies
  std::string host_id;     // S3 x-amz-id-2
  common::SystemTime time;
  std::string user_agent;
  std::string source_ip;  // request.remote_address
};

// Body limit of the JSON and query protocols (SQS, STS, EventBridge, CloudTrail): their
// largest requests (a 10-message SQS batch of 1 MiB, form-encoded) stay well below it.
inline constexpr size_t kMaxApiBodyBytes = 4u << 20;

// One AWS (or X) service emulated by localcloud. Implementations are thread-safe: Handle
// runs on the server's I/O threads and must not block (answer at once, or keep `respond`
// and call it later from any thread).
class Service {
 public:
  virtual ~Service() = default;
  // Short name for logs and health ("s3", "sqs").
  virtual std::string_view name() const = 0;
  // Whether the request is for this service. The dispatcher asks the services in the order
  // they were added; the first that accepts gets the request (S3, the catch-all, goes last).
  virtual bool Accepts(const RouteInfo& route, const http::Request& request) const = 0;
  // Whether the dispatcher must verify a SigV4 signature first. False for operations AWS
  // serves unsigned (STS AssumeRoleWithWebIdentity) and services that authenticate
  // themselves (the X sandbox, OAuth 1.0a).
  virtual bool NeedsSignature(const RouteInfo& /*route*/, const http::Request& /*request*/) const {
    return true;
  }
  // Body limit of a request, decided from its head before the body is read (0: the
  // server's limit). Default: kMaxApiBodyBytes, for the JSON and query protocols.
  virtual size_t MaxBodyBytes(const RouteInfo& /*route*/, const http::Request& /*head*/) const {
    return kMaxApiBodyBytes;
  }
  // A fresh request id in the service's style (S3: 16 upper-case hex; others: a UUID).
  virtual std::string NewRequestId() const;
  // Renders an error (authentication failures from the dispatcher) in the wire format the
  // request used. `error.request_id` is already call.request_id.
  virtual http::Response ErrorResponse(const Call& call, const aws::AwsError& error) const = 0;
  // Serves the request; calls `respond` exactly once.
  virtual void Handle(Call call, http::Respond respond) = 0;
  // Called once on shutdown, after the server stopped: persist state when a data dir is set.
  virtual void Shutdown() {}
};

}  // namespace localcloud
