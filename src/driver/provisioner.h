// Creates (and on clean-up removes) the AWS resources the driver needs: the SQS queue and its
// dead-letter queue, EventBridge rules targeting the queue, and the S3 wiring (bucket
// EventBridge notifications, or a CloudTrail trail logging the bucket's data events).
//
// Everything created is tagged as owned by this driver instance; names derive from the
// source id, so re-running with the same names reuses what exists. Not thread-safe: one
// owner (the driver's main thread).
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "driver/options.h"

namespace aws {
class S3Client;
class SqsClient;
class EventBridgeClient;
class CloudTrailClient;
}  // namespace aws

namespace driver {

// What one run created or uses. Plain value.
struct Provisioned {
  std::string queue_url, queue_arn, dlq_url, dlq_arn;
  bool created_queue = false;
  bool created_dlq = false;
  int visibility_timeout = 30;
  bool fifo = false;
  std::vector<std::string> rules_created;     // names; their targets are ours too
  std::vector<nlohmann::json> rule_patterns;  // event patterns of our rules (local matching)
  bool created_bucket = false;
  bool enabled_bucket_eventbridge = false;  // it was off before us
  std::string original_bucket_policy;       // to restore ("" = there was none)
  bool changed_bucket_policy = false;
  std::string trail_name;
  bool created_trail = false;
  // --queue-url: our statement was merged into the queue's Policy (removed at clean-up).
  bool changed_queue_policy = false;
};

// The AWS clients the provisioner calls. Not owned.
struct AwsClients {
  aws::S3Client* s3 = nullptr;
  aws::SqsClient* sqs = nullptr;
  aws::EventBridgeClient* events = nullptr;
  aws::CloudTrailClient* cloudtrail = nullptr;
};

class Provisioner {
 public:
  Provisioner(AwsClients clients, const DriverOptions& options);

  // Creates or reuses everything the options ask for. On failure, removes what this call
  // created and returns an error naming the call that failed and why.
  common::Result<Provisioned> Provision();
  // Removes exactly what `p` records as created (never a bucket with objects in it, never a
  // queue given with --queue-url). Continues past failures; returns the first.
  common::Status CleanUp(const Provisioned& p);

  // Resource names for this instance.
  std::string QueueName() const;
  std::string DeadLetterQueueName() const;
  std::string RuleName(const std::string& suffix) const;
  std::string TrailName() const;

 private:
  common::Status ProvisionQueue(Provisioned* p);
  common::Status ProvisionBucket(Provisioned* p);
  common::Status ProvisionRules(Provisioned* p);
  common::Status PutRuleTargetingQueue(Provisioned* p, const std::string& name,
                                       const std::string& pattern, const std::string& schedule);
  common::Status SetQueuePolicy(Provisioned* p);
  // The queue's Policy with our statement removed; "" when nothing else is left.
  common::Result<std::string> QueuePolicyWithout(const std::string& queue_url) const;
  std::string QueuePolicySid() const;
  common::Status PutTrailSelectors(const std::string& bucket);
  void RestoreBucketPolicy(
      const Provisioned& p,
      const std::function<void(const std::string&, const common::Status&)>& note);
  std::string AccountFromArn(const std::string& arn) const;

  AwsClients clients_;
  const DriverOptions& options_;
  std::string suffix_;
};

// The event pattern of the bucket's rule: the bucket's object events (EventBridge) or its
// object-creating API calls (CloudTrail), restricted to keys under --key-prefix when given.
nlohmann::json S3RulePattern(const DriverOptions& options);

// The dead-letter queue ARN named by the queue's RedrivePolicy; "" when it has none.
common::Result<std::string> DeadLetterQueueArn(const aws::SqsClient& sqs,
                                               const std::string& queue_url);

// The least-privilege IAM policy (JSON) for these options. `dead_letter_queue_arn`: the
// dead-letter queue of a --queue-url queue (the driver sends messages it cannot relay there).
std::string IamPolicy(const DriverOptions& options, const std::string& dead_letter_queue_arn = "");

}  // namespace driver
