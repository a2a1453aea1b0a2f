#include "localcloud/s3/s3_service.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "common/strings.h"
#include "localcloud/s3/s3_checks.h"
#include "localcloud/s3/s3_operations.h"

namespace localcloud::s3 {

using nlohmann::json;
namespace fs = std::filesystem;
using rest_xml::Resource;

// --- errors and shared helpers ---

aws::AwsError Err(std::string code, std::string message, int status) {
  aws::AwsError e;
  e.service = "s3";
  e.code = std::move(code);
  e.message = std::move(message);
  e.http_status = status;
  return e;
}
aws::AwsError NoSuchBucket() {
  return Err("NoSuchBucket", "The specified bucket does not exist", 404);
}
aws::AwsError NoSuchKey() { return Err("NoSuchKey", "The specified key does not exist.", 404); }
aws::AwsError NoSuchUpload() {
  return Err("NoSuchUpload",
             "The specified upload does not exist. The upload ID may be invalid, or the upload "
             "may have been aborted or completed.",
             404);
}
aws::AwsError MethodNotAllowed() { return rest_xml::MethodNotAllowed("s3"); }
aws::AwsError InternalError() {
  return Err("InternalError", "We encountered an internal error. Please try again.", 500);
}

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }
std::string Unquote(std::string_view s) {
  s = common::Trim(s);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return std::string(s);
}

std::string OwnerId(const std::string& account) { return common::Sha256Hex("owner:" + account); }

namespace {

// Headers S3 stores with an object and returns on GET/HEAD.
bool IsStoredHeader(const std::string& lower) {
  return common::StartsWith(lower, "x-amz-meta-") || lower == "content-encoding" ||
         lower == "content-disposition" || lower == "content-language" ||
         lower == "cache-control" || lower == "expires" ||
         lower == "x-amz-website-redirect-location" || lower == "x-amz-storage-class" ||
         lower == "x-amz-tagging-count";
}

}  // namespace

Object PrototypeFrom(const http::Request& request) {
  Object o;
  o.content_type = request.headers.GetOr("content-type", "binary/octet-stream");
  for (const auto& [name, value] : request.headers.entries()) {
    std::string lower = common::ToLower(name);
    if (lower == "content-encoding") {
      // aws-chunked is transfer framing, not part of the object.
      std::vector<std::string> kept;
      for (const std::string& part : common::Split(value, ',')) {
        std::string v(common::Trim(part));
        if (!v.empty() && v != "aws-chunked") kept.push_back(v);
      }
      if (!kept.empty()) o.headers.emplace_back("Content-Encoding", common::Join(kept, ","));
    } else if (IsStoredHeader(lower) && lower != "x-amz-storage-class") {
      o.headers.emplace_back(lower, value);
    } else if (lower == "x-amz-storage-class" && value != "STANDARD") {
      o.headers.emplace_back(lower, value);
    }
  }
  return o;
}

std::string S3Call::Param(const char* name) const {
  auto it = params.find(name);
  return it == params.end() ? "" : it->second;
}

void S3Call::ObjectEvent(S3Service::Impl& impl, std::string event_name, std::string reason,
                         const std::string& object_key, uint64_t size, const std::string& etag,
                         const S3NotificationConfiguration& notification) {
  S3ObjectEvent e;
  e.event_name = std::move(event_name);
  e.reason = std::move(reason);
  e.bucket = bucket;
  e.key = object_key;
  e.size = size;
  e.etag = Unquote(etag);
  e.sequencer = impl.NextSequencer();
  e.notification = notification;
  events.push_back(std::move(e));
}

// --- the operation table ---

namespace {

constexpr Resource kService = Resource::kService;
constexpr Resource kBucket = Resource::kBucket;
constexpr Resource kObject = Resource::kObject;

// A row whose CloudTrail eventName is the operation's name: reads are GET and HEAD,
// object-level operations are data events.
constexpr S3Operation Op(std::string_view method, Resource resource, std::string_view query,
                         std::string_view operation, Operation run, std::string_view header = "") {
  return {{method, resource, query, header, operation},
          run,
          operation,
          method == "GET" || method == "HEAD",
          resource == kObject};
}

// A sub-resource localcloud does not serve: routed so that it is answered NotImplemented
// (501) rather than served as another operation (GET /b/k?tagging is not GetObject).
constexpr S3Operation Unserved(std::string_view method, Resource resource, std::string_view query,
                               std::string_view operation) {
  return Op(method, resource, query, operation, UnimplementedSubresource);
}

// A row whose CloudTrail eventName differs from the model's operation name.
constexpr S3Operation Renamed(S3Operation op, std::string_view event_name, bool data_event) {
  op.event_name = event_name;
  op.data_event = data_event;
  return op;
}

// Matching order matters: a row with a sub-resource or header comes before the bare row of
// its method. A PUT on a bucket with any other query is CreateBucket, which answers 501
// NotImplemented to sub-resources it does not know (?versioning, ?acl, …).
constexpr S3Operation kOperations[] = {
    Op("GET", kService, "", "ListBuckets", ListBuckets),
    // Bucket level.
    Op("PUT", kBucket, "tagging", "PutBucketTagging", PutBucketTagging),
    Op("GET", kBucket, "tagging", "GetBucketTagging", GetBucketTagging),
    Op("DELETE", kBucket, "tagging", "DeleteBucketTagging", DeleteBucketTagging),
    Op("PUT", kBucket, "policy", "PutBucketPolicy", PutBucketPolicy),
    Renamed(Op("PUT", kBucket, "notification", "PutBucketNotificationConfiguration",
               PutBucketNotificationConfiguration),
            "PutBucketNotification", false),
    Op("PUT", kBucket, "", "CreateBucket", CreateBucket),
    Op("HEAD", kBucket, "", "HeadBucket", HeadBucket),
    Op("DELETE", kBucket, "policy", "DeleteBucketPolicy", DeleteBucketPolicy),
    Op("DELETE", kBucket, "", "DeleteBucket", DeleteBucket),
    Renamed(Op("POST", kBucket, "delete", "DeleteObjects", DeleteObjects), "DeleteObjects", true),
    Op("GET", kBucket, "policy", "GetBucketPolicy", GetBucketPolicy),
    Renamed(Op("GET", kBucket, "notification", "GetBucketNotificationConfiguration",
               GetBucketNotificationConfiguration),
            "GetBucketNotification", false),
    Op("GET", kBucket, "location", "GetBucketLocation", GetBucketLocation),
    Op("GET", kBucket, "versioning", "GetBucketVersioning", GetBucketVersioning),
    Op("GET", kBucket, "uploads", "ListMultipartUploads", ListMultipartUploads),
    Unserved("GET", kBucket, "acl", "GetBucketAcl"),
    Unserved("GET", kBucket, "cors", "GetBucketCors"),
    Unserved("GET", kBucket, "lifecycle", "GetBucketLifecycleConfiguration"),
    Unserved("GET", kBucket, "website", "GetBucketWebsite"),
    Unserved("GET", kBucket, "encryption", "GetBucketEncryption"),
    Unserved("GET", kBucket, "replication", "GetBucketReplication"),
    Unserved("GET", kBucket, "logging", "GetBucketLogging"),
    Unserved("GET", kBucket, "object-lock", "GetObjectLockConfiguration"),
    Unserved("GET", kBucket, "ownershipControls", "GetBucketOwnershipControls"),
    Unserved("GET", kBucket, "publicAccessBlock", "GetPublicAccessBlock"),
    Unserved("GET", kBucket, "accelerate", "GetBucketAccelerateConfiguration"),
    Unserved("GET", kBucket, "requestPayment", "GetBucketRequestPayment"),
    Unserved("GET", kBucket, "versions", "ListObjectVersions"),
    // CloudTrail names both listing versions ListObjects; listings are data events.
    Renamed(Op("GET", kBucket, "list-type=2", "ListObjectsV2", ListObjects), "ListObjects", true),
    Renamed(Op("GET", kBucket, "", "ListObjects", ListObjects), "ListObjects", true),
    // Object level.
    Op("POST", kObject, "uploads", "CreateMultipartUpload", CreateMultipartUpload),
    Op("PUT", kObject, "uploadId", "UploadPartCopy", UploadPartCopy, "x-amz-copy-source"),
    Op("PUT", kObject, "uploadId", "UploadPart", UploadPart),
    Op("POST", kObject, "uploadId", "CompleteMultipartUpload", CompleteMultipartUpload),
    Op("DELETE", kObject, "uploadId", "AbortMultipartUpload", AbortMultipartUpload),
    Op("GET", kObject, "uploadId", "ListParts", ListParts),
    Unserved("GET", kObject, "tagging", "GetObjectTagging"),
    Unserved("PUT", kObject, "tagging", "PutObjectTagging"),
    Unserved("DELETE", kObject, "tagging", "DeleteObjectTagging"),
    Unserved("GET", kObject, "acl", "GetObjectAcl"),
    Unserved("PUT", kObject, "acl", "PutObjectAcl"),
    Unserved("GET", kObject, "retention", "GetObjectRetention"),
    Unserved("PUT", kObject, "retention", "PutObjectRetention"),
    Unserved("GET", kObject, "legal-hold", "GetObjectLegalHold"),
    Unserved("PUT", kObject, "legal-hold", "PutObjectLegalHold"),
    Unserved("GET", kObject, "attributes", "GetObjectAttributes"),
    Unserved("GET", kObject, "torrent", "GetObjectTorrent"),
    Unserved("POST", kObject, "restore", "RestoreObject"),
    Unserved("POST", kObject, "select", "SelectObjectContent"),
    Op("PUT", kObject, "", "CopyObject", CopyObject, "x-amz-copy-source"),
    Op("PUT", kObject, "", "PutObject", PutObject),
    Op("DELETE", kObject, "", "DeleteObject", DeleteObject),
    Op("GET", kObject, "", "GetObject", GetObject),
    Op("HEAD", kObject, "", "HeadObject", GetObject),
};

}  // namespace

std::span<const S3Operation> S3Operations() { return kOperations; }

aws::Outcome<const S3Operation*> RouteS3(const http::Request& request, Resource resource,
                                         const rest_xml::QueryParams& params) {
  return rest_xml::Match(S3Operations(), request, resource, params, "s3");
}

// --- state and persistence ---

S3Service::Impl::Impl(CloudContext& c) : context(c) {
  sequencer = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

std::string S3Service::Impl::NextSequencer() {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llX",
                static_cast<unsigned long long>(sequencer.fetch_add(1) + 1));
  return buf;
}

namespace {

fs::path BucketDir(const std::string& root, const std::string& bucket) {
  return fs::path(root) / bucket;
}
fs::path ObjectBase(const std::string& root, const std::string& bucket, const std::string& key) {
  return BucketDir(root, bucket) / "objects" / common::Sha256Hex(key);
}
fs::path WithExtension(fs::path base, const char* extension) {
  base += extension;
  return base;
}

common::Status WriteFile(const fs::path& path, std::string_view data) {
  fs::path tmp = WithExtension(path, ".tmp");
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!f) return common::Unavailable("cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return common::Unavailable("cannot replace " + path.string() + ": " + ec.message());
  return common::Status::Ok();
}

std::string ReadWholeFile(const fs::path& path, bool* ok) {
  std::ifstream f(path, std::ios::binary);
  *ok = static_cast<bool>(f);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

}  // namespace

void S3Service::Impl::SaveBucket(const Bucket& b) {
  if (root.empty()) return;
  std::error_code ec;
  fs::create_directories(BucketDir(root, b.name) / "objects", ec);
  json j = {{"name", b.name},
            {"region", b.region},
            {"created_ms", common::ToUnixMillis(b.created)},
            {"policy", b.policy},
            {"notification_xml", b.notification.raw_xml},
            {"tags", b.tags}};
  if (auto s = WriteFile(BucketDir(root, b.name) / "bucket.json", j.dump()); !s.ok()) {
    spdlog::error("s3: {}", s.ToString());
  }
}

common::Status S3Service::Impl::SaveObject(const std::string& bucket, const std::string& key,
                                           const Object& o) {
  if (root.empty()) return common::Status::Ok();
  fs::path base = ObjectBase(root, bucket, key);
  DAT_RETURN_IF_ERROR(WriteFile(WithExtension(base, ".data"), *o.data));
  json j = {{"key", key},
            {"etag", o.etag},
            {"content_type", o.content_type},
            {"headers", o.headers},
            {"last_modified_ms", common::ToUnixMillis(o.last_modified)}};
  return WriteFile(WithExtension(base, ".meta"), j.dump());
}

void S3Service::Impl::RemoveObjectFiles(const std::string& bucket, const std::string& key) {
  if (root.empty()) return;
  fs::path base = ObjectBase(root, bucket, key);
  std::error_code ec;
  fs::remove(WithExtension(base, ".meta"), ec);
  fs::remove(WithExtension(base, ".data"), ec);
}

void S3Service::Impl::RemoveBucketFiles(const std::string& bucket) {
  if (root.empty()) return;
  std::error_code ec;
  fs::remove_all(BucketDir(root, bucket), ec);
}

namespace {

// The objects of one bucket directory; unreadable ones are skipped with a warning.
void LoadObjects(const fs::path& bucket_dir, Bucket* b) {
  std::error_code ec;
  for (const auto& obj : fs::directory_iterator(bucket_dir / "objects", ec)) {
    if (obj.path().extension() != ".meta") continue;
    bool meta_ok = false, data_ok = false;
    json m = json::parse(ReadWholeFile(obj.path(), &meta_ok), nullptr, false);
    fs::path data_path = obj.path();
    data_path.replace_extension(".data");
    auto data = std::make_shared<std::string>(ReadWholeFile(data_path, &data_ok));
    if (!m.is_object() || !data_ok) {
      spdlog::warn("s3: skipping unreadable object {}", obj.path().string());
      continue;
    }
    Object o;
    o.data = std::move(data);
    o.etag = m.value("etag", "");
    o.content_type = m.value("content_type", "binary/octet-stream");
    o.headers = m.value("headers", std::vector<std::pair<std::string, std::string>>{});
    o.last_modified = common::FromUnixMillis(m.value("last_modified_ms", int64_t{0}));
    b->objects.emplace(m.value("key", ""), std::move(o));
  }
}

}  // namespace

common::Status S3Service::Impl::LoadAll() {
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) return common::Unavailable("cannot create " + root + ": " + ec.message());
  for (const auto& entry : fs::directory_iterator(root)) {
    if (!entry.is_directory()) continue;
    fs::path meta_path = entry.path() / "bucket.json";
    bool opened = false;
    std::string text = ReadWholeFile(meta_path, &opened);
    if (!opened) continue;
    json j = json::parse(text, nullptr, false);
    if (!j.is_object()) return common::InvalidArgument("corrupt " + meta_path.string());
    Bucket b;
    b.name = j.value("name", "");
    b.region = j.value("region", context.config().region);
    b.created = common::FromUnixMillis(j.value("created_ms", int64_t{0}));
    b.policy = j.value("policy", "");
    b.tags = j.value("tags", std::vector<std::pair<std::string, std::string>>{});
    std::string xml = j.value("notification_xml", "");
    if (!xml.empty()) {
      auto parsed = ParseNotification(xml);
      if (parsed.ok()) b.notification = std::move(parsed.value());
    }
    LoadObjects(entry.path(), &b);
    std::string name = b.name;
    buckets.emplace(name, std::move(b));
  }
  return common::Status::Ok();
}

// --- the service ---

S3Service::S3Service(CloudContext& context) : impl_(std::make_unique<Impl>(context)) {}
S3Service::~S3Service() = default;

common::Status S3Service::Load() {
  const std::string& dir = impl_->context.config().data_dir;
  if (dir.empty()) return common::Status::Ok();
  impl_->root = (fs::path(dir) / "s3").string();
  common::MutexLock lock(impl_->mu);
  return impl_->LoadAll();
}

void S3Service::AddObserver(S3Observer* observer) { impl_->observers.push_back(observer); }

bool S3Service::Accepts(const RouteInfo& /*route*/, const http::Request& /*request*/) const {
  return true;
}

namespace {

// Where a request points: the bucket of a virtual host (BUCKET.localhost,
// BUCKET.s3.localhost, BUCKET.s3.REGION.amazonaws.com, …) or the path's first segment, and
// the key after it.
rest_xml::Resource Locate(const std::string& host, const http::Request& req, std::string* bucket,
                          std::string* key) {
  std::string path;
  if (!common::UriDecode(req.path(), &path)) path = std::string(req.path());
  std::string vhost_bucket;
  if (common::EndsWith(host, ".localhost")) {
    vhost_bucket = host.substr(0, host.size() - std::string_view(".localhost").size());
    if (common::EndsWith(vhost_bucket, ".s3")) vhost_bucket.resize(vhost_bucket.size() - 3);
    if (vhost_bucket == "s3") vhost_bucket.clear();
  } else {
    vhost_bucket = AmazonVirtualHostBucket(host);
  }
  std::string_view rest = path;
  if (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  bool has_key = false;
  if (!vhost_bucket.empty()) {
    *bucket = vhost_bucket;
    *key = std::string(rest);
    has_key = !rest.empty();
  } else {
    size_t slash = rest.find('/');
    *bucket = std::string(rest.substr(0, slash));
    if (slash != std::string_view::npos && slash + 1 < rest.size()) {
      *key = std::string(rest.substr(slash + 1));
      has_key = true;
    }
  }
  if (bucket->empty()) return Resource::kService;
  return has_key ? Resource::kObject : Resource::kBucket;
}

}  // namespace

// Object data (PutObject, UploadPart) may be as large as the server allows; every other
// body is an XML document (or a policy) and gets kMaxApiBodyBytes. Decided by the same
// routing as Handle, from the head alone.
size_t S3Service::MaxBodyBytes(const RouteInfo& route, const http::Request& head) const {
  std::string bucket, key;
  Resource resource = Locate(route.host, head, &bucket, &key);
  auto op = RouteS3(head, resource, rest_xml::DecodeQuery(head));
  bool object_data = op.ok() && ((*op)->run == PutObject || (*op)->run == UploadPart);
  return object_data ? 0 : kMaxApiBodyBytes;
}

std::string S3Service::NewRequestId() const {
  return common::ToUpper(common::HexEncode(common::RandomBytes(8)));
}

http::Response S3Service::ErrorResponse(const Call& call, const aws::AwsError& error) const {
  return rest_xml::ErrorResponse(
      error, {call.request_id, call.host_id, call.request.method == "HEAD", {}});
}

namespace {

// Who called and how, for events and CloudTrail.
S3RequestInfo RequestInfoOf(const Call& call) {
  S3RequestInfo info;
  info.request_id = call.request_id;
  info.host_id = call.host_id;
  info.source_ip = call.source_ip;
  info.user_agent = call.user_agent;
  info.host = call.request.headers.GetOr("host", "");
  info.caller = call.caller;
  info.auth_method = !call.signing.signed_request ? ""
                     : call.signing.presigned     ? "QueryString"
                                                  : "AuthHeader";
  info.time = call.time;
  info.bytes_in = call.request.body.size();
  return info;
}

// The CloudTrail record's request facts (the operation's facts are added once routed).
void StartRecord(S3Call& c, Resource resource) {
  c.record.bucket = c.bucket;
  c.record.key = c.key;
  c.record.data_event = resource == Resource::kObject;
  c.record.request_parameters = json::object();
  if (!c.bucket.empty()) c.record.request_parameters["bucketName"] = c.bucket;
  c.record.request_parameters["Host"] = c.info.host;
  if (resource == Resource::kObject) c.record.request_parameters["key"] = c.key;
  for (auto& [k, v] : c.params) {
    if (!common::StartsWith(k, "X-Amz-")) c.record.request_parameters[k] = v;
  }
  c.record.response_elements = nullptr;
}

// Routes and runs the operation.
aws::Outcome<http::Response> Serve(S3Service::Impl& impl, S3Call& c, Resource resource) {
  if (c.key.size() > 1024) return Err("KeyTooLongError", "Your key is too long");
  auto operation = RouteS3(c.request, resource, c.params);
  if (!operation.ok()) return operation.error();
  const S3Operation& op = **operation;
  c.route = &op.route;
  c.record.event_name = std::string(op.event_name);
  c.record.read_only = op.read_only;
  c.record.data_event = op.data_event;
  return op.run(impl, c);
}

// What an error is about, as S3 names it in the error document.
std::vector<std::pair<std::string, std::string>> ErrorResource(const aws::AwsError& e,
                                                               const S3Call& c) {
  if (e.code == "NoSuchBucket" || e.code == "BucketNotEmpty" ||
      e.code == "BucketAlreadyOwnedByYou" || e.code == "NoSuchBucketPolicy") {
    return {{"BucketName", c.bucket}};
  }
  if (e.code == "NoSuchKey") return {{"Key", c.key}};
  if (e.code == "NoSuchUpload") return {{"UploadId", c.Param("uploadId")}};
  return {};
}

// Tells the observers what happened: object events, then the API call.
void Notify(const S3Service::Impl& impl, S3Call& c, const http::Response& response) {
  if (impl.observers.empty()) return;
  c.info.bytes_out = c.request.method == "HEAD" ? 0 : response.body.size();
  c.record.request = c.info;
  c.record.additional_event_data = {{"SignatureVersion", "SigV4"},
                                    {"AuthenticationMethod", c.info.auth_method},
                                    {"bytesTransferredIn", c.info.bytes_in},
                                    {"bytesTransferredOut", c.info.bytes_out},
                                    {"x-amz-id-2", c.call.host_id}};
  for (S3ObjectEvent& e : c.events) {
    e.request = c.info;
    for (S3Observer* o : impl.observers) o->OnObjectEvent(e);
  }
  for (S3Observer* o : impl.observers) o->OnApiCall(c.record);
}

}  // namespace

void S3Service::Handle(Call call, http::Respond respond) {
  S3Call c{call, call.request, "", "", {}, {}, {}, {}, nullptr};
  Resource resource = Locate(call.route.host, call.request, &c.bucket, &c.key);
  c.params = rest_xml::DecodeQuery(call.request);
  c.info = RequestInfoOf(call);
  StartRecord(c, resource);

  aws::Outcome<http::Response> result = Serve(*impl_, c, resource);
  http::Response response;
  if (result.ok()) {
    response = std::move(result.value());
    response.headers.Set("x-amz-request-id", call.request_id);
    response.headers.Set("x-amz-id-2", call.host_id);
  } else {
    const aws::AwsError& e = result.error();
    response = rest_xml::ErrorResponse(
        e, {call.request_id, call.host_id, call.request.method == "HEAD", ErrorResource(e, c)});
    c.record.error_code = e.code;
    c.record.error_message = e.message;
  }
  c.record.http_status = response.status;
  Notify(*impl_, c, response);
  respond(std::move(response));
}

}  // namespace localcloud::s3
