// The hooks S3 calls so other parts of localcloud (EventBridge notifications, CloudTrail data
// events, classic S3 notifications to SQS) can react to what happens in buckets. S3 itself
// only stores the notification configuration; the events are the observers' business.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "localcloud/core/cloud.h"

namespace localcloud {

// A key filter rule of a notification configuration: name "prefix" or "suffix" (lower case).
struct S3FilterRule {
  std::string name;
  std::string value;
};

// One <QueueConfiguration> of a bucket's notification configuration.
struct S3QueueConfiguration {
  std::string id;                   // <Id>; S3 generates one when absent
  std::string queue_arn;            // <Queue>
  std::vector<std::string> events;  // "s3:ObjectCreated:*", "s3:ObjectRemoved:Delete", …
  std::vector<S3FilterRule> filter_rules;
};

// A bucket's notification configuration as S3 stores it. Topic and Lambda configurations
// are kept in `raw_xml` (returned by GetBucketNotificationConfiguration) but not parsed.
struct S3NotificationConfiguration {
  bool eventbridge_enabled = false;  // <EventBridgeConfiguration/>
  std::vector<S3QueueConfiguration> queues;
  std::string raw_xml;  // the configuration as stored, for Get
};

// True when an S3 event name ("ObjectCreated:Put") is selected by a configured event
// ("s3:ObjectCreated:*" or "s3:ObjectCreated:Put").
bool S3EventSelected(std::string_view configured, std::string_view event_name);
// True when `key` passes every rule (prefix/suffix, case-sensitive as S3 does).
bool S3KeyMatchesFilter(const std::vector<S3FilterRule>& rules, std::string_view key);

// Who called and how; shared by object events and API-call records.
struct S3RequestInfo {
  std::string request_id;  // x-amz-request-id (16 upper-case hex)
  std::string host_id;     // x-amz-id-2
  std::string source_ip;
  std::string user_agent;
  std::string host;         // the Host header as sent (CloudTrail requestParameters.Host)
  Principal caller;         // secret cleared
  std::string auth_method;  // "AuthHeader", "QueryString", "" (unsigned / --no-auth)
  common::SystemTime time;
  uint64_t bytes_in = 0;   // request body bytes (decoded payload)
  uint64_t bytes_out = 0;  // response body bytes
};

// An object change, after it is committed (visible to GET).
struct S3ObjectEvent {
  std::string event_name;  // "ObjectCreated:Put" | "ObjectCreated:Copy" |
                           // "ObjectCreated:CompleteMultipartUpload" | "ObjectRemoved:Delete"
  std::string reason;      // "PutObject" | "CopyObject" | "CompleteMultipartUpload" |
                           // "DeleteObject" | "DeleteObjects"
  std::string bucket;
  std::string key;         // decoded (raw UTF-8, spaces as spaces)
  uint64_t size = 0;       // 0 for deletions
  std::string etag;        // without quotes; "" for deletions
  std::string version_id;  // "" when the bucket is not versioned (always, for now)
  std::string sequencer;   // increasing upper-case hex per bucket, 16 digits
  S3RequestInfo request;
  S3NotificationConfiguration notification;  // the bucket's configuration at the time
};

// One S3 API call (every operation, successful or not), enough for a CloudTrail record.
struct S3ApiCall {
  std::string event_name;   // CloudTrail eventName: "PutObject", "GetObject", "ListObjects", …
  bool data_event = false;  // object-level (CloudTrail data event) vs bucket-level (management)
  bool read_only = false;
  std::string bucket;                    // "" for ListBuckets
  std::string key;                       // "" for bucket-level calls
  nlohmann::json request_parameters;     // {"bucketName": …, "Host": …, "key": …, …}
  nlohmann::json response_elements;      // null, or e.g. {"x-amz-version-id": …}
  nlohmann::json additional_event_data;  // {"SignatureVersion": "SigV4", "bytesTransferredIn": …}
  int http_status = 200;
  std::string error_code;  // "" on success ("NoSuchKey")
  std::string error_message;
  S3RequestInfo request;
};

// Receives S3 notifications. Methods are called synchronously on the I/O thread that served
// the request, after the change is committed and before the response is sent; they must not
// block (queue the work). Implementations are thread-safe.
class S3Observer {
 public:
  virtual ~S3Observer() = default;
  // After every object created or removed.
  virtual void OnObjectEvent(const S3ObjectEvent& /*event*/) {}
  // After every S3 API call, including reads and failures.
  virtual void OnApiCall(const S3ApiCall& /*call*/) {}
  // Before a notification configuration is stored. A non-OK status rejects the call:
  // S3 answers 400 InvalidArgument "Unable to validate the following destination
  // configurations" with the status message. S3 sends its s3:TestEvent to each queue here.
  virtual common::Status OnNotificationConfiguration(const std::string& /*bucket*/,
                                                     const S3NotificationConfiguration& /*config*/,
                                                     const S3RequestInfo& /*request*/) {
    return common::Status::Ok();
  }
};

}  // namespace localcloud
