// Parsing AWS errors from every protocol's wire format, and rendering them back.
#include "aws/error.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace aws {
namespace {

http::Response Resp(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

TEST(AwsErrorParse, S3Xml) {
  auto e = ParseErrorResponse("s3", Resp(404, R"(<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message>
<BucketName>nope</BucketName><RequestId>4442587FB7D0A2F9</RequestId><HostId>x</HostId></Error>)"));
  EXPECT_EQ(e.service, "s3");
  EXPECT_EQ(e.code, "NoSuchBucket");
  EXPECT_EQ(e.message, "The specified bucket does not exist");
  EXPECT_EQ(e.request_id, "4442587FB7D0A2F9");
  EXPECT_EQ(e.http_status, 404);
  common::Status s = e.ToStatus();
  EXPECT_EQ(s.code(), common::Code::kNotFound);
  EXPECT_EQ(s.message(),
            "s3 NoSuchBucket: The specified bucket does not exist (request id 4442587FB7D0A2F9)");
}

TEST(AwsErrorParse, QueryProtocolXml) {
  auto e = ParseErrorResponse("sqs", Resp(400, R"(<?xml version="1.0"?>
<ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><Error><Type>Sender</Type>
<Code>AWS.SimpleQueueService.NonExistentQueue</Code><Message>The specified queue does not exist.</Message>
<Detail/></Error><RequestId>42d59b56-7407-4c4a-be0f-4c88daeea257</RequestId></ErrorResponse>)"));
  EXPECT_EQ(e.code, "AWS.SimpleQueueService.NonExistentQueue");
  EXPECT_EQ(e.message, "The specified queue does not exist.");
  EXPECT_EQ(e.request_id, "42d59b56-7407-4c4a-be0f-4c88daeea257");
  EXPECT_TRUE(e.sender_fault);
  EXPECT_EQ(e.ToStatus().code(), common::Code::kNotFound);

  auto sts = ParseErrorResponse("sts", Resp(403, R"(<ErrorResponse><Error><Type>Sender</Type>
<Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message>
</Error><RequestId>abc</RequestId></ErrorResponse>)"));
  EXPECT_EQ(sts.code, "InvalidClientTokenId");
  EXPECT_EQ(sts.ToStatus().code(), common::Code::kPermissionDenied);
}

TEST(AwsErrorParse, JsonWithTypePrefixes) {
  http::Response r = Resp(
      400,
      R"({"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."})");
  r.headers.Set("x-amzn-RequestId", "rid-1");
  auto e = ParseErrorResponse("sqs", r);
  EXPECT_EQ(e.code, "QueueDoesNotExist");
  EXPECT_EQ(e.message, "The specified queue does not exist.");
  EXPECT_EQ(e.request_id, "rid-1");
  EXPECT_EQ(e.ToStatus().code(), common::Code::kNotFound);

  auto events = ParseErrorResponse(
      "events",
      Resp(400, R"({"__type":"ResourceNotFoundException","Message":"Rule r does not exist."})"));
  EXPECT_EQ(events.code, "ResourceNotFoundException");
  EXPECT_EQ(events.message, "Rule r does not exist.");

  auto colon = ParseErrorResponse(
      "events",
      Resp(
          400,
          R"({"__type":"SerializationException:http://internal.amazon.com/coral/","Message":"x"})"));
  EXPECT_EQ(colon.code, "SerializationException");
}

TEST(AwsErrorParse, QueryErrorHeaderWins) {
  http::Response r =
      Resp(400, R"({"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"gone"})");
  r.headers.Set("x-amzn-query-error", "AWS.SimpleQueueService.NonExistentQueue;Sender");
  auto e = ParseErrorResponse("sqs", r);
  EXPECT_EQ(e.code, "AWS.SimpleQueueService.NonExistentQueue");
  EXPECT_TRUE(e.sender_fault);
  r.headers.Set("x-amzn-query-error", "InternalError;Receiver");
  EXPECT_FALSE(ParseErrorResponse("sqs", r).sender_fault);
}

TEST(AwsErrorParse, EmptyAndGarbageBodies) {
  http::Response head = Resp(404, "");
  head.headers.Set("x-amz-request-id", "R1");
  auto e = ParseErrorResponse("s3", head);
  EXPECT_EQ(e.code, "NotFound");
  EXPECT_EQ(e.request_id, "R1");
  EXPECT_EQ(e.ToStatus().code(), common::Code::kNotFound);
  EXPECT_EQ(ParseErrorResponse("s3", Resp(503, "<html>busy")).code, "ServiceUnavailable");
  EXPECT_EQ(ParseErrorResponse("s3", Resp(500, "{not json")).code, "InternalError");
  EXPECT_EQ(ParseErrorResponse("s3", Resp(403, "")).ToStatus().code(),
            common::Code::kPermissionDenied);
}

TEST(AwsErrorStatus, CodeMapping) {
  auto st = [](int status, std::string code) {
    AwsError e;
    e.service = "x";
    e.http_status = status;
    e.code = std::move(code);
    return e.ToStatus().code();
  };
  EXPECT_EQ(st(409, "BucketAlreadyOwnedByYou"), common::Code::kAlreadyExists);
  EXPECT_EQ(st(400, "QueueAlreadyExists"), common::Code::kAlreadyExists);
  EXPECT_EQ(st(409, "BucketNotEmpty"), common::Code::kFailedPrecondition);
  EXPECT_EQ(st(503, "SlowDown"), common::Code::kResourceExhausted);
  EXPECT_EQ(st(400, "ThrottlingException"), common::Code::kResourceExhausted);
  EXPECT_EQ(st(500, "InternalError"), common::Code::kUnavailable);
  EXPECT_EQ(st(400, "ValidationException"), common::Code::kInvalidArgument);
  EXPECT_EQ(st(400, "ResourceNotFoundException"), common::Code::kNotFound);
  AwsError t = AwsError::FromTransport("sqs", common::Unavailable("connection refused"));
  EXPECT_TRUE(t.IsTransportError());
  EXPECT_EQ(t.ToStatus().code(), common::Code::kUnavailable);
  EXPECT_EQ(t.ToStatus().message(), "sqs: connection refused");
}

TEST(AwsErrorRender, RoundTripsThroughTheParser) {
  AwsError e;
  e.service = "s3";
  e.code = "NoSuchKey";
  e.message = "The specified key does not exist. <&>";
  e.request_id = "RID";
  e.http_status = 404;
  http::Response s3 = ToS3XmlResponse(e, {{"Key", "a b"}});
  EXPECT_EQ(s3.status, 404);
  EXPECT_EQ(s3.headers.GetOr("Content-Type", ""), "application/xml");
  EXPECT_EQ(s3.headers.GetOr("x-amz-request-id", ""), "RID");
  EXPECT_NE(s3.body.find("<Key>a b</Key>"), std::string::npos);
  auto back = ParseErrorResponse("s3", s3);
  EXPECT_EQ(back.code, "NoSuchKey");
  EXPECT_EQ(back.message, e.message);
  EXPECT_EQ(back.request_id, "RID");

  e.service = "sqs";
  e.code = "AWS.SimpleQueueService.NonExistentQueue";
  e.http_status = 400;
  auto q = ParseErrorResponse("sqs", ToQueryXmlResponse(e));
  EXPECT_EQ(q.code, e.code);
  EXPECT_EQ(q.message, e.message);

  e.code = "QueueDoesNotExist";
  http::Response j =
      ToJsonResponse(e, "1.0", "com.amazonaws.sqs#", "AWS.SimpleQueueService.NonExistentQueue");
  EXPECT_EQ(j.headers.GetOr("Content-Type", ""), "application/x-amz-json-1.0");
  EXPECT_EQ(nlohmann::json::parse(j.body)["__type"], "com.amazonaws.sqs#QueueDoesNotExist");
  auto jb = ParseErrorResponse("sqs", j);
  EXPECT_EQ(jb.code, "AWS.SimpleQueueService.NonExistentQueue");  // header wins
  j.headers.Remove("x-amzn-query-error");
  EXPECT_EQ(ParseErrorResponse("sqs", j).code, "QueueDoesNotExist");
}

TEST(AwsOutcome, ValueAndError) {
  Outcome<int> ok = 5;
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 5);
  EXPECT_TRUE(ok.status().ok());
  AwsError e;
  e.service = "s3";
  e.code = "NoSuchKey";
  e.http_status = 404;
  Outcome<int> bad = e;
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "NoSuchKey");
  EXPECT_EQ(std::move(bad).ToResult().status().code(), common::Code::kNotFound);
}

}  // namespace
}  // namespace aws
