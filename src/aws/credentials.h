// AWS credentials and the providers that find them, as the AWS SDKs do: environment,
// web identity (EKS IRSA), shared files, the ECS container endpoint and EC2 IMDSv2.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws/config.h"
#include "common/mutex.h"
#include "common/status.h"
#include "common/time.h"

namespace http {
class HttpClient;
}

namespace aws {

// A key pair, optionally temporary (session token + expiration). Plain value.
struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;                     // "" for long-term keys
  std::optional<common::SystemTime> expiration;  // nullopt: never expires

  bool empty() const { return access_key_id.empty() || secret_access_key.empty(); }
};

// Supplies credentials for signing. Implementations are thread-safe and cheap to call on
// every request (they cache). An error means "this provider has none" (NotFound) or a
// failure to fetch them (Unavailable, PermissionDenied, InvalidArgument for bad files).
class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  virtual common::Result<Credentials> GetCredentials() = 0;
  // Short name for logs and errors ("env", "profile", "web-identity", "container", "imds").
  virtual std::string name() const = 0;
};

// Always returns the same credentials.
class StaticCredentialsProvider : public CredentialsProvider {
 public:
  explicit StaticCredentialsProvider(Credentials credentials)
      : credentials_(std::move(credentials)) {}
  common::Result<Credentials> GetCredentials() override;
  std::string name() const override { return "static"; }

 private:
  Credentials credentials_;
};

// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN (read on every call).
class EnvCredentialsProvider : public CredentialsProvider {
 public:
  explicit EnvCredentialsProvider(EnvLookup env = ProcessEnv()) : env_(std::move(env)) {}
  common::Result<Credentials> GetCredentials() override;
  std::string name() const override { return "env"; }

 private:
  EnvLookup env_;
};

// aws_access_key_id / aws_secret_access_key / aws_session_token of a profile in the shared
// credentials file, then the config file (files read once, at first use).
class ProfileCredentialsProvider : public CredentialsProvider {
 public:
  explicit ProfileCredentialsProvider(EnvLookup env = ProcessEnv()) : env_(std::move(env)) {}
  common::Result<Credentials> GetCredentials() override;
  std::string name() const override { return "profile"; }

 private:
  EnvLookup env_;
  common::Mutex mu_;
  std::optional<common::Result<Credentials>> cached_ GUARDED_BY(mu_);
};

// Caches credentials fetched by `fetch` and refreshes them `refresh_before` ahead of their
// expiration (and when expired); credentials that live less than twice that are refreshed at
// half their lifetime instead, so short-lived ones are not fetched again on every call.
// Concurrent callers share one fetch. A failed refresh while the old credentials are still
// valid returns the old ones. Thread-safe.
class RefreshingCredentialsProvider : public CredentialsProvider {
 public:
  using Fetch = std::function<common::Result<Credentials>()>;
  RefreshingCredentialsProvider(std::string name, Fetch fetch, const common::Clock& clock,
                                std::chrono::seconds refresh_before = std::chrono::minutes(5));
  common::Result<Credentials> GetCredentials() override;
  std::string name() const override { return name_; }

 private:
  std::string name_;
  Fetch fetch_;
  const common::Clock& clock_;
  std::chrono::seconds refresh_before_;
  common::Mutex mu_;
  std::optional<Credentials> cached_ GUARDED_BY(mu_);
  common::SystemTime refresh_at_ GUARDED_BY(mu_){};
};

// Web identity (EKS IRSA): AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (+ AWS_ROLE_SESSION_NAME)
// or the profile's web_identity_token_file/role_arn → STS AssumeRoleWithWebIdentity (an
// unsigned request). NotFound when not configured. `http` must outlive the provider.
std::unique_ptr<CredentialsProvider> MakeWebIdentityCredentialsProvider(const AwsConfig& config,
                                                                        EnvLookup env,
                                                                        http::HttpClient& http,
                                                                        const common::Clock& clock);

// ECS/EKS-pod-identity container endpoint: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on
// http://169.254.170.2) or AWS_CONTAINER_CREDENTIALS_FULL_URI, with
// AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE) as the Authorization header. NotFound when unset.
std::unique_ptr<CredentialsProvider> MakeContainerCredentialsProvider(EnvLookup env,
                                                                      http::HttpClient& http,
                                                                      const common::Clock& clock);

// EC2 instance metadata, IMDSv2: PUT /latest/api/token, then GET
// /latest/meta-data/iam/security-credentials/ and /…/<role>. Endpoint from
// AWS_EC2_METADATA_SERVICE_ENDPOINT (default http://169.254.169.254); disabled by
// AWS_EC2_METADATA_DISABLED=true. Short timeouts so the chain does not hang off EC2.
std::unique_ptr<CredentialsProvider> MakeImdsCredentialsProvider(EnvLookup env,
                                                                 http::HttpClient& http,
                                                                 const common::Clock& clock);

// Tries providers in order; the first that yields credentials is remembered and used from
// then on. Errors other than NotFound from a provider stop the chain (a broken credentials
// file should be reported, not skipped). Thread-safe.
class ChainCredentialsProvider : public CredentialsProvider {
 public:
  explicit ChainCredentialsProvider(std::vector<std::unique_ptr<CredentialsProvider>> providers);
  common::Result<Credentials> GetCredentials() override;
  std::string name() const override;

 private:
  std::vector<std::unique_ptr<CredentialsProvider>> providers_;
  mutable common::Mutex mu_;
  CredentialsProvider* chosen_ GUARDED_BY(mu_) = nullptr;
};

// The SDKs' default chain: env → web identity → shared files (profile) → container → IMDSv2.
// `http` and `clock` must outlive the provider.
std::unique_ptr<CredentialsProvider> DefaultCredentialsChain(const AwsConfig& config, EnvLookup env,
                                                             http::HttpClient& http,
                                                             const common::Clock& clock);

}  // namespace aws
