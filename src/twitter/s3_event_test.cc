#include "twitter/s3_event.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/strings.h"
#include "common/testing/test_data.h"

namespace twitter {
namespace {

using nlohmann::json;

json Load(const std::string& name) {
  return json::parse(common::testing::ReadTestData("aws-events/" + name));
}

TEST(ParseS3EventTest, EventBridgeObjectCreated) {
  auto e = ParseS3Event(Load("s3-eventbridge-object-created.json"));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  ASSERT_EQ(e->objects.size(), 1u);
  const S3ObjectRef& o = e->objects[0];
  EXPECT_EQ(o.shape, EventShape::kEventBridgeObjectCreated);
  EXPECT_EQ(o.bucket, "amzn-s3-demo-bucket1");
  EXPECT_EQ(o.key, "example-key");
  EXPECT_EQ(o.etag, "b1946ac92492d2347c6235b4d2611184");
  EXPECT_EQ(o.version_id, "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e");
  EXPECT_EQ(o.size, 5u);
  EXPECT_EQ(o.region, "ca-central-1");
  EXPECT_EQ(e->event_id, "17793124-05d4-b198-2fde-7ededc63b103");
}

TEST(ParseS3EventTest, CloudTrailPutObject) {
  auto e = ParseS3Event(Load("cloudtrail-s3-putobject.json"));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  ASSERT_EQ(e->objects.size(), 1u);
  const S3ObjectRef& o = e->objects[0];
  EXPECT_EQ(o.shape, EventShape::kCloudTrailApiCall);
  EXPECT_EQ(o.bucket, "BUCKETNAME");
  EXPECT_EQ(o.key, "OBJECTKEY");
  EXPECT_EQ(o.etag, "");
  EXPECT_EQ(o.region, "eu-west-1");
  EXPECT_EQ(o.event_name, "PutObject");
}

TEST(ParseS3EventTest, CloudTrailCompleteMultipartAndOtherCalls) {
  json e = Load("cloudtrail-s3-putobject.json");
  e["detail"]["eventName"] = "CompleteMultipartUpload";
  auto parsed = ParseS3Event(e);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->objects.size(), 1u);

  e["detail"]["eventName"] = "GetObject";
  parsed = ParseS3Event(e);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->objects.empty());
  EXPECT_NE(parsed->ignored_reason.find("GetObject"), std::string::npos);
}

TEST(ParseS3EventTest, NotificationKeysAreFormDecoded) {
  auto e = ParseS3Event(Load("s3-notification-record.json"));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  ASSERT_EQ(e->objects.size(), 1u);
  const S3ObjectRef& o = e->objects[0];
  EXPECT_EQ(o.shape, EventShape::kS3Notification);
  EXPECT_EQ(o.bucket, "amzn-s3-demo-bucket");
  EXPECT_EQ(o.key, "photos/red flower.jpg");
  EXPECT_EQ(o.etag, "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(o.size, 1024u);
  EXPECT_EQ(o.region, "us-west-2");
}

TEST(ParseS3EventTest, NotificationUnicodeKeyRoundTrips) {
  json e = Load("s3-notification-record.json");
  const std::string key = "images/ünï code/a+b & c.jpg";
  e["Records"][0]["s3"]["object"]["key"] = common::FormEncode(key);
  auto parsed = ParseS3Event(e);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->objects[0].key, key);
}

TEST(ParseS3EventTest, TestEventIsIgnoredNotAnError) {
  auto e = ParseS3Event(Load("s3-notification-test-event.json"));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_TRUE(e->objects.empty());
  EXPECT_EQ(e->ignored_reason, "S3 test event");
}

TEST(ParseS3EventTest, WrappedInDispatchCloudEvent01) {
  json ce = {{"namespace", "dispatchframework.io/aws-event"},
             {"eventType", "aws.s3"},
             {"cloudEventsVersion", "0.1"},
             {"sourceType", "aws"},
             {"sourceID", "s1"},
             {"source", "aws"},
             {"eventID", "ce-id-1"},
             {"contentType", "application/json"},
             {"data", Load("s3-eventbridge-object-created.json")}};
  auto e = ParseS3Event(ce);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  ASSERT_EQ(e->objects.size(), 1u);
  EXPECT_EQ(e->objects[0].key, "example-key");
  EXPECT_EQ(e->event_id, "ce-id-1");
}

TEST(ParseS3EventTest, WrappedInCloudEvent10) {
  json ce = {{"specversion", "1.0"},
             {"id", "ce-2"},
             {"source", "aws"},
             {"type", "aws.s3"},
             {"data", Load("cloudtrail-s3-putobject.json")}};
  auto e = ParseS3Event(ce);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->objects[0].shape, EventShape::kCloudTrailApiCall);
  EXPECT_EQ(e->event_id, "ce-2");

  // The same event as data_base64.
  ce.erase("data");
  ce["data_base64"] = common::Base64Encode(Load("s3-notification-record.json").dump());
  e = ParseS3Event(ce);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->objects[0].key, "photos/red flower.jpg");
}

TEST(ParseS3EventTest, AnythingElseNamesWhatWasExpected) {
  json bad_cases[] = {
      json(nullptr),
      json("string"),
      json::array(),
      json{{"hello", "world"}},
      json{{"source", "aws.ec2"}, {"detail-type", "EC2 Instance State-change Notification"}},
      json{{"Records", "not-an-array"}},
      json{{"Records", json::array({json{{"eventSource", "aws:sqs"}}})}},
      json{{"specversion", "1.0"},
           {"id", "x"},
           {"source", "s"},
           {"type", "t"},
           {"data", json{{"a", 1}}}},
  };
  for (const json& bad : bad_cases) {
    auto e = ParseS3Event(bad);
    ASSERT_FALSE(e.ok()) << bad.dump();
    EXPECT_EQ(e.status().code(), common::Code::kInvalidArgument);
    EXPECT_NE(e.status().message().find("expected an S3 upload event"), std::string::npos)
        << e.status().message();
  }
}

TEST(ParseS3EventTest, RecognisedShapeWithoutKeyIsInvalid) {
  json e = Load("s3-eventbridge-object-created.json");
  e["detail"]["object"].erase("key");
  auto parsed = ParseS3Event(e);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("key"), std::string::npos);
}

TEST(ParseS3EventTest, CloudEventWithBadBase64DataIsInvalid) {
  json ce = {
      {"specversion", "1.0"}, {"id", "x"}, {"source", "s"}, {"type", "t"}, {"data_base64", "!!!"}};
  auto e = ParseS3Event(ce);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), common::Code::kInvalidArgument);
}

}  // namespace
}  // namespace twitter
