// Resource-policy validation and evaluation, table-driven.
#include "localcloud/core/resource_policy.h"

#include <gtest/gtest.h>

namespace localcloud {
namespace {

TEST(ResourcePolicyTest, ValidationRefusesWhatS3Refuses) {
  struct Case {
    const char* policy;
    bool ok;
  };
  const PolicyTarget bucket{"s3", "arn:aws:s3:::pics"};
  for (
      const Case& c : {
          Case{R"({"Version":"2012-10-17","Statement":[]})", false},
          Case{R"([1])", false},
          Case{
              R"({"Version":"2011-01-01","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pics/*"}})",
              false},
          Case{
              R"({"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::pics/*"}]})",
              false},
          Case{
              R"({"Statement":[{"Effect":"Maybe","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pics/*"}]})",
              false},
          Case{
              R"({"Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"arn:aws:s3:::pics/*"}]})",
              false},
          Case{
              R"({"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pics2/*"}]})",
              false},
          Case{
              R"({"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pics/*","Condition":{"StringEquals":"x"}}]})",
              false},
          Case{
              R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":["s3:GetBucketAcl"],"Resource":"arn:aws:s3:::pics"}]})",
              true},
          Case{
              R"({"Statement":{"Effect":"Deny","Principal":"*","NotAction":"s3:*","Resource":["arn:aws:s3:::pics","arn:aws:s3:::pics/a/*"]}})",
              true},
      }) {
    EXPECT_EQ(ValidateResourcePolicy(c.policy, bucket).ok(), c.ok) << c.policy;
  }
}

TEST(ResourcePolicyTest, ServicePrincipalNeedsAMatchingAllowAndNoDeny) {
  const std::string queue = "arn:aws:sqs:us-west-2:000000000000:q";
  const std::string rule = "arn:aws:events:us-west-2:000000000000:rule/r1";
  ServiceRequest events{"events.amazonaws.com",
                        "sqs:SendMessage",
                        queue,
                        {{"aws:SourceArn", rule}, {"aws:SourceAccount", "000000000000"}}};
  auto allow = [&](const std::string& condition,
                   const std::string& principal = R"({"Service":"events.amazonaws.com"})") {
    return R"({"Statement":[{"Effect":"Allow","Principal":)" + principal +
           R"(,"Action":"sqs:SendMessage","Resource":")" + queue + R"(")" +
           (condition.empty() ? "" : R"(,"Condition":)" + condition) + "}]}";
  };
  struct Case {
    std::string policy;
    bool allowed;
  };
  for (
      const Case& c : std::vector<Case>{
          {"", false},
          {"not json", false},
          {allow(""), true},
          {allow("", R"("*")"), true},
          {allow("", R"({"Service":["s3.amazonaws.com"]})"), false},
          {allow(R"({"ArnEquals":{"aws:SourceArn":")" + rule + R"("}})"), true},
          {allow(R"({"ArnEquals":{"aws:sourcearn":")" + rule + R"(2"}})"), false},
          {allow(R"({"ArnLike":{"aws:SourceArn":"arn:aws:events:*:000000000000:rule/*"}})"), true},
          {allow(R"({"StringEquals":{"aws:SourceAccount":"111111111111"}})"), false},
          {allow(R"({"StringNotEquals":{"aws:SourceAccount":"111111111111"}})"), true},
          {allow(R"({"NumericLessThan":{"aws:SourceAccount":"1"}})"), false},
          {allow(R"({"StringEqualsIfExists":{"aws:Referer":"x"}})"), true},
          {R"({"Statement":[{"Effect":"Allow","Principal":"*","Action":"SQS:*","Resource":"*"},)"
           R"({"Effect":"Deny","Principal":"*","Action":"sqs:SendMessage","Resource":")" +
               queue + R"("}]})",
           false},
          {R"({"Statement":{"Effect":"Allow","Principal":"*","Action":"sqs:ReceiveMessage","Resource":"*"}})",
           false},
      }) {
    EXPECT_EQ(ResourcePolicyAllows(c.policy, events), c.allowed) << c.policy;
  }
}

}  // namespace
}  // namespace localcloud
