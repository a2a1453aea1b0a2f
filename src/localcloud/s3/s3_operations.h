// Inside the S3 service: its state (buckets, objects, multipart uploads), the request being
// served, and one function per S3 operation behind an operation table. Internal to the s3
// library; S3Service (s3_service.h) is the public face.
#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "aws/error.h"
#include "common/mutex.h"
#include "localcloud/core/cloud.h"
#include "localcloud/core/rest_xml.h"
#include "localcloud/core/s3_observer.h"
#include "localcloud/s3/s3_service.h"

namespace localcloud::s3 {

inline constexpr std::string_view kXmlns = "http://s3.amazonaws.com/doc/2006-03-01/";

// An S3 error value: service "s3", `code`, `message`, HTTP `status`.
aws::AwsError Err(std::string code, std::string message, int status = 400);
aws::AwsError NoSuchBucket();
aws::AwsError NoSuchKey();
aws::AwsError NoSuchUpload();
aws::AwsError MethodNotAllowed();
aws::AwsError InternalError();

struct Object {
  std::shared_ptr<const std::string> data;
  std::string etag;  // quoted
  std::string content_type;
  // Stored headers returned on GET/HEAD: x-amz-meta-*, Content-Encoding, Cache-Control, …
  std::vector<std::pair<std::string, std::string>> headers;
  common::SystemTime last_modified;
};

struct Part {
  std::shared_ptr<const std::string> data;
  std::string etag;  // quoted
  common::SystemTime last_modified;
};

struct Upload {
  std::string bucket;
  std::string key;
  Object prototype;                // content type and headers from CreateMultipartUpload
  std::string checksum_algorithm;  // x-amz-checksum-algorithm ("" = none), lower case
  std::string checksum_type;       // x-amz-checksum-type as given ("" = the default)
  common::SystemTime initiated;
  std::map<int, Part> parts;
};

struct Bucket {
  std::string name;
  std::string region;
  common::SystemTime created;
  std::map<std::string, Object> objects;  // byte order, as S3 lists
  std::string policy;
  S3NotificationConfiguration notification;
  std::vector<std::pair<std::string, std::string>> tags;  // PutBucketTagging; empty: none
};

// Quoted and unquoted ETags.
std::string Quote(std::string_view s);
std::string Unquote(std::string_view s);
// The canonical owner id of an account (ListBuckets, ListObjects).
std::string OwnerId(const std::string& account);
// The object's metadata (content type, stored headers) as the request sets it.
Object PrototypeFrom(const http::Request& request);

// The service's state and persistence. Thread-safe: buckets and uploads sit behind `mu`;
// object bodies are immutable shared buffers, so reads copy them outside the lock.
struct S3Service::Impl {
  explicit Impl(CloudContext& c);

  CloudContext& context;
  std::vector<S3Observer*> observers;  // set before serving, read-only afterwards
  common::Mutex mu;
  std::map<std::string, Bucket> buckets GUARDED_BY(mu);
  std::map<std::string, Upload> uploads GUARDED_BY(mu);  // by upload id
  std::atomic<uint64_t> sequencer;
  std::string root;  // DATA_DIR/s3 or ""; set by Load before serving

  // The bucket named `name`, nullptr when there is none.
  Bucket* FindBucket(const std::string& name) REQUIRES(mu) {
    auto it = buckets.find(name);
    return it == buckets.end() ? nullptr : &it->second;
  }

  // Increasing 16-digit upper-case hex, for S3 event sequencers.
  std::string NextSequencer();

  // Persistence (no-ops without a data dir). Write-through: callers hold `mu` so the files
  // change in the order the map does.
  void SaveBucket(const Bucket& b) REQUIRES(mu);
  common::Status SaveObject(const std::string& bucket, const std::string& key, const Object& o)
      REQUIRES(mu);
  void RemoveObjectFiles(const std::string& bucket, const std::string& key) REQUIRES(mu);
  void RemoveBucketFiles(const std::string& bucket) REQUIRES(mu);
  common::Status LoadAll() REQUIRES(mu);
};

// One request being served: what it addresses, its parameters, and what it leaves behind
// (the CloudTrail record, the object events for the observers).
struct S3Call {
  Call& call;
  const http::Request& request;
  std::string bucket;
  std::string key;
  rest_xml::QueryParams params;
  S3RequestInfo info;
  S3ApiCall record;
  std::vector<S3ObjectEvent> events;
  const rest_xml::Route* route = nullptr;  // the matched row

  bool Has(const char* name) const { return params.count(name) > 0; }
  std::string Param(const char* name) const;
  std::string Header(const char* name) const { return request.headers.GetOr(name, ""); }
  // Queues an object event (sent to the observers after the response is built).
  void ObjectEvent(S3Service::Impl& impl, std::string event_name, std::string reason,
                   const std::string& object_key, uint64_t size, const std::string& etag,
                   const S3NotificationConfiguration& notification);
};

// One S3 operation: reads the request, changes the state, returns the response or the error.
using Operation = aws::Outcome<http::Response> (*)(S3Service::Impl& impl, S3Call& call);

// A row of S3's operation table: the route, the function and the CloudTrail facts.
struct S3Operation {
  rest_xml::Route route;
  Operation run;
  std::string_view event_name;  // CloudTrail eventName ("ListObjects" for both list versions)
  bool read_only = false;
  bool data_event = false;  // CloudTrail data event (object level)
};

// S3's operation table, in matching order.
std::span<const S3Operation> S3Operations();

// The operation that serves `request` addressing `resource`; MethodNotAllowed (405) when
// none does.
aws::Outcome<const S3Operation*> RouteS3(const http::Request& request, rest_xml::Resource resource,
                                         const rest_xml::QueryParams& params);

// --- operations (s3_bucket_operations.cc) ---
aws::Outcome<http::Response> ListBuckets(S3Service::Impl& impl, S3Call& c);
aws::Outcome<http::Response> CreateBucket(S3Service::Impl& impl, S3Call& c);
aws::Outcome<http::Response> HeadBucket(S3Service::Impl& impl, S3Call& c);
aws::Outcome<http::Response> DeleteBucket(S3Service::Impl& impl, S3Call& c);
aws::Outcome<http::Response> GetBucketLocation(S3Service::Impl& impl, S3Call& c);
aws::Outcome<http::Response> GetBucketVersioning(S3Service::Impl& impl, S3Call& c);
aws::Outcome<http::Response> PutBucketTagging(S3Service::Impl& impl, S3Call& c);
aws::Outcome<http::Response> GetBucketTagging(S3Service::Impl& impl, S3Call& c);
aws::Outcome<http::Response> DeleteBucketTagging(S3Service::Impl& impl, S3Call& c);
aws::Outcome<http::Response> PutBucketPolicy(S3Service::Impl& impl, S3Call& c);
aws::Outcome<http::Response> GetBucketPolicy(S3Service::Impl& impl, S3Call& c);
aws::Outcome<http::Response> DeleteBucketPolicy(S3Service::Impl& impl, S3Call& c);
aws::Outcome<http::Response> PutBucketNotificationConfiguration(S3Service::Impl& impl, S3Call& c);
aws::Outcome<http::Response> GetBucketNotificationConfiguration(S3Service::Impl& impl, S3Call& c);
// A bucket sub-resource localcloud does not serve (?acl, ?cors, …): NoSuchBucket or 501.
aws::Outcome<http::Response> UnimplementedSubresource(S3Service::Impl& impl, S3Call& c);

// --- operations (s3_list_operations.cc) ---
aws::Outcome<http::Response> ListObjects(S3Service::Impl& impl, S3Call& c);  // v1 and v2
aws::Outcome<http::Response> ListMultipartUploads(S3Service::Impl& impl, S3Call& c);
aws::Outcome<http::Response> ListParts(S3Service::Impl& impl, S3Call& c);

// --- operations (s3_object_operations.cc) ---
aws::Outcome<http::Response> PutObject(S3Service::Impl& impl, S3Call& c);
aws::Outcome<http::Response> CopyObject(S3Service::Impl& impl, S3Call& c);
aws::Outcome<http::Response> GetObject(S3Service::Impl& impl, S3Call& c);  // and HeadObject
aws::Outcome<http::Response> DeleteObject(S3Service::Impl& impl, S3Call& c);
aws::Outcome<http::Response> DeleteObjects(S3Service::Impl& impl, S3Call& c);

// --- operations (s3_multipart_operations.cc) ---
aws::Outcome<http::Response> CreateMultipartUpload(S3Service::Impl& impl, S3Call& c);
aws::Outcome<http::Response> UploadPart(S3Service::Impl& impl, S3Call& c);
aws::Outcome<http::Response> UploadPartCopy(S3Service::Impl& impl, S3Call& c);
aws::Outcome<http::Response> CompleteMultipartUpload(S3Service::Impl& impl, S3Call& c);
aws::Outcome<http::Response> AbortMultipartUpload(S3Service::Impl& impl, S3Call& c);

// The payload of PutObject / UploadPart: aws-chunked framing decoded (chunk signatures and
// trailing checksums verified when signed), Content-MD5 and x-amz-checksum-* checked.
aws::Outcome<std::string> ReadPayload(const S3Call& c);

// --- notification configuration (s3_bucket_operations.cc) ---
aws::Outcome<S3NotificationConfiguration> ParseNotification(const std::string& body);
std::string RenderNotification(const S3NotificationConfiguration& config);

}  // namespace localcloud::s3
