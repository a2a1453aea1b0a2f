// SQS through stock clients (boto3 1.26 and awscli 2.9 speak the query protocol; the
// project's own JSON-protocol path is exercised by a raw JSON 1.0 client below) against a
// localcloud binary started on a free port.
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "aws/sigv4.h"
#include "aws/sqs_client.h"
#include "common/mutex.h"
#include "common/strings.h"
#include "http/client.h"
#include "http/plain_client.h"
#include "localcloud/core/test_support.h"

namespace localcloud {
namespace {

using namespace std::chrono_literals;
using testing::ClientEnv;
using testing::LocalcloudProcess;
using testing::RunClient;
using testing::TempDir;

const std::string kScript =
    std::string(DAT_SOURCE_DIR) + "/src/localcloud/sqs/testdata/boto3_sqs.py";

class SqsClientsTest : public ::testing::Test {
 protected:
  void SetUp() override { cloud_.Start(); }

  std::string Boto(const std::string& scenario, std::vector<std::string> more = {}) {
    std::vector<std::string> argv = {"/usr/bin/python3", kScript, cloud_.endpoint(), scenario};
    for (auto& m : more) argv.push_back(m);
    auto r = RunClient(argv, ClientEnv(home_.path().string()));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  common::RunResult Aws(std::vector<std::string> args, const std::string& secret = "test") {
    std::vector<std::string> argv = {"/usr/bin/aws", "--endpoint-url", cloud_.endpoint()};
    for (auto& a : args) argv.push_back(a);
    return RunClient(argv, ClientEnv(home_.path().string(), secret));
  }

  // One JSON 1.0 protocol call, signed with the project's signer.
  nlohmann::json JsonCall(const std::string& op, const nlohmann::json& input, int* status,
                          std::string* query_error = nullptr, std::string endpoint = "") {
    http::ClientRequest req;
    req.method = "POST";
    req.url = (endpoint.empty() ? cloud_.endpoint() : endpoint) + "/";
    req.body = input.dump();
    req.headers.Set("Content-Type", "application/x-amz-json-1.0");
    req.headers.Set("X-Amz-Target", "AmazonSQS." + op);
    aws::Credentials creds{"test", "test", "", std::nullopt};
    auto params =
        aws::SigningParams::ForService(creds, "us-west-2", "sqs", std::chrono::system_clock::now());
    auto signed_req = aws::SignClientRequest(req, params);
    EXPECT_TRUE(signed_req.ok());
    auto resp = http::DefaultHttpClient().Send(req);
    EXPECT_TRUE(resp.ok()) << resp.status().ToString();
    if (!resp.ok()) return nullptr;
    *status = resp->status;
    if (query_error) *query_error = resp->headers.GetOr("x-amzn-query-error", "");
    return nlohmann::json::parse(resp->body, nullptr, false);
  }

  TempDir home_;
  LocalcloudProcess cloud_;
};

TEST_F(SqsClientsTest, Boto3SendReceiveDeleteWithAttributesAndLimits) {
  std::string base = cloud_.endpoint().substr(7);  // host:port
  EXPECT_EQ(Boto("basic"),
            "url 000000000000/jobs\n"
            "tags {'team': 'events'}\n"
            "md5 body ok True\n"
            "md5 attrs ok True\n"
            "received 1 héllo wörld True\n"
            "attrs ['kind', 'n', 'raw'] b'\\x00\\xff'\n"
            "md5 received ok True\n"
            "receive count 1 True\n"
            "after delete 0 0 arn:aws:sqs:us-west-2:000000000000:jobs\n"
            "batch 10 0\n"
            "too many AWS.SimpleQueueService.TooManyEntriesInBatchRequest\n"
            "too big InvalidParameterValue\n"
            "missing AWS.SimpleQueueService.NonExistentQueue\n"
            "drained 10\n"
            "queues ['jobs']\n");
}

TEST_F(SqsClientsTest, VisibilityTimeoutRedelivers) {
  EXPECT_EQ(Boto("visibility"),
            "hidden False\n"
            "redelivered True 2 True\n"
            "visible again True\n");
}

TEST_F(SqsClientsTest, RedrivesToDeadLetterQueue) {
  EXPECT_EQ(Boto("dlq"),
            "receives ['1', '2', 'none']\n"
            "in dlq ['poison']\n"
            "sources ['work']\n");
}

TEST_F(SqsClientsTest, FifoOrdersPerGroupAndDeduplicates) {
  EXPECT_EQ(Boto("fifo"),
            "first ['a1']\n"
            "while a in flight ['b1']\n"
            "after delete ['a2']\n"
            "no group MissingParameter\n");
}

TEST_F(SqsClientsTest, StsIdentityAndWebIdentityCredentials) {
  EXPECT_EQ(Boto("sts"),
            "identity arn:aws:iam::000000000000:root\n"
            "assumed arn:aws:sts::000000000000:assumed-role/driver/s1 driver\n"
            "as role arn:aws:sts::000000000000:assumed-role/driver/s1\n"
            "no token InvalidClientTokenId\n");
}

TEST_F(SqsClientsTest, AwsCliSendReceiveDeleteAndWrongSecret) {
  auto created = Aws({"sqs", "create-queue", "--queue-name", "cli", "--output", "text"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  std::string url(common::Trim(created.out));
  EXPECT_EQ(url, cloud_.endpoint() + "/000000000000/cli");
  auto sent = Aws({"sqs", "send-message", "--queue-url", url, "--message-body", "from cli",
                   "--query", "MD5OfMessageBody", "--output", "text"});
  EXPECT_EQ(common::Trim(sent.out), common::Md5Hex("from cli"));
  auto got = Aws({"sqs", "receive-message", "--queue-url", url, "--query",
                  "Messages[0].[Body,ReceiptHandle]", "--output", "text"});
  std::vector<std::string> fields = common::Split(common::Trim(got.out), '\t');
  ASSERT_EQ(fields.size(), 2u) << got.out << got.err;
  EXPECT_EQ(fields[0], "from cli");
  auto deleted = Aws({"sqs", "delete-message", "--queue-url", url, "--receipt-handle", fields[1]});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.err;
  int status = 0;
  nlohmann::json attrs =
      JsonCall("GetQueueAttributes", {{"QueueUrl", url}, {"AttributeNames", {"All"}}}, &status);
  EXPECT_EQ(attrs["Attributes"]["ApproximateNumberOfMessages"], "0");
  EXPECT_EQ(attrs["Attributes"]["ApproximateNumberOfMessagesNotVisible"], "0");

  auto rejected = Aws({"sqs", "list-queues"}, "wrong-secret");
  EXPECT_NE(rejected.exit_code, 0);
  EXPECT_NE(rejected.err.find("SignatureDoesNotMatch"), std::string::npos) << rejected.err;
}

TEST_F(SqsClientsTest, LongPollReturnsEarlyOnSendFromAnotherProcess) {
  auto created = Aws({"sqs", "create-queue", "--queue-name", "poll", "--output", "text"});
  std::string url(common::Trim(created.out));
  common::SpawnOptions waiter;
  waiter.argv = {"/usr/bin/python3", kScript, cloud_.endpoint(), "wait", url};
  waiter.env = ClientEnv(home_.path().string());
  waiter.stdout_to = "pipe";
  waiter.stderr_to = "pipe";
  auto process = common::Process::Spawn(waiter);
  ASSERT_TRUE(process.ok());
  auto line = process->ReadLine(60s);
  ASSERT_TRUE(line.ok()) << process->ReadAllStderr();
  ASSERT_EQ(*line, "polling");
  auto sent = Aws({"sqs", "send-message", "--queue-url", url, "--message-body", "wake up"});
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  auto rc = process->Wait(90s);
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(*rc, 0) << process->ReadAllStderr();
  EXPECT_EQ(process->ReadAllStdout(), "waited ['wake up'] True\n");
}

// The relay's round trip: one batch deleted and the next asked for, pipelined on one
// connection. The service must take them in order: messages made visible again at once
// (VisibilityTimeout 0) and then deleted must not come back from the receive behind it.
TEST_F(SqsClientsTest, DeleteBatchThenReceiveIsOneOrderedRoundTrip) {
  http::PlainHttpClient plain(http::DefaultHttpClient());
  aws::StaticCredentialsProvider creds(aws::Credentials{"test", "test", "", std::nullopt});
  aws::AwsConfig config;
  config.region = "us-west-2";
  config.endpoint_url = cloud_.endpoint();
  aws::SqsClient sqs(aws::ClientOptions(config, &creds, &plain));
  auto url = sqs.CreateQueue("pipelined", {});
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(sqs.SendMessage(*url, "m" + std::to_string(i)).ok());

  aws::ReceiveMessageOptions visible_again;
  visible_again.max_number_of_messages = 10;
  visible_again.visibility_timeout = 0;
  auto first = sqs.ReceiveMessage(*url, visible_again);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(first->size(), 3u);
  std::vector<aws::DeleteMessageBatchEntry> entries;
  for (size_t i = 0; i < first->size(); ++i) {
    entries.push_back({std::to_string(i), (*first)[i].receipt_handle});
  }
  entries.push_back({"bad", "not-a-receipt-handle"});
  ASSERT_TRUE(sqs.SendMessage(*url, "next").ok());

  aws::ReceiveMessageOptions next;
  next.max_number_of_messages = 10;
  next.wait_time_seconds = 1;
  auto [deleted, received] = sqs.DeleteMessageBatchThenReceive(*url, entries, next);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(deleted->successful.size(), 3u);
  ASSERT_EQ(deleted->failed.size(), 1u);
  EXPECT_EQ(deleted->failed[0].id, "bad");
  EXPECT_EQ(deleted->failed[0].code, "ReceiptHandleIsInvalid");
  ASSERT_TRUE(received.ok()) << received.status().ToString();
  ASSERT_EQ(received->size(), 1u);
  EXPECT_EQ((*received)[0].body, "next");
}

TEST_F(SqsClientsTest, JsonProtocolErrorsCarryQueryCodes) {
  int status = 0;
  std::string query_error;
  nlohmann::json missing = JsonCall("GetQueueUrl", {{"QueueName", "nope"}}, &status, &query_error);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(missing["__type"], "com.amazonaws.sqs#QueueDoesNotExist");
  EXPECT_EQ(query_error, "AWS.SimpleQueueService.NonExistentQueue;Sender");

  nlohmann::json created = JsonCall("CreateQueue", {{"QueueName", "j"}}, &status);
  ASSERT_EQ(status, 200) << created.dump();
  std::string url = created["QueueUrl"];
  nlohmann::json sent =
      JsonCall("SendMessage",
               {{"QueueUrl", url},
                {"MessageBody", "json"},
                {"DelaySeconds", 0},
                {"MessageAttributes", {{"a", {{"DataType", "String"}, {"StringValue", "b"}}}}}},
               &status);
  ASSERT_EQ(status, 200) << sent.dump();
  EXPECT_EQ(sent["MD5OfMessageBody"], common::Md5Hex("json"));
  nlohmann::json got = JsonCall("ReceiveMessage",
                                {{"QueueUrl", url},
                                 {"MaxNumberOfMessages", 10},
                                 {"MessageAttributeNames", {"All"}},
                                 // Valid in every model version (Debian's predates
                                 // MessageSystemAttributeNames; --strict-models judges).
                                 {"AttributeNames", {"All"}}},
                                &status);
  ASSERT_EQ(got["Messages"].size(), 1u) << got.dump();
  EXPECT_EQ(got["Messages"][0]["Body"], "json");
  EXPECT_EQ(got["Messages"][0]["MD5OfMessageAttributes"], sent["MD5OfMessageAttributes"]);
  EXPECT_TRUE(got["Messages"][0]["Attributes"].contains("SentTimestamp"));
  nlohmann::json bad = JsonCall("ReceiveMessage", {{"QueueUrl", url}, {"MaxNumberOfMessages", 11}},
                                &status, &query_error);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(query_error, "InvalidParameterValue;Sender");
}

// Bounded loopback load: N long-polling receivers and M senders through the JSON protocol;
// every message is received (and deleted) exactly once (visibility timeout far above the
// test's duration, so SQS's at-least-once never redelivers here).
TEST_F(SqsClientsTest, LoadConcurrentPollersAndSendersLoseAndDuplicateNothing) {
  int status = 0;
  nlohmann::json created =
      JsonCall("CreateQueue",
               {{"QueueName", "load"}, {"Attributes", {{"VisibilityTimeout", "300"}}}}, &status);
  ASSERT_EQ(status, 200);
  std::string url = created["QueueUrl"];
  constexpr int kSenders = 4, kReceivers = 6, kBatches = 50;  // 4 * 50 * 10 = 2000 messages
  constexpr int kTotal = kSenders * kBatches * 10;
  common::Mutex mu;
  std::multiset<std::string> seen;  // guarded by mu
  std::atomic<int> received{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (int r = 0; r < kReceivers; ++r) {
    threads.emplace_back([&] {
      while (received.load() < kTotal && !failed) {
        int st = 0;
        nlohmann::json got =
            JsonCall("ReceiveMessage",
                     {{"QueueUrl", url}, {"MaxNumberOfMessages", 10}, {"WaitTimeSeconds", 1}}, &st);
        if (st != 200) {
          failed = true;
          return;
        }
        if (!got.contains("Messages")) continue;
        nlohmann::json entries = nlohmann::json::array();
        int i = 0;
        for (const auto& m : got["Messages"]) {
          {
            common::MutexLock l(mu);
            seen.insert(m["Body"].get<std::string>());
          }
          entries.push_back({{"Id", std::to_string(i++)}, {"ReceiptHandle", m["ReceiptHandle"]}});
        }
        received += static_cast<int>(got["Messages"].size());
        nlohmann::json del =
            JsonCall("DeleteMessageBatch", {{"QueueUrl", url}, {"Entries", entries}}, &st);
        if (st != 200 || !del["Failed"].empty()) failed = true;
      }
    });
  }
  for (int s = 0; s < kSenders; ++s) {
    threads.emplace_back([&, s] {
      for (int b = 0; b < kBatches; ++b) {
        nlohmann::json entries = nlohmann::json::array();
        for (int i = 0; i < 10; ++i) {
          entries.push_back({{"Id", "e" + std::to_string(i)},
                             {"MessageBody", std::to_string(s) + "-" + std::to_string(b) + "-" +
                                                 std::to_string(i)}});
        }
        int st = 0;
        nlohmann::json r =
            JsonCall("SendMessageBatch", {{"QueueUrl", url}, {"Entries", entries}}, &st);
        if (st != 200 || r["Successful"].size() != 10) failed = true;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_FALSE(failed);
  EXPECT_EQ(received.load(), kTotal);
  std::set<std::string> distinct(seen.begin(), seen.end());
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kTotal));
  EXPECT_EQ(seen.size(), static_cast<size_t>(kTotal));
  nlohmann::json attrs =
      JsonCall("GetQueueAttributes", {{"QueueUrl", url}, {"AttributeNames", {"All"}}}, &status);
  EXPECT_EQ(attrs["Attributes"]["ApproximateNumberOfMessages"], "0");
  EXPECT_EQ(attrs["Attributes"]["ApproximateNumberOfMessagesNotVisible"], "0");
}

TEST_F(SqsClientsTest, QueuesSurviveRestartWithDataDir) {
  TempDir data;
  LocalcloudProcess persistent;
  persistent.Start({"--data-dir", data.path().string()});
  int status = 0;
  nlohmann::json created =
      JsonCall("CreateQueue", {{"QueueName", "kept"}}, &status, nullptr, persistent.endpoint());
  ASSERT_EQ(status, 200);
  JsonCall("SendMessage", {{"QueueUrl", created["QueueUrl"]}, {"MessageBody", "durable"}}, &status,
           nullptr, persistent.endpoint());
  ASSERT_EQ(status, 200);
  EXPECT_EQ(persistent.Stop(), 0);
  persistent.Start({"--data-dir", data.path().string()});
  nlohmann::json got = JsonCall("ReceiveMessage", {{"QueueUrl", created["QueueUrl"]}}, &status,
                                nullptr, persistent.endpoint());
  ASSERT_EQ(got["Messages"].size(), 1u) << got.dump();
  EXPECT_EQ(got["Messages"][0]["Body"], "durable");
}

}  // namespace
}  // namespace localcloud
