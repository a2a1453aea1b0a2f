#include <nlohmann/json.hpp>

#include "driver/provisioner.h"

namespace driver {

std::string IamPolicy(const DriverOptions& o, const std::string& dead_letter_queue_arn) {
  using nlohmann::ordered_json;
  const std::string region = o.region.empty() ? "*" : o.region;
  ordered_json statements = ordered_json::array();
  // The queue (and its DLQ): created, configured, consumed, deleted by this driver.
  std::string queue_arn =
      o.queue_url.empty()
          ? "arn:aws:sqs:" + region + ":*:" + o.queue_name + "-*"
          : "arn:aws:sqs:" + region + ":*:" + o.queue_url.substr(o.queue_url.rfind('/') + 1);
  ordered_json sqs_actions = {
      "sqs:ReceiveMessage",     "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
      "sqs:GetQueueAttributes", "sqs:GetQueueUrl",   "sqs:SendMessage"};
  bool rules =
      !o.bucket_name.empty() || !o.event_patterns.empty() || !o.schedule_expression.empty();
  if (o.queue_url.empty()) {
    for (const char* a :
         {"sqs:CreateQueue", "sqs:SetQueueAttributes", "sqs:TagQueue", "sqs:DeleteQueue"})
      sqs_actions.push_back(a);
  } else if (rules) {
    sqs_actions.push_back("sqs:SetQueueAttributes");  // our statement in the queue's Policy
  }
  statements.push_back({{"Sid", "DriverQueue"},
                        {"Effect", "Allow"},
                        {"Action", sqs_actions},
                        {"Resource", queue_arn}});
  if (!dead_letter_queue_arn.empty()) {
    // Messages the driver cannot relay are moved there by the driver itself.
    statements.push_back(
        {{"Sid", "DriverDeadLetterQueue"},
         {"Effect", "Allow"},
         {"Action", {"sqs:SendMessage", "sqs:GetQueueUrl", "sqs:GetQueueAttributes"}},
         {"Resource", dead_letter_queue_arn}});
  }
  if (rules) {
    statements.push_back(
        {{"Sid", "DriverRules"},
         {"Effect", "Allow"},
         {"Action",
          {"events:PutRule", "events:DescribeRule", "events:DeleteRule", "events:PutTargets",
           "events:RemoveTargets", "events:ListTargetsByRule", "events:TagResource"}},
         {"Resource", "arn:aws:events:" + region + ":*:rule/dispatch-*"}});
  }
  if (!o.bucket_name.empty()) {
    ordered_json s3_actions = {"s3:CreateBucket", "s3:ListBucket", "s3:DeleteBucket",
                               "s3:GetBucketNotification", "s3:PutBucketNotification"};
    if (o.s3_events == S3EventsMode::kCloudTrail) {
      s3_actions.push_back("s3:GetBucketPolicy");
      s3_actions.push_back("s3:PutBucketPolicy");
      s3_actions.push_back("s3:DeleteBucketPolicy");
    }
    statements.push_back({{"Sid", "DriverBucket"},
                          {"Effect", "Allow"},
                          {"Action", s3_actions},
                          {"Resource", "arn:aws:s3:::" + o.bucket_name}});
    if (o.s3_events == S3EventsMode::kCloudTrail) {
      statements.push_back(
          {{"Sid", "DriverTrail"},
           {"Effect", "Allow"},
           {"Action",
            {"cloudtrail:CreateTrail", "cloudtrail:PutEventSelectors",
             "cloudtrail:GetEventSelectors", "cloudtrail:StartLogging", "cloudtrail:StopLogging",
             "cloudtrail:DeleteTrail", "cloudtrail:GetTrailStatus", "cloudtrail:AddTags"}},
           {"Resource", "arn:aws:cloudtrail:" + region + ":*:trail/dispatch-*"}});
    }
  }
  ordered_json policy = {{"Version", "2012-10-17"}, {"Statement", statements}};
  return policy.dump(2);
}

}  // namespace driver
