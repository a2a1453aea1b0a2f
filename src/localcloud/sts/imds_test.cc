// localcloud's IMDSv2 endpoint as a stock SDK sees it: boto3 (under /usr/bin/python3), with no
// keys configured, finds the instance role through AWS_EC2_METADATA_SERVICE_ENDPOINT and signs
// with the temporary credentials; token-less (IMDSv1) reads and bad token requests are refused.
#include <gtest/gtest.h>

#include "common/strings.h"
#include "http/client.h"
#include "localcloud/core/test_support.h"

namespace localcloud::testing {
namespace {

constexpr const char* kCallerScript = R"(
import sys, boto3
sts = boto3.client("sts", region_name="us-west-2", endpoint_url=sys.argv[1])
arn = sts.get_caller_identity()["Arn"]
creds = boto3.Session().get_credentials()
print(arn, creds.method)
)";

TEST(ImdsTest, Boto3FindsInstanceRoleCredentialsAndUsesThem) {
  LocalcloudProcess cloud;
  cloud.Start();
  TempDir home;
  common::SpawnOptions o;
  // Debian's boto3 predates AWS_ENDPOINT_URL: the endpoint goes in as an argument.
  o.argv = {"/usr/bin/python3", "-c", kCallerScript, cloud.endpoint()};
  o.env = {"HOME=" + home.path().string(), "AWS_CONFIG_FILE=" + (home.path() / "none").string(),
           "AWS_SHARED_CREDENTIALS_FILE=" + (home.path() / "none").string(),
           "AWS_EC2_METADATA_SERVICE_ENDPOINT=" + cloud.endpoint() + "/",
           "AWS_DEFAULT_REGION=us-west-2"};
  auto r = common::RunCommand(o, std::chrono::seconds(60));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  if (r->exit_code != 0 && r->err.find("No module named 'boto3'") != std::string::npos) {
    GTEST_SKIP() << "python3-boto3 not installed";
  }
  ASSERT_EQ(r->exit_code, 0) << r->err;
  EXPECT_NE(r->out.find(":assumed-role/localcloud-instance-role/"), std::string::npos) << r->out;
  EXPECT_NE(r->out.find("iam-role"), std::string::npos) << r->out;  // boto3's IMDS provider
}

TEST(ImdsTest, RequiresSessionTokensAndValidTtl) {
  LocalcloudProcess cloud;
  cloud.Start();
  http::HttpClient& client = http::DefaultHttpClient();
  auto send = [&](const std::string& method, const std::string& path,
                  std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::ClientRequest req;
    req.method = method;
    req.url = cloud.endpoint() + path;
    for (auto& [k, v] : headers) req.headers.Set(k, v);
    auto resp = client.Send(req);
    EXPECT_TRUE(resp.ok()) << resp.status().ToString();
    return resp.ok() ? *resp : http::Response{};
  };
  // IMDSv1 (no token) is refused.
  EXPECT_EQ(send("GET", "/latest/meta-data/iam/security-credentials/").status, 401);
  // A token needs a TTL in 1..21600.
  EXPECT_EQ(send("PUT", "/latest/api/token").status, 400);
  EXPECT_EQ(
      send("PUT", "/latest/api/token", {{"X-aws-ec2-metadata-token-ttl-seconds", "0"}}).status,
      400);
  EXPECT_EQ(
      send("PUT", "/latest/api/token", {{"X-aws-ec2-metadata-token-ttl-seconds", "x"}}).status,
      400);
  auto token = send("PUT", "/latest/api/token", {{"X-aws-ec2-metadata-token-ttl-seconds", "60"}});
  ASSERT_EQ(token.status, 200);
  EXPECT_EQ(send("GET", "/latest/meta-data/iam/security-credentials/",
                 {{"X-aws-ec2-metadata-token", "forged"}})
                .status,
            401);
  auto role = send("GET", "/latest/meta-data/iam/security-credentials/",
                   {{"X-aws-ec2-metadata-token", token.body}});
  ASSERT_EQ(role.status, 200);
  EXPECT_EQ(role.body, "localcloud-instance-role");
  EXPECT_EQ(send("GET", "/latest/meta-data/iam/security-credentials/other-role",
                 {{"X-aws-ec2-metadata-token", token.body}})
                .status,
            404);
}

}  // namespace
}  // namespace localcloud::testing
