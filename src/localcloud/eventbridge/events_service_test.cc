// EventBridge and S3 notifications in-process: JSON 1.1 calls straight into the service,
// deliveries captured by a QueueDelivery fake (the SQS seam).
#include "localcloud/eventbridge/events_service.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/mutex.h"
#include "common/testing/test_data.h"
#include "localcloud/eventbridge/s3_notifications.h"

namespace localcloud::eventbridge {
namespace {

using nlohmann::json;

class FakeQueues : public QueueDelivery {
 public:
  common::Result<std::string> SendMessageToArn(const std::string& arn, OutgoingMessage m) override {
    common::MutexLock lock(mu_);
    if (arn.find("missing") != std::string::npos) return common::NotFound("no such queue");
    sent_.emplace_back(arn, m.body);
    cv_.NotifyAll();
    return std::string("id");
  }
  // Waits up to 5 s for `n` messages in total.
  std::vector<std::pair<std::string, std::string>> WaitFor(size_t n) {
    common::MutexLock lock(mu_);
    cv_.WaitFor(mu_, std::chrono::seconds(5), [&]() REQUIRES(mu_) { return sent_.size() >= n; });
    return sent_;
  }

 private:
  common::Mutex mu_;
  common::CondVar cv_;
  std::vector<std::pair<std::string, std::string>> sent_ GUARDED_BY(mu_);
};

class EventsServiceTest : public ::testing::Test {
 protected:
  EventsServiceTest() : service_(context_, queues_, EventsOptions{50}) {}
  ~EventsServiceTest() override { context_.timers().Stop(); }

  // Calls an action; returns (HTTP status, body JSON).
  std::pair<int, json> Call(const std::string& action, const json& in) {
    localcloud::Call call;
    call.route.target = "AWSEvents." + action;
    call.request.body = in.dump();
    call.request_id = "rid";
    call.time = context_.clock().Now();
    http::Response out;
    service_.Handle(std::move(call), [&](http::Response r) { out = std::move(r); });
    return {out.status, json::parse(out.body)};
  }

  CloudContext context_{CloudConfig{}, common::SystemClock::Instance()};
  FakeQueues queues_;
  EventsService service_;
};

TEST_F(EventsServiceTest, RuleDeliversMatchingEventsWithInputVariants) {
  auto [status, put] = Call("PutRule", {{"Name", "r"}, {"EventPattern", R"({"source":["app"]})"}});
  ASSERT_EQ(status, 200) << put;
  EXPECT_EQ(put["RuleArn"], "arn:aws:events:us-west-2:000000000000:rule/r");
  auto targets =
      Call("PutTargets",
           {{"Rule", "r"},
            {"Targets", json::array({{{"Id", "a"}, {"Arn", "arn:aws:sqs:us-west-2:000000000000:a"}},
                                     {{"Id", "b"},
                                      {"Arn", "arn:aws:sqs:us-west-2:000000000000:b"},
                                      {"Input", R"({"k":1})"}},
                                     {{"Id", "c"},
                                      {"Arn", "arn:aws:sqs:us-west-2:000000000000:c"},
                                      {"InputPath", "$.detail.list[1]"}}})}});
  ASSERT_EQ(targets.first, 200) << targets.second;
  auto events = Call(
      "PutEvents",
      {{"Entries",
        json::array({{{"Source", "app"}, {"DetailType", "t"}, {"Detail", R"({"list":["x","y"]})"}},
                     {{"Source", "other"}, {"DetailType", "t"}, {"Detail", "{}"}}})}});
  ASSERT_EQ(events.first, 200);
  EXPECT_EQ(events.second["FailedEntryCount"], 0);
  auto sent = queues_.WaitFor(3);
  ASSERT_EQ(sent.size(), 3u);
  std::map<std::string, std::string> by_queue;
  for (auto& [arn, body] : sent) by_queue[arn.substr(arn.rfind(':') + 1)] = body;
  json whole = json::parse(by_queue["a"]);
  EXPECT_EQ(whole["source"], "app");
  EXPECT_EQ(whole["id"], events.second["Entries"][0]["EventId"]);
  EXPECT_EQ(by_queue["b"], R"({"k":1})");
  EXPECT_EQ(by_queue["c"], R"("y")");
}

TEST_F(EventsServiceTest, ErrorsAreAwsShaped) {
  auto bad = Call("PutRule", {{"Name", "r"}, {"EventPattern", "not json"}});
  EXPECT_EQ(bad.first, 400);
  EXPECT_EQ(bad.second["__type"], "InvalidEventPatternException");
  EXPECT_EQ(Call("PutRule", {{"Name", "r"}}).second["__type"], "ValidationException");
  EXPECT_EQ(Call("DescribeRule", {{"Name", "nope"}}).second["__type"], "ResourceNotFoundException");
  EXPECT_EQ(Call("PutRule", {{"Name", "bad name"}, {"ScheduleExpression", "rate(1 minute)"}})
                .second["__type"],
            "ValidationException");
  EXPECT_EQ(
      Call("PutRule", {{"Name", "s"}, {"ScheduleExpression", "rate(1 minutes)"}}).second["__type"],
      "ValidationException");
}

TEST_F(EventsServiceTest, ScheduleFiresScheduledEvents) {
  ASSERT_EQ(Call("PutRule", {{"Name", "tick"}, {"ScheduleExpression", "rate(1 minute)"}}).first,
            200);
  ASSERT_EQ(Call("PutTargets",
                 {{"Rule", "tick"},
                  {"Targets",
                   json::array({{{"Id", "q"}, {"Arn", "arn:aws:sqs:us-west-2:000000000000:q"}}})}})
                .first,
            200);
  auto sent = queues_.WaitFor(2);
  ASSERT_GE(sent.size(), 2u);
  json event = json::parse(sent[0].second);
  EXPECT_EQ(event["detail-type"], "Scheduled Event");
  EXPECT_EQ(event["source"], "aws.events");
  EXPECT_EQ(event["resources"], json::array({"arn:aws:events:us-west-2:000000000000:rule/tick"}));
}

json LoadShared(const std::string& name) {
  return json::parse(common::testing::ReadTestData("aws-events/" + name));
}

// Every key of the documented example is present with the same JSON type.
void ExpectShape(const json& expected, const json& actual, const std::string& path) {
  if (expected.is_null()) return;
  ASSERT_EQ(expected.type_name(), std::string(actual.type_name())) << path;
  if (!expected.is_object()) return;
  for (auto& [k, v] : expected.items()) {
    if (path + "." + k == "$.detail.object.version-id") continue;  // unversioned bucket
    ASSERT_TRUE(actual.contains(k)) << path << "." << k << " missing in " << actual.dump();
    ExpectShape(v, actual[k], path + "." + k);
  }
}

TEST_F(EventsServiceTest, S3EventsHaveTheDocumentedShape) {
  S3Notifications notifications(context_, service_, queues_);
  S3ObjectEvent e;
  e.event_name = "ObjectCreated:Put";
  e.reason = "PutObject";
  e.bucket = "b";
  e.key = "photos/red flower.jpg";
  e.size = 5;
  e.etag = "b1946ac92492d2347c6235b4d2611184";
  e.sequencer = "0000000000000001";
  e.request.request_id = "N4N7GDK58NMKJ12R";
  e.request.source_ip = "127.0.0.1";
  e.request.caller = context_.RootPrincipal();
  e.request.time = context_.clock().Now();
  json event = notifications.EventBridgeEvent(e);
  ExpectShape(LoadShared("s3-eventbridge-object-created.json"), event, "$");
  EXPECT_EQ(event["detail"]["object"]["key"], "photos/red flower.jpg");
  EXPECT_EQ(event["detail"]["requester"], "000000000000");
  EXPECT_NE(event["id"], notifications.EventBridgeEvent(e)["id"]);

  json record = notifications.NotificationRecord(e, "cfg");
  ExpectShape(LoadShared("s3-notification-record.json"), record, "$");
  EXPECT_EQ(record["Records"][0]["s3"]["object"]["key"], "photos/red+flower.jpg");
}

}  // namespace
}  // namespace localcloud::eventbridge
