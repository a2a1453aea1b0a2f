#include "localcloud/eventbridge/events_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "common/crypto.h"
#include "common/json_fields.h"
#include "common/json_limits.h"
#include "common/strings.h"
#include "eventpattern/pattern.h"
#include "localcloud/eventbridge/input_transformer.h"

namespace localcloud::eventbridge {
namespace {

using common::JsonString;
using nlohmann::json;

// JSON carried in a string member (Detail, Input, a test Event) is bounded before it is
// parsed: it is matched and serialized again, both recursive.
bool DepthOk(std::string_view text) { return common::CheckJsonDepth(text).ok(); }

constexpr std::string_view kTargetPrefix = "AWSEvents.";
constexpr size_t kMaxTargetsPerRule = 5;

aws::AwsError Validation(std::string message) {
  return ServiceError("events", "ValidationException", std::move(message));
}
aws::AwsError NotFound(std::string message) {
  return ServiceError("events", "ResourceNotFoundException", std::move(message));
}

// The one place that speaks the pattern library's API.
common::Result<std::shared_ptr<const eventpattern::Pattern>> CompilePattern(
    const std::string& text) {
  auto parsed = eventpattern::Pattern::Parse(text);
  if (!parsed.ok()) return parsed.status();
  return std::shared_ptr<const eventpattern::Pattern>(
      std::make_shared<eventpattern::Pattern>(std::move(parsed).value()));
}

// The matcher's message is already EventBridge's ("Event pattern is not valid. Reason: …").
aws::AwsError InvalidPattern(const common::Status& status) {
  std::string message = status.message();
  if (!common::StartsWith(message, eventpattern::kInvalidPatternPrefix)) {
    message = std::string(eventpattern::kInvalidPatternPrefix) + message;
  }
  return ServiceError("events", "InvalidEventPatternException", message);
}

// A JSONPath of the subset EventBridge targets use: "$", "$.a.b", "$.a[0].b", "$['a']".
// nullopt when the path does not resolve.
std::optional<json> JsonPath(const json& doc, std::string_view path) {
  if (path.empty() || path[0] != '$') return std::nullopt;
  const json* cur = &doc;
  size_t i = 1;
  while (i < path.size()) {
    if (path[i] == '.') {
      size_t end = path.find_first_of(".[", i + 1);
      std::string key(
          path.substr(i + 1, end == std::string_view::npos ? std::string_view::npos : end - i - 1));
      if (!cur->is_object() || !cur->contains(key)) return std::nullopt;
      cur = &(*cur)[key];
      i = end == std::string_view::npos ? path.size() : end;
    } else if (path[i] == '[') {
      size_t close = path.find(']', i);
      if (close == std::string_view::npos) return std::nullopt;
      std::string inner(path.substr(i + 1, close - i - 1));
      if (inner.size() >= 2 && (inner[0] == '\'' || inner[0] == '"')) {
        std::string key = inner.substr(1, inner.size() - 2);
        if (!cur->is_object() || !cur->contains(key)) return std::nullopt;
        cur = &(*cur)[key];
      } else {
        if (inner.empty() || !std::all_of(inner.begin(), inner.end(), ::isdigit))
          return std::nullopt;
        size_t index = std::stoul(inner);
        if (!cur->is_array() || index >= cur->size()) return std::nullopt;
        cur = &(*cur)[index];
      }
      i = close + 1;
    } else {
      return std::nullopt;
    }
  }
  return *cur;
}

bool ValidRuleName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
  });
}

// EventBridge's Time parameter: epoch seconds (what SDKs send) or an ISO-8601 string.
std::optional<common::SystemTime> ParseTime(const json& v) {
  if (v.is_number()) {
    return common::FromUnixMillis(static_cast<int64_t>(std::llround(v.get<double>() * 1000)));
  }
  if (v.is_string()) return common::ParseIso8601(v.get<std::string>());
  return std::nullopt;
}

}  // namespace

EventsService::EventsService(CloudContext& context, QueueDelivery& queues, EventsOptions options)
    : context_(context),
      queues_(queues),
      options_(options),
      schedule_epoch_(context.clock().Now()),
      steady_epoch_(std::chrono::steady_clock::now()),
      protocol_(JsonProtocolOptions("events", "1.1", {std::string(kTargetPrefix)})) {
  if (options_.schedule_minute_ms <= 0) options_.schedule_minute_ms = 60'000;
  operations_.Add("PutRule", BindOperation(this, &EventsService::PutRule))
      .Add("DescribeRule", BindOperation(this, &EventsService::DescribeRule))
      .Add("ListRules", BindOperation(this, &EventsService::ListRules))
      .Add("EnableRule", BindOperation(this, &EventsService::EnableRule))
      .Add("DisableRule", BindOperation(this, &EventsService::DisableRule))
      .Add("DeleteRule", BindOperation(this, &EventsService::DeleteRule))
      .Add("PutTargets", BindOperation(this, &EventsService::PutTargets))
      .Add("RemoveTargets", BindOperation(this, &EventsService::RemoveTargets))
      .Add("ListTargetsByRule", BindOperation(this, &EventsService::ListTargetsByRule))
      .Add("PutEvents", BindOperation(this, &EventsService::PutEvents))
      .Add("TestEventPattern", BindOperation(this, &EventsService::TestEventPattern))
      .Add("TagResource", BindOperation(this, &EventsService::TagResource))
      .Add("UntagResource", BindOperation(this, &EventsService::UntagResource))
      .Add("ListTagsForResource", BindOperation(this, &EventsService::ListTagsForResource))
      .Add("DescribeEventBus", BindOperation(this, &EventsService::DescribeEventBus))
      .Add("ListRuleNamesByTarget", BindOperation(this, &EventsService::ListRuleNamesByTarget));
}

EventsService::~EventsService() { Shutdown(); }

void EventsService::Shutdown() {
  common::MutexLock lock(mu_);
  stopped_ = true;
  for (auto& [name, rule] : rules_) {
    if (rule.schedule_timer) context_.timers().Cancel(rule.schedule_timer);
    rule.schedule_timer = 0;
  }
}

bool EventsService::Accepts(const RouteInfo& route, const http::Request&) const {
  return protocol_.Accepts(route);
}

http::Response EventsService::ErrorResponse(const Call& call, const aws::AwsError& error) const {
  return protocol_.RenderError(call, error);
}

void EventsService::Handle(Call call, http::Respond respond) {
  protocol_.Serve(operations_, std::move(call), std::move(respond));
}

std::optional<aws::AwsError> EventsService::CheckBus(const json& in) const {
  std::string bus = JsonString(in, "EventBusName");
  if (bus.empty() || bus == "default" ||
      bus == "arn:aws:events:" + context_.config().region + ":" + context_.config().account_id +
                 ":event-bus/default") {
    return std::nullopt;
  }
  return NotFound("Event bus " + bus + " does not exist.");
}

std::string EventsService::RuleArn(const std::string& name) const {
  return "arn:aws:events:" + context_.config().region + ":" + context_.config().account_id +
         ":rule/" + name;
}

json EventsService::RuleJson(const Rule& rule) const {
  json j = {{"Name", rule.name},
            {"Arn", rule.arn},
            {"State", rule.state},
            {"EventBusName", "default"},
            {"CreatedBy", context_.config().account_id}};
  if (!rule.event_pattern.empty()) j["EventPattern"] = rule.event_pattern;
  if (!rule.schedule_expression.empty()) j["ScheduleExpression"] = rule.schedule_expression;
  if (!rule.description.empty()) j["Description"] = rule.description;
  if (!rule.role_arn.empty()) j["RoleArn"] = rule.role_arn;
  return j;
}

aws::Outcome<EventsService::Rule*> EventsService::FindRule(const json& in, const char* member) {
  if (auto e = CheckBus(in)) return *e;
  std::string name = JsonString(in, member);
  auto it = rules_.find(name);
  if (it == rules_.end()) return NotFound("Rule " + name + " does not exist.");
  return &it->second;
}

bool EventsService::KnownRuleArn(const std::string& arn) const {
  return std::any_of(rules_.begin(), rules_.end(),
                     [&](const auto& kv) { return kv.second.arn == arn; });
}

OperationResult EventsService::PutRule(const json& in, const Call&) {
  if (auto e = CheckBus(in)) return *e;
  std::string name = JsonString(in, "Name");
  if (!ValidRuleName(name)) {
    return Validation("1 validation error detected: Value '" + name +
                      "' at 'name' failed to satisfy constraint: Member must satisfy "
                      "regular expression pattern: [\\.\\-_A-Za-z0-9]+");
  }
  std::string pattern_text = JsonString(in, "EventPattern");
  std::string schedule_text = JsonString(in, "ScheduleExpression");
  if (pattern_text.empty() && schedule_text.empty()) {
    return Validation("Parameter(s) EventPattern or ScheduleExpression must be specified.");
  }
  std::shared_ptr<const eventpattern::Pattern> pattern;
  if (!pattern_text.empty()) {
    auto compiled = CompilePattern(pattern_text);
    if (!compiled.ok()) return InvalidPattern(compiled.status());
    pattern = *compiled;
  }
  std::optional<Schedule> schedule;
  if (!schedule_text.empty()) {
    auto parsed = ParseSchedule(schedule_text);
    if (!parsed.ok()) return Validation(parsed.status().message());
    schedule = *parsed;
  }
  std::string state = JsonString(in, "State");
  if (state.empty()) state = "ENABLED";
  if (state != "ENABLED" && state != "DISABLED") {
    return Validation("Parameter State is not valid.");
  }

  common::MutexLock lock(mu_);
  Rule& rule = rules_[name];
  rule.name = name;
  rule.arn = RuleArn(name);
  rule.event_pattern = pattern_text;
  rule.pattern = pattern;
  rule.schedule_expression = schedule_text;
  rule.schedule = schedule;
  rule.state = state;
  rule.description = JsonString(in, "Description");
  rule.role_arn = JsonString(in, "RoleArn");
  ++rule.generation;
  ArmSchedule(rule);
  if (in.contains("Tags") && in["Tags"].is_array()) {
    for (const json& t : in["Tags"]) tags_[rule.arn][JsonString(t, "Key")] = JsonString(t, "Value");
  }
  return json{{"RuleArn", rule.arn}};
}

OperationResult EventsService::DescribeRule(const json& in, const Call&) {
  if (auto e = CheckBus(in)) return *e;
  std::string name = JsonString(in, "Name");
  common::MutexLock lock(mu_);
  auto it = rules_.find(name);
  if (it == rules_.end()) return NotFound("Rule " + name + " does not exist on EventBus default.");
  return RuleJson(it->second);
}

OperationResult EventsService::ListRules(const json& in, const Call&) {
  if (auto e = CheckBus(in)) return *e;
  std::string prefix = JsonString(in, "NamePrefix");
  std::string after = JsonString(in, "NextToken");
  size_t limit = in.contains("Limit") && in["Limit"].is_number_integer()
                     ? std::max<int64_t>(1, in["Limit"].get<int64_t>())
                     : 100;
  common::MutexLock lock(mu_);
  json rules = json::array();
  json out = json::object();
  for (auto it = after.empty() ? rules_.begin() : rules_.upper_bound(after); it != rules_.end();
       ++it) {
    if (!common::StartsWith(it->first, prefix)) continue;
    if (rules.size() == limit) {
      out["NextToken"] = rules.back()["Name"];
      break;
    }
    rules.push_back(RuleJson(it->second));
  }
  out["Rules"] = rules;
  return out;
}

OperationResult EventsService::EnableRule(const json& in, const Call&) {
  return SetRuleState(in, "ENABLED");
}

OperationResult EventsService::DisableRule(const json& in, const Call&) {
  return SetRuleState(in, "DISABLED");
}

OperationResult EventsService::SetRuleState(const json& in, const std::string& state) {
  common::MutexLock lock(mu_);
  aws::Outcome<Rule*> rule = FindRule(in, "Name");
  if (!rule.ok()) return rule.error();
  (*rule)->state = state;
  return json::object();
}

OperationResult EventsService::DeleteRule(const json& in, const Call&) {
  if (auto e = CheckBus(in)) return *e;
  std::string name = JsonString(in, "Name");
  common::MutexLock lock(mu_);
  auto it = rules_.find(name);
  if (it == rules_.end()) return json::object();  // AWS: idempotent
  if (!it->second.targets.empty()) {
    return Validation("Rule can't be deleted since it has targets.");
  }
  if (it->second.schedule_timer) context_.timers().Cancel(it->second.schedule_timer);
  tags_.erase(it->second.arn);
  rules_.erase(it);
  return json::object();
}

OperationResult EventsService::PutTargets(const json& in, const Call&) {
  if (auto e = CheckBus(in)) return *e;
  std::string name = JsonString(in, "Rule");
  if (!in.contains("Targets") || !in["Targets"].is_array() || in["Targets"].empty()) {
    return Validation("Parameter Targets must be a non-empty list.");
  }
  common::MutexLock lock(mu_);
  aws::Outcome<Rule*> found = FindRule(in, "Rule");
  if (!found.ok()) return found.error();
  Rule& rule = **found;
  json failed = json::array();  // every target is stored or the request fails
  for (const json& t : in["Targets"]) {
    std::string id = JsonString(t, "Id");
    std::string arn = JsonString(t, "Arn");
    if (id.empty() || arn.empty()) {
      return Validation("Parameter(s) Id and Arn must be specified for every target.");
    }
    int inputs = t.contains("Input") + t.contains("InputPath") + t.contains("InputTransformer");
    if (inputs > 1) {
      return Validation("Only one of Input, InputPath, or InputTransformer must be provided.");
    }
    if (t.contains("Input")) {
      json parsed = DepthOk(JsonString(t, "Input"))
                        ? json::parse(JsonString(t, "Input"), nullptr, false)
                        : json(json::value_t::discarded);
      if (parsed.is_discarded()) return Validation("Parameter Input is not valid JSON.");
    }
    if (!rule.targets.count(id) && rule.targets.size() >= kMaxTargetsPerRule) {
      return ServiceError("events", "LimitExceededException",
                          "The requested resource exceeds the maximum number allowed.");
    }
    if (!common::StartsWith(arn, "arn:aws:sqs:")) {
      // Stored, as AWS would, but localcloud delivers to SQS only.
      spdlog::warn("events: target {} of rule {} is not an SQS queue; events to it are dropped", id,
                   name);
    }
    rule.targets[id] = Target{t};
  }
  return json{{"FailedEntryCount", failed.size()}, {"FailedEntries", failed}};
}

OperationResult EventsService::RemoveTargets(const json& in, const Call&) {
  common::MutexLock lock(mu_);
  aws::Outcome<Rule*> rule = FindRule(in, "Rule");
  if (!rule.ok()) return rule.error();
  if (in.contains("Ids") && in["Ids"].is_array()) {
    for (const json& id : in["Ids"]) {
      if (id.is_string()) (*rule)->targets.erase(id.get<std::string>());
    }
  }
  return json{{"FailedEntryCount", 0}, {"FailedEntries", json::array()}};
}

OperationResult EventsService::ListTargetsByRule(const json& in, const Call&) {
  common::MutexLock lock(mu_);
  aws::Outcome<Rule*> rule = FindRule(in, "Rule");
  if (!rule.ok()) return rule.error();
  json targets = json::array();
  for (const auto& [id, target] : (*rule)->targets) targets.push_back(target.spec);
  return json{{"Targets", targets}};
}

OperationResult EventsService::ListRuleNamesByTarget(const json& in, const Call&) {
  std::string arn = JsonString(in, "TargetArn");
  common::MutexLock lock(mu_);
  json names = json::array();
  for (const auto& [name, rule] : rules_) {
    for (const auto& [id, t] : rule.targets) {
      if (JsonString(t.spec, "Arn") == arn) {
        names.push_back(name);
        break;
      }
    }
  }
  return json{{"RuleNames", names}};
}

json EventsService::MakeEvent(const std::string& source, const std::string& detail_type,
                              std::vector<std::string> resources, json detail,
                              common::SystemTime time) const {
  return json{{"version", "0"},
              {"id", common::NewUuid()},
              {"detail-type", detail_type},
              {"source", source},
              {"account", context_.config().account_id},
              {"time", common::FormatIso8601(time)},
              {"region", context_.config().region},
              {"resources", resources},
              {"detail", std::move(detail)}};
}

OperationResult EventsService::PutEvents(const json& in, const Call& call) {
  if (!in.contains("Entries") || !in["Entries"].is_array() || in["Entries"].empty() ||
      in["Entries"].size() > 10) {
    return Validation(
        "1 validation error detected: Value at 'entries' failed to satisfy "
        "constraint: Member must have length between 1 and 10");
  }
  json entries = json::array();
  int failed = 0;
  for (const json& entry : in["Entries"]) {
    auto fail = [&](const std::string& code, const std::string& message) {
      entries.push_back({{"ErrorCode", code}, {"ErrorMessage", message}});
      ++failed;
    };
    if (!entry.is_object()) {
      fail("InvalidArgument", "Entry is not an object.");
      continue;
    }
    std::string source = JsonString(entry, "Source");
    std::string detail_type = JsonString(entry, "DetailType");
    std::string detail_text = JsonString(entry, "Detail");
    if (source.empty()) {
      fail("InvalidArgument",
           "Parameter Source is not valid. Reason: Source is a required argument.");
      continue;
    }
    if (detail_type.empty()) {
      fail("InvalidArgument",
           "Parameter DetailType is not valid. Reason: DetailType is a required argument.");
      continue;
    }
    if (detail_text.empty()) {
      fail("InvalidArgument",
           "Parameter Detail is not valid. Reason: Detail is a required argument.");
      continue;
    }
    if (common::StartsWith(source, "aws.")) {
      fail("NotAuthorizedForSourceException", "Not authorized for the source.");
      continue;
    }
    json detail = DepthOk(detail_text) ? json::parse(detail_text, nullptr, false) : json();
    if (!detail.is_object()) {
      fail("MalformedDetail", "Detail is malformed.");
      continue;
    }
    std::string bus = JsonString(entry, "EventBusName");
    if (!bus.empty() && bus != "default" && !common::EndsWith(bus, ":event-bus/default")) {
      fail("InvalidArgument", "Event bus " + bus + " does not exist.");
      continue;
    }
    common::SystemTime time = call.time;
    if (entry.contains("Time")) {
      if (auto t = ParseTime(entry["Time"])) time = *t;
    }
    std::vector<std::string> resources;
    if (entry.contains("Resources") && entry["Resources"].is_array()) {
      for (const json& r : entry["Resources"]) {
        if (r.is_string()) resources.push_back(r.get<std::string>());
      }
    }
    json event = MakeEvent(source, detail_type, resources, std::move(detail), time);
    entries.push_back({{"EventId", event["id"]}});
    Publish(std::move(event));
  }
  return json{{"FailedEntryCount", failed}, {"Entries", entries}};
}

OperationResult EventsService::TestEventPattern(const json& in, const Call&) {
  std::string pattern_text = JsonString(in, "EventPattern");
  std::string event_text = JsonString(in, "Event");
  auto compiled = CompilePattern(pattern_text);
  if (!compiled.ok()) return InvalidPattern(compiled.status());
  json event = DepthOk(event_text) ? json::parse(event_text, nullptr, false) : json();
  if (!event.is_object()) return Validation("Parameter Event is not valid.");
  for (const char* field : {"id", "account", "source", "time", "region", "detail-type"}) {
    if (!event.contains(field)) {
      return Validation(std::string("Parameter Event is not valid. Reason: The field '") + field +
                        "' is required.");
    }
  }
  return json{{"Result", (*compiled)->Matches(event)}};
}

OperationResult EventsService::TagResource(const json& in, const Call&) {
  std::string arn = JsonString(in, "ResourceARN");
  common::MutexLock lock(mu_);
  if (!KnownRuleArn(arn)) return NotFound("Rule does not exist: " + arn);
  if (in.contains("Tags") && in["Tags"].is_array()) {
    for (const json& t : in["Tags"]) tags_[arn][JsonString(t, "Key")] = JsonString(t, "Value");
  }
  return json::object();
}

OperationResult EventsService::UntagResource(const json& in, const Call&) {
  std::string arn = JsonString(in, "ResourceARN");
  common::MutexLock lock(mu_);
  if (in.contains("TagKeys") && in["TagKeys"].is_array()) {
    for (const json& k : in["TagKeys"]) {
      if (k.is_string()) tags_[arn].erase(k.get<std::string>());
    }
  }
  return json::object();
}

OperationResult EventsService::ListTagsForResource(const json& in, const Call&) {
  std::string arn = JsonString(in, "ResourceARN");
  common::MutexLock lock(mu_);
  if (!KnownRuleArn(arn)) return NotFound("Rule does not exist: " + arn);
  json tags = json::array();
  for (const auto& [k, v] : tags_[arn]) tags.push_back({{"Key", k}, {"Value", v}});
  return json{{"Tags", tags}};
}

OperationResult EventsService::DescribeEventBus(const json& in, const Call&) {
  if (auto e = CheckBus(in)) return *e;
  return json{{"Name", "default"},
              {"Arn", "arn:aws:events:" + context_.config().region + ":" +
                          context_.config().account_id + ":event-bus/default"}};
}

common::SystemTime EventsService::ScheduleNow() const {
  auto real = std::chrono::steady_clock::now() - steady_epoch_;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(real).count();
  // One schedule minute lasts schedule_minute_ms of real time.
  double virtual_ms =
      static_cast<double>(ms) * 60'000.0 / static_cast<double>(options_.schedule_minute_ms);
  return schedule_epoch_ + std::chrono::milliseconds(static_cast<int64_t>(virtual_ms));
}

void EventsService::ArmSchedule(Rule& rule) {
  if (rule.schedule_timer) context_.timers().Cancel(rule.schedule_timer);
  rule.schedule_timer = 0;
  if (!rule.schedule || stopped_) return;
  common::SystemTime now = ScheduleNow();
  auto next = NextFire(*rule.schedule, now);
  if (!next) return;
  auto virtual_delay = std::chrono::duration_cast<std::chrono::milliseconds>(*next - now).count();
  auto real_delay = std::chrono::milliseconds(
      static_cast<int64_t>(static_cast<double>(virtual_delay) *
                           static_cast<double>(options_.schedule_minute_ms) / 60'000.0));
  std::string name = rule.name;
  uint64_t generation = rule.generation;
  rule.schedule_timer = context_.timers().ScheduleAfter(
      real_delay, [this, name, generation] { FireSchedule(name, generation); });
}

void EventsService::FireSchedule(const std::string& rule_name, uint64_t generation) {
  json event;
  json targets = json::array();
  std::string arn;
  {
    common::MutexLock lock(mu_);
    auto it = rules_.find(rule_name);
    if (stopped_ || it == rules_.end() || it->second.generation != generation) return;
    Rule& rule = it->second;
    rule.schedule_timer = 0;
    ArmSchedule(rule);
    if (rule.state != "ENABLED") return;
    arn = rule.arn;
    event = MakeEvent("aws.events", "Scheduled Event", {rule.arn}, json::object(),
                      context_.clock().Now());
    for (const auto& [id, t] : rule.targets) targets.push_back(t.spec);
  }
  // A schedule's event goes to its own rule's targets only (it is not put on the bus).
  for (const json& t : targets) DeliverToTarget(event, rule_name, arn, t);
}

void EventsService::Publish(json event) {
  auto shared = std::make_shared<json>(std::move(event));
  context_.timers().ScheduleAfter(std::chrono::milliseconds(0),
                                  [this, shared] { Deliver(*shared); });
}

void EventsService::Deliver(const json& event) {
  struct Match {
    std::string name, arn;
    std::vector<json> targets;
  };
  std::vector<Match> matches;
  {
    common::MutexLock lock(mu_);
    if (stopped_) return;
    for (const auto& [name, rule] : rules_) {
      if (rule.state != "ENABLED" || !rule.pattern) continue;
      if (!rule.pattern->Matches(event)) continue;
      Match m{name, rule.arn, {}};
      for (const auto& [id, t] : rule.targets) m.targets.push_back(t.spec);
      matches.push_back(std::move(m));
    }
  }
  for (const Match& m : matches) {
    for (const json& t : m.targets) DeliverToTarget(event, m.name, m.arn, t);
  }
}

void EventsService::DeliverToTarget(const json& event, const std::string& rule_name,
                                    const std::string& rule_arn, const json& target) {
  std::string arn = JsonString(target, "Arn");
  if (!common::StartsWith(arn, "arn:aws:sqs:")) return;
  OutgoingMessage message;
  message.sender_service = "events.amazonaws.com";
  message.sender_source_arn = rule_arn;
  message.sender_source_account = context_.config().account_id;
  if (target.contains("Input")) {
    message.body = JsonString(target, "Input");
  } else if (target.contains("InputPath")) {
    auto value = JsonPath(event, JsonString(target, "InputPath"));
    message.body = value ? value->dump() : "null";
  } else if (target.contains("InputTransformer") && target["InputTransformer"].is_object()) {
    const json& tr = target["InputTransformer"];
    std::map<std::string, std::optional<json>> vars;
    if (tr.contains("InputPathsMap") && tr["InputPathsMap"].is_object()) {
      for (const auto& [var, path] : tr["InputPathsMap"].items()) {
        vars[var] = path.is_string() ? JsonPath(event, path.get<std::string>()) : std::nullopt;
      }
    }
    vars["aws.events.rule-arn"] = json(rule_arn);
    vars["aws.events.rule-name"] = json(rule_name);
    vars["aws.events.event.ingestion-time"] = json(JsonString(event, "time"));
    vars["aws.events.event"] = event;
    vars["aws.events.event.json"] = event;
    std::string out = RenderInputTemplate(JsonString(tr, "InputTemplate"), vars);
    message.body = out;
  } else {
    message.body = event.dump();
  }
  if (common::EndsWith(arn, ".fifo")) {
    message.message_group_id =
        target.contains("SqsParameters") && target["SqsParameters"].is_object()
            ? JsonString(target["SqsParameters"], "MessageGroupId")
            : "";
    message.deduplication_id = JsonString(event, "id");
  }
  auto sent = queues_.SendMessageToArn(arn, std::move(message));
  if (!sent.ok()) {
    spdlog::warn("events: rule {} could not deliver to {}: {}", rule_name, arn,
                 sent.status().ToString());
  }
}

}  // namespace localcloud::eventbridge
