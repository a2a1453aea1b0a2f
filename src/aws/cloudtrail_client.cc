#include "aws/cloudtrail_client.h"

#include "common/json_fields.h"

namespace aws {
namespace {

using nlohmann::json;

constexpr const char* kTargetPrefix = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.";

}  // namespace

CloudTrailClient::CloudTrailClient(ClientOptions options)
    : caller_(std::move(options), "cloudtrail", "cloudtrail") {}

Outcome<json> CloudTrailClient::Call(const char* operation, const json& body) const {
  return caller_.CallJson(std::string(kTargetPrefix) + operation, body, "1.1");
}

Outcome<Trail> CloudTrailClient::CreateTrail(const CreateTrailRequest& request) const {
  json body = {{"Name", request.name},
               {"S3BucketName", request.s3_bucket_name},
               {"IsMultiRegionTrail", request.is_multi_region_trail},
               {"IncludeGlobalServiceEvents", request.include_global_service_events},
               {"EnableLogFileValidation", request.enable_log_file_validation}};
  if (!request.s3_key_prefix.empty()) body["S3KeyPrefix"] = request.s3_key_prefix;
  if (!request.tags.empty()) {
    json tags = json::array();
    for (const auto& [k, v] : request.tags) tags.push_back({{"Key", k}, {"Value", v}});
    body["TagsList"] = std::move(tags);
  }
  auto out = Call("CreateTrail", body);
  if (!out.ok()) return out.error();
  Trail t;
  t.name = common::JsonString(*out, "Name");
  t.trail_arn = common::JsonString(*out, "TrailARN");
  t.s3_bucket_name = common::JsonString(*out, "S3BucketName");
  t.s3_key_prefix = common::JsonString(*out, "S3KeyPrefix");
  t.is_multi_region_trail = out->value("IsMultiRegionTrail", false);
  return t;
}

Outcome<std::string> CloudTrailClient::PutEventSelectors(
    const std::string& trail_name, const std::vector<EventSelector>& selectors) const {
  json list = json::array();
  for (const EventSelector& s : selectors) {
    json selector = {{"ReadWriteType", s.read_write_type},
                     {"IncludeManagementEvents", s.include_management_events}};
    if (!s.data_resource_values.empty()) {
      selector["DataResources"] =
          json::array({{{"Type", s.data_resource_type}, {"Values", s.data_resource_values}}});
    }
    list.push_back(std::move(selector));
  }
  auto out = Call("PutEventSelectors", {{"TrailName", trail_name}, {"EventSelectors", list}});
  if (!out.ok()) return out.error();
  return common::JsonString(*out, "TrailARN");
}

Outcome<std::string> CloudTrailClient::PutAdvancedEventSelectors(
    const std::string& trail_name, const json& advanced_selectors) const {
  auto out = Call("PutEventSelectors",
                  {{"TrailName", trail_name}, {"AdvancedEventSelectors", advanced_selectors}});
  if (!out.ok()) return out.error();
  return common::JsonString(*out, "TrailARN");
}

Outcome<json> CloudTrailClient::GetEventSelectors(const std::string& trail_name) const {
  return Call("GetEventSelectors", {{"TrailName", trail_name}});
}

AwsStatus CloudTrailClient::StartLogging(const std::string& name) const {
  auto out = Call("StartLogging", {{"Name", name}});
  if (!out.ok()) return out.error();
  return Empty{};
}

AwsStatus CloudTrailClient::StopLogging(const std::string& name) const {
  auto out = Call("StopLogging", {{"Name", name}});
  if (!out.ok()) return out.error();
  return Empty{};
}

AwsStatus CloudTrailClient::DeleteTrail(const std::string& name) const {
  auto out = Call("DeleteTrail", {{"Name", name}});
  if (!out.ok()) return out.error();
  return Empty{};
}

Outcome<TrailStatus> CloudTrailClient::GetTrailStatus(const std::string& name) const {
  auto out = Call("GetTrailStatus", {{"Name", name}});
  if (!out.ok()) return out.error();
  TrailStatus s;
  s.is_logging = out->value("IsLogging", false);
  s.latest_delivery_error = common::JsonString(*out, "LatestDeliveryError");
  return s;
}

}  // namespace aws
