// Configuration as the SDKs resolve it, with a temporary HOME.
#include "aws/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/crypto.h"

namespace aws {
namespace {

namespace fs = std::filesystem;

class TempHome : public ::testing::Test {
 protected:
  TempHome() : home_(fs::temp_directory_path() / ("aws_home_" + common::NewUuid())) {
    fs::create_directories(home_ / ".aws");
  }
  ~TempHome() override { fs::remove_all(home_); }
  void Write(const std::string& rel, const std::string& text) {
    std::ofstream(home_ / rel) << text;
  }
  std::map<std::string, std::string> Env(std::map<std::string, std::string> extra = {}) {
    extra["HOME"] = home_.string();
    return extra;
  }
  fs::path home_;
};

TEST_F(TempHome, DefaultProfileFromBothFiles) {
  Write(".aws/credentials",
        "[default]\naws_access_key_id = AKID1\naws_secret_access_key=SECRET1\n"
        "# comment\n[other]\naws_access_key_id = AKID2\naws_secret_access_key = SECRET2\n");
  Write(".aws/config",
        "[default]\nregion = eu-west-1\n[profile other]\nregion = ap-south-1\n"
        "endpoint_url = http://127.0.0.1:4566/\n");
  auto c = LoadConfig(MapEnv(Env()));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->profile, "default");
  EXPECT_TRUE(c->profile_found);
  EXPECT_EQ(c->region, "eu-west-1");
  EXPECT_EQ(c->profile_values.at("aws_access_key_id"), "AKID1");
  EXPECT_EQ(c->EndpointFor("sqs"), "https://sqs.eu-west-1.amazonaws.com");
  EXPECT_EQ(c->EndpointFor("eventbridge"), "https://events.eu-west-1.amazonaws.com");
  EXPECT_FALSE(c->HasEndpointOverride("s3"));

  auto o = LoadConfig(MapEnv(Env({{"AWS_PROFILE", "other"}})));
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->region, "ap-south-1");
  EXPECT_EQ(o->profile_values.at("aws_secret_access_key"), "SECRET2");
  EXPECT_EQ(o->EndpointFor("s3"), "http://127.0.0.1:4566");
  EXPECT_TRUE(o->HasEndpointOverride("s3"));
}

TEST_F(TempHome, EnvironmentWins) {
  Write(".aws/config", "[default]\nregion = eu-west-1\n");
  auto c = LoadConfig(MapEnv(Env({{"AWS_DEFAULT_REGION", "us-east-2"}})));
  EXPECT_EQ(c->region, "us-east-2");
  c = LoadConfig(MapEnv(Env({{"AWS_DEFAULT_REGION", "us-east-2"}, {"AWS_REGION", "us-west-2"}})));
  EXPECT_EQ(c->region, "us-west-2");
}

TEST_F(TempHome, CaBundleFromEnvironmentOrProfile) {
  Write(".aws/config", "[default]\nca_bundle = /etc/profile-ca.pem\n");
  auto c = LoadConfig(MapEnv(Env()));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->ca_bundle, "/etc/profile-ca.pem");
  c = LoadConfig(MapEnv(Env({{"AWS_CA_BUNDLE", "/tmp/test-ca.pem"}})));
  EXPECT_EQ(c->ca_bundle, "/tmp/test-ca.pem");
}

TEST_F(TempHome, EndpointOverrides) {
  Write(".aws/config",
        "[default]\nendpoint_url = http://profile:1\nservices = local\n"
        "[services local]\nsqs =\n  endpoint_url = http://sqs-from-profile:2\n");
  auto c = LoadConfig(MapEnv(Env()));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->EndpointFor("sqs"), "http://sqs-from-profile:2");
  EXPECT_EQ(c->EndpointFor("s3"), "http://profile:1");

  c = LoadConfig(MapEnv(Env({{"AWS_ENDPOINT_URL", "http://127.0.0.1:4566"},
                             {"AWS_ENDPOINT_URL_S3", "http://s3-only:9000/"},
                             {"AWS_ENDPOINT_URL_EVENTBRIDGE", "http://eb:1"},
                             {"AWS_ENDPOINT_URL_CLOUDTRAIL", "http://ct:1"},
                             {"AWS_ENDPOINT_URL_STS", "http://sts:1"}})));
  EXPECT_EQ(c->EndpointFor("s3"), "http://s3-only:9000");
  EXPECT_EQ(c->EndpointFor("eventbridge"), "http://eb:1");
  EXPECT_EQ(c->EndpointFor("cloudtrail"), "http://ct:1");
  EXPECT_EQ(c->EndpointFor("sts"), "http://sts:1");
  EXPECT_EQ(c->EndpointFor("sqs"), "http://sqs-from-profile:2");  // service-specific beats global

  c = LoadConfig(MapEnv(Env({{"AWS_ENDPOINT_URL", "http://x:1"},
                             {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"},
                             {"AWS_REGION", "us-west-2"}})));
  EXPECT_EQ(c->EndpointFor("sqs"), "https://sqs.us-west-2.amazonaws.com");
}

TEST_F(TempHome, ExplicitFilePathsAndMissingFiles) {
  Write("creds", "[p]\naws_access_key_id = A\naws_secret_access_key = B\n");
  auto c = LoadConfig(MapEnv(Env({{"AWS_SHARED_CREDENTIALS_FILE", (home_ / "creds").string()},
                                  {"AWS_CONFIG_FILE", (home_ / "nonexistent").string()},
                                  {"AWS_PROFILE", "p"}})));
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->profile_found);
  EXPECT_EQ(c->profile_values.at("aws_access_key_id"), "A");
  EXPECT_EQ(c->region, "");
  EXPECT_EQ(c->EndpointFor("sqs"), "https://sqs.us-east-1.amazonaws.com");

  auto missing = LoadConfig(MapEnv(Env({{"AWS_PROFILE", "ghost"}})));
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->profile_found);
}

TEST_F(TempHome, MalformedFileIsAnErrorNamingIt) {
  Write(".aws/config", "region = before-any-section\n");
  auto c = LoadConfig(MapEnv(Env()));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), common::Code::kInvalidArgument);
  EXPECT_NE(c.status().message().find(".aws/config"), std::string::npos);
}

TEST(ParseIni, SectionsCommentsAndSubKeys) {
  auto s = ParseIniFile(
      "; c\n[profile a]\nregion=x\r\ns3 =\n  addressing_style = path\n"
      "[b]\nignored = 1\n[default]\nk = v = w\n",
      /*is_config_file=*/true);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->at("a").at("region"), "x");
  EXPECT_EQ(s->at("a").at("s3.addressing_style"), "path");
  EXPECT_EQ(s->count("b"), 0u);
  EXPECT_EQ(s->at("default").at("k"), "v = w");
  auto creds = ParseIniFile("[b]\nx = 1\n", /*is_config_file=*/false);
  EXPECT_EQ(creds->at("b").at("x"), "1");
  EXPECT_FALSE(ParseIniFile("[broken\n", false).ok());
}

}  // namespace
}  // namespace aws
