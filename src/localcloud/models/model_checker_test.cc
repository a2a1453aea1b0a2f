// The model checker against botocore's models (python3-botocore): conforming requests pass,
// each kind of violation is reported.
#include "localcloud/models/model_checker.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/crypto.h"
#include "common/strings.h"

namespace localcloud::models {
namespace {

const char* kModels = "/usr/lib/python3/dist-packages/botocore/data";

class ModelCheckerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kModels)) GTEST_SKIP() << "python3-botocore not installed";
    auto loaded = ModelChecker::Load(kModels);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    checker_ = std::move(*loaded);
  }
  static http::Request Signed(const std::string& service, std::string method, std::string target) {
    http::Request r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.headers.Set("Host", "127.0.0.1:4566");
    r.headers.Set("Authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/us-west-2/" +
                                       service + "/aws4_request, SignedHeaders=host, Signature=00");
    return r;
  }
  static http::Request Json(const std::string& service, const std::string& target,
                            const std::string& body) {
    http::Request r = Signed(service, "POST", "/");
    r.headers.Set("X-Amz-Target", target);
    r.body = body;
    return r;
  }
  std::string Violations(const http::Request& r) { return common::Join(checker_->Check(r), "; "); }
  std::unique_ptr<ModelChecker> checker_;
};

TEST_F(ModelCheckerTest, JsonProtocolMembersTypesEnumsAndLengths) {
  EXPECT_EQ(Violations(Json(
                "sqs", "AmazonSQS.SendMessage",
                R"({"QueueUrl":"http://q/000000000000/q","MessageBody":"x","DelaySeconds":0})")),
            "");
  EXPECT_EQ(Violations(Json("sqs", "AmazonSQS.SendMessage", R"({"QueueUrl":"u"})")),
            "sqs SendMessage: MessageBody is required");
  EXPECT_EQ(Violations(Json("sqs", "AmazonSQS.SendMessage",
                            R"({"QueueUrl":"u","MessageBody":"x","Colour":"red"})")),
            "sqs SendMessage: Colour is not a member of the input");
  EXPECT_EQ(Violations(Json("sqs", "AmazonSQS.SendMessage",
                            R"({"QueueUrl":"u","MessageBody":"x","DelaySeconds":"5"})")),
            "sqs SendMessage: DelaySeconds must be an integer");
  EXPECT_EQ(Violations(Json("events", "AWSEvents.PutRule", R"({"Name":"r","State":"ON"})")),
            R"(events PutRule: State "ON" is not one of the model's values (ENABLED, DISABLED))");
  EXPECT_NE(
      Violations(Json("events", "AWSEvents.PutRule", "{\"Name\":\"" + std::string(65, 'r') + "\"}"))
          .find("Name allows at most 64 characters"),
      std::string::npos);
  EXPECT_EQ(
      Violations(Json(
          "events", "AWSEvents.PutTargets",
          R"({"Rule":"r","Targets":[{"Id":"q","Arn":"arn:aws:sqs:us-west-2:0:q","Inptu":"x"}]})")),
      "events PutTargets: Targets[0].Inptu is not a member of Targets[0]");
  // Both CloudTrail target forms; an unknown operation.
  EXPECT_EQ(Violations(Json("cloudtrail", "CloudTrail_20131101.StartLogging", R"({"Name":"t"})")),
            "");
  EXPECT_EQ(Violations(Json("cloudtrail",
                            "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.StartLogging",
                            R"({})")),
            "cloudtrail StartLogging: Name is required");
  EXPECT_NE(Violations(Json("sqs", "AmazonSQS.Teleport", "{}")), "");
}

TEST_F(ModelCheckerTest, QueryProtocolParameters) {
  http::Request ok = Signed("sts", "POST", "/");
  ok.headers.Set("Content-Type", "application/x-www-form-urlencoded");
  ok.body =
      "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A0%3Arole%2Fr&"
      "RoleSessionName=session";
  EXPECT_EQ(Violations(ok), "");
  http::Request missing = ok;
  missing.body = "Action=AssumeRole&Version=2011-06-15&RoleSessionName=session&DurationSecs=900";
  EXPECT_EQ(Violations(missing),
            "sts AssumeRole: DurationSecs is not a parameter of AssumeRole; sts AssumeRole: "
            "RoleArn is required");
  http::Request flattened = Signed("sqs", "POST", "/");
  flattened.headers.Set("Content-Type", "application/x-www-form-urlencoded");
  flattened.body =
      "Action=CreateQueue&QueueName=q&Attribute.1.Name=DelaySeconds&Attribute.1.Value=0";
  EXPECT_EQ(Violations(flattened), "");
  flattened.body =
      "Action=ReceiveMessage&QueueUrl=u&AttributeName.1=All&MessageAttributeName.1=All";
  EXPECT_EQ(Violations(flattened), "");
}

TEST_F(ModelCheckerTest, S3RestOperationsHeadersAndRequiredChecksums) {
  http::Request policy = Signed("s3", "PUT", "/b?policy");
  policy.body = R"({"Statement":[]})";
  EXPECT_EQ(Violations(policy),
            "s3 PutBucketPolicy: the model requires a checksum (Content-MD5 or x-amz-checksum-*)");
  policy.headers.Set("Content-MD5", common::Base64Encode(common::Md5(policy.body)));
  EXPECT_EQ(Violations(policy), "");
  // The current operation wins over a deprecated one with the same URI (whose checksum the
  // model requires).
  http::Request notification = Signed("s3", "PUT", "/b?notification");
  notification.body = "<NotificationConfiguration/>";
  EXPECT_EQ(Violations(notification), "");
  http::Request get = Signed("s3", "GET", "/b/some/key.jpg");
  EXPECT_EQ(Violations(get), "");
  get.headers.Set("x-amz-checksum-mode", "YES");
  EXPECT_EQ(
      Violations(get),
      R"(s3 GetObject: x-amz-checksum-mode "YES" is not one of the model's values (ENABLED))");
  http::Request part = Signed("s3", "PUT", "/b/k?partNumber=x&uploadId=u");
  EXPECT_EQ(Violations(part), "s3 UploadPart: partNumber must be an integer");
  // Virtual-hosted style: the bucket is in the host name.
  http::Request vhost = Signed("s3", "GET", "/?list-type=2&max-keys=2");
  vhost.headers.Set("Host", "photos.s3.us-west-2.amazonaws.com");
  EXPECT_EQ(Violations(vhost), "");
  http::Request nothing = Signed("s3", "PATCH", "/b/k");
  EXPECT_EQ(Violations(nothing), "s3: PATCH /b/k is no operation of the model");
  // Not AWS: unsigned paths are not judged.
  http::Request x;
  x.method = "POST";
  x.target = "/2/tweets";
  EXPECT_EQ(Violations(x), "");
}

}  // namespace
}  // namespace localcloud::models
