#include "localcloud/cloudtrail/cloudtrail_service.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <memory>

#include "common/crypto.h"
#include "common/json_fields.h"
#include "common/strings.h"

namespace localcloud::cloudtrail {
namespace {

using common::JsonString;
using nlohmann::json;

// CloudTrail answers both target forms: the model's full one (botocore, the Go and Java SDKs)
// and the short one the AWS SDK for JavaScript v3 sends.
constexpr std::string_view kTargetPrefix =
    "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.";
constexpr std::string_view kShortTargetPrefix = "CloudTrail_20131101.";

aws::AwsError Error(std::string code, std::string message) {
  return ServiceError("cloudtrail", std::move(code), std::move(message));
}

aws::AwsError TrailNotFound(const std::string& name) {
  return Error("TrailNotFoundException", "Unknown trail: " + name + " for the user");
}

bool Bool(const json& in, const char* key, bool fallback) {
  auto it = in.find(key);
  return it != in.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

json DefaultSelectors() {
  return json::array({{{"ReadWriteType", "All"},
                       {"IncludeManagementEvents", true},
                       {"DataResources", json::array()},
                       {"ExcludeManagementEventSources", json::array()}}});
}

bool ValidTrailName(const std::string& n) {
  if (n.size() < 3 || n.size() > 128) return false;
  if (!std::isalnum(static_cast<unsigned char>(n.front())) ||
      !std::isalnum(static_cast<unsigned char>(n.back()))) {
    return false;
  }
  for (char c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-')
      return false;
  }
  return true;
}

// One advanced field selector against the call's value of that field.
bool FieldMatches(const json& fs, const std::string& value) {
  auto list = [&](const char* op) -> std::vector<std::string> {
    std::vector<std::string> out;
    if (fs.contains(op) && fs[op].is_array()) {
      for (const json& v : fs[op]) {
        if (v.is_string()) out.push_back(v.get<std::string>());
      }
    }
    return out;
  };
  auto any = [&](const char* op, auto pred) {
    std::vector<std::string> values = list(op);
    if (values.empty()) return true;  // operator not used
    for (const auto& v : values) {
      if (pred(v)) return true;
    }
    return false;
  };
  auto none = [&](const char* op, auto pred) {
    for (const auto& v : list(op)) {
      if (pred(v)) return false;
    }
    return true;
  };
  return any("Equals", [&](const std::string& v) { return value == v; }) &&
         any("StartsWith", [&](const std::string& v) { return common::StartsWith(value, v); }) &&
         any("EndsWith", [&](const std::string& v) { return common::EndsWith(value, v); }) &&
         none("NotEquals", [&](const std::string& v) { return value == v; }) &&
         none("NotStartsWith",
              [&](const std::string& v) { return common::StartsWith(value, v); }) &&
         none("NotEndsWith", [&](const std::string& v) { return common::EndsWith(value, v); });
}

// Basic event selectors with AWS's defaults filled in; InvalidEventSelectorsException for a
// ReadWriteType or DataResources.Type AWS does not know.
aws::Outcome<json> NormalizeBasicSelectors(const json& selectors) {
  json normalized = json::array();
  for (json s : selectors) {
    if (!s.is_object())
      return Error("InvalidEventSelectorsException", "A selector is not an object.");
    std::string rw = s.value("ReadWriteType", "All");
    if (rw != "All" && rw != "ReadOnly" && rw != "WriteOnly") {
      return Error("InvalidEventSelectorsException", "Invalid ReadWriteType " + rw);
    }
    s["ReadWriteType"] = rw;
    if (!s.contains("IncludeManagementEvents")) s["IncludeManagementEvents"] = true;
    if (!s.contains("DataResources")) s["DataResources"] = json::array();
    if (!s.contains("ExcludeManagementEventSources")) {
      s["ExcludeManagementEventSources"] = json::array();
    }
    for (const json& r : s["DataResources"]) {
      std::string type = JsonString(r, "Type");
      if (type != "AWS::S3::Object" && type != "AWS::Lambda::Function" &&
          type != "AWS::DynamoDB::Table") {
        return Error("InvalidEventSelectorsException",
                     "Value " + type + " for DataResources.Type is invalid.");
      }
    }
    normalized.push_back(std::move(s));
  }
  return normalized;
}

}  // namespace

CloudTrailService::CloudTrailService(CloudContext& context, eventbridge::EventsService& bus,
                                     CloudTrailOptions options)
    : context_(context),
      bus_(bus),
      options_(options),
      protocol_(JsonProtocolOptions(
          "cloudtrail", "1.1", {std::string(kTargetPrefix), std::string(kShortTargetPrefix)})) {
  operations_.Add("CreateTrail", BindOperation(this, &CloudTrailService::CreateTrail))
      .Add("DescribeTrails", BindOperation(this, &CloudTrailService::DescribeTrails))
      .Add("ListTrails", BindOperation(this, &CloudTrailService::ListTrails))
      .Add("GetTrail", BindOperation(this, &CloudTrailService::GetTrail))
      .Add("DeleteTrail", BindOperation(this, &CloudTrailService::DeleteTrail))
      .Add("StartLogging", BindOperation(this, &CloudTrailService::StartLogging))
      .Add("StopLogging", BindOperation(this, &CloudTrailService::StopLogging))
      .Add("GetTrailStatus", BindOperation(this, &CloudTrailService::GetTrailStatus))
      .Add("PutEventSelectors", BindOperation(this, &CloudTrailService::PutEventSelectors))
      .Add("GetEventSelectors", BindOperation(this, &CloudTrailService::GetEventSelectors));
}

bool CloudTrailService::Accepts(const RouteInfo& route, const http::Request&) const {
  return protocol_.Accepts(route);
}

http::Response CloudTrailService::ErrorResponse(const Call& call,
                                                const aws::AwsError& error) const {
  return protocol_.RenderError(call, error);
}

void CloudTrailService::Handle(Call call, http::Respond respond) {
  protocol_.Serve(operations_, std::move(call), std::move(respond));
}

CloudTrailService::Trail* CloudTrailService::FindTrail(const std::string& name_or_arn) {
  for (auto& [name, trail] : trails_) {
    if (name == name_or_arn || trail.arn == name_or_arn) return &trail;
  }
  return nullptr;
}

json CloudTrailService::TrailJson(const Trail& t) const {
  json j = {{"Name", t.name},
            {"S3BucketName", t.s3_bucket},
            {"IncludeGlobalServiceEvents", t.include_global_service_events},
            {"IsMultiRegionTrail", t.multi_region},
            {"HomeRegion", context_.config().region},
            {"TrailARN", t.arn},
            {"LogFileValidationEnabled", t.log_file_validation},
            {"HasCustomEventSelectors",
             !t.advanced_event_selectors.is_null() || t.event_selectors != DefaultSelectors()},
            {"HasInsightSelectors", false},
            {"IsOrganizationTrail", false}};
  if (!t.s3_key_prefix.empty()) j["S3KeyPrefix"] = t.s3_key_prefix;
  return j;
}

OperationResult CloudTrailService::CreateTrail(const json& in, const Call&) {
  std::string name = JsonString(in, "Name");
  if (!ValidTrailName(name)) {
    return Error("InvalidTrailNameException",
                 "Trail name must starts with a letter or number, end with a letter or number, "
                 "and contain only ASCII letters, numbers, periods, underscores, and dashes, 3 "
                 "to 128 characters.");
  }
  std::string bucket = JsonString(in, "S3BucketName");
  common::MutexLock lock(mu_);
  if (trails_.count(name)) {
    return Error("TrailAlreadyExistsException",
                 "Trail " + name + " already exists for customer: " + context_.config().account_id);
  }
  if (bucket.empty()) {
    return Error("InvalidParameterCombinationException", "S3BucketName is required.");
  }
  Trail t;
  t.name = name;
  t.arn = "arn:aws:cloudtrail:" + context_.config().region + ":" + context_.config().account_id +
          ":trail/" + name;
  t.s3_bucket = bucket;
  t.s3_key_prefix = JsonString(in, "S3KeyPrefix");
  t.include_global_service_events = Bool(in, "IncludeGlobalServiceEvents", true);
  t.multi_region = Bool(in, "IsMultiRegionTrail", false);
  t.log_file_validation = Bool(in, "EnableLogFileValidation", false);
  t.event_selectors = DefaultSelectors();
  json out = TrailJson(t);
  for (const char* k : {"HomeRegion", "HasCustomEventSelectors", "HasInsightSelectors"}) {
    out.erase(k);
  }
  trails_[name] = std::move(t);
  return out;
}

json CloudTrailService::MatchingTrails(const json& in,
                                       const std::function<json(const Trail&)>& render) {
  std::vector<std::string> names;
  if (in.contains("trailNameList") && in["trailNameList"].is_array()) {
    for (const json& n : in["trailNameList"]) {
      if (n.is_string()) names.push_back(n.get<std::string>());
    }
  }
  json list = json::array();
  common::MutexLock lock(mu_);
  for (const auto& [name, t] : trails_) {
    bool wanted = names.empty();
    for (const auto& n : names) wanted = wanted || n == name || n == t.arn;
    if (wanted) list.push_back(render(t));
  }
  return list;
}

OperationResult CloudTrailService::DescribeTrails(const json& in, const Call&) {
  return json{{"trailList", MatchingTrails(in, [this](const Trail& t) { return TrailJson(t); })}};
}

OperationResult CloudTrailService::ListTrails(const json& in, const Call&) {
  return json{{"Trails", MatchingTrails(in, [this](const Trail& t) {
                 return json{{"TrailARN", t.arn},
                             {"Name", t.name},
                             {"HomeRegion", context_.config().region}};
               })}};
}

OperationResult CloudTrailService::GetTrail(const json& in, const Call&) {
  common::MutexLock lock(mu_);
  Trail* t = FindTrail(JsonString(in, "Name"));
  if (!t) return TrailNotFound(JsonString(in, "Name"));
  return json{{"Trail", TrailJson(*t)}};
}

OperationResult CloudTrailService::DeleteTrail(const json& in, const Call&) {
  common::MutexLock lock(mu_);
  Trail* t = FindTrail(JsonString(in, "Name"));
  if (!t) return TrailNotFound(JsonString(in, "Name"));
  std::string name = t->name;
  trails_.erase(name);
  return json::object();
}

OperationResult CloudTrailService::SetLogging(const json& in, bool logging) {
  common::MutexLock lock(mu_);
  Trail* t = FindTrail(JsonString(in, "Name"));
  if (!t) return TrailNotFound(JsonString(in, "Name"));
  t->logging = logging;
  (logging ? t->start_logging_time : t->stop_logging_time) = context_.clock().Now();
  return json::object();
}

OperationResult CloudTrailService::StartLogging(const json& in, const Call&) {
  return SetLogging(in, true);
}

OperationResult CloudTrailService::StopLogging(const json& in, const Call&) {
  return SetLogging(in, false);
}

OperationResult CloudTrailService::GetTrailStatus(const json& in, const Call&) {
  common::MutexLock lock(mu_);
  Trail* t = FindTrail(JsonString(in, "Name"));
  if (!t) return TrailNotFound(JsonString(in, "Name"));
  json out = {{"IsLogging", t->logging}};
  auto epoch = [](common::SystemTime tp) { return common::ToUnixMillis(tp) / 1000.0; };
  if (t->start_logging_time) out["StartLoggingTime"] = epoch(*t->start_logging_time);
  if (t->stop_logging_time) out["StopLoggingTime"] = epoch(*t->stop_logging_time);
  return out;
}

OperationResult CloudTrailService::PutEventSelectors(const json& in, const Call&) {
  common::MutexLock lock(mu_);
  Trail* t = FindTrail(JsonString(in, "TrailName"));
  if (!t) return TrailNotFound(JsonString(in, "TrailName"));
  bool basic = in.contains("EventSelectors");
  bool advanced = in.contains("AdvancedEventSelectors");
  if (basic == advanced) {
    return Error("InvalidParameterCombinationException",
                 "Specify either EventSelectors or AdvancedEventSelectors, not both.");
  }
  const json& selectors = basic ? in["EventSelectors"] : in["AdvancedEventSelectors"];
  if (!selectors.is_array() || selectors.size() > 5) {
    return Error("InvalidEventSelectorsException", "Between 1 and 5 selectors.");
  }
  json out = {{"TrailARN", t->arn}};
  if (!basic) {
    for (const json& s : selectors) {
      if (!s.contains("FieldSelectors") || !s["FieldSelectors"].is_array()) {
        return Error("InvalidEventSelectorsException", "FieldSelectors are required.");
      }
    }
    t->advanced_event_selectors = selectors;
    t->event_selectors = json();
    out["AdvancedEventSelectors"] = selectors;
    return out;
  }
  auto normalized = NormalizeBasicSelectors(selectors);
  if (!normalized.ok()) return normalized.error();
  t->event_selectors = *normalized;
  t->advanced_event_selectors = json();
  out["EventSelectors"] = *normalized;
  return out;
}

OperationResult CloudTrailService::GetEventSelectors(const json& in, const Call&) {
  common::MutexLock lock(mu_);
  Trail* t = FindTrail(JsonString(in, "TrailName"));
  if (!t) return TrailNotFound(JsonString(in, "TrailName"));
  json out = {{"TrailARN", t->arn}};
  if (!t->advanced_event_selectors.is_null()) {
    out["AdvancedEventSelectors"] = t->advanced_event_selectors;
  } else {
    out["EventSelectors"] = t->event_selectors;
  }
  return out;
}

bool CloudTrailService::Selects(const Trail& t, const S3ApiCall& call) {
  if (!t.logging || !call.data_event) return false;
  const std::string object_arn = "arn:aws:s3:::" + call.bucket + "/" + call.key;
  if (!t.advanced_event_selectors.is_null()) {
    for (const json& selector : t.advanced_event_selectors) {
      bool all = true;
      for (const json& fs : selector["FieldSelectors"]) {
        std::string field = JsonString(fs, "Field");
        std::string value;
        if (field == "eventCategory")
          value = "Data";
        else if (field == "resources.type")
          value = "AWS::S3::Object";
        else if (field == "resources.ARN")
          value = object_arn;
        else if (field == "readOnly")
          value = call.read_only ? "true" : "false";
        else if (field == "eventName")
          value = call.event_name;
        else if (field == "eventSource")
          value = "s3.amazonaws.com";
        else if (field == "eventType")
          value = "AwsApiCall";
        all = all && FieldMatches(fs, value);
      }
      if (all) return true;
    }
    return false;
  }
  for (const json& s : t.event_selectors) {
    std::string rw = JsonString(s, "ReadWriteType");
    if ((rw == "ReadOnly" && !call.read_only) || (rw == "WriteOnly" && call.read_only)) continue;
    for (const json& r : s["DataResources"]) {
      if (JsonString(r, "Type") != "AWS::S3::Object" || !r.contains("Values")) continue;
      for (const json& v : r["Values"]) {
        if (!v.is_string()) continue;
        std::string value = v.get<std::string>();
        // "arn:aws:s3" (or "arn:aws:s3:::") selects every bucket; else an ARN prefix.
        if (value == "arn:aws:s3" || value == "arn:aws:s3:::" ||
            common::StartsWith(object_arn, value)) {
          return true;
        }
      }
    }
  }
  return false;
}

json CloudTrailService::ApiCallEvent(const S3ApiCall& call) const {
  const S3RequestInfo& req = call.request;
  const Principal& p = req.caller;
  std::string account = p.account_id.empty() ? context_.config().account_id : p.account_id;
  json identity = {{"type", p.type.empty() ? "Root" : p.type},
                   {"principalId", p.principal_id.empty() ? account : p.principal_id},
                   {"arn", p.arn.empty() ? "arn:aws:iam::" + account + ":root" : p.arn},
                   {"accountId", account}};
  if (!p.access_key_id.empty()) identity["accessKeyId"] = p.access_key_id;
  if (p.type == "AssumedRole") {
    std::string role_name = p.role_arn.substr(p.role_arn.rfind('/') + 1);
    std::string role_principal = p.principal_id.substr(0, p.principal_id.find(':'));
    json attributes = {{"mfaAuthenticated", "false"}};
    if (p.expiration) attributes["creationDate"] = common::FormatIso8601(req.time);
    identity["sessionContext"] = {{"attributes", attributes},
                                  {"sessionIssuer",
                                   {{"type", "Role"},
                                    {"principalId", role_principal},
                                    {"arn", p.role_arn},
                                    {"accountId", account},
                                    {"userName", role_name}}}};
  }
  json resources = json::array();
  if (!call.key.empty()) {
    resources.push_back(
        {{"type", "AWS::S3::Object"}, {"ARN", "arn:aws:s3:::" + call.bucket + "/" + call.key}});
  }
  if (!call.bucket.empty()) {
    resources.push_back({{"accountId", account},
                         {"type", "AWS::S3::Bucket"},
                         {"ARN", "arn:aws:s3:::" + call.bucket}});
  }
  json detail = {{"eventVersion", "1.09"},
                 {"userIdentity", identity},
                 {"eventTime", common::FormatIso8601(req.time)},
                 {"eventSource", "s3.amazonaws.com"},
                 {"eventName", call.event_name},
                 {"awsRegion", context_.config().region},
                 {"sourceIPAddress", req.source_ip},
                 {"userAgent", "[" + req.user_agent + "]"},
                 {"requestParameters", call.request_parameters},
                 {"responseElements", call.response_elements},
                 {"additionalEventData", call.additional_event_data},
                 {"requestID", req.request_id},
                 {"eventID", common::NewUuid()},
                 {"readOnly", call.read_only},
                 {"resources", resources},
                 {"eventType", "AwsApiCall"},
                 {"managementEvent", false},
                 {"recipientAccountId", context_.config().account_id},
                 {"eventCategory", "Data"}};
  if (!call.error_code.empty()) {
    detail["errorCode"] = call.error_code;
    detail["errorMessage"] = call.error_message;
  }
  return bus_.MakeEvent("aws.s3", "AWS API Call via CloudTrail", {}, std::move(detail), req.time);
}

void CloudTrailService::OnApiCall(const S3ApiCall& call) {
  {
    common::MutexLock lock(mu_);
    bool selected = false;
    for (const auto& [name, trail] : trails_) selected = selected || Selects(trail, call);
    if (!selected) return;
  }
  auto event = std::make_shared<json>(ApiCallEvent(call));
  if (options_.delivery_delay.count() <= 0) {
    bus_.Publish(std::move(*event));
    return;
  }
  context_.timers().ScheduleAfter(options_.delivery_delay,
                                  [this, event] { bus_.Publish(std::move(*event)); });
}

}  // namespace localcloud::cloudtrail
