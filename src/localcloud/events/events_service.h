// EventBridge (JSON 1.1, X-Amz-Target "AWSEvents.*") on localcloud's default event bus:
// rules with event patterns (the eventpattern library) or schedules, SQS targets with
// Input / InputPath / InputTransformer, PutEvents, TestEventPattern, tags. Other parts of
// localcloud (S3 notifications, CloudTrail) put events on the bus with Publish().
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "localcloud/core/cloud.h"
#include "localcloud/core/queue_delivery.h"
#include "localcloud/events/schedule.h"

namespace eventpattern {
class Pattern;
}

namespace localcloud::events {

struct EventsOptions {
  // How long one schedule "minute" lasts in real milliseconds. 60000 is real time; tests use
  // a few hundred so rate(1 minute) fires within a second (flag --schedule-minute-ms).
  int64_t schedule_minute_ms = 60'000;
};

// An EventBridge API error: "__type" code, message, HTTP status.
struct EventsError {
  std::string code;
  std::string message;
  int status = 400;
};

// The service and its bus. Thread-safe: one mutex over rules, targets and tags; deliveries
// happen on the context's timer thread, outside the lock.
class EventsService : public Service {
 public:
  // `context` and `queues` must outlive the service.
  EventsService(CloudContext& context, QueueDelivery& queues, EventsOptions options = {});
  ~EventsService() override;

  std::string_view name() const override { return "events"; }
  bool Accepts(const RouteInfo& route, const http::Request& request) const override;
  http::Response ErrorResponse(const Call& call, const aws::AwsError& error) const override;
  void Handle(Call call, http::Respond respond) override;
  void Shutdown() override;

  // An event envelope for this account and region: version "0", a fresh id, `time` at
  // seconds precision, and the given fields.
  nlohmann::json MakeEvent(const std::string& source, const std::string& detail_type,
                           std::vector<std::string> resources, nlohmann::json detail,
                           common::SystemTime time) const;

  // Puts a complete event on the default bus: every enabled rule whose pattern matches
  // delivers it to its targets, asynchronously on the timer thread. Never blocks.
  void Publish(nlohmann::json event);

  // Matching as TestEventPattern does. InvalidEventPatternException as an error.
  static std::optional<EventsError> ValidatePattern(const std::string& pattern_json);

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
  using Outcome = std::pair<nlohmann::json, std::optional<EventsError>>;

  Outcome Dispatch(const std::string& action, const nlohmann::json& in, const Call& call);
  Outcome PutRule(const nlohmann::json& in);
  Outcome DescribeRule(const nlohmann::json& in);
  Outcome ListRules(const nlohmann::json& in);
  Outcome SetRuleState(const nlohmann::json& in, const std::string& state);
  Outcome DeleteRule(const nlohmann::json& in);
  Outcome PutTargets(const nlohmann::json& in);
  Outcome RemoveTargets(const nlohmann::json& in);
  Outcome ListTargetsByRule(const nlohmann::json& in);
  Outcome PutEvents(const nlohmann::json& in, const Call& call);
  Outcome TestEventPattern(const nlohmann::json& in);
  Outcome TagResource(const nlohmann::json& in);
  Outcome UntagResource(const nlohmann::json& in);
  Outcome ListTagsForResource(const nlohmann::json& in);
  Outcome DescribeEventBus(const nlohmann::json& in);
  Outcome ListRuleNamesByTarget(const nlohmann::json& in);

  // Bus name check: "default" or its ARN. Error otherwise.
  std::optional<EventsError> CheckBus(const nlohmann::json& in) const;
  std::string RuleArn(const std::string& name) const;
  nlohmann::json RuleJson(const Rule& rule) const;
  // (Re)arms the schedule timer of `rule`. Requires mu_.
  void ArmSchedule(Rule& rule);
  void FireSchedule(const std::string& rule_name, uint64_t generation);
  // Sends `event` to every target of every matching enabled rule.
  void Deliver(const nlohmann::json& event);
  void DeliverToTarget(const nlohmann::json& event, const std::string& rule_name,
                       const std::string& rule_arn, const nlohmann::json& target);
  // The virtual schedule clock: real time since start, scaled by schedule_minute_ms.
  common::SystemTime ScheduleNow() const;

  CloudContext& context_;
  QueueDelivery& queues_;
  EventsOptions options_;
  common::SystemTime schedule_epoch_;
  std::chrono::steady_clock::time_point steady_epoch_;

  mutable std::mutex mu_;
  std::map<std::string, Rule> rules_;                               // guarded by mu_
  std::map<std::string, std::map<std::string, std::string>> tags_;  // ARN -> tags; mu_
  bool stopped_ = false;                                            // guarded by mu_
};

}  // namespace localcloud::events
