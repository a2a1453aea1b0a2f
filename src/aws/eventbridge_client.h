// Amazon EventBridge (CloudWatch Events) over AWS JSON 1.1 (X-Amz-Target: AWSEvents.<Op>).
// https://docs.aws.amazon.com/eventbridge/latest/APIReference/  Thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "aws/client.h"
#include "common/time.h"

namespace aws {

struct PutRuleRequest {
  std::string name;
  std::string event_pattern;        // JSON text; or
  std::string schedule_expression;  // "rate(5 minutes)", "cron(...)"
  std::string state = "ENABLED";    // ENABLED | DISABLED
  std::string description;
  std::string role_arn;
  std::string event_bus_name;  // "" = default
  std::map<std::string, std::string> tags;
};

struct EventBridgeRule {
  std::string name;
  std::string arn;
  std::string event_pattern;
  std::string schedule_expression;
  std::string state;
  std::string description;
  std::string role_arn;
  std::string managed_by;
  std::string event_bus_name;
  std::string created_by;
};

struct EventBridgeTarget {
  std::string id;
  std::string arn;
  std::string role_arn;
  std::string input;             // constant JSON instead of the event
  std::string input_path;        // JSONPath into the event
  std::string message_group_id;  // SqsParameters for FIFO queues
};

// Entries EventBridge could not apply (PutTargets/RemoveTargets answer 200 with these).
struct FailedTargetEntry {
  std::string target_id;
  std::string error_code;
  std::string error_message;
};

struct PutEventsEntry {
  std::string source;
  std::string detail_type;
  std::string detail;  // JSON object text
  std::vector<std::string> resources;
  std::string event_bus_name;
  std::optional<common::SystemTime> time;
};

struct PutEventsResultEntry {
  std::string event_id;  // set on success
  std::string error_code;
  std::string error_message;
};

struct ListRulesResult {
  std::vector<EventBridgeRule> rules;
  std::string next_token;
};

class EventBridgeClient {
 public:
  explicit EventBridgeClient(ClientOptions options);

  // Creates or updates a rule; returns its ARN.
  Outcome<std::string> PutRule(const PutRuleRequest& request) const;
  // Returns the entries that failed (empty when all were applied).
  Outcome<std::vector<FailedTargetEntry>> PutTargets(const std::string& rule,
                                                     const std::vector<EventBridgeTarget>& targets,
                                                     const std::string& event_bus_name = "") const;
  Outcome<std::vector<FailedTargetEntry>> RemoveTargets(const std::string& rule,
                                                        const std::vector<std::string>& ids,
                                                        const std::string& event_bus_name = "",
                                                        bool force = false) const;
  Outcome<std::vector<EventBridgeTarget>> ListTargetsByRule(
      const std::string& rule, const std::string& event_bus_name = "") const;
  // ResourceNotFoundException (NotFound) for an unknown rule; the call is then a no-op at AWS.
  AwsStatus DeleteRule(const std::string& name, const std::string& event_bus_name = "",
                       bool force = false) const;
  Outcome<EventBridgeRule> DescribeRule(const std::string& name,
                                        const std::string& event_bus_name = "") const;
  Outcome<ListRulesResult> ListRules(const std::string& name_prefix = "",
                                     const std::string& event_bus_name = "",
                                     const std::string& next_token = "", int limit = 0) const;
  AwsStatus EnableRule(const std::string& name, const std::string& event_bus_name = "") const;
  AwsStatus DisableRule(const std::string& name, const std::string& event_bus_name = "") const;
  // One result per entry, in order.
  Outcome<std::vector<PutEventsResultEntry>> PutEvents(
      const std::vector<PutEventsEntry>& entries) const;
  AwsStatus TagResource(const std::string& arn,
                        const std::map<std::string, std::string>& tags) const;

  const ServiceCaller& caller() const { return caller_; }

 private:
  Outcome<nlohmann::json> Call(const char* operation, const nlohmann::json& body) const;
  ServiceCaller caller_;
};

}  // namespace aws
