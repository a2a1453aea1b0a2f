// EventBridge (JSON 1.1, X-Amz-Target "AWSEvents.*") on localcloud's default event bus:
// rules with event patterns (the eventpattern library) or schedules, SQS targets with
// Input / InputPath / InputTransformer, PutEvents, TestEventPattern, tags. Other parts of
// localcloud (S3 notifications, CloudTrail) put events on the bus with Publish().
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "localcloud/core/cloud.h"
#include "localcloud/core/json_protocol.h"
#include "localcloud/core/protocol.h"
#include "localcloud/core/queue_delivery.h"
#include "localcloud/eventbridge/schedule.h"

namespace eventpattern {
class Pattern;
}

namespace localcloud::eventbridge {

struct EventsOptions {
  // How long one schedule "minute" lasts in real milliseconds. 60000 is real time; tests use
  // a few hundred so rate(1 minute) fires within a second (flag --schedule-minute-ms).
  int64_t schedule_minute_ms = 60'000;
};

// The service and its bus: one function per operation in a table, served by the JSON
// protocol adapter. Thread-safe: one mutex over rules, targets and tags; deliveries happen
// on the context's timer thread, outside the lock.
class EventsService : public Service {
 public:
  // `context` and `queues` must outlive the service.
  EventsService(CloudContext& context, QueueDelivery& queues, EventsOptions options = {});
  ~EventsService() override;

  std::string_view name() const override { return "events"; }
  bool Accepts(const RouteInfo& route, const http::Request& request) const override;
  http::Response ErrorResponse(const Call& call, const aws::AwsError& error) const override;
  void Handle(Call call, http::Respond respond) override;
  void Shutdown() override EXCLUDES(mu_);

  // An event envelope for this account and region: version "0", a fresh id, `time` at
  // seconds precision, and the given fields.
  nlohmann::json MakeEvent(const std::string& source, const std::string& detail_type,
                           std::vector<std::string> resources, nlohmann::json detail,
                           common::SystemTime time) const;

  // Puts a complete event on the default bus: every enabled rule whose pattern matches
  // delivers it to its targets, asynchronously on the timer thread. Never blocks.
  void Publish(nlohmann::json event) EXCLUDES(mu_);

 private:
  struct Target {
    nlohmann::json spec;  // as given to PutTargets (Id, Arn, Input, InputPath, …)
  };
  struct Rule {
    std::string name;
    std::string arn;
    std::string event_pattern;  // "" for schedule-only rules
    std::shared_ptr<const eventpattern::Pattern> pattern;
    std::string schedule_expression;
    std::optional<Schedule> schedule;
    std::string state = "ENABLED";
    std::string description;
    std::string role_arn;
    std::map<std::string, Target> targets;  // by Id
    uint64_t schedule_timer = 0;
    uint64_t generation = 0;  // bumps on every PutRule/DeleteRule: stale timers do nothing
  };
  // The operations (the table in the constructor).
  using Json = nlohmann::json;
  OperationResult PutRule(const Json& in, const Call& call) EXCLUDES(mu_);
  OperationResult DescribeRule(const Json& in, const Call& call) EXCLUDES(mu_);
  OperationResult ListRules(const Json& in, const Call& call) EXCLUDES(mu_);
  OperationResult EnableRule(const Json& in, const Call& call) EXCLUDES(mu_);
  OperationResult DisableRule(const Json& in, const Call& call) EXCLUDES(mu_);
  OperationResult DeleteRule(const Json& in, const Call& call) EXCLUDES(mu_);
  OperationResult PutTargets(const Json& in, const Call& call) EXCLUDES(mu_);
  OperationResult RemoveTargets(const Json& in, const Call& call) EXCLUDES(mu_);
  OperationResult ListTargetsByRule(const Json& in, const Call& call) EXCLUDES(mu_);
  OperationResult PutEvents(const Json& in, const Call& call) EXCLUDES(mu_);
  OperationResult TestEventPattern(const Json& in, const Call& call);
  OperationResult TagResource(const Json& in, const Call& call) EXCLUDES(mu_);
  OperationResult UntagResource(const Json& in, const Call& call) EXCLUDES(mu_);
  OperationResult ListTagsForResource(const Json& in, const Call& call) EXCLUDES(mu_);
  OperationResult DescribeEventBus(const Json& in, const Call& call);
  OperationResult ListRuleNamesByTarget(const Json& in, const Call& call) EXCLUDES(mu_);

  OperationResult SetRuleState(const Json& in, const std::string& state) EXCLUDES(mu_);
  // Bus name check: "default" or its ARN. ResourceNotFoundException otherwise.
  std::optional<aws::AwsError> CheckBus(const Json& in) const;
  std::string RuleArn(const std::string& name) const;
  Json RuleJson(const Rule& rule) const;
  // The rule in[member] names on the default bus; ResourceNotFoundException for another bus
  // or an unknown rule.
  aws::Outcome<Rule*> FindRule(const Json& in, const char* member) REQUIRES(mu_);
  // Whether a rule has this ARN.
  bool KnownRuleArn(const std::string& arn) const REQUIRES(mu_);
  // (Re)arms the schedule timer of `rule`.
  void ArmSchedule(Rule& rule) REQUIRES(mu_);
  void FireSchedule(const std::string& rule_name, uint64_t generation) EXCLUDES(mu_);
  // Sends `event` to every target of every matching enabled rule.
  void Deliver(const nlohmann::json& event) EXCLUDES(mu_);
  void DeliverToTarget(const nlohmann::json& event, const std::string& rule_name,
                       const std::string& rule_arn, const nlohmann::json& target);
  // The virtual schedule clock: real time since start, scaled by schedule_minute_ms.
  common::SystemTime ScheduleNow() const;

  CloudContext& context_;
  QueueDelivery& queues_;
  EventsOptions options_;
  common::SystemTime schedule_epoch_;
  std::chrono::steady_clock::time_point steady_epoch_;

  OperationTable operations_;  // filled by the constructor
  JsonProtocol protocol_;

  mutable common::Mutex mu_;
  std::map<std::string, Rule> rules_ GUARDED_BY(mu_);
  std::map<std::string, std::map<std::string, std::string>> tags_ GUARDED_BY(mu_);  // by ARN
  bool stopped_ GUARDED_BY(mu_) = false;
};

}  // namespace localcloud::eventbridge
