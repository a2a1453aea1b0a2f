// The credentials chain: env, shared files (temporary HOME), web identity, container
// endpoint and IMDSv2 (through a recording HttpClient), caching and refresh.
#include "aws/credentials.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>

#include "aws/sts_protocol.h"
#include "common/crypto.h"
#include "http/client.h"

namespace aws {
namespace {

namespace fs = std::filesystem;

// An HttpClient that answers from a function and records what it was sent.
class FakeHttpClient : public http::HttpClient {
 public:
  using Handler = std::function<common::Result<http::Response>(const http::ClientRequest&)>;
  explicit FakeHttpClient(Handler h) : handler_(std::move(h)) {}
  common::Result<http::Response> Send(const http::ClientRequest& request) override {
    std::lock_guard<std::mutex> l(mu_);
    sent.push_back(request);
    return handler_(request);
  }
  std::vector<http::ClientRequest> sent;

 private:
  std::mutex mu_;
  Handler handler_;
};

http::Response Ok(std::string body) {
  http::Response r;
  r.status = 200;
  r.body = std::move(body);
  return r;
}

common::Result<http::Response> Refuse(const http::ClientRequest&) {
  return common::Unavailable("connection refused");
}

class CredentialsTest : public ::testing::Test {
 protected:
  CredentialsTest()
      : home_(fs::temp_directory_path() / ("aws_creds_" + common::NewUuid())),
        clock_(*common::ParseIso8601("2024-01-02T03:00:00Z")) {
    fs::create_directories(home_ / ".aws");
  }
  ~CredentialsTest() override { fs::remove_all(home_); }
  void Write(const std::string& rel, const std::string& text) {
    std::ofstream(home_ / rel) << text;
  }
  EnvLookup Env(std::map<std::string, std::string> vars = {}) {
    vars["HOME"] = home_.string();
    vars.try_emplace("AWS_EC2_METADATA_DISABLED", "true");
    return MapEnv(vars);
  }
  std::unique_ptr<CredentialsProvider> Chain(const EnvLookup& env, http::HttpClient& http) {
    auto config = LoadConfig(env);
    EXPECT_TRUE(config.ok());
    return DefaultCredentialsChain(*config, env, http, clock_);
  }

  fs::path home_;
  common::FakeClock clock_;
  FakeHttpClient refuse_{Refuse};
};

TEST_F(CredentialsTest, EnvironmentFirst) {
  Write(".aws/credentials", "[default]\naws_access_key_id = FILE\naws_secret_access_key = F\n");
  auto chain = Chain(Env({{"AWS_ACCESS_KEY_ID", "ENV"},
                          {"AWS_SECRET_ACCESS_KEY", "E"},
                          {"AWS_SESSION_TOKEN", "T"}}),
                     refuse_);
  auto c = chain->GetCredentials();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "ENV");
  EXPECT_EQ(c->session_token, "T");
  EXPECT_EQ(chain->name(), "env");
  EXPECT_TRUE(refuse_.sent.empty());
}

TEST_F(CredentialsTest, SharedFilesWithProfiles) {
  Write(".aws/credentials", "[default]\naws_access_key_id = FILE\naws_secret_access_key = F\n");
  Write(".aws/config", "[profile dev]\naws_access_key_id = DEV\naws_secret_access_key = D\n");
  auto c = Chain(Env(), refuse_)->GetCredentials();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "FILE");
  auto d = Chain(Env({{"AWS_PROFILE", "dev"}}), refuse_)->GetCredentials();
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->access_key_id, "DEV");
  EXPECT_EQ(d->secret_access_key, "D");
}

TEST_F(CredentialsTest, UnsupportedProfileKindsAreReportedNotSkipped) {
  Write(".aws/config",
        "[profile chained]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = base\n");
  auto c = Chain(Env({{"AWS_PROFILE", "chained"}}), refuse_)->GetCredentials();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), common::Code::kUnimplemented);
}

TEST_F(CredentialsTest, HalfSetEnvironmentIsAnError) {
  auto c = Chain(Env({{"AWS_ACCESS_KEY_ID", "ENV"}}), refuse_)->GetCredentials();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), common::Code::kInvalidArgument);
}

TEST_F(CredentialsTest, NothingConfiguredIsNotFound) {
  auto c = Chain(Env(), refuse_)->GetCredentials();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), common::Code::kNotFound);
  EXPECT_NE(c.status().message().find("no AWS credentials"), std::string::npos);
}

TEST_F(CredentialsTest, WebIdentityCallsStsAndRefreshesBeforeExpiry) {
  Write("token", "eyJhbGciOi.first\n");
  int calls = 0;
  FakeHttpClient sts([&](const http::ClientRequest& r) -> common::Result<http::Response> {
    ++calls;
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.url, "http://127.0.0.1:4566/");
    EXPECT_FALSE(r.headers.Has("Authorization"));  // AssumeRoleWithWebIdentity is unsigned
    EXPECT_NE(r.body.find("Action=AssumeRoleWithWebIdentity"), std::string::npos);
    EXPECT_NE(r.body.find("RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fdriver"),
              std::string::npos);
    EXPECT_NE(r.body.find("RoleSessionName=sess"), std::string::npos);
    std::string exp = common::FormatIso8601(clock_.Now() + std::chrono::hours(1));
    return Ok(
        "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
        "<AssumeRoleWithWebIdentityResult><Credentials>"
        "<AccessKeyId>ASIA" +
        std::to_string(calls) +
        "</AccessKeyId>"
        "<SecretAccessKey>s</SecretAccessKey><SessionToken>tok</SessionToken>"
        "<Expiration>" +
        exp +
        "</Expiration></Credentials>"
        "<AssumedRoleUser><Arn>arn:aws:sts::000000000000:assumed-role/driver/sess</Arn>"
        "<AssumedRoleId>AROA:sess</AssumedRoleId></AssumedRoleUser>"
        "</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>");
  });
  auto chain = Chain(Env({{"AWS_WEB_IDENTITY_TOKEN_FILE", (home_ / "token").string()},
                          {"AWS_ROLE_ARN", "arn:aws:iam::000000000000:role/driver"},
                          {"AWS_ROLE_SESSION_NAME", "sess"},
                          {"AWS_ENDPOINT_URL_STS", "http://127.0.0.1:4566"}}),
                     sts);
  auto a = chain->GetCredentials();
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->access_key_id, "ASIA1");
  EXPECT_EQ(a->session_token, "tok");
  EXPECT_NE(sts.sent[0].body.find("WebIdentityToken=eyJhbGciOi.first"), std::string::npos);
  // Cached while fresh.
  clock_.Advance(std::chrono::minutes(30));
  EXPECT_EQ(chain->GetCredentials()->access_key_id, "ASIA1");
  EXPECT_EQ(calls, 1);
  // Within 5 minutes of expiry: refreshed, with the token file read again.
  Write("token", "eyJhbGciOi.second");
  clock_.Advance(std::chrono::minutes(26));
  EXPECT_EQ(chain->GetCredentials()->access_key_id, "ASIA2");
  EXPECT_EQ(calls, 2);
  EXPECT_NE(sts.sent[1].body.find("WebIdentityToken=eyJhbGciOi.second"), std::string::npos);
}

TEST_F(CredentialsTest, ContainerEndpointWithAuthorizationToken) {
  FakeHttpClient ecs([&](const http::ClientRequest& r) -> common::Result<http::Response> {
    EXPECT_EQ(r.url, "http://127.0.0.1:9911/creds");
    EXPECT_EQ(r.headers.GetOr("Authorization", ""), "Bearer abc");
    return Ok(R"({"AccessKeyId":"ASIAECS","SecretAccessKey":"s","Token":"t",)"
              R"("Expiration":"2024-01-02T09:00:00Z"})");
  });
  auto c = Chain(Env({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9911/creds"},
                      {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer abc"}}),
                 ecs)
               ->GetCredentials();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "ASIAECS");
  ASSERT_TRUE(c->expiration.has_value());
  EXPECT_EQ(common::FormatIso8601(*c->expiration), "2024-01-02T09:00:00Z");
}

TEST_F(CredentialsTest, ImdsV2TokenThenRoleThenCredentials) {
  FakeHttpClient imds([&](const http::ClientRequest& r) -> common::Result<http::Response> {
    const std::string base = "http://127.0.0.1:1338";
    if (r.method == "PUT" && r.url == base + "/latest/api/token") {
      EXPECT_EQ(r.headers.GetOr("X-aws-ec2-metadata-token-ttl-seconds", ""), "21600");
      return Ok("TOKEN123");
    }
    EXPECT_EQ(r.headers.GetOr("X-aws-ec2-metadata-token", ""), "TOKEN123");
    if (r.url == base + "/latest/meta-data/iam/security-credentials/") return Ok("my-role\n");
    if (r.url == base + "/latest/meta-data/iam/security-credentials/my-role") {
      return Ok(R"({"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"ASIAIMDS",)"
                R"("SecretAccessKey":"s","Token":"t","Expiration":"2024-01-02T09:00:00Z"})");
    }
    http::Response nf;
    nf.status = 404;
    return nf;
  });
  auto c = Chain(Env({{"AWS_EC2_METADATA_DISABLED", "false"},
                      {"AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1338/"}}),
                 imds)
               ->GetCredentials();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "ASIAIMDS");
  EXPECT_EQ(imds.sent.size(), 3u);
}

TEST_F(CredentialsTest, RefreshFailureKeepsStillValidCredentials) {
  int calls = 0;
  bool fail = false;
  RefreshingCredentialsProvider p(
      "test",
      [&]() -> common::Result<Credentials> {
        ++calls;
        if (fail) return common::Unavailable("down");
        return Credentials{"K" + std::to_string(calls), "S", "T",
                           clock_.Now() + std::chrono::minutes(10)};
      },
      clock_);
  EXPECT_EQ(p.GetCredentials()->access_key_id, "K1");
  clock_.Advance(std::chrono::minutes(6));  // inside the refresh window
  fail = true;
  EXPECT_EQ(p.GetCredentials()->access_key_id, "K1");  // old ones still valid
  clock_.Advance(std::chrono::minutes(5));             // now expired
  auto expired = p.GetCredentials();
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.status().code(), common::Code::kUnavailable);
  fail = false;
  EXPECT_EQ(p.GetCredentials()->access_key_id, "K4");
}

// Credentials living less than twice the refresh window are refreshed at half their life,
// not fetched again on every call.
TEST_F(CredentialsTest, ShortLivedCredentialsRefreshAtHalfLife) {
  int calls = 0;
  RefreshingCredentialsProvider p(
      "test",
      [&]() -> common::Result<Credentials> {
        ++calls;
        return Credentials{"K" + std::to_string(calls), "S", "T",
                           clock_.Now() + std::chrono::seconds(60)};
      },
      clock_);
  EXPECT_EQ(p.GetCredentials()->access_key_id, "K1");
  clock_.Advance(std::chrono::seconds(20));
  EXPECT_EQ(p.GetCredentials()->access_key_id, "K1");
  EXPECT_EQ(p.GetCredentials()->access_key_id, "K1");
  EXPECT_EQ(calls, 1);
  clock_.Advance(std::chrono::seconds(11));  // past half of the 60 s
  EXPECT_EQ(p.GetCredentials()->access_key_id, "K2");
  EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace aws
