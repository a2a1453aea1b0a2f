// The service clients against a tiny in-test HTTP server: every request must verify as
// SigV4 (what AWS would accept), carry the right target/path/body, and every answer, error
// or transport failure must come back as a value.
#include "aws/clients.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <deque>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "aws/sigv4.h"
#include "common/crypto.h"
#include "common/strings.h"
#include "http/server.h"

namespace aws {
namespace {

using nlohmann::json;

class ClientsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<http::HttpServer>(
        http::ServerOptions{}, [this](http::Request&& request, http::Respond respond) {
          std::lock_guard<std::mutex> l(mu_);
          requests_.push_back(request);
          http::Response response;
          if (!responses_.empty()) {
            response = std::move(responses_.front());
            responses_.pop_front();
          } else {
            response.status = 200;
          }
          respond(std::move(response));
        });
    ASSERT_TRUE(server_->Start().ok());
    options_.config.region = "us-west-2";
    options_.config.endpoint_url = "http://127.0.0.1:" + std::to_string(server_->port());
    options_.credentials = &credentials_;
    options_.http = &http_;
    options_.retry.sleep = [](std::chrono::milliseconds) {};
  }
  void TearDown() override { server_->Stop(std::chrono::milliseconds(100)); }

  void Answer(int status, std::string body,
              std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::Response r;
    r.status = status;
    r.body = std::move(body);
    for (auto& [k, v] : headers) r.headers.Set(k, v);
    std::lock_guard<std::mutex> l(mu_);
    responses_.push_back(std::move(r));
  }
  std::vector<http::Request> Requests() {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }
  http::Request Last() {
    std::lock_guard<std::mutex> l(mu_);
    return requests_.back();
  }
  // The request verifies as AWS would verify it, for this service.
  void ExpectSigned(const http::Request& r, const std::string& service) {
    VerifierOptions vo = service == "s3" ? VerifierOptions::S3() : VerifierOptions();
    SigV4Verifier verifier(
        [](std::string_view id) -> std::optional<std::string> {
          if (id == "AKIDTEST") return std::string("secret/key+");
          return std::nullopt;
        },
        common::SystemClock::Instance(), vo);
    auto v = verifier.Verify(r);
    ASSERT_TRUE(v.ok()) << v.error().code << ": " << v.error().message;
    EXPECT_EQ(v->service, service);
    EXPECT_EQ(v->region, "us-west-2");
  }

  std::mutex mu_;
  std::vector<http::Request> requests_;
  std::deque<http::Response> responses_;
  std::unique_ptr<http::HttpServer> server_;
  StaticCredentialsProvider credentials_{{"AKIDTEST", "secret/key+", "", std::nullopt}};
  http::CurlHttpClient http_;
  ClientOptions options_;
};

TEST_F(ClientsTest, SqsSendMessageIsSignedJson10AndChecksMd5) {
  SqsClient sqs(options_);
  const std::string url = options_.config.endpoint_url + "/000000000000/q";
  Answer(200, json{{"MessageId", "m-1"}, {"MD5OfMessageBody", common::Md5Hex("hello ü")}}.dump());
  SendMessageOptions o;
  o.message_attributes["kind"] = {"String", "photo", ""};
  o.message_attributes["raw"] = {"Binary", "", std::string("\x00\x01", 2)};
  o.delay_seconds = 3;
  auto sent = sqs.SendMessage(url, "hello ü", o);
  ASSERT_TRUE(sent.ok()) << sent.error().ToString();
  EXPECT_EQ(sent->message_id, "m-1");

  http::Request r = Last();
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/");
  EXPECT_EQ(r.headers.GetOr("X-Amz-Target", ""), "AmazonSQS.SendMessage");
  EXPECT_EQ(r.headers.GetOr("Content-Type", ""), "application/x-amz-json-1.0");
  ExpectSigned(r, "sqs");
  json body = json::parse(r.body);
  EXPECT_EQ(body["QueueUrl"], url);
  EXPECT_EQ(body["MessageBody"], "hello ü");
  EXPECT_EQ(body["DelaySeconds"], 3);
  EXPECT_EQ(body["MessageAttributes"]["kind"]["StringValue"], "photo");
  EXPECT_EQ(body["MessageAttributes"]["raw"]["BinaryValue"], "AAE=");

  Answer(200, json{{"MessageId", "m-2"}, {"MD5OfMessageBody", common::Md5Hex("other")}}.dump());
  auto bad = sqs.SendMessage(url, "hello");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("ChecksumMismatch"), std::string::npos);
}

TEST_F(ClientsTest, SqsReceiveParsesMessagesAndVerifiesMd5) {
  SqsClient sqs(options_);
  json message = {
      {"MessageId", "id1"},
      {"ReceiptHandle", "rh1"},
      {"Body", "{\"a\":1}"},
      {"MD5OfBody", common::Md5Hex("{\"a\":1}")},
      {"Attributes", {{"ApproximateReceiveCount", "2"}, {"SentTimestamp", "1700000000000"}}},
      {"MessageAttributes", {{"k", {{"DataType", "String"}, {"StringValue", "v"}}}}}};
  Answer(200, json{{"Messages", {message}}}.dump());
  ReceiveMessageOptions o;
  o.max_number_of_messages = 10;
  o.wait_time_seconds = 20;
  o.visibility_timeout = 30;
  auto got = sqs.ReceiveMessage("http://q", o);
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].receipt_handle, "rh1");
  EXPECT_EQ((*got)[0].attributes.at("ApproximateReceiveCount"), "2");
  EXPECT_EQ((*got)[0].message_attributes.at("k").string_value, "v");
  json body = json::parse(Last().body);
  EXPECT_EQ(body["MaxNumberOfMessages"], 10);
  EXPECT_EQ(body["WaitTimeSeconds"], 20);
  EXPECT_EQ(body["VisibilityTimeout"], 30);
  EXPECT_EQ(body["AttributeNames"], json::array({"All"}));
  EXPECT_EQ(body["MessageAttributeNames"], json::array({"All"}));

  message["MD5OfBody"] = common::Md5Hex("tampered");
  Answer(200, json{{"Messages", {message}}}.dump());
  EXPECT_FALSE(sqs.ReceiveMessage("http://q").ok());

  Answer(200, "{}");  // an empty long poll
  auto empty = sqs.ReceiveMessage("http://q");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(SqsMd5, MessageAttributesMatchValuesRecordedFromSqs) {
  EXPECT_EQ(Md5OfMessageAttributes({{"Author", {"String", "Alex", ""}}}),
            "d78d8039a37dbc92fbda6efca45149db");
  EXPECT_EQ(Md5OfMessageAttributes({{"image_name", {"String", "test_29.jpg", ""}}}),
            "00ce38a3679f52b4c177713618dacf28");
  EXPECT_EQ(Md5OfMessageAttributes({}), "");
}

TEST_F(ClientsTest, SqsVerifiesAttributeMd5) {
  SqsClient sqs(options_);
  MessageAttributes attrs = {{"Author", {"String", "Alex", ""}}};
  json message = {
      {"MessageId", "id1"},
      {"ReceiptHandle", "rh1"},
      {"Body", "b"},
      {"MD5OfBody", common::Md5Hex("b")},
      {"MD5OfMessageAttributes", "d78d8039a37dbc92fbda6efca45149db"},
      {"MessageAttributes", {{"Author", {{"DataType", "String"}, {"StringValue", "Alex"}}}}}};
  Answer(200, json{{"Messages", {message}}}.dump());
  ASSERT_TRUE(sqs.ReceiveMessage("http://q").ok());
  message["MessageAttributes"]["Author"]["StringValue"] = "Eve";
  Answer(200, json{{"Messages", {message}}}.dump());
  auto bad = sqs.ReceiveMessage("http://q");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("message attributes"), std::string::npos);

  Answer(200, json{{"MessageId", "m"},
                   {"MD5OfMessageBody", common::Md5Hex("b")},
                   {"MD5OfMessageAttributes", "00000000000000000000000000000000"}}
                  .dump());
  SendMessageOptions o;
  o.message_attributes = attrs;
  EXPECT_FALSE(sqs.SendMessage("http://q", "b", o).ok());
}

TEST_F(ClientsTest, SqsBatchesAndErrors) {
  SqsClient sqs(options_);
  Answer(
      200,
      R"({"Successful":[{"Id":"a"}],"Failed":[{"Id":"b","Code":"ReceiptHandleIsInvalid","Message":"bad","SenderFault":true}]})");
  auto del = sqs.DeleteMessageBatch("http://q", {{"a", "rh-a"}, {"b", "rh-b"}});
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(del->successful, std::vector<std::string>{"a"});
  ASSERT_EQ(del->failed.size(), 1u);
  EXPECT_EQ(del->failed[0].code, "ReceiptHandleIsInvalid");
  json body = json::parse(Last().body);
  EXPECT_EQ(Last().headers.GetOr("X-Amz-Target", ""), "AmazonSQS.DeleteMessageBatch");
  EXPECT_EQ(body["Entries"][1]["ReceiptHandle"], "rh-b");

  Answer(
      400,
      R"({"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."})",
      {{"x-amzn-query-error", "AWS.SimpleQueueService.NonExistentQueue;Sender"},
       {"x-amzn-RequestId", "req-9"}});
  size_t before = Requests().size();
  auto missing = sqs.GetQueueUrl("nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "AWS.SimpleQueueService.NonExistentQueue");
  EXPECT_EQ(missing.error().request_id, "req-9");
  EXPECT_EQ(missing.status().code(), common::Code::kNotFound);
  EXPECT_EQ(Requests().size(), before + 1);  // a 4xx is not retried

  Answer(200, R"({"QueueUrl":"http://x/000000000000/q1"})");
  auto created = sqs.CreateQueue("q1", {{"VisibilityTimeout", "60"}}, {{"owner", "driver"}});
  ASSERT_TRUE(created.ok());
  body = json::parse(Last().body);
  EXPECT_EQ(body["Attributes"]["VisibilityTimeout"], "60");
  EXPECT_EQ(body["tags"]["owner"], "driver");
}

TEST_F(ClientsTest, RetriesThrottlingAndServerErrorsThenGivesUp) {
  SqsClient sqs(options_);
  Answer(503, "");
  Answer(400, R"({"__type":"ThrottlingException","message":"slow down"})");
  Answer(200, R"({"QueueUrl":"http://x/q"})");
  auto ok = sqs.GetQueueUrl("q");
  ASSERT_TRUE(ok.ok()) << ok.error().ToString();
  EXPECT_EQ(Requests().size(), 3u);
  for (const auto& r : Requests()) ExpectSigned(r, "sqs");

  for (int i = 0; i < 3; ++i) Answer(500, R"({"__type":"InternalError","message":"boom"})");
  auto failed = sqs.GetQueueUrl("q");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().http_status, 500);
  EXPECT_EQ(Requests().size(), 6u);
}

TEST_F(ClientsTest, TransportFailureIsAValue) {
  ClientOptions o = options_;
  o.config.endpoint_url = "http://127.0.0.1:1";  // nothing listens there
  SqsClient sqs(o);
  auto r = sqs.GetQueueUrl("q");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().IsTransportError());
  EXPECT_EQ(r.status().code(), common::Code::kUnavailable);

  class NoCredentials : public CredentialsProvider {
   public:
    common::Result<Credentials> GetCredentials() override { return common::NotFound("none"); }
    std::string name() const override { return "none"; }
  } none;
  ClientOptions n = options_;
  n.credentials = &none;
  auto unsigned_call = SqsClient(n).GetQueueUrl("q");
  ASSERT_FALSE(unsigned_call.ok());
  EXPECT_EQ(unsigned_call.status().code(), common::Code::kNotFound);
  EXPECT_TRUE(Requests().empty());
}

TEST_F(ClientsTest, S3PathStyleObjectsWithAwkwardKeys) {
  S3Client s3(options_);
  Answer(200, "");
  ASSERT_TRUE(s3.CreateBucket("photos").ok());
  http::Request create = Last();
  EXPECT_EQ(create.method, "PUT");
  EXPECT_EQ(create.target, "/photos");
  EXPECT_NE(create.body.find("<LocationConstraint>us-west-2</LocationConstraint>"),
            std::string::npos);
  ExpectSigned(create, "s3");

  Answer(200, "", {{"ETag", "\"abc\""}});
  PutObjectOptions po;
  po.content_type = "image/jpeg";
  po.metadata["origin"] = "test";
  auto put = s3.PutObject("photos", "my cat/ü+1.jpg", "JPEGDATA", po);
  ASSERT_TRUE(put.ok()) << put.error().ToString();
  EXPECT_EQ(put->etag, "\"abc\"");
  http::Request p = Last();
  EXPECT_EQ(p.target, "/photos/my%20cat/%C3%BC%2B1.jpg");
  EXPECT_EQ(p.body, "JPEGDATA");
  EXPECT_EQ(p.headers.GetOr("Content-Type", ""), "image/jpeg");
  EXPECT_EQ(p.headers.GetOr("x-amz-meta-origin", ""), "test");
  EXPECT_EQ(p.headers.GetOr("x-amz-content-sha256", ""), common::Sha256Hex("JPEGDATA"));
  ExpectSigned(p, "s3");

  Answer(206, "0123456789",
         {{"Content-Type", "image/jpeg"},
          {"Content-Range", "bytes 0-9/100"},
          {"ETag", "\"abc\""},
          {"x-amz-meta-origin", "test"}});
  GetObjectOptions go;
  go.range = {{0, 9}};
  auto got = s3.GetObject("photos", "my cat/ü+1.jpg", go);
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_EQ(got->body, "0123456789");
  EXPECT_EQ(got->content_range, "bytes 0-9/100");
  EXPECT_EQ(got->metadata.at("origin"), "test");
  EXPECT_EQ(Last().headers.GetOr("Range", ""), "bytes=0-9");
  ExpectSigned(Last(), "s3");
}

TEST_F(ClientsTest, S3StreamingSinkAndErrors) {
  S3Client s3(options_);
  std::string big(100000, 'q');
  Answer(200, big);
  std::string received;
  GetObjectOptions go;
  go.sink = [&](std::string_view chunk) {
    received.append(chunk);
    return true;
  };
  auto got = s3.GetObject("b", "k", go);
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_EQ(received, big);
  EXPECT_TRUE(got->body.empty());

  received.clear();
  Answer(404,
         "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>"
         "<RequestId>R1</RequestId></Error>");
  auto missing = s3.GetObject("b", "nope", go);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "NoSuchKey");
  EXPECT_TRUE(received.empty()) << "an error body must not reach the sink";

  Answer(200, std::string(5000, 'x'));
  GetObjectOptions limited;
  limited.max_bytes = 1000;
  auto too_big = s3.GetObject("b", "k", limited);
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.error().code, "EntityTooLarge");

  Answer(404, "");  // HEAD has no body
  auto head = s3.HeadObject("b", "nope");
  ASSERT_FALSE(head.ok());
  EXPECT_EQ(head.status().code(), common::Code::kNotFound);
  EXPECT_EQ(Last().method, "HEAD");
}

TEST_F(ClientsTest, S3ListCopyNotificationPolicy) {
  S3Client s3(options_);
  Answer(200, R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>
<Prefix>a%2F</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>%2F</Delimiter>
<EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>
<NextContinuationToken>tok==</NextContinuationToken>
<Contents><Key>a/my+cat+%C3%BC.jpg</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>
<ETag>"e1"</ETag><Size>42</Size><StorageClass>STANDARD</StorageClass></Contents>
<CommonPrefixes><Prefix>a/sub%2B/</Prefix></CommonPrefixes></ListBucketResult>)");
  ListObjectsOptions lo;
  lo.prefix = "a/";
  lo.delimiter = "/";
  lo.continuation_token = "prev tok=";
  auto list = s3.ListObjectsV2("b", lo);
  ASSERT_TRUE(list.ok()) << list.error().ToString();
  ASSERT_EQ(list->objects.size(), 1u);
  EXPECT_EQ(list->objects[0].key, "a/my cat ü.jpg");
  EXPECT_EQ(list->objects[0].size, 42u);
  EXPECT_EQ(list->common_prefixes, std::vector<std::string>{"a/sub+/"});
  EXPECT_TRUE(list->is_truncated);
  EXPECT_EQ(list->next_continuation_token, "tok==");
  http::Request l = Last();
  EXPECT_EQ(http::QueryParam(l.query(), "list-type").value_or(""), "2");
  EXPECT_EQ(http::QueryParam(l.query(), "continuation-token").value_or(""), "prev tok=");
  EXPECT_EQ(http::QueryParam(l.query(), "prefix").value_or(""), "a/");
  ExpectSigned(l, "s3");

  Answer(200, "<CopyObjectResult><ETag>\"c1\"</ETag></CopyObjectResult>");
  auto copy = s3.CopyObject("src", "dir/a b.jpg", "dst", "x.jpg");
  ASSERT_TRUE(copy.ok());
  EXPECT_EQ(*copy, "\"c1\"");
  EXPECT_EQ(Last().headers.GetOr("x-amz-copy-source", ""), "src/dir/a%20b.jpg");
  Answer(200, "<Error><Code>InternalError</Code><Message>copy failed</Message></Error>");
  EXPECT_FALSE(s3.CopyObject("src", "k", "dst", "k").ok());

  NotificationConfiguration nc;
  nc.eventbridge = true;
  nc.queues.push_back(
      {"q1", "arn:aws:sqs:us-west-2:000000000000:q", {"s3:ObjectCreated:*"}, "img/", ".jpg"});
  Answer(200, "");
  ASSERT_TRUE(s3.PutBucketNotificationConfiguration("b", nc).ok());
  http::Request n = Last();
  EXPECT_EQ(n.target, "/b?notification");
  EXPECT_NE(n.body.find("<EventBridgeConfiguration"), std::string::npos);
  ExpectSigned(n, "s3");
  Answer(200, n.body);
  auto back = s3.GetBucketNotificationConfiguration("b");
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->eventbridge);
  ASSERT_EQ(back->queues.size(), 1u);
  EXPECT_EQ(back->queues[0].prefix, "img/");
  EXPECT_EQ(back->queues[0].suffix, ".jpg");
  EXPECT_EQ(back->queues[0].events, std::vector<std::string>{"s3:ObjectCreated:*"});

  Answer(204, "");
  ASSERT_TRUE(s3.PutBucketPolicy("b", R"({"Version":"2012-10-17","Statement":[]})").ok());
  EXPECT_EQ(Last().target, "/b?policy");
  Answer(404, "<Error><Code>NoSuchBucketPolicy</Code><Message>none</Message></Error>");
  EXPECT_EQ(s3.GetBucketPolicy("b").status().code(), common::Code::kNotFound);

  Answer(204, "");
  ASSERT_TRUE(s3.PutBucketTagging("b", {{"owner", "driver"}}).ok());
  EXPECT_EQ(Last().headers.GetOr("Content-MD5", ""),
            common::Base64Encode(common::Md5(Last().body)));
}

TEST_F(ClientsTest, S3VirtualHostedWithoutOverride) {
  ClientOptions o = options_;
  o.config.endpoint_url.clear();
  S3Client s3(o);
  EXPECT_EQ(s3.ObjectUrl("photos", "a b.jpg"),
            "https://photos.s3.us-west-2.amazonaws.com/a%20b.jpg");
  EXPECT_EQ(s3.ObjectUrl("my.bucket", "k"), "https://s3.us-west-2.amazonaws.com/my.bucket/k");
}

TEST_F(ClientsTest, StsQueryProtocol) {
  StsClient sts(options_);
  Answer(200, R"(<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<GetCallerIdentityResult><Arn>arn:aws:iam::000000000000:root</Arn><UserId>000000000000</UserId>
<Account>000000000000</Account></GetCallerIdentityResult></GetCallerIdentityResponse>)");
  auto id = sts.GetCallerIdentity();
  ASSERT_TRUE(id.ok()) << id.error().ToString();
  EXPECT_EQ(id->account, "000000000000");
  http::Request r = Last();
  EXPECT_EQ(r.body, "Action=GetCallerIdentity&Version=2011-06-15");
  EXPECT_TRUE(
      common::StartsWith(r.headers.GetOr("Content-Type", ""), "application/x-www-form-urlencoded"));
  ExpectSigned(r, "sts");

  Answer(200,
         "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>"
         "<AccessKeyId>ASIA</AccessKeyId><SecretAccessKey>s</SecretAccessKey>"
         "<SessionToken>t</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration>"
         "</Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>");
  auto role = sts.AssumeRoleWithWebIdentity("arn:aws:iam::000000000000:role/r", "s", "jwt");
  ASSERT_TRUE(role.ok());
  EXPECT_EQ(role->credentials.access_key_id, "ASIA");
  EXPECT_FALSE(Last().headers.Has("Authorization"));
}

TEST_F(ClientsTest, EventBridgeJson11) {
  EventBridgeClient events(options_);
  Answer(200, R"({"RuleArn":"arn:aws:events:us-west-2:000000000000:rule/r1"})");
  PutRuleRequest rule;
  rule.name = "r1";
  rule.event_pattern = R"({"source":["aws.s3"]})";
  rule.tags = {{"owner", "driver"}};
  auto arn = events.PutRule(rule);
  ASSERT_TRUE(arn.ok());
  EXPECT_EQ(*arn, "arn:aws:events:us-west-2:000000000000:rule/r1");
  http::Request r = Last();
  EXPECT_EQ(r.headers.GetOr("X-Amz-Target", ""), "AWSEvents.PutRule");
  EXPECT_EQ(r.headers.GetOr("Content-Type", ""), "application/x-amz-json-1.1");
  ExpectSigned(r, "events");
  json body = json::parse(r.body);
  EXPECT_EQ(body["EventPattern"], R"({"source":["aws.s3"]})");
  EXPECT_EQ(body["State"], "ENABLED");
  EXPECT_EQ(body["Tags"][0]["Key"], "owner");

  Answer(
      200,
      R"({"FailedEntryCount":1,"FailedEntries":[{"TargetId":"t2","ErrorCode":"ValidationException","ErrorMessage":"bad arn"}]})");
  auto failed = events.PutTargets(
      "r1", {{"t1", "arn:aws:sqs:us-west-2:000000000000:q", "", "", "$.detail", ""},
             {"t2", "bad", "", "{\"x\":1}", "", ""}});
  ASSERT_TRUE(failed.ok());
  ASSERT_EQ(failed->size(), 1u);
  EXPECT_EQ((*failed)[0].target_id, "t2");
  body = json::parse(Last().body);
  EXPECT_EQ(body["Targets"][0]["InputPath"], "$.detail");
  EXPECT_EQ(body["Targets"][1]["Input"], "{\"x\":1}");

  Answer(400, R"({"__type":"ResourceNotFoundException","message":"Rule r9 does not exist."})");
  auto missing = events.DescribeRule("r9");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), common::Code::kNotFound);

  Answer(200, R"({"FailedEntryCount":0,"Entries":[{"EventId":"e-1"}]})");
  PutEventsEntry e;
  e.source = "my.app";
  e.detail_type = "Thing";
  e.detail = "{}";
  e.time = *common::ParseIso8601("2024-01-01T00:00:00Z");
  auto put = events.PutEvents({e});
  ASSERT_TRUE(put.ok());
  EXPECT_EQ((*put)[0].event_id, "e-1");
  EXPECT_EQ(json::parse(Last().body)["Entries"][0]["Time"], 1704067200);
}

TEST_F(ClientsTest, CloudTrailJson11) {
  CloudTrailClient trail(options_);
  Answer(
      200,
      R"({"Name":"t","TrailARN":"arn:aws:cloudtrail:us-west-2:000000000000:trail/t","S3BucketName":"b"})");
  CreateTrailRequest req;
  req.name = "t";
  req.s3_bucket_name = "b";
  auto created = trail.CreateTrail(req);
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->trail_arn, "arn:aws:cloudtrail:us-west-2:000000000000:trail/t");
  http::Request r = Last();
  EXPECT_EQ(r.headers.GetOr("X-Amz-Target", ""),
            "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.CreateTrail");
  ExpectSigned(r, "cloudtrail");

  Answer(200, R"({"TrailARN":"arn"})");
  EventSelector s;
  s.data_resource_values = {"arn:aws:s3:::b/"};
  ASSERT_TRUE(trail.PutEventSelectors("t", {s}).ok());
  json body = json::parse(Last().body);
  EXPECT_EQ(body["EventSelectors"][0]["DataResources"][0]["Type"], "AWS::S3::Object");
  EXPECT_EQ(body["EventSelectors"][0]["DataResources"][0]["Values"][0], "arn:aws:s3:::b/");

  Answer(200, R"({"IsLogging":true})");
  auto status = trail.GetTrailStatus("t");
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(status->is_logging);
  Answer(400, R"({"__type":"TrailNotFoundException","Message":"Unknown trail"})");
  EXPECT_EQ(trail.DeleteTrail("zz").status().code(), common::Code::kNotFound);
}

}  // namespace
}  // namespace aws

namespace aws {
namespace {

// The credentials chain over real HTTP: web identity from STS (localcloud's role here), then
// an SQS call signed with the temporary credentials and their session token.
TEST_F(ClientsTest, WebIdentityCredentialsSignLaterCalls) {
  std::string token_file = ::testing::TempDir() + "/web_identity_token_" + common::NewUuid();
  { std::ofstream(token_file) << "header.payload.sig"; }
  Answer(200,
         "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>"
         "<AccessKeyId>ASIATEMP</AccessKeyId><SecretAccessKey>temp-secret</SecretAccessKey>"
         "<SessionToken>session-token</SessionToken>"
         "<Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>"
         "</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>");
  Answer(200, R"({"QueueUrl":"http://x/q"})");
  EnvLookup env = MapEnv({{"AWS_WEB_IDENTITY_TOKEN_FILE", token_file},
                          {"AWS_ROLE_ARN", "arn:aws:iam::000000000000:role/driver"},
                          {"AWS_REGION", "us-west-2"},
                          {"AWS_ENDPOINT_URL", options_.config.endpoint_url},
                          {"AWS_EC2_METADATA_DISABLED", "true"},
                          {"HOME", ::testing::TempDir()}});
  auto config = LoadConfig(env);
  ASSERT_TRUE(config.ok());
  auto chain = DefaultCredentialsChain(*config, env, http_, common::SystemClock::Instance());
  ClientOptions o{*config, chain.get(), &http_};
  o.retry.sleep = [](std::chrono::milliseconds) {};
  auto url = SqsClient(o).GetQueueUrl("q");
  ASSERT_TRUE(url.ok()) << url.error().ToString();
  EXPECT_EQ(chain->name(), "web-identity");

  auto requests = Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_NE(requests[0].body.find("WebIdentityToken=header.payload.sig"), std::string::npos);
  EXPECT_FALSE(requests[0].headers.Has("Authorization"));
  const http::Request& call = requests[1];
  EXPECT_EQ(call.headers.GetOr("X-Amz-Security-Token", ""), "session-token");
  SigV4Verifier verifier(
      [](std::string_view id) -> std::optional<std::string> {
        if (id == "ASIATEMP") return std::string("temp-secret");
        return std::nullopt;
      },
      common::SystemClock::Instance());
  auto v = verifier.Verify(call);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->session_token, "session-token");
  std::remove(token_file.c_str());
}

// IMDSv2 over real HTTP: token PUT, role listing, role credentials.
TEST_F(ClientsTest, ImdsV2OverHttp) {
  Answer(200, "imds-token");
  Answer(200, "driver-role");
  Answer(200, R"({"Code":"Success","AccessKeyId":"ASIAIMDS","SecretAccessKey":"s",)"
              R"("Token":"t","Expiration":"2099-01-01T00:00:00Z"})");
  EnvLookup env = MapEnv({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", options_.config.endpoint_url}});
  auto imds = MakeImdsCredentialsProvider(env, http_, common::SystemClock::Instance());
  auto creds = imds->GetCredentials();
  ASSERT_TRUE(creds.ok()) << creds.status().ToString();
  EXPECT_EQ(creds->access_key_id, "ASIAIMDS");
  auto requests = Requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].method, "PUT");
  EXPECT_EQ(requests[0].target, "/latest/api/token");
  EXPECT_EQ(requests[1].target, "/latest/meta-data/iam/security-credentials/");
  EXPECT_EQ(requests[1].headers.GetOr("X-aws-ec2-metadata-token", ""), "imds-token");
  EXPECT_EQ(requests[2].target, "/latest/meta-data/iam/security-credentials/driver-role");
  // Cached: no further requests while the credentials are fresh.
  ASSERT_TRUE(imds->GetCredentials().ok());
  EXPECT_EQ(Requests().size(), 3u);
}

}  // namespace
}  // namespace aws
