#include "aws/credentials.h"

#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include "aws/error.h"
#include "aws/sts_protocol.h"
#include "common/strings.h"
#include "http/client.h"

namespace aws {
namespace {

std::string EnvOr(const EnvLookup& env, const std::string& name) {
  std::optional<std::string> v = env(name);
  return v ? *v : std::string();
}

// Parses the JSON both the container endpoint and IMDS answer with:
// {"AccessKeyId","SecretAccessKey","Token","Expiration"} (IMDS adds "Code":"Success").
common::Result<Credentials> ParseCredentialsJson(std::string_view body, std::string_view what) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object()) return common::Unavailable(std::string(what) + ": response is not JSON");
  auto str = [&j](const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (std::string code = str("Code"); !code.empty() && code != "Success") {
    return common::Unavailable(std::string(what) + ": credentials not available (" + code + ")");
  }
  Credentials c;
  c.access_key_id = str("AccessKeyId");
  c.secret_access_key = str("SecretAccessKey");
  c.session_token = str("Token");
  if (std::string exp = str("Expiration"); !exp.empty()) {
    c.expiration = common::ParseIso8601(exp);
    if (!c.expiration) {
      return common::Unavailable(std::string(what) + ": bad Expiration " + exp);
    }
  }
  if (c.empty()) return common::Unavailable(std::string(what) + ": response lacks the keys");
  return c;
}

common::Status HttpFailure(std::string_view what, const http::Response& r) {
  AwsError e = ParseErrorResponse(what, r);
  return e.ToStatus();
}

}  // namespace

common::Result<Credentials> StaticCredentialsProvider::GetCredentials() {
  if (credentials_.empty()) return common::NotFound("static credentials are empty");
  return credentials_;
}

common::Result<Credentials> EnvCredentialsProvider::GetCredentials() {
  Credentials c;
  c.access_key_id = EnvOr(env_, "AWS_ACCESS_KEY_ID");
  c.secret_access_key = EnvOr(env_, "AWS_SECRET_ACCESS_KEY");
  c.session_token = EnvOr(env_, "AWS_SESSION_TOKEN");
  if (c.access_key_id.empty() && c.secret_access_key.empty()) {
    return common::NotFound("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set");
  }
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    return common::InvalidArgument(
        "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set; set both");
  }
  if (std::string exp = EnvOr(env_, "AWS_CREDENTIAL_EXPIRATION"); !exp.empty()) {
    c.expiration = common::ParseIso8601(exp);
  }
  return c;
}

common::Result<Credentials> ProfileCredentialsProvider::GetCredentials() {
  common::MutexLock lock(mu_);
  if (!cached_) {
    cached_ = [this]() -> common::Result<Credentials> {
      DAT_ASSIGN_OR_RETURN(AwsConfig config, LoadConfig(env_));
      auto value = [&config](const char* key) {
        auto it = config.profile_values.find(key);
        return it == config.profile_values.end() ? std::string() : it->second;
      };
      Credentials c;
      c.access_key_id = value("aws_access_key_id");
      c.secret_access_key = value("aws_secret_access_key");
      c.session_token = value("aws_session_token");
      if (c.access_key_id.empty() && c.secret_access_key.empty() &&
          config.profile_values.count("web_identity_token_file") == 0 &&
          (config.profile_values.count("source_profile") > 0 ||
           config.profile_values.count("credential_process") > 0 ||
           config.profile_values.count("sso_session") > 0)) {
        // UNFINISHED: role_arn + source_profile (AssumeRole), credential_process and SSO
        // profiles are not implemented; say so instead of silently trying the next source.
        return common::Unimplemented("profile \"" + config.profile +
                                     "\" uses source_profile, credential_process or SSO, "
                                     "which this client does not support");
      }
      if (c.access_key_id.empty() && c.secret_access_key.empty()) {
        return common::NotFound("profile \"" + config.profile + "\" has no keys in " +
                                config.credentials_file + " or " + config.config_file);
      }
      if (c.empty()) {
        return common::InvalidArgument("profile \"" + config.profile +
                                       "\" has only one of aws_access_key_id and "
                                       "aws_secret_access_key");
      }
      return c;
    }();
  }
  return *cached_;
}

RefreshingCredentialsProvider::RefreshingCredentialsProvider(std::string name, Fetch fetch,
                                                             const common::Clock& clock,
                                                             std::chrono::seconds refresh_before)
    : name_(std::move(name)),
      fetch_(std::move(fetch)),
      clock_(clock),
      refresh_before_(refresh_before) {}

common::Result<Credentials> RefreshingCredentialsProvider::GetCredentials() {
  common::MutexLock lock(mu_);
  const common::SystemTime now = clock_.Now();
  if (cached_ && (!cached_->expiration || now < refresh_at_)) {
    return *cached_;
  }
  common::Result<Credentials> fresh = fetch_();
  if (fresh.ok()) {
    cached_ = *fresh;
    if (fresh->expiration) {
      auto lifetime = *fresh->expiration - now;
      auto margin = std::min<common::SystemTime::duration>(refresh_before_, lifetime / 2);
      refresh_at_ = *fresh->expiration - margin;
    }
    return fresh;
  }
  if (cached_ && cached_->expiration && now < *cached_->expiration) {
    return *cached_;  // still valid: keep using them and try again on the next call
  }
  return fresh.status().WithContext(name_ + " credentials");
}

// --- Web identity ---------------------------------------------------------------------

std::unique_ptr<CredentialsProvider> MakeWebIdentityCredentialsProvider(
    const AwsConfig& config, EnvLookup env, http::HttpClient& http, const common::Clock& clock) {
  auto profile_value = [&config](const char* key) {
    auto it = config.profile_values.find(key);
    return it == config.profile_values.end() ? std::string() : it->second;
  };
  std::string token_file = EnvOr(env, "AWS_WEB_IDENTITY_TOKEN_FILE");
  std::string role_arn = EnvOr(env, "AWS_ROLE_ARN");
  std::string session_name = EnvOr(env, "AWS_ROLE_SESSION_NAME");
  if (token_file.empty() || role_arn.empty()) {
    token_file = profile_value("web_identity_token_file");
    role_arn = profile_value("role_arn");
    session_name = profile_value("role_session_name");
  }
  if (token_file.empty() || role_arn.empty()) {
    // A provider that reports "not configured".
    class NotConfigured : public CredentialsProvider {
     public:
      common::Result<Credentials> GetCredentials() override {
        return common::NotFound(
            "web identity not configured (AWS_WEB_IDENTITY_TOKEN_FILE, "
            "AWS_ROLE_ARN)");
      }
      std::string name() const override { return "web-identity"; }
    };
    return std::make_unique<NotConfigured>();
  }
  if (session_name.empty()) {
    session_name = "dat-" + std::to_string(common::ToUnixMillis(clock.Now()));
  }
  std::string endpoint = config.EndpointFor("sts");
  auto fetch = [token_file, role_arn, session_name, endpoint,
                &http]() -> common::Result<Credentials> {
    DAT_ASSIGN_OR_RETURN(std::string token, ReadFileToString(token_file));
    token = std::string(common::Trim(token));
    http::ClientRequest request =
        BuildAssumeRoleWithWebIdentityRequest(endpoint, role_arn, session_name, token);
    DAT_ASSIGN_OR_RETURN(http::Response response, http.Send(request));
    if (response.status != 200) return HttpFailure("sts", response);
    DAT_ASSIGN_OR_RETURN(AssumedRole role, ParseAssumeRoleWithWebIdentityResponse(response.body));
    return role.credentials;
  };
  return std::make_unique<RefreshingCredentialsProvider>("web-identity", std::move(fetch), clock);
}

// --- Container endpoint (ECS, EKS pod identity) -----------------------------------------

std::unique_ptr<CredentialsProvider> MakeContainerCredentialsProvider(EnvLookup env,
                                                                      http::HttpClient& http,
                                                                      const common::Clock& clock) {
  std::string url;
  if (std::string rel = EnvOr(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"); !rel.empty()) {
    url = "http://169.254.170.2" + rel;
  } else {
    url = EnvOr(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
  }
  std::string token_file = EnvOr(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
  std::string token = EnvOr(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
  auto fetch = [url, token_file, token, &http]() -> common::Result<Credentials> {
    if (url.empty()) {
      return common::NotFound(
          "container credentials not configured "
          "(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI)");
    }
    http::ClientRequest request;
    request.method = "GET";
    request.url = url;
    request.connect_timeout = std::chrono::milliseconds(2000);
    request.timeout = std::chrono::milliseconds(5000);
    std::string auth = token;
    if (!token_file.empty()) {
      DAT_ASSIGN_OR_RETURN(auth, ReadFileToString(token_file));
      auth = std::string(common::Trim(auth));
    }
    if (!auth.empty()) request.headers.Set("Authorization", auth);
    request.headers.Set("Accept", "application/json");
    DAT_ASSIGN_OR_RETURN(http::Response response, http.Send(request));
    if (response.status != 200) return HttpFailure("container-credentials", response);
    return ParseCredentialsJson(response.body, "container credentials");
  };
  return std::make_unique<RefreshingCredentialsProvider>("container", std::move(fetch), clock);
}

// --- EC2 instance metadata (IMDSv2) -------------------------------------------------------

std::unique_ptr<CredentialsProvider> MakeImdsCredentialsProvider(EnvLookup env,
                                                                 http::HttpClient& http,
                                                                 const common::Clock& clock) {
  bool disabled = common::EqualsIgnoreCase(EnvOr(env, "AWS_EC2_METADATA_DISABLED"), "true");
  std::string endpoint = EnvOr(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
  if (endpoint.empty()) endpoint = "http://169.254.169.254";
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  auto fetch = [disabled, endpoint, &http]() -> common::Result<Credentials> {
    if (disabled) return common::NotFound("IMDS disabled by AWS_EC2_METADATA_DISABLED");
    auto base = [](const std::string& method, const std::string& url) {
      http::ClientRequest r;
      r.method = method;
      r.url = url;
      r.connect_timeout = std::chrono::milliseconds(1000);
      r.timeout = std::chrono::milliseconds(2000);
      return r;
    };
    http::ClientRequest token_req = base("PUT", endpoint + "/latest/api/token");
    token_req.headers.Set("X-aws-ec2-metadata-token-ttl-seconds", "21600");
    DAT_ASSIGN_OR_RETURN(http::Response token_resp, http.Send(token_req));
    if (token_resp.status != 200) return HttpFailure("imds", token_resp);
    std::string token(common::Trim(token_resp.body));

    const std::string creds_path = endpoint + "/latest/meta-data/iam/security-credentials/";
    http::ClientRequest role_req = base("GET", creds_path);
    role_req.headers.Set("X-aws-ec2-metadata-token", token);
    DAT_ASSIGN_OR_RETURN(http::Response role_resp, http.Send(role_req));
    if (role_resp.status == 404) return common::NotFound("IMDS: no IAM role attached");
    if (role_resp.status != 200) return HttpFailure("imds", role_resp);
    std::string role(common::Trim(common::Split(role_resp.body, '\n')[0]));
    if (role.empty()) return common::NotFound("IMDS: no IAM role attached");

    http::ClientRequest cred_req = base("GET", creds_path + common::UriEncode(role));
    cred_req.headers.Set("X-aws-ec2-metadata-token", token);
    DAT_ASSIGN_OR_RETURN(http::Response cred_resp, http.Send(cred_req));
    if (cred_resp.status != 200) return HttpFailure("imds", cred_resp);
    return ParseCredentialsJson(cred_resp.body, "IMDS");
  };
  return std::make_unique<RefreshingCredentialsProvider>("imds", std::move(fetch), clock);
}

// --- Chain ------------------------------------------------------------------------------------

ChainCredentialsProvider::ChainCredentialsProvider(
    std::vector<std::unique_ptr<CredentialsProvider>> providers)
    : providers_(std::move(providers)) {}

std::string ChainCredentialsProvider::name() const {
  common::MutexLock lock(mu_);
  return chosen_ ? chosen_->name() : std::string("chain");
}

common::Result<Credentials> ChainCredentialsProvider::GetCredentials() {
  CredentialsProvider* chosen = nullptr;
  {
    common::MutexLock lock(mu_);
    chosen = chosen_;
  }
  // Providers are thread-safe; the lock is not held while one fetches.
  if (chosen != nullptr) return chosen->GetCredentials();
  std::string tried;
  for (const auto& p : providers_) {
    common::Result<Credentials> r = p->GetCredentials();
    if (r.ok()) {
      common::MutexLock lock(mu_);
      chosen_ = p.get();
      return r;
    }
    if (r.status().code() != common::Code::kNotFound) {
      return r.status().WithContext("credentials provider " + p->name());
    }
    if (!tried.empty()) tried += "; ";
    tried += p->name() + ": " + r.status().message();
  }
  return common::NotFound("no AWS credentials found (" + tried + ")");
}

std::unique_ptr<CredentialsProvider> DefaultCredentialsChain(const AwsConfig& config, EnvLookup env,
                                                             http::HttpClient& http,
                                                             const common::Clock& clock) {
  std::vector<std::unique_ptr<CredentialsProvider>> providers;
  providers.push_back(std::make_unique<EnvCredentialsProvider>(env));
  providers.push_back(MakeWebIdentityCredentialsProvider(config, env, http, clock));
  providers.push_back(std::make_unique<ProfileCredentialsProvider>(env));
  providers.push_back(MakeContainerCredentialsProvider(env, http, clock));
  providers.push_back(MakeImdsCredentialsProvider(env, http, clock));
  return std::make_unique<ChainCredentialsProvider>(std::move(providers));
}

}  // namespace aws
