// AWS CloudTrail over AWS JSON 1.1
// (X-Amz-Target: com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.<Op>).
// https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/  Thread-safe.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aws/client.h"

namespace aws {

struct CreateTrailRequest {
  std::string name;
  std::string s3_bucket_name;
  std::string s3_key_prefix;
  bool is_multi_region_trail = false;
  bool include_global_service_events = true;
  bool enable_log_file_validation = false;
  std::map<std::string, std::string> tags;
};

struct Trail {
  std::string name;
  std::string trail_arn;
  std::string s3_bucket_name;
  std::string s3_key_prefix;
  bool is_multi_region_trail = false;
};

// A basic event selector. For S3 object data events: data_resource_type "AWS::S3::Object",
// values {"arn:aws:s3:::bucket/"} (or a key prefix after the slash).
struct EventSelector {
  std::string read_write_type = "All";  // ReadOnly | WriteOnly | All
  bool include_management_events = false;
  std::string data_resource_type = "AWS::S3::Object";
  std::vector<std::string> data_resource_values;
};

struct TrailStatus {
  bool is_logging = false;
  std::string latest_delivery_error;
};

class CloudTrailClient {
 public:
  explicit CloudTrailClient(ClientOptions options);

  // TrailAlreadyExistsException (AlreadyExists) when the name is taken;
  // InsufficientS3BucketPolicyException when the bucket policy does not let CloudTrail write.
  Outcome<Trail> CreateTrail(const CreateTrailRequest& request) const;
  // Basic selectors. Returns the trail ARN.
  Outcome<std::string> PutEventSelectors(const std::string& trail_name,
                                         const std::vector<EventSelector>& selectors) const;
  // Advanced selectors, passed through as the API's JSON array
  // ([{"Name": …, "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]}, …]}]).
  Outcome<std::string> PutAdvancedEventSelectors(const std::string& trail_name,
                                                 const nlohmann::json& advanced_selectors) const;
  // The raw GetEventSelectors answer (EventSelectors and/or AdvancedEventSelectors).
  Outcome<nlohmann::json> GetEventSelectors(const std::string& trail_name) const;
  AwsStatus StartLogging(const std::string& name) const;
  AwsStatus StopLogging(const std::string& name) const;
  // TrailNotFoundException (NotFound) for an unknown trail.
  AwsStatus DeleteTrail(const std::string& name) const;
  Outcome<TrailStatus> GetTrailStatus(const std::string& name) const;

  const ServiceCaller& caller() const { return caller_; }

 private:
  Outcome<nlohmann::json> Call(const char* operation, const nlohmann::json& body) const;
  ServiceCaller caller_;
};

}  // namespace aws
