// End-to-end tests of dispatch-events-aws against a real localcloud (S3, SQS, EventBridge,
// CloudTrail, STS) started here, with a real HTTP sink in the test and the stock aws CLI.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "cloudevents/http_binding.h"
#include "common/crypto.h"
#include "common/strings.h"
#include "common/subprocess.h"
#include "http/client.h"
#include "http/server.h"
#include "image/test_images.h"
#include "localcloud/models/model_checker.h"

namespace driver {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
namespace fs = std::filesystem;

const std::string kBin = DAT_BIN_DIR;

// A CloudEvents sink: records every POST (the driver's readiness probes are GETs); answers
// `status_` (settable).
class TestSink {
 public:
  TestSink() {
    http::ServerOptions o;
    server_ =
        std::make_unique<http::HttpServer>(o, [this](http::Request&& r, http::Respond respond) {
          int status = status_.load();
          if (status >= 200 && status < 300) {
            std::lock_guard<std::mutex> l(mu_);
            if (r.method == "POST") {
              requests_.push_back(std::move(r));
              arrivals_.push_back(std::chrono::steady_clock::now());
            }
          } else {
            failures_++;
          }
          respond(http::Response::Text(status, status < 300 ? "" : "try later"));
        });
    EXPECT_TRUE(server_->Start().ok());
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  void set_status(int s) { status_ = s; }
  int failures() const { return failures_; }
  std::vector<http::Request> requests() {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }
  // When each recorded request arrived.
  std::vector<std::chrono::steady_clock::time_point> arrivals() {
    std::lock_guard<std::mutex> l(mu_);
    return arrivals_;
  }
  // Every CloudEvent received so far (binary or structured mode).
  std::vector<cloudevents::CloudEvent> events() {
    std::vector<cloudevents::CloudEvent> out;
    for (const auto& r : requests()) {
      auto evs = cloudevents::ReadHttp(r);
      if (evs.ok()) out.insert(out.end(), evs->begin(), evs->end());
    }
    return out;
  }
  bool WaitFor(size_t n, milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (events().size() >= n) return true;
      std::this_thread::sleep_for(milliseconds(50));
    }
    return events().size() >= n;
  }

 private:
  std::unique_ptr<http::HttpServer> server_;
  std::atomic<int> status_{200};
  std::atomic<int> failures_{0};
  std::mutex mu_;
  std::vector<http::Request> requests_;
  std::vector<std::chrono::steady_clock::time_point> arrivals_;
};

class DriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("driver-test-" + common::NewUuid());
    fs::create_directories(dir_);
    common::SpawnOptions o;
    o.argv = {kBin + "/localcloud", "--port", "0", "--region", "us-west-2"};
    for (const auto& f : LocalcloudFlags()) o.argv.push_back(f);
    // Every request the driver (and the aws CLI) sends is judged by AWS's models.
    for (const auto& f : localcloud::models::StrictModelsFlags()) o.argv.push_back(f);
    o.stdout_to = "pipe";
    o.stderr_to = (dir_ / "localcloud.log").string();
    auto p = common::Process::Spawn(o);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    localcloud_ = std::move(*p);
    auto url = common::WaitForListening(localcloud_, milliseconds(10'000));
    ASSERT_TRUE(url.ok()) << url.status().ToString();
    endpoint_ = *url;
    if (endpoint_.rfind("https://", 0) == 0) ca_bundle_ = (dir_ / "ca.pem").string();
  }

  // Extra localcloud flags of a fixture.
  virtual std::vector<std::string> LocalcloudFlags() const { return {}; }

  void TearDown() override {
    if (driver_.pid() > 0) driver_.Terminate(milliseconds(3000));
    localcloud_.Terminate(milliseconds(3000));
    std::error_code ec;
    if (!HasFailure()) fs::remove_all(dir_, ec);
  }

  std::vector<std::string> AwsEnv() const {
    std::vector<std::string> env = {"AWS_ACCESS_KEY_ID=test",
                                    "AWS_SECRET_ACCESS_KEY=test",
                                    "AWS_REGION=us-west-2",
                                    "AWS_DEFAULT_REGION=us-west-2",
                                    "AWS_PAGER=",
                                    "HOME=" + dir_.string()};
    if (ca_bundle_.empty()) {
      env.push_back("AWS_ENDPOINT_URL=" + endpoint_);
      return env;
    }
    // The production path: no endpoint override; the real host names reach localcloud
    // through the test-only connect override, over HTTPS trusted through AWS_CA_BUNDLE.
    std::string port = endpoint_.substr(endpoint_.rfind(':') + 1);
    std::string connect_to;
    for (const std::string& host : ConnectedHosts()) {
      connect_to += (connect_to.empty() ? "" : ",") + host + ":443:127.0.0.1:" + port;
    }
    env.push_back("AWS_CA_BUNDLE=" + ca_bundle_);
    env.push_back("DAT_TEST_ONLY_CONNECT_TO=" + connect_to);
    return env;
  }

  // Host names a production-path fixture sends to localcloud.
  virtual std::vector<std::string> ConnectedHosts() const { return {}; }

  // Runs the aws CLI; returns stdout (asserting success unless allow_fail).
  std::string Aws(std::vector<std::string> args, bool allow_fail = false) {
    common::SpawnOptions o;
    // Debian's awscli 2.9 predates AWS_ENDPOINT_URL: name the endpoint explicitly.
    o.argv = {"aws", "--endpoint-url", endpoint_};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.env = AwsEnv();
    auto r = common::RunCommand(o, milliseconds(60'000));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return "";
    if (!allow_fail) {
      EXPECT_EQ(r->exit_code, 0) << "aws failed: " << r->err;
    }
    return r->out;
  }

  // An environment with region and endpoint but no credentials at all (no keys, no files):
  // whatever the driver authenticates with comes from `extra_env`'s provider.
  std::vector<std::string> KeylessEnv() const {
    return {"AWS_REGION=us-west-2", "AWS_ENDPOINT_URL=" + endpoint_, "HOME=" + dir_.string(),
            "AWS_SHARED_CREDENTIALS_FILE=" + (dir_ / "no-credentials").string(),
            "AWS_CONFIG_FILE=" + (dir_ / "no-config").string()};
  }

  void StartDriver(std::vector<std::string> flags, std::vector<std::string> extra_env = {},
                   bool static_keys = true) {
    common::SpawnOptions o;
    o.argv = {kBin + "/dispatch-events-aws", "--duration=1", "--visibility-timeout=2",
              "--log-level=debug"};
    o.argv.insert(o.argv.end(), flags.begin(), flags.end());
    o.env = static_keys ? AwsEnv() : KeylessEnv();
    o.env.insert(o.env.end(), extra_env.begin(), extra_env.end());
    o.stdout_to = "pipe";
    o.stderr_to = (dir_ / "driver.log").string();
    auto p = common::Process::Spawn(o);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    driver_ = std::move(*p);
    // The driver prints "ready" on stdout once provisioned.
    auto line = WaitForReady(milliseconds(30'000));
    ASSERT_TRUE(line) << "driver did not become ready; log:\n" << DriverLog();
  }

  bool WaitForReady(milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto line = driver_.ReadLine(milliseconds(500));
      if (line.ok() && line->find("ready") != std::string::npos) return true;
      if (!line.ok() && line.status().code() == common::Code::kNotFound) return false;
    }
    return false;
  }

  std::string LocalcloudLog() const {
    std::ifstream in(dir_ / "localcloud.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::string DriverLog() const {
    std::ifstream in(dir_ / "driver.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::string WriteFile(const std::string& name, const std::string& content) {
    auto path = dir_ / name;
    std::ofstream(path) << content;
    return path.string();
  }

  std::vector<std::string> DriverQueues() {
    std::string out = Aws({"sqs", "list-queues", "--output", "json"});
    std::vector<std::string> urls;
    if (out.find_first_not_of(" \n") == std::string::npos) return urls;
    auto j = json::parse(out, nullptr, false);
    if (j.is_object() && j.contains("QueueUrls")) {
      for (const auto& u : j["QueueUrls"]) urls.push_back(u.get<std::string>());
    }
    return urls;
  }

  // Waits until the driver's queue (not its dead-letter queue) holds no message, visible or in
  // flight: every message it received was deleted, not merely hidden. False at the deadline.
  bool WaitQueueEmpty(std::chrono::seconds timeout) {
    std::string queue;
    for (const auto& q : DriverQueues()) {
      if (q.find("-dlq") == std::string::npos) queue = q;
    }
    if (queue.empty()) return false;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      json attrs = json::parse(Aws({"sqs", "get-queue-attributes", "--queue-url", queue,
                                    "--attribute-names", "ApproximateNumberOfMessages",
                                    "ApproximateNumberOfMessagesNotVisible", "--output", "json"}),
                               nullptr, false);
      if (attrs.is_object() && attrs["Attributes"].is_object() &&
          attrs["Attributes"].value("ApproximateNumberOfMessages", "") == "0" &&
          attrs["Attributes"].value("ApproximateNumberOfMessagesNotVisible", "") == "0") {
        return true;
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
    return false;
  }

  fs::path dir_;
  std::string endpoint_;
  std::string ca_bundle_;  // set when localcloud serves HTTPS (its test CA)
  common::Process localcloud_;
  common::Process driver_;
};

TEST_F(DriverTest, S3UploadViaEventBridgeBecomesOneCloudEvent) {
  TestSink sink;
  StartDriver({"--bucket-name=photos", "--sink=" + sink.url(), "--format=binary"});
  std::string file = WriteFile("cat picture.jpg", "not really a jpeg");
  Aws({"s3", "cp", file, "s3://photos/images/cat picture.jpg"});
  ASSERT_TRUE(sink.WaitFor(1, milliseconds(20'000))) << DriverLog();
  auto events = sink.events();
  ASSERT_EQ(events.size(), 1u);
  const auto& e = events[0];
  EXPECT_EQ(e.type, "aws.s3");
  EXPECT_EQ(e.subject, "images/cat picture.jpg");
  EXPECT_EQ(e.extensions.at("awsdetailtype"), "Object Created");
  EXPECT_EQ(e.extensions.at("sourcetype"), "aws");
  ASSERT_TRUE(e.data.has_value());
  EXPECT_EQ((*e.data)["id"], e.id);  // the AWS event's own id
  EXPECT_EQ((*e.data)["detail"]["bucket"]["name"], "photos");
  // Binary mode on the wire.
  EXPECT_TRUE(sink.requests()[0].headers.Has("ce-id"));
  // Deleted after acceptance: the queue holds nothing, not even an in-flight copy that would
  // come back after the visibility timeout.
  EXPECT_TRUE(WaitQueueEmpty(seconds(20)));
  EXPECT_EQ(sink.events().size(), 1u);
}

TEST_F(DriverTest, S3UploadViaCloudTrailArrives) {
  TestSink sink;
  StartDriver({"--bucket-name=trailed", "--s3-events=cloudtrail", "--sink=" + sink.url(),
               "--format=structured"});
  Aws({"s3", "cp", WriteFile("a.txt", "hello"), "s3://trailed/images/a.txt"});
  ASSERT_TRUE(sink.WaitFor(1, milliseconds(20'000))) << DriverLog();
  bool found = false;
  for (const auto& e : sink.events()) {
    if (e.extensions.count("awsdetailtype") &&
        e.extensions.at("awsdetailtype") == "AWS API Call via CloudTrail" &&
        (*e.data)["detail"]["requestParameters"]["key"] == "images/a.txt") {
      found = true;
    }
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(
      sink.requests()[0].headers.GetOr("content-type", "").rfind("application/cloudevents+json", 0),
      0u);
}

TEST_F(DriverTest, EventPatternAndNonAwsMessages) {
  TestSink sink;
  StartDriver({"--event-patterns=[{\"source\":[\"my.app\"]}]", "--sink=" + sink.url()});
  Aws({"events", "put-events", "--entries",
       R"([{"Source":"my.app","DetailType":"thing","Detail":"{\"n\":1}"},{"Source":"other.app","DetailType":"x","Detail":"{}"}])"});
  ASSERT_TRUE(sink.WaitFor(1, milliseconds(20'000))) << DriverLog();
  auto queues = DriverQueues();
  ASSERT_FALSE(queues.empty());
  std::string queue;
  for (const auto& q : queues)
    if (q.find("-dlq") == std::string::npos) queue = q;
  Aws({"sqs", "send-message", "--queue-url", queue, "--message-body", "plain text",
       "--message-attributes", R"({"Trace":{"DataType":"String","StringValue":"t-1"}})"});
  ASSERT_TRUE(sink.WaitFor(2, milliseconds(20'000))) << DriverLog();
  auto events = sink.events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, "my.app");
  EXPECT_EQ(events[1].type, "aws.sqs.message");
  EXPECT_EQ(events[1].extensions.at("trace"), "t-1");
}

TEST_F(DriverTest, StrictSendsNonAwsToDeadLetterAndKeepsRunning) {
  TestSink sink;
  StartDriver({"--event-patterns=[{\"source\":[\"my.app\"]}]", "--sink=" + sink.url(), "--strict"});
  std::string queue, dlq;
  for (const auto& q : DriverQueues()) (q.find("-dlq") != std::string::npos ? dlq : queue) = q;
  ASSERT_FALSE(dlq.empty());
  Aws({"sqs", "send-message", "--queue-url", queue, "--message-body", "not an event"});
  Aws({"events", "put-events", "--entries",
       R"([{"Source":"my.app","DetailType":"t","Detail":"{}"}])"});
  ASSERT_TRUE(sink.WaitFor(1, milliseconds(20'000))) << DriverLog();
  std::string out = Aws({"sqs", "receive-message", "--queue-url", dlq, "--wait-time-seconds", "5",
                         "--output", "json"});
  EXPECT_NE(out.find("not an event"), std::string::npos) << out;
  EXPECT_TRUE(driver_.Running());
}

TEST_F(DriverTest, SinkFailingForAWhileLosesNothing) {
  TestSink sink;
  sink.set_status(500);
  StartDriver({"--event-patterns=[{\"source\":[\"my.app\"]}]", "--sink=" + sink.url(),
               "--max-receive-count=50"});
  std::string entries = "[";
  for (int i = 0; i < 10; ++i) {
    entries += std::string(i ? "," : "") +
               R"({"Source":"my.app","DetailType":"n","Detail":"{\"i\":)" + std::to_string(i) +
               "}\"}";
  }
  entries += "]";
  Aws({"events", "put-events", "--entries", entries});
  // Several visibility timeouts pass while the sink fails.
  auto deadline = std::chrono::steady_clock::now() + seconds(20);
  while (sink.failures() < 5 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(milliseconds(100));
  ASSERT_GE(sink.failures(), 5);
  EXPECT_EQ(sink.events().size(), 0u);  // refused deliveries are not recorded as events
  sink.set_status(200);
  // Every one delivered (a retried duplicate is allowed), and then deleted from the queue.
  std::set<int> seen;
  deadline = std::chrono::steady_clock::now() + seconds(30);
  while (seen.size() < 10 && std::chrono::steady_clock::now() < deadline) {
    seen.clear();
    for (const auto& e : sink.events()) seen.insert((*e.data)["detail"]["i"].get<int>());
    if (seen.size() < 10) std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_EQ(seen.size(), 10u) << DriverLog();
  EXPECT_TRUE(WaitQueueEmpty(seconds(30)));
}

TEST_F(DriverTest, SinkDownLongerThanMaxReceivesLandsInDeadLetterQueue) {
  StartDriver({"--event-patterns=[{\"source\":[\"my.app\"]}]", "--sink=http://127.0.0.1:9",
               "--max-receive-count=2", "--delivery-timeout=1"});
  std::string dlq;
  for (const auto& q : DriverQueues())
    if (q.find("-dlq") != std::string::npos) dlq = q;
  ASSERT_FALSE(dlq.empty());
  Aws({"events", "put-events", "--entries",
       R"([{"Source":"my.app","DetailType":"t","Detail":"{\"x\":7}"}])"});
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + seconds(40);
  while (std::chrono::steady_clock::now() < deadline) {
    out = Aws({"sqs", "receive-message", "--queue-url", dlq, "--wait-time-seconds", "2", "--output",
               "json"});
    if (out.find("my.app") != std::string::npos) break;
  }
  EXPECT_NE(out.find("my.app"), std::string::npos) << DriverLog();
  EXPECT_TRUE(driver_.Running());
}

TEST_F(DriverTest, FifoQueueKeepsPerGroupOrder) {
  TestSink sink;
  Aws({"sqs", "create-queue", "--queue-name", "ordered.fifo", "--attributes",
       R"({"FifoQueue":"true","ContentBasedDeduplication":"true","VisibilityTimeout":"5"})"});
  std::string url = endpoint_ + "/000000000000/ordered.fifo";
  for (int i = 0; i < 6; ++i) {
    Aws({"sqs", "send-message", "--queue-url", url, "--message-group-id", i % 2 ? "odd" : "even",
         "--message-body", "{\"n\":" + std::to_string(i) + "}"});
  }
  StartDriver({"--queue-url=" + url, "--sink=" + sink.url(), "--concurrency=3"});
  ASSERT_TRUE(sink.WaitFor(6, milliseconds(20'000))) << DriverLog();
  std::vector<int> even, odd;
  for (const auto& e : sink.events()) {
    int n = (*e.data)["n"].get<int>();
    (n % 2 ? odd : even).push_back(n);
  }
  EXPECT_EQ(even, (std::vector<int>{0, 2, 4}));
  EXPECT_EQ(odd, (std::vector<int>{1, 3, 5}));
  // --queue-url: the driver provisions nothing and deletes nothing of the queue.
  driver_.Signal(SIGTERM);
  ASSERT_TRUE(driver_.Wait(milliseconds(10'000)).ok());
  auto queues = DriverQueues();
  EXPECT_NE(std::find(queues.begin(), queues.end(), url), queues.end());
}

TEST_F(DriverTest, KillNineMidBatchRedeliversUndeleted) {
  TestSink sink;
  sink.set_status(503);  // nothing gets accepted before the kill
  StartDriver({"--event-patterns=[{\"source\":[\"my.app\"]}]", "--sink=" + sink.url()});
  Aws({"events", "put-events", "--entries",
       R"([{"Source":"my.app","DetailType":"t","Detail":"{\"k\":1}"}])"});
  auto deadline = std::chrono::steady_clock::now() + seconds(15);
  while (sink.failures() < 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(milliseconds(50));
  ASSERT_GE(sink.failures(), 1);
  driver_.Signal(SIGKILL);
  (void)driver_.Wait(milliseconds(5000));
  sink.set_status(200);
  // A new driver on the same queue (same source id → same queue name) gets it again.
  std::string queue;
  for (const auto& q : DriverQueues())
    if (q.find("-dlq") == std::string::npos) queue = q;
  StartDriver({"--queue-url=" + queue, "--sink=" + sink.url()});
  ASSERT_TRUE(sink.WaitFor(1, milliseconds(20'000))) << DriverLog();
  EXPECT_EQ((*sink.events()[0].data)["detail"]["k"], 1);
}

TEST_F(DriverTest, SigtermWithCleanUpRemovesEverythingItCreated) {
  TestSink sink;
  StartDriver({"--bucket-name=cleanme", "--clean-up", "--s3-events=cloudtrail",
               "--event-patterns=[{\"source\":[\"my.app\"]}]", "--schedule-expression=rate(1 hour)",
               "--sink=" + sink.url()});
  EXPECT_FALSE(DriverQueues().empty());
  EXPECT_NE(Aws({"events", "list-rules", "--output", "json"}).find("dispatch-"), std::string::npos);
  driver_.Signal(SIGTERM);
  auto code = driver_.Wait(milliseconds(10'000));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << DriverLog();
  EXPECT_TRUE(DriverQueues().empty());
  EXPECT_EQ(Aws({"events", "list-rules", "--output", "json"}).find("dispatch-"), std::string::npos);
  EXPECT_EQ(Aws({"cloudtrail", "describe-trails", "--output", "json"}).find("dispatch-"),
            std::string::npos);
  // The bucket it created is empty and goes too; a bucket it did not create never would.
  EXPECT_EQ(Aws({"s3api", "list-buckets", "--output", "json"}).find("cleanme"), std::string::npos);
}

TEST_F(DriverTest, QueueUrlMergesItsStatementIntoTheQueuePolicyAndRemovesItAtCleanUp) {
  TestSink sink;
  Aws({"sqs", "create-queue", "--queue-name", "shared"});
  std::string url = endpoint_ + "/000000000000/shared";
  const std::string theirs =
      R"({"Version":"2012-10-17","Statement":[{"Sid":"Theirs","Effect":"Allow",)"
      R"("Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sqs:ReceiveMessage",)"
      R"("Resource":"arn:aws:sqs:us-west-2:000000000000:shared"}]})";
  Aws({"sqs", "set-queue-attributes", "--queue-url", url, "--attributes",
       json{{"Policy", theirs}}.dump()});
  auto policy = [&] {
    json attrs = json::parse(Aws({"sqs", "get-queue-attributes", "--queue-url", url,
                                  "--attribute-names", "Policy", "--output", "json"}),
                             nullptr, false);
    return attrs.is_object() && attrs.contains("Attributes")
               ? json::parse(attrs["Attributes"].value("Policy", "{}"), nullptr, false)
               : json::object();
  };
  StartDriver({"--queue-url=" + url, "--event-patterns=[{\"source\":[\"my.app\"]}]", "--clean-up",
               "--sink=" + sink.url()});
  // localcloud, as AWS, delivers from the rule only because the policy now allows it.
  Aws({"events", "put-events", "--entries",
       R"([{"Source":"my.app","DetailType":"t","Detail":"{\"n\":7}"}])"});
  ASSERT_TRUE(sink.WaitFor(1, milliseconds(20'000))) << DriverLog() << LocalcloudLog();
  json merged = policy();
  ASSERT_EQ(merged["Statement"].size(), 2u) << merged.dump();
  EXPECT_EQ(merged["Statement"][0]["Sid"], "Theirs");
  EXPECT_EQ(merged["Statement"][1]["Principal"]["Service"], "events.amazonaws.com");
  EXPECT_EQ(
      merged["Statement"][1]["Condition"]["ArnEquals"]["aws:SourceArn"][0].get<std::string>().find(
          "arn:aws:events:us-west-2:000000000000:rule/dispatch-"),
      0u);
  driver_.Signal(SIGTERM);
  ASSERT_TRUE(driver_.Wait(milliseconds(10'000)).ok());
  EXPECT_EQ(policy(), json::parse(theirs)) << DriverLog();
}

TEST_F(DriverTest, PrintIamPolicyNamesTheDeadLetterQueueOfAQueueUrl) {
  Aws({"sqs", "create-queue", "--queue-name", "poison"});
  Aws({"sqs", "create-queue", "--queue-name", "work", "--attributes",
       json{
           {"RedrivePolicy",
            R"({"deadLetterTargetArn":"arn:aws:sqs:us-west-2:000000000000:poison","maxReceiveCount":"3"})"}}
           .dump()});
  common::SpawnOptions o;
  o.argv = {kBin + "/dispatch-events-aws", "--print-iam-policy",
            "--queue-url=" + endpoint_ + "/000000000000/work",
            "--event-patterns=[{\"source\":[\"a\"]}]"};
  o.env = AwsEnv();
  auto r = common::RunCommand(o, milliseconds(10'000));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->exit_code, 0) << r->err;
  json policy = json::parse(r->out);
  bool dlq = false, set_policy = false;
  for (const auto& st : policy["Statement"]) {
    if (st["Resource"] == "arn:aws:sqs:us-west-2:000000000000:poison") {
      dlq = std::find(st["Action"].begin(), st["Action"].end(), "sqs:SendMessage") !=
            st["Action"].end();
    }
    if (st["Sid"] == "DriverQueue") {
      set_policy = std::find(st["Action"].begin(), st["Action"].end(), "sqs:SetQueueAttributes") !=
                   st["Action"].end();
    }
  }
  EXPECT_TRUE(dlq) << r->out;
  EXPECT_TRUE(set_policy) << r->out;
}

TEST_F(DriverTest, CloudTrailModeSkipsItsOwnLogsAndDeletesThePolicyItAdded) {
  TestSink sink;
  Aws({"s3api", "create-bucket", "--bucket", "logged", "--create-bucket-configuration",
       "LocationConstraint=us-west-2"});
  StartDriver(
      {"--bucket-name=logged", "--s3-events=cloudtrail", "--clean-up", "--sink=" + sink.url()});
  json trails = json::parse(Aws({"cloudtrail", "describe-trails", "--output", "json"}));
  ASSERT_EQ(trails["trailList"].size(), 1u);
  json selectors = json::parse(Aws({"cloudtrail", "get-event-selectors", "--trail-name",
                                    trails["trailList"][0]["Name"], "--output", "json"}));
  EXPECT_NE(selectors["AdvancedEventSelectors"].dump().find(
                R"("NotStartsWith":["arn:aws:s3:::logged/AWSLogs/"])"),
            std::string::npos)
      << selectors.dump();
  // A log delivery lands under AWSLogs/: no event for it, while an upload beside it has one.
  Aws({"s3", "cp", WriteFile("log.json", "{}"),
       "s3://logged/AWSLogs/000000000000/CloudTrail/log.json"});
  Aws({"s3", "cp", WriteFile("b.txt", "b"), "s3://logged/images/b.txt"});
  ASSERT_TRUE(sink.WaitFor(1, milliseconds(20'000))) << DriverLog();
  std::this_thread::sleep_for(milliseconds(500));  // the log write came first: it would be here
  for (const auto& e : sink.events()) {
    EXPECT_EQ((*e.data)["detail"]["requestParameters"]["key"], "images/b.txt");
  }
  EXPECT_NE(
      Aws({"s3api", "get-bucket-policy", "--bucket", "logged"}).find("DispatchCloudTrailWrite"),
      std::string::npos);
  driver_.Signal(SIGTERM);
  ASSERT_TRUE(driver_.Wait(milliseconds(10'000)).ok());
  // There was no policy before: it is deleted (S3 refuses an empty one).
  common::SpawnOptions o;
  o.argv = {"aws", "--endpoint-url", endpoint_, "s3api", "get-bucket-policy", "--bucket", "logged"};
  o.env = AwsEnv();
  auto r = common::RunCommand(o, milliseconds(60'000));
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->err.find("NoSuchBucketPolicy"), std::string::npos) << r->out << r->err;
  EXPECT_EQ(DriverLog().find("clean-up:"), std::string::npos) << DriverLog();
}

// The path every real user runs: no endpoint override, HTTPS, the regional host names,
// virtual-hosted-style S3, a CA from AWS_CA_BUNDLE. localcloud serves HTTPS with its test CA
// under those names; only the connection's address is redirected (test-only override).
class DriverProductionPathTest : public DriverTest {
 protected:
  std::vector<std::string> LocalcloudFlags() const override {
    return {"--tls-test-ca", dir_.string()};
  }
  std::vector<std::string> ConnectedHosts() const override {
    return {"sqs.us-west-2.amazonaws.com", "events.us-west-2.amazonaws.com",
            "cloudtrail.us-west-2.amazonaws.com", "prodpath.s3.us-west-2.amazonaws.com",
            "api.x.com"};
  }
};

TEST_F(DriverProductionPathTest, RealHostNamesOverHttpsWithTheTestCa) {
  ASSERT_EQ(endpoint_.rfind("https://", 0), 0u) << endpoint_;
  TestSink sink;
  StartDriver({"--bucket-name=prodpath", "--sink=" + sink.url(), "--clean-up"});
  // Queue URLs the driver was given name the real SQS host (it addressed that host).
  EXPECT_NE(DriverLog().find("https://sqs.us-west-2.amazonaws.com/000000000000/dispatch-"),
            std::string::npos)
      << DriverLog();
  // The bucket the driver created through BUCKET.s3.us-west-2.amazonaws.com exists.
  EXPECT_NE(Aws({"s3api", "list-buckets", "--output", "json"}).find("prodpath"), std::string::npos);
  Aws({"s3", "cp", WriteFile("p.jpg", "bytes"), "s3://prodpath/images/p.jpg"});
  ASSERT_TRUE(sink.WaitFor(1, milliseconds(20'000))) << DriverLog();
  EXPECT_EQ(sink.events()[0].subject, "images/p.jpg");
  driver_.Signal(SIGTERM);
  auto code = driver_.Wait(milliseconds(10'000));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << DriverLog();
  EXPECT_TRUE(DriverQueues().empty());
}

// The whole chain as in production: an upload to BUCKET.s3.REGION.amazonaws.com, EventBridge,
// SQS, the driver, the twitter function as the CloudEvents sink, which reads the object
// through the virtual-hosted S3 name and posts through https://api.x.com. No endpoint
// override anywhere; the function trusts the CA through AWS_CA_BUNDLE and CURL_CA_BUNDLE.
TEST_F(DriverProductionPathTest, DriverAndFunctionPostAnUploadThroughTheRealHostNames) {
  ASSERT_EQ(endpoint_.rfind("https://", 0), 0u) << endpoint_;
  common::SpawnOptions fn;
  fn.argv = {kBin + "/twitter", "--log-level", "info"};
  fn.env = {"PORT=0",
            "HOME=" + dir_.string(),
            "SECRET_AWS_AWS_ACCESS_KEY_ID=test",
            "SECRET_AWS_AWS_SECRET_ACCESS_KEY=test",
            "SECRET_AWS_REGION=us-west-2",
            "SECRET_TWITTER_APPKEY=test",
            "SECRET_TWITTER_APPSECRET=test",
            "SECRET_TWITTER_OATHTOKEN=test",
            "SECRET_TWITTER_OATHTOKENSECRET=test",
            "CURL_CA_BUNDLE=" + ca_bundle_};
  for (const std::string& e : AwsEnv()) {
    if (e.rfind("AWS_CA_BUNDLE=", 0) == 0 || e.rfind("DAT_TEST_ONLY_CONNECT_TO=", 0) == 0) {
      fn.env.push_back(e);
    }
  }
  fn.stdout_to = "pipe";
  fn.stderr_to = (dir_ / "function.log").string();
  auto spawned = common::Process::Spawn(fn);
  ASSERT_TRUE(spawned.ok()) << spawned.status().ToString();
  common::Process function = std::move(*spawned);
  auto function_url = common::WaitForListening(function, milliseconds(30'000));
  ASSERT_TRUE(function_url.ok()) << function_url.status().ToString();

  StartDriver({"--bucket-name=prodpath", "--sink=" + *function_url, "--format=binary"});
  image::testing::JpegSpec spec;
  spec.width = 320;
  spec.height = 240;
  std::ofstream(dir_ / "cat.jpg", std::ios::binary) << image::testing::MakeJpeg(spec);
  Aws({"s3", "cp", (dir_ / "cat.jpg").string(), "s3://prodpath/images/cat.jpg"});

  // The sandbox's own listing, over HTTPS with the test CA.
  json posts;
  auto deadline = std::chrono::steady_clock::now() + seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    http::ClientRequest list;
    list.url = endpoint_ + "/x/2/sandbox/posts";
    list.ca_file = ca_bundle_;
    auto r = http::DefaultHttpClient().Send(list);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    posts = json::parse(r->body, nullptr, false);
    if (posts.is_object() && posts["data"].is_array() && !posts["data"].empty()) break;
    std::this_thread::sleep_for(milliseconds(200));
  }
  std::ifstream log(dir_ / "function.log");
  std::string function_log((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  ASSERT_TRUE(posts.is_object() && posts["data"].is_array() && posts["data"].size() == 1)
      << posts.dump() << "\nfunction:\n"
      << function_log << "\ndriver:\n"
      << DriverLog();
  EXPECT_EQ(posts["data"][0]["media_ids"].size(), 1u);
  function.Terminate(milliseconds(3000));
}

TEST_F(DriverProductionPathTest, WithoutTheCaTheServerIsNotTrusted) {
  ASSERT_EQ(endpoint_.rfind("https://", 0), 0u) << endpoint_;
  common::SpawnOptions o;
  o.argv = {kBin + "/dispatch-events-aws", "--bucket-name=prodpath", "--sink=http://127.0.0.1:9"};
  o.env = AwsEnv();
  for (auto& e : o.env) {
    if (e.rfind("AWS_CA_BUNDLE=", 0) == 0) e = "AWS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt";
  }
  auto r = common::RunCommand(o, milliseconds(60'000));
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->exit_code, 0);
  EXPECT_NE(r->err.find("provisioning failed"), std::string::npos) << r->err;
}

TEST_F(DriverTest, BadFlagsGiveClearErrors) {
  common::SpawnOptions o;
  o.argv = {kBin + "/dispatch-events-aws", "--duration=99"};
  o.env = AwsEnv();
  auto r = common::RunCommand(o, milliseconds(10'000));
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->exit_code, 0);
  EXPECT_NE(r->err.find("--duration must be between 0 and 20"), std::string::npos) << r->err;
  o.argv = {kBin + "/dispatch-events-aws", "--help"};
  r = common::RunCommand(o, milliseconds(10'000));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0);
  for (const char* flag : {"--region",
                           "--bucket-name",
                           "--queue-name",
                           "--duration",
                           "--namespace",
                           "--source-id",
                           "--clean-up",
                           "--event-patterns",
                           "--schedule-expression",
                           "--dispatch-api-endpoint",
                           "--org",
                           "--dry-run",
                           "--s3-events",
                           "--sink",
                           "--format",
                           "--concurrency",
                           "--metrics-addr",
                           "--log-format",
                           "--queue-url",
                           "--print-iam-policy"}) {
    EXPECT_NE(r->out.find(flag), std::string::npos) << flag;
  }
}

}  // namespace
}  // namespace driver

namespace driver {
namespace {

// The npm `cloudevents` SDK, installed into the build tree by the ctest fixture
// driver_npm_cloudevents_install (CMakeLists.txt); "" when it is not there.
std::string CloudEventsSdkDir() {
  std::string d = std::string(DAT_BIN_DIR) + "/../npm-cloudevents";
  if (!fs::exists(d + "/node_modules/cloudevents/package.json")) return std::string();
  if (!common::FindExecutable("node")) return std::string();
  return d;
}

TEST_F(DriverTest, OfficialCloudEventsSdkAcceptsBinaryAndStructuredOutput) {
  std::string sdk = CloudEventsSdkDir();
  if (sdk.empty())
    GTEST_SKIP() << "the npm cloudevents SDK is not installed (node, npm or the registry was "
                    "unavailable to the driver_npm_cloudevents_install step)";
  for (const char* format : {"binary", "structured"}) {
    TestSink sink;
    StartDriver({"--bucket-name=sdk-" + std::string(format), "--sink=" + sink.url(),
                 std::string("--format=") + format});
    Aws({"s3", "cp", WriteFile("x.txt", "x"), "s3://sdk-" + std::string(format) + "/images/x.txt"});
    ASSERT_TRUE(sink.WaitFor(1, milliseconds(20'000))) << DriverLog();
    json captured = json::array();
    for (const auto& r : sink.requests()) {
      json headers = json::object();
      for (const auto& [k, v] : r.headers.entries()) headers[common::ToLower(k)] = v;
      captured.push_back({{"headers", headers}, {"body", r.body}});
    }
    std::string path = WriteFile(std::string("captured-") + format + ".json", captured.dump());
    common::SpawnOptions o;
    o.argv = {"node", std::string(DAT_SOURCE_DIR) + "/src/driver/testdata/ce_validate.js", path};
    o.env = {"NODE_PATH=" + sdk + "/node_modules"};
    auto r = common::RunCommand(o, milliseconds(60'000));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->exit_code, 0) << format << ": " << r->out << r->err;
    EXPECT_NE(r->out.find("ok aws.s3"), std::string::npos) << r->out;
    driver_.Terminate(milliseconds(5000));
  }
}

std::string Base64Url(const std::string& raw) {
  std::string b = common::Base64Encode(raw);
  for (char& c : b) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!b.empty() && b.back() == '=') b.pop_back();
  return b;
}

// EKS IRSA: a projected service-account token and a role ARN; the driver trades them at STS
// (AssumeRoleWithWebIdentity) for temporary credentials and does all its AWS work with those.
TEST_F(DriverTest, WebIdentityCredentialsProvisionAndRelay) {
  std::string jwt =
      Base64Url(R"({"alg":"RS256","typ":"JWT"})") + "." +
      Base64Url(
          R"({"sub":"system:serviceaccount:default:driver","aud":"sts.amazonaws.com","iss":"https://oidc.test"})") +
      ".c2lnbmF0dXJl";
  std::string token = WriteFile("web-identity-token", jwt);
  TestSink sink;
  StartDriver({"--bucket-name=irsa-bucket", "--sink=" + sink.url()},
              {"AWS_WEB_IDENTITY_TOKEN_FILE=" + token,
               "AWS_ROLE_ARN=arn:aws:iam::000000000000:role/dispatch-driver",
               "AWS_ROLE_SESSION_NAME=driver-test"},
              /*static_keys=*/false);
  Aws({"s3", "cp", WriteFile("a.txt", "a"), "s3://irsa-bucket/a.txt"});
  ASSERT_TRUE(sink.WaitFor(1, milliseconds(20'000))) << DriverLog();
  EXPECT_EQ(sink.events()[0].type, "aws.s3");
  EXPECT_NE(DriverLog().find("web-identity"), std::string::npos) << DriverLog();
}

// EC2: IMDSv2 session token, role name, then credentials that live 6 s here; the driver keeps
// working across their expiry because it refreshes them before they run out.
class DriverImdsTest : public DriverTest {
 protected:
  std::vector<std::string> LocalcloudFlags() const override {
    return {"--imds-credential-seconds", "6"};
  }
};

TEST_F(DriverImdsTest, ImdsV2CredentialsWorkAndAreRefreshed) {
  TestSink sink;
  auto started = std::chrono::steady_clock::now();
  StartDriver({"--bucket-name=imds-bucket", "--sink=" + sink.url()},
              {"AWS_EC2_METADATA_SERVICE_ENDPOINT=" + endpoint_}, /*static_keys=*/false);
  Aws({"s3", "cp", WriteFile("a.txt", "a"), "s3://imds-bucket/first.txt"});
  ASSERT_TRUE(sink.WaitFor(1, milliseconds(20'000))) << DriverLog();
  // Past the first credentials' expiry: they are no longer accepted by localcloud.
  std::this_thread::sleep_until(started + milliseconds(8'000));
  Aws({"s3", "cp", WriteFile("b.txt", "b"), "s3://imds-bucket/second.txt"});
  ASSERT_TRUE(sink.WaitFor(2, milliseconds(20'000))) << DriverLog();
  auto events = sink.events();
  EXPECT_EQ(events[1].subject, "second.txt");
  std::string log = LocalcloudLog();
  size_t issued = 0;
  for (size_t at = log.find("imds: issued credentials"); at != std::string::npos;
       at = log.find("imds: issued credentials", at + 1)) {
    ++issued;
  }
  EXPECT_GE(issued, 2u) << log;
  EXPECT_EQ(DriverLog().find("InvalidClientTokenId"), std::string::npos) << DriverLog();
  EXPECT_EQ(DriverLog().find("ExpiredToken"), std::string::npos) << DriverLog();
}

// --schedule-expression: a rule whose scheduled events reach the sink (a localcloud minute
// lasts 300 ms here).
class DriverScheduleTest : public DriverTest {
 protected:
  std::vector<std::string> LocalcloudFlags() const override {
    return {"--schedule-minute-ms", "300"};
  }
};

TEST_F(DriverScheduleTest, ScheduleExpressionDeliversScheduledEvents) {
  TestSink sink;
  StartDriver({"--schedule-expression=rate(1 minute)", "--sink=" + sink.url()});
  ASSERT_TRUE(sink.WaitFor(2, milliseconds(20'000))) << DriverLog();
  for (const auto& e : sink.events()) {
    EXPECT_EQ(e.type, "aws.events");
    EXPECT_EQ(e.extensions.at("awsdetailtype"), "Scheduled Event");
  }
}

// --max-rate spaces deliveries: 30 queued messages at 10 events/s take at least ~2 s.
TEST_F(DriverTest, MaxRateSpacesDeliveries) {
  std::string queue = json::parse(
      Aws({"sqs", "create-queue", "--queue-name", "rated", "--output", "json"}))["QueueUrl"];
  for (int batch = 0; batch < 3; ++batch) {
    json entries = json::array();
    for (int i = 0; i < 10; ++i) {
      entries.push_back({{"Id", std::to_string(i)},
                         {"MessageBody", "message " + std::to_string(batch * 10 + i)}});
    }
    Aws({"sqs", "send-message-batch", "--queue-url", queue, "--entries", entries.dump()});
  }
  TestSink sink;
  StartDriver({"--queue-url=" + queue, "--sink=" + sink.url(), "--max-rate=10", "--concurrency=4"});
  ASSERT_TRUE(sink.WaitFor(30, milliseconds(30'000))) << DriverLog();
  auto arrivals = sink.arrivals();
  ASSERT_EQ(arrivals.size(), 30u);
  auto spread = std::chrono::duration_cast<milliseconds>(arrivals.back() - arrivals.front());
  // 30 events at 10/s: the last may go 2.9 s after the first; a burst would take ~0.
  EXPECT_GE(spread.count(), 1800) << "30 events delivered within " << spread.count() << " ms";
}

TEST_F(DriverTest, MetricsAndHealthEndpoints) {
  TestSink sink;
  StartDriver({"--event-patterns=[{\"source\":[\"my.app\"]}]", "--sink=" + sink.url(),
               "--metrics-addr=127.0.0.1:0"});
  // The log names the metrics port.
  std::string log = DriverLog();
  size_t at = log.find("metrics on http://");
  ASSERT_NE(at, std::string::npos) << log;
  std::string base = log.substr(at + 11, log.find("/metrics", at) - at - 11);
  Aws({"events", "put-events", "--entries",
       R"([{"Source":"my.app","DetailType":"t","Detail":"{}"}])"});
  ASSERT_TRUE(sink.WaitFor(1, milliseconds(20'000)));
  auto get = [&](const std::string& path) {
    common::SpawnOptions o;
    o.argv = {"curl", "-s", "-w", "\n%{http_code}", base + path};
    auto r = common::RunCommand(o, milliseconds(10'000));
    return r.ok() ? r->out : std::string();
  };
  std::string metrics = get("/metrics");
  EXPECT_NE(metrics.find("dispatch_events_aws_events_delivered_total 1"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("dispatch_events_aws_delivery_latency_seconds_count 1"),
            std::string::npos);
  EXPECT_NE(get("/healthz").find("200"), std::string::npos);
  EXPECT_NE(get("/readyz").find("200"), std::string::npos);
}

}  // namespace
}  // namespace driver
