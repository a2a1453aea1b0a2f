#include "function/function.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace function {
namespace {

using nlohmann::json;

TEST(ErrorTest, TypesMapToProtocolStatuses) {
  EXPECT_EQ(ErrorTypeHttpStatus(ErrorType::kInputError), 400);
  EXPECT_EQ(ErrorTypeHttpStatus(ErrorType::kFunctionError), 500);
  EXPECT_EQ(ErrorTypeHttpStatus(ErrorType::kSystemError), 502);
  EXPECT_STREQ(ErrorTypeName(ErrorType::kInputError), "InputError");
}

TEST(ErrorTest, FromStatus) {
  struct Case {
    common::Status status;
    ErrorType type;
    bool retryable;
  } cases[] = {
      {common::InvalidArgument("x"), ErrorType::kInputError, false},
      {common::Unavailable("x"), ErrorType::kFunctionError, true},
      {common::ResourceExhausted("x"), ErrorType::kFunctionError, true},
      {common::DeadlineExceeded("x"), ErrorType::kFunctionError, true},
      {common::PermissionDenied("x"), ErrorType::kFunctionError, false},
      {common::Internal("x"), ErrorType::kSystemError, false},
  };
  for (const auto& c : cases) {
    Error e = Error::FromStatus(c.status);
    EXPECT_EQ(e.type, c.type) << c.status.ToString();
    EXPECT_EQ(e.retryable, c.retryable) << c.status.ToString();
    EXPECT_EQ(e.message, "x");
  }
}

TEST(ErrorTest, JsonCarriesRetryAfter) {
  json j = Error::Retryable("slow down", std::chrono::milliseconds(1500)).ToJson();
  EXPECT_EQ(j["type"], "FunctionError");
  EXPECT_EQ(j["message"], "slow down");
  EXPECT_EQ(j["stacktrace"], json::array());
  EXPECT_EQ(j["retryable"], true);
  EXPECT_EQ(j["retry_after_ms"], 1500);
  EXPECT_FALSE(Error::Input("bad").ToJson().contains("retry_after_ms"));
}

TEST(SecretFallbackTest, EnvName) {
  EXPECT_EQ(SecretFallback::EnvName("twitter", "appKey"), "SECRET_TWITTER_APPKEY");
  EXPECT_EQ(SecretFallback::EnvName("aws", "aws_access_key_id"), "SECRET_AWS_AWS_ACCESS_KEY_ID");
  EXPECT_EQ(SecretFallback::EnvName("my-secret", "a.b"), "SECRET_MY_SECRET_A_B");
}

class ContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("function_test_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_ / "twitter");
    std::ofstream(dir_ / "twitter" / "appKey") << "from-file\n";
    fallback_.dir = dir_.string();
    fallback_.getenv = [this](const std::string& name) -> std::optional<std::string> {
      auto it = env_.find(name);
      if (it == env_.end()) return std::nullopt;
      return it->second;
    };
    env_["SECRET_TWITTER_APPSECRET"] = "from-env";
    env_["SECRET_TWITTER_APPKEY"] = "env-loses-to-file";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  std::map<std::string, std::string> env_;
  SecretFallback fallback_;
};

TEST_F(ContextTest, ContextSecretsWin) {
  Context ctx(json{{"secrets", {{"twitter", {{"appKey", "from-context"}}}}}}, &fallback_);
  EXPECT_EQ(ctx.Secret("twitter", "appKey"), "from-context");
  // The secret is in the context: its missing keys are not filled from elsewhere.
  EXPECT_EQ(ctx.Secret("twitter", "appSecret"), std::nullopt);
}

TEST_F(ContextTest, FallbackFilesThenEnv) {
  Context ctx(json{{"secrets", json::object()}}, &fallback_);
  EXPECT_EQ(ctx.Secret("twitter", "appKey"), "from-file");  // trailing newline dropped
  EXPECT_EQ(ctx.Secret("twitter", "appSecret"), "from-env");
  EXPECT_EQ(ctx.Secret("twitter", "nothing"), std::nullopt);
  EXPECT_EQ(ctx.Secret("..", "appKey"), std::nullopt);  // no path tricks
}

TEST_F(ContextTest, SecretAnyTakesTheFirstPresent) {
  Context ctx(json{{"secrets", {{"twitter", {{"oauthToken", "t2"}}}}}}, &fallback_);
  EXPECT_EQ(ctx.SecretAny("twitter", {"oathToken", "oauthToken"}), "t2");
  EXPECT_EQ(ctx.SecretAny("twitter", {"x", "y"}), std::nullopt);
}

TEST_F(ContextTest, EventIsNullWhenAbsent) {
  Context ctx(json::object(), nullptr);
  EXPECT_TRUE(ctx.event().is_null());
  EXPECT_EQ(ctx.Secret("a", "b"), std::nullopt);
}

}  // namespace
}  // namespace function
