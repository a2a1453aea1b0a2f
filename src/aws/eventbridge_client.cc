#include "aws/eventbridge_client.h"

#include "common/json_fields.h"

namespace aws {
namespace {

using nlohmann::json;

json TagList(const std::map<std::string, std::string>& tags) {
  json out = json::array();
  for (const auto& [k, v] : tags) out.push_back({{"Key", k}, {"Value", v}});
  return out;
}

void SetBus(const std::string& bus, json* body) {
  if (!bus.empty()) (*body)["EventBusName"] = bus;
}

EventBridgeRule ParseRule(const json& j) {
  EventBridgeRule r;
  r.name = common::JsonString(j, "Name");
  r.arn = common::JsonString(j, "Arn");
  r.event_pattern = common::JsonString(j, "EventPattern");
  r.schedule_expression = common::JsonString(j, "ScheduleExpression");
  r.state = common::JsonString(j, "State");
  r.description = common::JsonString(j, "Description");
  r.role_arn = common::JsonString(j, "RoleArn");
  r.managed_by = common::JsonString(j, "ManagedBy");
  r.event_bus_name = common::JsonString(j, "EventBusName");
  r.created_by = common::JsonString(j, "CreatedBy");
  return r;
}

std::vector<FailedTargetEntry> ParseFailedEntries(const json& j) {
  std::vector<FailedTargetEntry> out;
  auto it = j.find("FailedEntries");
  if (it == j.end() || !it->is_array()) return out;
  for (const json& f : *it) {
    out.push_back({common::JsonString(f, "TargetId"), common::JsonString(f, "ErrorCode"),
                   common::JsonString(f, "ErrorMessage")});
  }
  return out;
}

}  // namespace

EventBridgeClient::EventBridgeClient(ClientOptions options)
    : caller_(std::move(options), "eventbridge", "events") {}

Outcome<json> EventBridgeClient::Call(const char* operation, const json& body) const {
  return caller_.CallJson(std::string("AWSEvents.") + operation, body, "1.1");
}

Outcome<std::string> EventBridgeClient::PutRule(const PutRuleRequest& request) const {
  json body = {{"Name", request.name}};
  if (!request.event_pattern.empty()) body["EventPattern"] = request.event_pattern;
  if (!request.schedule_expression.empty())
    body["ScheduleExpression"] = request.schedule_expression;
  if (!request.state.empty()) body["State"] = request.state;
  if (!request.description.empty()) body["Description"] = request.description;
  if (!request.role_arn.empty()) body["RoleArn"] = request.role_arn;
  if (!request.tags.empty()) body["Tags"] = TagList(request.tags);
  SetBus(request.event_bus_name, &body);
  auto out = Call("PutRule", body);
  if (!out.ok()) return out.error();
  return common::JsonString(*out, "RuleArn");
}

Outcome<std::vector<FailedTargetEntry>> EventBridgeClient::PutTargets(
    const std::string& rule, const std::vector<EventBridgeTarget>& targets,
    const std::string& event_bus_name) const {
  json list = json::array();
  for (const EventBridgeTarget& t : targets) {
    json target = {{"Id", t.id}, {"Arn", t.arn}};
    if (!t.role_arn.empty()) target["RoleArn"] = t.role_arn;
    if (!t.input.empty()) target["Input"] = t.input;
    if (!t.input_path.empty()) target["InputPath"] = t.input_path;
    if (!t.message_group_id.empty()) {
      target["SqsParameters"] = {{"MessageGroupId", t.message_group_id}};
    }
    list.push_back(std::move(target));
  }
  json body = {{"Rule", rule}, {"Targets", list}};
  SetBus(event_bus_name, &body);
  auto out = Call("PutTargets", body);
  if (!out.ok()) return out.error();
  return ParseFailedEntries(*out);
}

Outcome<std::vector<FailedTargetEntry>> EventBridgeClient::RemoveTargets(
    const std::string& rule, const std::vector<std::string>& ids, const std::string& event_bus_name,
    bool force) const {
  json body = {{"Rule", rule}, {"Ids", ids}};
  if (force) body["Force"] = true;
  SetBus(event_bus_name, &body);
  auto out = Call("RemoveTargets", body);
  if (!out.ok()) return out.error();
  return ParseFailedEntries(*out);
}

Outcome<std::vector<EventBridgeTarget>> EventBridgeClient::ListTargetsByRule(
    const std::string& rule, const std::string& event_bus_name) const {
  std::vector<EventBridgeTarget> targets;
  std::string next;
  do {
    json body = {{"Rule", rule}};
    SetBus(event_bus_name, &body);
    if (!next.empty()) body["NextToken"] = next;
    auto out = Call("ListTargetsByRule", body);
    if (!out.ok()) return out.error();
    if (auto it = out->find("Targets"); it != out->end() && it->is_array()) {
      for (const json& t : *it) {
        EventBridgeTarget target;
        target.id = common::JsonString(t, "Id");
        target.arn = common::JsonString(t, "Arn");
        target.role_arn = common::JsonString(t, "RoleArn");
        target.input = common::JsonString(t, "Input");
        target.input_path = common::JsonString(t, "InputPath");
        if (auto sqs = t.find("SqsParameters"); sqs != t.end()) {
          target.message_group_id = common::JsonString(*sqs, "MessageGroupId");
        }
        targets.push_back(std::move(target));
      }
    }
    next = common::JsonString(*out, "NextToken");
  } while (!next.empty());
  return targets;
}

AwsStatus EventBridgeClient::DeleteRule(const std::string& name, const std::string& event_bus_name,
                                        bool force) const {
  json body = {{"Name", name}};
  if (force) body["Force"] = true;
  SetBus(event_bus_name, &body);
  auto out = Call("DeleteRule", body);
  if (!out.ok()) return out.error();
  return Empty{};
}

Outcome<EventBridgeRule> EventBridgeClient::DescribeRule(const std::string& name,
                                                         const std::string& event_bus_name) const {
  json body = {{"Name", name}};
  SetBus(event_bus_name, &body);
  auto out = Call("DescribeRule", body);
  if (!out.ok()) return out.error();
  return ParseRule(*out);
}

Outcome<ListRulesResult> EventBridgeClient::ListRules(const std::string& name_prefix,
                                                      const std::string& event_bus_name,
                                                      const std::string& next_token,
                                                      int limit) const {
  json body = json::object();
  if (!name_prefix.empty()) body["NamePrefix"] = name_prefix;
  if (!next_token.empty()) body["NextToken"] = next_token;
  if (limit > 0) body["Limit"] = limit;
  SetBus(event_bus_name, &body);
  auto out = Call("ListRules", body);
  if (!out.ok()) return out.error();
  ListRulesResult result;
  if (auto it = out->find("Rules"); it != out->end() && it->is_array()) {
    for (const json& r : *it) result.rules.push_back(ParseRule(r));
  }
  result.next_token = common::JsonString(*out, "NextToken");
  return result;
}

AwsStatus EventBridgeClient::EnableRule(const std::string& name,
                                        const std::string& event_bus_name) const {
  json body = {{"Name", name}};
  SetBus(event_bus_name, &body);
  auto out = Call("EnableRule", body);
  if (!out.ok()) return out.error();
  return Empty{};
}

AwsStatus EventBridgeClient::DisableRule(const std::string& name,
                                         const std::string& event_bus_name) const {
  json body = {{"Name", name}};
  SetBus(event_bus_name, &body);
  auto out = Call("DisableRule", body);
  if (!out.ok()) return out.error();
  return Empty{};
}

Outcome<std::vector<PutEventsResultEntry>> EventBridgeClient::PutEvents(
    const std::vector<PutEventsEntry>& entries) const {
  json list = json::array();
  for (const PutEventsEntry& e : entries) {
    json entry = {{"Source", e.source}, {"DetailType", e.detail_type}, {"Detail", e.detail}};
    if (!e.resources.empty()) entry["Resources"] = e.resources;
    if (!e.event_bus_name.empty()) entry["EventBusName"] = e.event_bus_name;
    // JSON 1.1 timestamps are epoch seconds.
    if (e.time) entry["Time"] = common::ToUnixSeconds(*e.time);
    list.push_back(std::move(entry));
  }
  auto out = Call("PutEvents", {{"Entries", list}});
  if (!out.ok()) return out.error();
  std::vector<PutEventsResultEntry> results;
  if (auto it = out->find("Entries"); it != out->end() && it->is_array()) {
    for (const json& r : *it) {
      results.push_back({common::JsonString(r, "EventId"), common::JsonString(r, "ErrorCode"),
                         common::JsonString(r, "ErrorMessage")});
    }
  }
  return results;
}

AwsStatus EventBridgeClient::TagResource(const std::string& arn,
                                         const std::map<std::string, std::string>& tags) const {
  auto out = Call("TagResource", {{"ResourceARN", arn}, {"Tags", TagList(tags)}});
  if (!out.ok()) return out.error();
  return Empty{};
}

}  // namespace aws
