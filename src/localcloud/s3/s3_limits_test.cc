// localcloud against hostile or unusual requests, through awscli, boto3 and raw sockets:
// empty uploads with `Expect: 100-continue`, huge unauthenticated bodies, malformed XML,
// bucket tagging, another account's queue.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "aws/sigv4.h"
#include "common/crypto.h"
#include "common/strings.h"
#include "common/time.h"
#include "http/client.h"
#include "http/test_support.h"
#include "localcloud/core/test_support.h"

namespace localcloud {
namespace {

using namespace std::chrono_literals;
using testing::ClientEnv;
using testing::LocalcloudProcess;
using testing::RunClient;
using testing::TempDir;

const std::string kScript =
    std::string(DAT_SOURCE_DIR) + "/src/localcloud/s3/testdata/boto3_limits.py";

// Resident set of a process in bytes (VmRSS), 0 when unreadable.
size_t RssBytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (common::StartsWith(line, "VmRSS:")) return std::stoul(line.substr(6)) * 1024;
  }
  return 0;
}

class S3LimitsTest : public ::testing::Test {
 protected:
  void SetUp() override { cloud_.Start(); }

  common::RunResult Aws(std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/aws", "--endpoint-url", cloud_.endpoint()};
    for (auto& a : args) argv.push_back(a);
    return RunClient(argv, ClientEnv(home_.path().string()), 60s, work_.path().string());
  }
  std::string Boto(std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/python3", kScript, cloud_.endpoint()};
    for (auto& a : args) argv.push_back(a);
    auto r = RunClient(argv, ClientEnv(home_.path().string()), 60s);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  // Sends a request signed with the test credentials for `service`.
  http::Response Signed(http::Request request, const std::string& service = "s3") {
    std::string hostport = cloud_.endpoint().substr(7);
    request.headers.Set("Host", hostport);
    aws::Credentials creds{"test", "test", "", std::nullopt};
    auto params = aws::SigningParams::ForService(creds, "us-west-2", service,
                                                 std::chrono::system_clock::now());
    auto signed_result = aws::SignRequest(request, params);
    EXPECT_TRUE(signed_result.ok()) << signed_result.status().ToString();
    http::ClientRequest c;
    c.method = request.method;
    c.url = cloud_.endpoint() + request.target;
    c.headers = request.headers;
    c.body = request.body;
    auto resp = http::DefaultHttpClient().Send(c);
    EXPECT_TRUE(resp.ok()) << resp.status().ToString();
    return resp.ok() ? resp.value() : http::Response{};
  }

  uint16_t Port() const {
    return static_cast<uint16_t>(
        std::stoi(cloud_.endpoint().substr(cloud_.endpoint().rfind(':') + 1)));
  }

  TempDir home_;
  TempDir work_;
  LocalcloudProcess cloud_;
};

// An empty PutObject with `Expect: 100-continue` used to be answered without the interim
// 100, which put the keep-alive connection out of step: the next upload hung for 60 s, was
// sent again and produced a second event.
TEST_F(S3LimitsTest, EmptyUploadsWithExpectContinueStayInStep) {
  ASSERT_NE(Boto({"wire", "uploads"}).find("uploads-events"), std::string::npos);
  TempDir files;
  files.Write("0-empty", "");
  for (int i = 1; i <= 5; ++i) files.Write(std::to_string(i) + ".txt", "file " + std::to_string(i));
  files.Write("6-empty-too", "");

  auto start = std::chrono::steady_clock::now();
  auto cp = Aws({"s3", "cp", "--recursive", files.path().string(), "s3://uploads/cli/"});
  auto cli_time = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(cp.exit_code, 0) << cp.err;
  EXPECT_LT(cli_time, 20s)
      << "aws s3 cp --recursive took "
      << std::chrono::duration_cast<std::chrono::milliseconds>(cli_time).count() << " ms";

  std::string boto = Boto({"uploads", "uploads", files.path().string()});
  ASSERT_TRUE(common::StartsWith(boto, "slowest ")) << boto;
  EXPECT_LT(std::stod(boto.substr(8)), 5.0) << boto;

  // Exactly one event per object: nothing was sent twice.
  auto counts = nlohmann::json::parse(Boto({"count", "uploads", "14"}));
  nlohmann::json want = nlohmann::json::object();
  for (const char* name : {"0-empty", "1.txt", "2.txt", "3.txt", "4.txt", "5.txt", "6-empty-too"}) {
    want[std::string("cli/") + name] = 1;
    want[std::string("boto/") + name] = 1;
  }
  EXPECT_EQ(counts, want);
}

// A 200 MB body from a client without valid credentials is refused from its head: the
// answer comes before the body, and localcloud's memory does not grow with what is sent.
TEST_F(S3LimitsTest, UnauthenticatedHugeBodyIsRefusedWithoutBuffering) {
  ASSERT_EQ(Aws({"s3", "mb", "s3://big"}).exit_code, 0);
  size_t rss_before = RssBytes(cloud_.process().pid());
  ASSERT_GT(rss_before, 0u);
  const std::string date = common::FormatAmzDate(std::chrono::system_clock::now());
  const std::string kBadSignature = "AWS4-HMAC-SHA256 Credential=nobody/" + date.substr(0, 8) +
                                    "/us-west-2/s3/aws4_request, "
                                    "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
                                    "Signature=" +
                                    std::string(64, '0');
  struct Case {
    std::string authorization;  // "" for an anonymous request
    std::string code;
  };
  for (const Case& c : {Case{"", "AccessDenied"}, Case{kBadSignature, "InvalidAccessKeyId"}}) {
    http::testing::RawConnection conn(Port());
    std::string head =
        "PUT /big/huge HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 209715200\r\n"
        "x-amz-content-sha256: UNSIGNED-PAYLOAD\r\nx-amz-date: " +
        common::FormatAmzDate(std::chrono::system_clock::now()) + "\r\n";
    if (!c.authorization.empty()) head += "Authorization: " + c.authorization + "\r\n";
    ASSERT_TRUE(conn.Send(head + "\r\n"));
    // No Expect: the client starts on the body at once; the answer comes regardless.
    std::string chunk(1 << 20, 'x');
    conn.Send(chunk);
    auto start = std::chrono::steady_clock::now();
    std::string response = conn.ReadResponse(10s);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
    EXPECT_EQ(http::testing::StatusOf(response), 403) << response.substr(0, 300);
    EXPECT_NE(response.find("<Code>" + c.code + "</Code>"), std::string::npos) << response;
    // Push the rest while the server still takes it (it discards, then closes).
    size_t sent = chunk.size();
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (sent < 209715200 && std::chrono::steady_clock::now() < deadline && conn.Send(chunk)) {
      sent += chunk.size();
    }
  }
  size_t rss_after = RssBytes(cloud_.process().pid());
  EXPECT_LT(rss_after, rss_before + (32u << 20))
      << "RSS grew from " << rss_before << " to " << rss_after << " bytes";
  EXPECT_TRUE(cloud_.process().Running());
}

TEST_F(S3LimitsTest, MalformedXmlInvalidUtf8AndDeepNestingAreRefused) {
  ASSERT_EQ(Aws({"s3", "mb", "s3://xml"}).exit_code, 0);
  auto delete_objects = [&](std::string body) {
    http::Request r;
    r.method = "POST";
    r.target = "/xml?delete";
    r.headers.Set("Content-MD5", common::Base64Encode(common::Md5(body)));
    r.headers.Set("Content-Type", "application/xml");
    r.body = std::move(body);
    return Signed(std::move(r));
  };
  std::string deep(100'000, '<');
  std::string nested;
  for (int i = 0; i < 20'000; ++i) nested += "<a>";
  for (int i = 0; i < 20'000; ++i) nested += "</a>";
  for (const std::string& body :
       {std::string("<Delete><Object><Key>bad\xff\xfe</Key></Object></Delete>"),
        std::string("<Delete><Object><Key>k</Key></Object>"), std::string("not xml at all"),
        "<Delete><Object><Key>k</Key></Object>" + nested + "</Delete>", deep}) {
    http::Response resp = delete_objects(body);
    EXPECT_EQ(resp.status, 400) << resp.body;
    EXPECT_NE(resp.body.find("<Code>MalformedXML</Code>"), std::string::npos) << resp.body;
  }
  http::Response ok = delete_objects("<Delete><Object><Key>ünï</Key></Object></Delete>");
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_TRUE(cloud_.process().Running());
}

TEST_F(S3LimitsTest, BucketTaggingWithBoto3AndAwsCli) {
  EXPECT_EQ(Boto({"tagging"}),
            "none 404 NoSuchTagSet\n"
            "tags [{'Key': 'team', 'Value': 'photos'}, {'Key': 'cost centre', 'Value': 'ünï'}]\n"
            "replaced [{'Key': 'only', 'Value': ''}]\n"
            "duplicate 400 InvalidTag\n"
            "system 400 InvalidTag\n"
            "no bucket 404 NoSuchBucket\n"
            "delete 204\n"
            "after delete 404 NoSuchTagSet\n");

  ASSERT_EQ(Aws({"s3", "mb", "s3://cli-tags"}).exit_code, 0);
  auto put = Aws({"s3api", "put-bucket-tagging", "--bucket", "cli-tags", "--tagging",
                  R"({"TagSet":[{"Key":"k","Value":"v"}]})"});
  ASSERT_EQ(put.exit_code, 0) << put.err;
  auto get = Aws({"s3api", "get-bucket-tagging", "--bucket", "cli-tags", "--output", "json"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(nlohmann::json::parse(get.out)["TagSet"],
            nlohmann::json::parse(R"([{"Key":"k","Value":"v"}])"));
  EXPECT_EQ(Aws({"s3api", "delete-bucket-tagging", "--bucket", "cli-tags"}).exit_code, 0);
  auto missing = Aws({"s3api", "get-bucket-tagging", "--bucket", "cli-tags"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("NoSuchTagSet"), std::string::npos) << missing.err;
}

TEST_F(S3LimitsTest, AnotherAccountsQueueIsAccessDenied) {
  // Query protocol (boto3 1.26).
  EXPECT_EQ(
      Boto({"foreign-queue"}),
      "send 403 AccessDenied\nreceive 403 AccessDenied\nattributes 403 AccessDenied\nown ok\n");
  // JSON protocol.
  http::Request r;
  r.method = "POST";
  r.target = "/";
  r.headers.Set("X-Amz-Target", "AmazonSQS.SendMessage");
  r.headers.Set("Content-Type", "application/x-amz-json-1.0");
  r.body = R"({"QueueUrl":")" + cloud_.endpoint() + R"(/111122223333/mine","MessageBody":"x"})";
  http::Response resp = Signed(std::move(r), "sqs");
  EXPECT_EQ(resp.status, 403) << resp.body;
  EXPECT_NE(resp.body.find("AccessDenied"), std::string::npos) << resp.body;
}

}  // namespace
}  // namespace localcloud
