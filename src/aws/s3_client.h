// Amazon S3 over its REST/XML API. Path-style URLs (http://endpoint/bucket/key) whenever the
// endpoint is overridden (localcloud) or the bucket name has dots; virtual-hosted style
// (https://bucket.s3.region.amazonaws.com/key) otherwise. Thread-safe.
// https://docs.aws.amazon.com/AmazonS3/latest/API/
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/client.h"

namespace aws {

struct S3Bucket {
  std::string name;
  std::string creation_date;  // ISO-8601 as sent
};

struct PutObjectOptions {
  std::string content_type;                     // "" → S3's default (binary/octet-stream)
  std::map<std::string, std::string> metadata;  // x-amz-meta-<name>
  std::string body_file;                    // when set, the body is streamed from this file instead
  std::map<std::string, std::string> tags;  // x-amz-tagging
};

struct PutObjectResult {
  std::string etag;  // with its quotes, as S3 sends it
  std::string version_id;
};

struct GetObjectOptions {
  // Byte range, inclusive: {first, last}; last nullopt = to the end. Answer is 206.
  std::optional<std::pair<uint64_t, std::optional<uint64_t>>> range;
  // Refuse (ResourceExhausted, code "EntityTooLarge") a buffered body larger than this.
  size_t max_bytes = 256ull << 20;
  // When set, the body is streamed here instead of into S3Object::body; return false to
  // abort. The first 4 KiB are held back until the status is known, so an error body never
  // reaches the sink. A transfer is not retried once bytes reached the sink.
  std::function<bool(std::string_view chunk)> sink;
};

struct S3Object {
  std::string body;  // empty for HeadObject and for streamed GetObject
  std::string content_type;
  uint64_t content_length = 0;
  std::string etag;
  std::string last_modified;  // HTTP date as sent
  std::string content_range;  // "bytes 0-9/100" for a range
  std::string version_id;
  std::map<std::string, std::string> metadata;  // x-amz-meta-*, names lower-case
};

struct ListObjectsOptions {
  std::string prefix;
  std::string delimiter;
  std::string continuation_token;
  std::string start_after;
  int max_keys = 0;  // 0: the service default (1000)
};

struct S3ObjectSummary {
  std::string key;
  uint64_t size = 0;
  std::string etag;
  std::string last_modified;
  std::string storage_class;
};

struct ListObjectsResult {
  std::vector<S3ObjectSummary> objects;
  std::vector<std::string> common_prefixes;
  bool is_truncated = false;
  std::string next_continuation_token;
  int key_count = 0;
};

// One S3 event notification to an SQS queue.
struct S3QueueConfiguration {
  std::string id;
  std::string queue_arn;
  std::vector<std::string> events;  // "s3:ObjectCreated:*", …
  std::string prefix;               // filter rules; "" = none
  std::string suffix;
};

// The bucket's notification configuration (topic and Lambda configurations are not modelled).
struct NotificationConfiguration {
  bool eventbridge = false;  // <EventBridgeConfiguration/>: all events to the default bus
  std::vector<S3QueueConfiguration> queues;
};

class S3Client {
 public:
  explicit S3Client(ClientOptions options);

  // Creates `bucket` in the client's region (a LocationConstraint unless us-east-1).
  // BucketAlreadyOwnedByYou / BucketAlreadyExists (AlreadyExists) when it exists.
  AwsStatus CreateBucket(const std::string& bucket) const;
  // OK when it exists and is accessible; NotFound / PermissionDenied-mapped errors otherwise.
  AwsStatus HeadBucket(const std::string& bucket) const;
  AwsStatus DeleteBucket(const std::string& bucket) const;
  Outcome<std::vector<S3Bucket>> ListBuckets() const;

  Outcome<PutObjectResult> PutObject(const std::string& bucket, const std::string& key,
                                     std::string body, const PutObjectOptions& options = {}) const;
  Outcome<S3Object> GetObject(const std::string& bucket, const std::string& key,
                              const GetObjectOptions& options = {}) const;
  Outcome<S3Object> HeadObject(const std::string& bucket, const std::string& key) const;
  AwsStatus DeleteObject(const std::string& bucket, const std::string& key) const;
  // One page; follow next_continuation_token for more. Keys are requested URL-encoded
  // (encoding-type=url) and decoded here, so any key survives the XML.
  Outcome<ListObjectsResult> ListObjectsV2(const std::string& bucket,
                                           const ListObjectsOptions& options = {}) const;
  // Server-side copy. Returns the new ETag. A 200 carrying an <Error> is an error.
  Outcome<std::string> CopyObject(const std::string& source_bucket, const std::string& source_key,
                                  const std::string& bucket, const std::string& key) const;

  AwsStatus PutBucketNotificationConfiguration(const std::string& bucket,
                                               const NotificationConfiguration& config) const;
  Outcome<NotificationConfiguration> GetBucketNotificationConfiguration(
      const std::string& bucket) const;
  // Sends Content-MD5, which S3 requires here. MalformedPolicy (InvalidArgument) for a
  // policy S3 refuses, e.g. one with no statements: remove a policy with DeleteBucketPolicy.
  AwsStatus PutBucketPolicy(const std::string& bucket, const std::string& policy_json) const;
  // OK also when the bucket has no policy (S3 answers 204 either way).
  AwsStatus DeleteBucketPolicy(const std::string& bucket) const;
  // NoSuchBucketPolicy (NotFound) when the bucket has none.
  Outcome<std::string> GetBucketPolicy(const std::string& bucket) const;
  AwsStatus PutBucketTagging(const std::string& bucket,
                             const std::map<std::string, std::string>& tags) const;

  // The URL of an object (or of the bucket with key ""), as this client addresses it.
  std::string ObjectUrl(const std::string& bucket, const std::string& key) const;

  const ServiceCaller& caller() const { return caller_; }

 private:
  bool PathStyle(const std::string& bucket) const;
  ServiceCaller caller_;
};

// XML bodies, shared with tests and localcloud.
std::string NotificationConfigurationXml(const NotificationConfiguration& config);
common::Result<NotificationConfiguration> ParseNotificationConfigurationXml(std::string_view xml);

}  // namespace aws
