// Stock npm clients against localcloud: the AWS SDK for JavaScript v3 (S3, SQS) and
// twitter-api-v2 (the X sandbox). The packages are installed into the build tree on first
// use; without npm (or its registry) the tests skip and say why.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/subprocess.h"
#include "localcloud/core/test_support.h"

namespace localcloud {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::ClientEnv;
using testing::LocalcloudProcess;
using testing::RunClient;
using testing::TempDir;

const std::string kHere = std::string(DAT_SOURCE_DIR) + "/src/localcloud/npm_clients";

// The folder holding node_modules with the packages; "" when they are not installed. The ctest
// fixture localcloud_npm_clients_install (CMakeLists.txt beside this file) installs them once,
// before these tests run, so that parallel tests never install into the same folder.
std::string NpmPackagesDir() {
  const std::string d = std::string(DAT_BIN_DIR) + "/../npm-localcloud-clients";
  for (const char* package : {"@aws-sdk/client-s3", "@aws-sdk/client-sqs", "twitter-api-v2"}) {
    if (!fs::exists(d + "/node_modules/" + package + "/package.json")) return std::string();
  }
  if (!common::FindExecutable("node")) return std::string();
  return d;
}

class NpmClientsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    packages_ = NpmPackagesDir();
    if (packages_.empty())
      GTEST_SKIP() << "the npm clients are not installed (node, npm or the npm registry was "
                      "unavailable to the localcloud_npm_clients_install step)";
    // HTTPS with localcloud's test CA (node trusts it through NODE_EXTRA_CA_CERTS):
    // twitter-api-v2 speaks https only. --strict-models comes with LocalcloudProcess.
    std::vector<std::string> flags = {"--tls-test-ca", home_.path().string()};
    for (const char* f : {"--x-consumer-key", "ck", "--x-consumer-secret", "cs", "--x-access-token",
                          "at", "--x-access-token-secret", "ats"}) {
      flags.push_back(f);
    }
    cloud_.Start(flags);
  }
  common::RunResult Node(const std::string& script, std::vector<std::string> args) {
    std::vector<std::string> argv = {"node", kHere + "/" + script};
    for (auto& a : args) argv.push_back(a);
    std::vector<std::string> env = ClientEnv(home_.path().string());
    env.push_back("NODE_PATH=" + packages_ + "/node_modules");
    env.push_back("NODE_EXTRA_CA_CERTS=" + (home_.path() / "ca.pem").string());
    env.push_back("PATH=/usr/local/bin:/usr/bin:/bin");
    return RunClient(argv, env, std::chrono::seconds(60));
  }
  std::string packages_;
  TempDir home_;
  LocalcloudProcess cloud_;
};

TEST_F(NpmClientsTest, AwsSdkV3S3AndSqs) {
  auto r = Node("aws_sdk_v3.js", {cloud_.endpoint()});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  json out = json::parse(r.out);
  EXPECT_EQ(out["body"], "hello from sdk v3");
  EXPECT_EQ(out["length"], 17);
  // The checksum the SDK sent comes back from PutObject and, in checksum mode, GetObject.
  EXPECT_TRUE(out["putChecksum"].is_string()) << r.out;
  EXPECT_EQ(out["getChecksum"], out["putChecksum"]);
  EXPECT_EQ(out["message"], "queued ☃");
  EXPECT_EQ(out["attribute"], "greeting");
}

TEST_F(NpmClientsTest, TwitterApiV2AgainstTheSandbox) {
  // X's own host names, over HTTPS with the test CA; the sandbox answers for them.
  auto r = Node("twitter_api_v2.js", {cloud_.endpoint()});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  json out = json::parse(r.out);
  for (const char* k : {"v2Media", "v1Media", "v2Post", "v1Post"}) {
    EXPECT_TRUE(out[k].is_string() && !out[k].get<std::string>().empty()) << k << " " << r.out;
  }
}

}  // namespace
}  // namespace localcloud
