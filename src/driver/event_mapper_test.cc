#include "driver/event_mapper.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/json_limits.h"
#include "common/testing/test_data.h"

namespace driver {
namespace {

std::string ReadShared(const std::string& rel) {
  return common::testing::ReadTestData("aws-events/" + rel);
}

QueueMessage Msg(std::string body) {
  QueueMessage m;
  m.message_id = "m-1";
  m.receipt_handle = "rh-1";
  m.body = std::move(body);
  m.sent_timestamp_ms = 1700000000123;
  return m;
}

MapperConfig Config() {
  MapperConfig c;
  c.source_id = "src-1";
  return c;
}

TEST(EventMapper, EventBridgeS3EventKeepsItsIdAndSource) {
  auto out = MapMessage(Msg(ReadShared("s3-eventbridge-object-created.json")), Config());
  ASSERT_EQ(out.disposition, Disposition::kDeliver) << out.reason;
  ASSERT_EQ(out.events.size(), 1u);
  const auto& e = out.events[0];
  EXPECT_EQ(e.id, "17793124-05d4-b198-2fde-7ededc63b103");
  EXPECT_EQ(e.type, "aws.s3");
  EXPECT_EQ(e.subject, "example-key");
  EXPECT_EQ(e.time, "2021-11-12T00:00:00.000Z");
  EXPECT_EQ(e.extensions.at("awsdetailtype"), "Object Created");
  EXPECT_EQ(e.extensions.at("awsaccount"), "111122223333");
  EXPECT_EQ(e.extensions.at("awsregion"), "ca-central-1");
  EXPECT_EQ(e.extensions.at("sourcetype"), "aws");
  EXPECT_EQ(e.extensions.at("sourceid"), "src-1");
  EXPECT_EQ(e.extensions.at("namespace"), "dispatchframework.io/aws-event");
  // The AWS event travels as it came, not re-serialized.
  ASSERT_TRUE(e.data_json);
  EXPECT_FALSE(e.data);
  EXPECT_EQ(*e.data_json, ReadShared("s3-eventbridge-object-created.json"));
  EXPECT_EQ(nlohmann::json::parse(*e.data_json)["detail"]["bucket"]["name"],
            "amzn-s3-demo-bucket1");
}

TEST(EventMapper, JsonBeyondTheFastParserStillMapsAndStaysJson) {
  // An integer wider than 64 bits is valid JSON the fast parser rejects: normalized, the
  // event is still recognised.
  auto out = MapMessage(
      Msg(R"({"id":"big-1","source":"app.x","detail-type":"T","time":"2026-01-01T00:00:00Z",)"
          R"("detail":{"n":123456789012345678901234567890}})"),
      Config());
  ASSERT_EQ(out.disposition, Disposition::kDeliver) << out.reason;
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].id, "big-1");
  ASSERT_TRUE(out.events[0].data_json);
  EXPECT_FALSE(nlohmann::json::parse(*out.events[0].data_json, nullptr, false).is_discarded());
  // Nesting up to the limit: a generic message whose data is still JSON.
  std::string nested_ok =
      std::string(common::kMaxJsonDepth, '[') + std::string(common::kMaxJsonDepth, ']');
  auto nested = MapMessage(Msg(nested_ok), Config());
  ASSERT_EQ(nested.disposition, Disposition::kDeliver) << nested.reason;
  EXPECT_EQ(nested.events[0].type, "aws.sqs.message");
  ASSERT_TRUE(nested.events[0].data_json);
  EXPECT_EQ(*nested.events[0].data_json, nested_ok);
}

TEST(EventMapper, DeeplyNestedBodiesArePoisonNotACrash) {
  // The 120 KB message 60,000 levels deep that used to crash the driver in dump().
  std::string deep = std::string(60'000, '[') + std::string(60'000, ']');
  auto out = MapMessage(Msg(deep), Config());
  EXPECT_EQ(out.disposition, Disposition::kDeadLetter);
  EXPECT_NE(out.reason.find("nested deeper than 128 levels"), std::string::npos) << out.reason;
  EXPECT_TRUE(out.events.empty());
  // Unbalanced, deeper than the limit: poison too.
  EXPECT_EQ(MapMessage(Msg(std::string(100'000, '{')), Config()).disposition,
            Disposition::kDeadLetter);
  // Inside an SNS envelope.
  nlohmann::json sns = {{"Type", "Notification"},
                        {"MessageId", "m"},
                        {"TopicArn", "arn:aws:sns:us-west-2:1:t"},
                        {"Message", std::string(5'000, '[') + std::string(5'000, ']')}};
  EXPECT_EQ(MapMessage(Msg(sns.dump()), Config()).disposition, Disposition::kDeadLetter);
}

TEST(EventMapper, GenericJsonBodyAndUnknownSnsMessageKeepTheWholeBody) {
  auto out = MapMessage(Msg(R"({"order": 7, "items": ["a"]})"), Config());
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].type, "aws.sqs.message");
  EXPECT_EQ(out.events[0].data_json, R"({"order": 7, "items": ["a"]})");
  nlohmann::json sns = {{"Type", "Notification"},
                        {"MessageId", "x"},
                        {"TopicArn", "arn:aws:sns:us-west-2:1:t"},
                        {"Message", "plain words"}};
  auto wrapped = MapMessage(Msg(sns.dump()), Config());
  ASSERT_EQ(wrapped.events.size(), 1u);
  EXPECT_EQ(wrapped.events[0].type, "aws.sqs.message");
  EXPECT_EQ(wrapped.events[0].data_json, sns.dump());
}

TEST(EventMapper, CloudTrailEventUsesRequestParametersKey) {
  auto out = MapMessage(Msg(ReadShared("cloudtrail-s3-putobject.json")), Config());
  ASSERT_EQ(out.disposition, Disposition::kDeliver) << out.reason;
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].type, "aws.s3");
  EXPECT_EQ(out.events[0].extensions.at("awsdetailtype"), "AWS API Call via CloudTrail");
  EXPECT_TRUE(out.events[0].subject.has_value());
}

TEST(EventMapper, ClassicRecordsBecomeOneEventEachWithDecodedKeys) {
  auto out = MapMessage(Msg(ReadShared("s3-notification-record.json")), Config());
  ASSERT_EQ(out.disposition, Disposition::kDeliver) << out.reason;
  ASSERT_EQ(out.events.size(), 1u);
  const auto& e = out.events[0];
  EXPECT_EQ(e.type, "aws.s3");
  EXPECT_EQ(e.subject, "photos/red flower.jpg");
  EXPECT_EQ(e.id, "C3D13FE58DE4C810-0055AED6DCD90281E5");
  EXPECT_EQ((*e.data)["Records"].size(), 1u);
  // Stable: the same message maps to the same id every time.
  EXPECT_EQ(MapMessage(Msg(ReadShared("s3-notification-record.json")), Config()).events[0].id,
            e.id);
}

TEST(EventMapper, S3TestEventIsSkipped) {
  auto out = MapMessage(Msg(ReadShared("s3-notification-test-event.json")), Config());
  EXPECT_EQ(out.disposition, Disposition::kSkip);
}

TEST(EventMapper, SnsNotificationIsUnwrapped) {
  nlohmann::json inner = nlohmann::json::parse(ReadShared("s3-eventbridge-object-created.json"));
  nlohmann::json sns = {{"Type", "Notification"},
                        {"MessageId", "x"},
                        {"TopicArn", "arn:aws:sns:us-west-2:1:t"},
                        {"Message", inner.dump()}};
  auto out = MapMessage(Msg(sns.dump()), Config());
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].id, "17793124-05d4-b198-2fde-7ededc63b103");
}

TEST(EventMapper, GenericMessageCarriesAttributesAsExtensions) {
  QueueMessage m = Msg("hello, not json");
  m.attributes["Trace-Id"] = "abc";
  m.attributes["id"] = "must-not-override";
  auto out = MapMessage(m, Config());
  ASSERT_EQ(out.disposition, Disposition::kDeliver);
  const auto& e = out.events[0];
  EXPECT_EQ(e.type, "aws.sqs.message");
  EXPECT_EQ(e.id, "m-1");
  EXPECT_EQ(e.time, "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(e.extensions.at("traceid"), "abc");
  EXPECT_EQ(e.extensions.count("id"), 0u);
  EXPECT_EQ(*e.data, "hello, not json");
}

TEST(EventMapper, StrictSendsNonAwsToDeadLetter) {
  MapperConfig c = Config();
  c.strict = true;
  EXPECT_EQ(MapMessage(Msg("{\"hello\":1}"), c).disposition, Disposition::kDeadLetter);
}

TEST(EventMapper, PoisonBodies) {
  EXPECT_EQ(MapMessage(Msg("bad \xff utf8"), Config()).disposition, Disposition::kDeadLetter);
  MapperConfig small = Config();
  small.max_event_bytes = 10;
  auto out = MapMessage(Msg(std::string(11, 'a')), small);
  EXPECT_EQ(out.disposition, Disposition::kDeadLetter);
  EXPECT_NE(out.reason.find("over the sink's limit"), std::string::npos);
  // Malformed JSON that looks like an event is still a (generic) message, never a crash.
  EXPECT_EQ(MapMessage(Msg("{\"id\": "), Config()).disposition, Disposition::kDeliver);
  // An event with a bad time cannot form a CloudEvent's time but is still relayed.
  EXPECT_EQ(
      MapMessage(Msg(R"({"id":"1","source":"aws.s3","detail-type":"x","time":"nope"})"), Config())
          .disposition,
      Disposition::kDeliver);
}

TEST(EventMapper, PatternsFilterAwsEvents) {
  std::vector<eventpattern::Pattern> patterns;
  auto p = eventpattern::Pattern::Parse(R"({"source":["aws.ec2"]})");
  ASSERT_TRUE(p.ok());
  patterns.push_back(std::move(*p));
  MapperConfig c = Config();
  c.patterns = &patterns;
  EXPECT_EQ(MapMessage(Msg(ReadShared("s3-eventbridge-object-created.json")), c).disposition,
            Disposition::kSkip);
  auto p2 = eventpattern::Pattern::Parse(
      R"({"source":["aws.s3"],"detail":{"object":{"key":[{"prefix":"example"}]}}})");
  ASSERT_TRUE(p2.ok());
  patterns.push_back(std::move(*p2));
  EXPECT_EQ(MapMessage(Msg(ReadShared("s3-eventbridge-object-created.json")), c).disposition,
            Disposition::kDeliver);
}

}  // namespace
}  // namespace driver
