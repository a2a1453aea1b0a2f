#include "localcloud/s3/s3_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <pugixml.hpp>
#include <set>
#include <vector>

#include "aws/chunked.h"
#include "aws/sigv4.h"
#include "common/crypto.h"
#include "common/strings.h"
#include "localcloud/core/resource_policy.h"
#include "localcloud/core/xml_writer.h"
#include "localcloud/s3/s3_checks.h"

namespace localcloud::s3 {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr std::string_view kXmlns = "http://s3.amazonaws.com/doc/2006-03-01/";
constexpr uint64_t kMinPartSize = 5ull * 1024 * 1024;

aws::AwsError Err(std::string code, std::string message, int status = 400) {
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
aws::AwsError MalformedXml() {
  return Err("MalformedXML",
             "The XML you provided was not well-formed or did not validate against our "
             "published schema");
}

// S3's XML bodies are small documents a few levels deep.
constexpr int kMaxXmlDepth = 32;

// Whether pugixml's tree nests deeper than `max_depth` elements; iterative.
bool XmlDeeperThan(const pugi::xml_node& root, int max_depth) {
  std::vector<std::pair<pugi::xml_node, int>> stack = {{root, 0}};
  while (!stack.empty()) {
    auto [node, depth] = stack.back();
    stack.pop_back();
    if (depth > max_depth) return true;
    for (pugi::xml_node child = node.first_child(); child; child = child.next_sibling()) {
      stack.emplace_back(child, depth + 1);
    }
  }
  return false;
}

// Parses a request's XML body as S3 does: not well-formed, not UTF-8 or nested deeper than
// kMaxXmlDepth gives MalformedXML.
aws::Outcome<bool> LoadXml(std::string_view body, pugi::xml_document* doc) {
  if (!common::IsValidUtf8(body)) return MalformedXml();
  if (!doc->load_buffer(body.data(), body.size(), pugi::parse_default, pugi::encoding_utf8)) {
    return MalformedXml();
  }
  if (XmlDeeperThan(*doc, kMaxXmlDepth)) return MalformedXml();
  return true;
}

http::Response XmlResponse(int status, std::string body);

aws::AwsError InvalidTag(std::string message) { return Err("InvalidTag", std::move(message)); }

// The TagSet of a Tagging document, validated as S3 validates bucket tags.
aws::Outcome<std::vector<std::pair<std::string, std::string>>> ParseTagging(std::string_view body) {
  pugi::xml_document doc;
  if (auto loaded = LoadXml(body, &doc); !loaded.ok()) return loaded.error();
  pugi::xml_node tag_set = doc.child("Tagging").child("TagSet");
  if (!tag_set) return MalformedXml();
  std::vector<std::pair<std::string, std::string>> tags;
  for (pugi::xml_node tag : tag_set.children("Tag")) {
    if (!tag.child("Key")) return MalformedXml();
    std::string key = tag.child_value("Key");
    std::string value = tag.child_value("Value");
    if (key.empty() || key.size() > 128 || value.size() > 256) {
      return InvalidTag("The TagKey you have provided is invalid");
    }
    if (common::StartsWith(key, "aws:")) {
      return InvalidTag("System tags cannot be added/updated by requester");
    }
    for (const auto& existing : tags) {
      if (existing.first == key) {
        return InvalidTag("Cannot provide multiple Tags with the same key");
      }
    }
    tags.emplace_back(std::move(key), std::move(value));
  }
  if (tags.size() > 50) return InvalidTag("Object tags cannot be greater than 50");
  return tags;
}

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

bool ValidBucketName(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return false;
  for (char c : name) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-')) {
      return false;
    }
  }
  auto alnum = [](char c) {
    return std::islower(static_cast<unsigned char>(c)) ||
           std::isdigit(static_cast<unsigned char>(c));
  };
  return alnum(name.front()) && alnum(name.back()) && name.find("..") == std::string_view::npos;
}

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }
std::string Unquote(std::string_view s) {
  s = common::Trim(s);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return std::string(s);
}

// Headers S3 stores with an object and returns on GET/HEAD.
bool IsStoredHeader(const std::string& lower) {
  return common::StartsWith(lower, "x-amz-meta-") || lower == "content-encoding" ||
         lower == "content-disposition" || lower == "content-language" ||
         lower == "cache-control" || lower == "expires" ||
         lower == "x-amz-website-redirect-location" || lower == "x-amz-storage-class" ||
         lower == "x-amz-tagging-count";
}

// The object's metadata as the request sets it.
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

std::string StorageClass(const Object& o) {
  for (const auto& [n, v] : o.headers) {
    if (n == "x-amz-storage-class") return v;
  }
  return "STANDARD";
}

// Strips aws-chunked framing without checking signatures (--no-auth only: without the
// caller's secret the chunk signatures cannot be recomputed).
aws::Outcome<std::string> StripChunkFraming(std::string_view body) {
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t eol = body.find("\r\n", pos);
    if (eol == std::string_view::npos) return Err("IncompleteBody", "truncated aws-chunked body");
    std::string_view line = body.substr(pos, eol - pos);
    line = line.substr(0, line.find(';'));
    size_t size = 0;
    for (char c : line) {
      int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
              : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
              : (c >= 'A' && c <= 'F')                    ? c - 'A' + 10
                                                          : -1;
      if (d < 0) return Err("IncompleteBody", "bad aws-chunked chunk size");
      size = size * 16 + d;
    }
    pos = eol + 2;
    if (size == 0) return out;
    if (pos + size > body.size()) return Err("IncompleteBody", "truncated aws-chunked body");
    out.append(body.substr(pos, size));
    pos += size + 2;
  }
}

std::string OwnerId(const std::string& account) { return common::Sha256Hex("owner:" + account); }

}  // namespace

struct S3Service::Impl {
  explicit Impl(CloudContext& c) : context(c) {
    sequencer = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
  }

  CloudContext& context;
  std::vector<S3Observer*> observers;
  std::mutex mu;
  std::map<std::string, Bucket> buckets;  // guarded by mu
  std::map<std::string, Upload> uploads;  // by upload id; guarded by mu
  std::atomic<uint64_t> sequencer;
  std::string root;  // DATA_DIR/s3 or ""

  std::string NextSequencer() {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%016llX",
                  static_cast<unsigned long long>(sequencer.fetch_add(1) + 1));
    return buf;
  }

  // --- persistence ---

  fs::path BucketDir(const std::string& bucket) const { return fs::path(root) / bucket; }
  fs::path ObjectBase(const std::string& bucket, const std::string& key) const {
    return BucketDir(bucket) / "objects" / common::Sha256Hex(key);
  }

  static common::Status WriteFile(const fs::path& path, std::string_view data) {
    fs::path tmp = path;
    tmp += ".tmp";
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

  void SaveBucket(const Bucket& b) {
    if (root.empty()) return;
    std::error_code ec;
    fs::create_directories(BucketDir(b.name) / "objects", ec);
    json j = {{"name", b.name},
              {"region", b.region},
              {"created_ms", common::ToUnixMillis(b.created)},
              {"policy", b.policy},
              {"notification_xml", b.notification.raw_xml},
              {"tags", b.tags}};
    if (auto s = WriteFile(BucketDir(b.name) / "bucket.json", j.dump()); !s.ok()) {
      spdlog::error("s3: {}", s.ToString());
    }
  }

  common::Status SaveObject(const std::string& bucket, const std::string& key, const Object& o) {
    if (root.empty()) return common::Status::Ok();
    fs::path base = ObjectBase(bucket, key);
    fs::path data = base, meta = base;
    data += ".data";
    meta += ".meta";
    DAT_RETURN_IF_ERROR(WriteFile(data, *o.data));
    json j = {{"key", key},
              {"etag", o.etag},
              {"content_type", o.content_type},
              {"headers", o.headers},
              {"last_modified_ms", common::ToUnixMillis(o.last_modified)}};
    return WriteFile(meta, j.dump());
  }

  void RemoveObjectFiles(const std::string& bucket, const std::string& key) {
    if (root.empty()) return;
    fs::path base = ObjectBase(bucket, key);
    std::error_code ec;
    fs::path data = base, meta = base;
    data += ".data";
    meta += ".meta";
    fs::remove(meta, ec);
    fs::remove(data, ec);
  }

  void RemoveBucketFiles(const std::string& bucket) {
    if (root.empty()) return;
    std::error_code ec;
    fs::remove_all(BucketDir(bucket), ec);
  }

  // --- bucket tagging ---

  // PutBucketTagging (204), GetBucketTagging (200; NoSuchTagSet when none),
  // DeleteBucketTagging (204).
  aws::Outcome<http::Response> BucketTagging(const std::string& method, const std::string& bucket,
                                             std::string_view body, std::string* event_name) {
    if (method != "PUT" && method != "GET" && method != "DELETE") {
      return Err("MethodNotAllowed", "The specified method is not allowed against this resource.",
                 405);
    }
    *event_name = method == "PUT"   ? "PutBucketTagging"
                  : method == "GET" ? "GetBucketTagging"
                                    : "DeleteBucketTagging";
    std::vector<std::pair<std::string, std::string>> tags;
    if (method == "PUT") {
      auto parsed = ParseTagging(body);
      if (!parsed.ok()) return parsed.error();
      tags = std::move(parsed.value());
    }
    std::lock_guard<std::mutex> lock(mu);
    auto it = buckets.find(bucket);
    if (it == buckets.end()) return NoSuchBucket();
    Bucket& b = it->second;
    if (method == "GET") {
      if (b.tags.empty()) return Err("NoSuchTagSet", "The TagSet does not exist", 404);
      XmlWriter w;
      w.Open("Tagging", kXmlns).Open("TagSet");
      for (const auto& [key, value] : b.tags) {
        w.Open("Tag").Element("Key", key).Element("Value", value).Close();
      }
      return XmlResponse(200, w.Finish());
    }
    b.tags = std::move(tags);
    SaveBucket(b);
    return http::Response::Text(204, "", "application/xml");
  }

  // --- notification configuration ---

  aws::Outcome<S3NotificationConfiguration> ParseNotification(const std::string& body) {
    S3NotificationConfiguration config;
    pugi::xml_document doc;
    if (!body.empty() && !LoadXml(body, &doc).ok()) return MalformedXml();
    pugi::xml_node root_node = doc.child("NotificationConfiguration");
    if (!body.empty() && !root_node) return MalformedXml();
    for (pugi::xml_node n : root_node.children()) {
      std::string name = n.name();
      if (name == "EventBridgeConfiguration") {
        config.eventbridge_enabled = true;
      } else if (name == "QueueConfiguration") {
        S3QueueConfiguration q;
        q.id = n.child_value("Id");
        if (q.id.empty()) q.id = common::Base64Encode(common::RandomBytes(12));
        q.queue_arn = n.child_value("Queue");
        for (pugi::xml_node e : n.children("Event")) q.events.push_back(e.child_value());
        for (pugi::xml_node r : n.child("Filter").child("S3Key").children("FilterRule")) {
          q.filter_rules.push_back(
              {common::ToLower(r.child_value("Name")), r.child_value("Value")});
        }
        std::vector<std::string> arn = common::Split(q.queue_arn, ':');
        if (arn.size() != 6 || arn[2] != "sqs" || q.events.empty()) {
          return Err("InvalidArgument",
                     "Unable to validate the following destination configurations");
        }
        for (const std::string& e : q.events) {
          if (!common::StartsWith(e, "s3:")) {
            return Err("InvalidArgument", "The event is not supported for notifications");
          }
        }
        config.queues.push_back(std::move(q));
      } else if (name == "TopicConfiguration" || name == "CloudFunctionConfiguration") {
        // UNFINISHED: SNS topics and Lambda functions are not emulated by localcloud.
        return Err("InvalidArgument",
                   "Unable to validate the following destination configurations");
      }
    }
    config.raw_xml = RenderNotification(config);
    return config;
  }

  static std::string RenderNotification(const S3NotificationConfiguration& config) {
    XmlWriter w;
    w.Open("NotificationConfiguration", kXmlns);
    for (const S3QueueConfiguration& q : config.queues) {
      w.Open("QueueConfiguration").Element("Id", q.id).Element("Queue", q.queue_arn);
      for (const std::string& e : q.events) w.Element("Event", e);
      if (!q.filter_rules.empty()) {
        w.Open("Filter").Open("S3Key");
        for (const S3FilterRule& r : q.filter_rules) {
          std::string name = r.name == "prefix" ? "Prefix" : r.name == "suffix" ? "Suffix" : r.name;
          w.Open("FilterRule").Element("Name", name).Element("Value", r.value).Close();
        }
        w.Close().Close();
      }
      w.Close();
    }
    if (config.eventbridge_enabled) w.Open("EventBridgeConfiguration").Close();
    return w.Finish();
  }

  // --- loading ---

  common::Status LoadAll() {
    std::error_code ec;
    fs::create_directories(root, ec);
    if (ec) return common::Unavailable("cannot create " + root + ": " + ec.message());
    for (const auto& entry : fs::directory_iterator(root)) {
      if (!entry.is_directory()) continue;
      fs::path meta_path = entry.path() / "bucket.json";
      std::ifstream f(meta_path);
      if (!f) continue;
      std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
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
      for (const auto& obj : fs::directory_iterator(entry.path() / "objects", ec)) {
        if (obj.path().extension() != ".meta") continue;
        std::ifstream mf(obj.path());
        std::string mtext((std::istreambuf_iterator<char>(mf)), std::istreambuf_iterator<char>());
        json m = json::parse(mtext, nullptr, false);
        fs::path data_path = obj.path();
        data_path.replace_extension(".data");
        std::ifstream df(data_path, std::ios::binary);
        if (!m.is_object() || !df) {
          spdlog::warn("s3: skipping unreadable object {}", obj.path().string());
          continue;
        }
        auto data = std::make_shared<std::string>((std::istreambuf_iterator<char>(df)),
                                                  std::istreambuf_iterator<char>());
        Object o;
        o.data = std::move(data);
        o.etag = m.value("etag", "");
        o.content_type = m.value("content_type", "binary/octet-stream");
        o.headers = m.value("headers", std::vector<std::pair<std::string, std::string>>{});
        o.last_modified = common::FromUnixMillis(m.value("last_modified_ms", int64_t{0}));
        b.objects.emplace(m.value("key", ""), std::move(o));
      }
      std::string name = b.name;
      buckets.emplace(name, std::move(b));
    }
    return common::Status::Ok();
  }
};

S3Service::S3Service(CloudContext& context) : impl_(std::make_unique<Impl>(context)) {}
S3Service::~S3Service() = default;

common::Status S3Service::Load() {
  const std::string& dir = impl_->context.config().data_dir;
  if (dir.empty()) return common::Status::Ok();
  impl_->root = (fs::path(dir) / "s3").string();
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->LoadAll();
}

void S3Service::AddObserver(S3Observer* observer) { impl_->observers.push_back(observer); }

bool S3Service::Accepts(const RouteInfo& /*route*/, const http::Request& /*request*/) const {
  return true;
}

size_t S3Service::MaxBodyBytes(const RouteInfo& /*route*/, const http::Request& head) const {
  if (head.method != "PUT") return kMaxApiBodyBytes;
  // Sub-resources whose PUT carries an XML document, not object data.
  static const std::set<std::string, std::less<>> kConfigs = {"acl",
                                                              "analytics",
                                                              "cors",
                                                              "encryption",
                                                              "intelligent-tiering",
                                                              "inventory",
                                                              "legal-hold",
                                                              "lifecycle",
                                                              "logging",
                                                              "metrics",
                                                              "notification",
                                                              "object-lock",
                                                              "ownershipControls",
                                                              "policy",
                                                              "publicAccessBlock",
                                                              "replication",
                                                              "requestPayment",
                                                              "retention",
                                                              "tagging",
                                                              "versioning",
                                                              "website",
                                                              "accelerate"};
  for (const auto& [name, value] : http::ParseQuery(head.query())) {
    if (kConfigs.count(name) > 0) return kMaxApiBodyBytes;
  }
  return 0;
}

std::string S3Service::NewRequestId() const {
  return common::ToUpper(common::HexEncode(common::RandomBytes(8)));
}

http::Response S3Service::ErrorResponse(const Call& call, const aws::AwsError& error) const {
  aws::AwsError e = error;
  e.request_id = call.request_id;
  http::Response r = aws::ToS3XmlResponse(e, {{"HostId", call.host_id}});
  r.headers.Set("x-amz-id-2", call.host_id);
  if (call.request.method == "HEAD") r.body.clear();
  return r;
}

namespace {

// One request being served: location, parameters and the API-call record.
struct S3Request {
  Call& call;
  std::string bucket;
  std::string key;
  bool has_key = false;
  std::map<std::string, std::string> params;  // decoded query
  S3ApiCall record;

  bool Has(const char* name) const { return params.count(name) > 0; }
  std::string Param(const char* name) const {
    auto it = params.find(name);
    return it == params.end() ? "" : it->second;
  }
  std::string Header(const char* name) const { return call.request.headers.GetOr(name, ""); }
};

http::Response XmlResponse(int status, std::string body) {
  return http::Response::Text(status, std::move(body), "application/xml");
}

}  // namespace

void S3Service::Handle(Call call, http::Respond respond) {
  Impl& impl = *impl_;
  S3Request r{call, "", "", false, {}, {}};
  const http::Request& req = call.request;

  // Locate bucket and key: virtual host (BUCKET.localhost) or path style.
  std::string path;
  if (!common::UriDecode(req.path(), &path)) path = std::string(req.path());
  std::string host = call.route.host;
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
  if (!vhost_bucket.empty()) {
    r.bucket = vhost_bucket;
    r.key = std::string(rest);
    r.has_key = !rest.empty();
  } else {
    size_t slash = rest.find('/');
    r.bucket = std::string(rest.substr(0, slash));
    if (slash != std::string_view::npos && slash + 1 < rest.size()) {
      r.key = std::string(rest.substr(slash + 1));
      r.has_key = true;
    }
  }
  for (auto& [k, v] : http::ParseQuery(req.query())) r.params[k] = v;

  S3RequestInfo info;
  info.request_id = call.request_id;
  info.host_id = call.host_id;
  info.source_ip = call.source_ip;
  info.user_agent = call.user_agent;
  info.host = req.headers.GetOr("host", "");
  info.caller = call.caller;
  info.auth_method = !call.signing.signed_request ? ""
                     : call.signing.presigned     ? "QueryString"
                                                  : "AuthHeader";
  info.time = call.time;
  info.bytes_in = req.body.size();
  r.record.bucket = r.bucket;
  r.record.key = r.key;
  r.record.data_event = r.has_key;
  r.record.request_parameters = json::object();
  if (!r.bucket.empty()) r.record.request_parameters["bucketName"] = r.bucket;
  r.record.request_parameters["Host"] = info.host;
  if (r.has_key) r.record.request_parameters["key"] = r.key;
  for (auto& [k, v] : r.params) {
    if (!common::StartsWith(k, "X-Amz-")) r.record.request_parameters[k] = v;
  }
  r.record.response_elements = nullptr;

  std::vector<S3ObjectEvent> events;
  auto object_event = [&](std::string event_name, std::string reason, const std::string& key,
                          uint64_t size, const std::string& etag,
                          const S3NotificationConfiguration& notification) {
    S3ObjectEvent e;
    e.event_name = std::move(event_name);
    e.reason = std::move(reason);
    e.bucket = r.bucket;
    e.key = key;
    e.size = size;
    e.etag = Unquote(etag);
    e.sequencer = impl.NextSequencer();
    e.notification = notification;
    events.push_back(std::move(e));
  };

  auto result = [&]() -> aws::Outcome<http::Response> {
    const std::string& method = req.method;
    if (r.key.size() > 1024) {
      return Err("KeyTooLongError", "Your key is too long");
    }
    // ---- service level ----
    if (r.bucket.empty()) {
      r.record.event_name = "ListBuckets";
      r.record.read_only = true;
      if (method != "GET")
        return Err("MethodNotAllowed", "The specified method is not allowed against this resource.",
                   405);
      XmlWriter w;
      w.Open("ListAllMyBucketsResult", kXmlns);
      w.Open("Owner")
          .Element("ID", OwnerId(impl.context.config().account_id))
          .Element("DisplayName", "localcloud")
          .Close();
      w.Open("Buckets");
      std::lock_guard<std::mutex> lock(impl.mu);
      for (const auto& [name, b] : impl.buckets) {
        w.Open("Bucket")
            .Element("Name", name)
            .Element("CreationDate", common::FormatIso8601Millis(b.created))
            .Close();
      }
      w.Close();
      return XmlResponse(200, w.Finish());
    }

    // ---- bucket level ----
    if (!r.has_key) {
      if (r.Has("tagging")) {
        r.record.read_only = method == "GET";
        return impl.BucketTagging(method, r.bucket, req.body, &r.record.event_name);
      }
      if (method == "PUT" && r.Has("policy")) {
        r.record.event_name = "PutBucketPolicy";
        common::Status valid = ValidateResourcePolicy(req.body, {"s3", "arn:aws:s3:::" + r.bucket});
        if (!valid.ok()) return Err("MalformedPolicy", valid.message());
        std::lock_guard<std::mutex> lock(impl.mu);
        auto it = impl.buckets.find(r.bucket);
        if (it == impl.buckets.end()) return NoSuchBucket();
        it->second.policy = req.body;
        impl.SaveBucket(it->second);
        return http::Response::Text(204, "", "application/xml");
      }
      if (method == "PUT" && r.Has("notification")) {
        r.record.event_name = "PutBucketNotification";
        auto config = impl.ParseNotification(req.body);
        if (!config.ok()) return config.error();
        {
          std::lock_guard<std::mutex> lock(impl.mu);
          if (!impl.buckets.count(r.bucket)) return NoSuchBucket();
        }
        for (S3Observer* o : impl.observers) {
          common::Status s = o->OnNotificationConfiguration(r.bucket, *config, info);
          if (!s.ok()) {
            return Err(
                "InvalidArgument",
                "Unable to validate the following destination configurations: " + s.message());
          }
        }
        std::lock_guard<std::mutex> lock(impl.mu);
        auto it = impl.buckets.find(r.bucket);
        if (it == impl.buckets.end()) return NoSuchBucket();
        it->second.notification = std::move(config.value());
        impl.SaveBucket(it->second);
        return http::Response::Text(200, "", "application/xml");
      }
      if (method == "PUT") {
        r.record.event_name = "CreateBucket";
        if (r.params.size() > 0) {
          return Err("NotImplemented",
                     "A header you provided implies functionality that is not implemented", 501);
        }
        if (!ValidBucketName(r.bucket)) {
          return Err("InvalidBucketName", "The specified bucket is not valid.");
        }
        std::string region = call.route.signing_region.empty() ? impl.context.config().region
                                                               : call.route.signing_region;
        std::string constraint;
        if (!req.body.empty()) {
          pugi::xml_document doc;
          if (!LoadXml(req.body, &doc).ok()) return MalformedXml();
          constraint = doc.child("CreateBucketConfiguration").child_value("LocationConstraint");
        }
        if (auto e = CheckLocationConstraint(constraint, region)) return *e;
        if (!constraint.empty()) region = constraint == "EU" ? "eu-west-1" : constraint;
        std::lock_guard<std::mutex> lock(impl.mu);
        if (impl.buckets.count(r.bucket)) {
          return Err("BucketAlreadyOwnedByYou",
                     "Your previous request to create the named bucket succeeded and you "
                     "already own it.",
                     409);
        }
        Bucket b;
        b.name = r.bucket;
        b.region = region;
        b.created = call.time;
        impl.SaveBucket(b);
        impl.buckets.emplace(r.bucket, std::move(b));
        http::Response resp = http::Response::Text(200, "", "application/xml");
        resp.headers.Set("Location", "/" + r.bucket);
        return resp;
      }
      std::unique_lock<std::mutex> lock(impl.mu);
      auto it = impl.buckets.find(r.bucket);
      if (method == "HEAD") {
        r.record.event_name = "HeadBucket";
        r.record.read_only = true;
        if (it == impl.buckets.end()) return NoSuchBucket();
        http::Response resp = http::Response::Text(200, "", "application/xml");
        resp.headers.Set("x-amz-bucket-region", it->second.region);
        return resp;
      }
      if (method == "DELETE" && r.Has("policy")) {
        r.record.event_name = "DeleteBucketPolicy";
        if (it == impl.buckets.end()) return NoSuchBucket();
        it->second.policy.clear();
        impl.SaveBucket(it->second);
        return http::Response::Text(204, "", "application/xml");
      }
      if (method == "DELETE") {
        r.record.event_name = "DeleteBucket";
        if (it == impl.buckets.end()) return NoSuchBucket();
        if (!it->second.objects.empty()) {
          return Err("BucketNotEmpty", "The bucket you tried to delete is not empty", 409);
        }
        for (auto u = impl.uploads.begin(); u != impl.uploads.end();) {
          u = u->second.bucket == r.bucket ? impl.uploads.erase(u) : std::next(u);
        }
        impl.buckets.erase(it);
        impl.RemoveBucketFiles(r.bucket);
        return http::Response::Text(204, "", "application/xml");
      }
      if (method == "POST" && r.Has("delete")) {
        r.record.event_name = "DeleteObjects";
        r.record.data_event = true;
        if (it == impl.buckets.end()) return NoSuchBucket();
        pugi::xml_document doc;
        if (!LoadXml(req.body, &doc).ok()) return MalformedXml();
        pugi::xml_node del = doc.child("Delete");
        if (!del) return MalformedXml();
        bool quiet = std::string(del.child_value("Quiet")) == "true";
        std::vector<std::string> keys;
        for (pugi::xml_node o : del.children("Object")) keys.push_back(o.child_value("Key"));
        if (keys.empty() || keys.size() > 1000) return MalformedXml();
        XmlWriter w;
        w.Open("DeleteResult", kXmlns);
        for (const std::string& key : keys) {
          auto obj = it->second.objects.find(key);
          if (obj != it->second.objects.end()) {
            it->second.objects.erase(obj);
            impl.RemoveObjectFiles(r.bucket, key);
            object_event("ObjectRemoved:Delete", "DeleteObjects", key, 0, "",
                         it->second.notification);
          }
          if (!quiet) w.Open("Deleted").Element("Key", key).Close();
        }
        return XmlResponse(200, w.Finish());
      }
      if (method != "GET") {
        return Err("MethodNotAllowed", "The specified method is not allowed against this resource.",
                   405);
      }
      r.record.read_only = true;
      if (it == impl.buckets.end()) return NoSuchBucket();
      Bucket& b = it->second;
      if (r.Has("policy")) {
        r.record.event_name = "GetBucketPolicy";
        if (b.policy.empty()) {
          return Err("NoSuchBucketPolicy", "The bucket policy does not exist", 404);
        }
        return http::Response::Text(200, b.policy, "application/json");
      }
      if (r.Has("notification")) {
        r.record.event_name = "GetBucketNotification";
        return XmlResponse(200, Impl::RenderNotification(b.notification));
      }
      if (r.Has("location")) {
        r.record.event_name = "GetBucketLocation";
        XmlWriter w;
        w.Element("LocationConstraint", b.region == "us-east-1" ? "" : b.region);
        std::string body = w.Finish();
        // <LocationConstraint xmlns=…>region</LocationConstraint>
        body.replace(body.find("<LocationConstraint>"), 20,
                     "<LocationConstraint xmlns=\"" + std::string(kXmlns) + "\">");
        return XmlResponse(200, body);
      }
      if (r.Has("versioning")) {
        r.record.event_name = "GetBucketVersioning";
        XmlWriter w;
        w.Open("VersioningConfiguration", kXmlns);
        return XmlResponse(200, w.Finish());
      }
      if (r.Has("uploads")) {
        r.record.event_name = "ListMultipartUploads";
        XmlWriter w;
        w.Open("ListMultipartUploadsResult", kXmlns)
            .Element("Bucket", r.bucket)
            .Element("KeyMarker", "")
            .Element("UploadIdMarker", "")
            .Element("MaxUploads", "1000")
            .Element("IsTruncated", "false");
        for (const auto& [id, u] : impl.uploads) {
          if (u.bucket != r.bucket) continue;
          w.Open("Upload")
              .Element("Key", u.key)
              .Element("UploadId", id)
              .Element("Initiated", common::FormatIso8601Millis(u.initiated))
              .Element("StorageClass", "STANDARD")
              .Close();
        }
        return XmlResponse(200, w.Finish());
      }
      for (const char* sub : {"acl", "cors", "lifecycle", "website", "encryption", "replication",
                              "logging", "object-lock", "ownershipControls", "publicAccessBlock",
                              "accelerate", "requestPayment", "versions"}) {
        if (r.Has(sub)) {
          return Err("NotImplemented",
                     std::string("localcloud does not implement the ") + sub + " subresource", 501);
        }
      }
      // ListObjects (v1) and ListObjectsV2.
      r.record.event_name = "ListObjects";
      r.record.data_event = true;
      bool v2 = r.Param("list-type") == "2";
      std::string prefix = r.Param("prefix");
      std::string delimiter = r.Param("delimiter");
      bool url_encoding = r.Param("encoding-type") == "url";
      int max_keys = 1000;
      if (r.Has("max-keys")) {
        char* end = nullptr;
        long v = std::strtol(r.Param("max-keys").c_str(), &end, 10);
        if (*end != '\0' || v < 0) {
          return Err("InvalidArgument", "Provided max-keys not an integer or within integer range");
        }
        max_keys = static_cast<int>(std::min<long>(v, 1000));
      }
      std::string marker;
      if (v2) {
        if (r.Has("continuation-token")) {
          if (!common::Base64Decode(r.Param("continuation-token"), &marker)) {
            return Err("InvalidArgument", "The continuation token provided is incorrect");
          }
        } else {
          marker = r.Param("start-after");
        }
      } else {
        marker = r.Param("marker");
      }
      auto enc = [&](const std::string& s) { return url_encoding ? common::FormEncode(s) : s; };
      std::vector<const std::pair<const std::string, Object>*> contents;
      std::vector<std::string> prefixes;
      bool truncated = false;
      std::string last;
      auto start = marker.empty() ? b.objects.lower_bound(prefix) : b.objects.upper_bound(marker);
      for (auto o = start; o != b.objects.end(); ++o) {
        const std::string& key = o->first;
        if (!common::StartsWith(key, prefix)) {
          if (key > prefix) break;
          continue;
        }
        std::string rollup;
        if (!delimiter.empty()) {
          size_t d = key.find(delimiter, prefix.size());
          if (d != std::string::npos) rollup = key.substr(0, d + delimiter.size());
        }
        if (!rollup.empty() &&
            (rollup == marker || (!prefixes.empty() && prefixes.back() == rollup))) {
          continue;
        }
        if (static_cast<int>(contents.size() + prefixes.size()) >= max_keys) {
          truncated = true;
          break;
        }
        if (!rollup.empty()) {
          prefixes.push_back(rollup);
          last = rollup;
        } else {
          contents.push_back(&*o);
          last = key;
        }
      }
      XmlWriter w;
      w.Open("ListBucketResult", kXmlns);
      w.Element("Name", r.bucket).Element("Prefix", enc(prefix));
      if (v2) {
        if (r.Has("continuation-token"))
          w.Element("ContinuationToken", r.Param("continuation-token"));
        if (r.Has("start-after")) w.Element("StartAfter", enc(r.Param("start-after")));
        w.Element("KeyCount", std::to_string(contents.size() + prefixes.size()));
      } else {
        w.Element("Marker", enc(marker));
      }
      w.Element("MaxKeys", std::to_string(max_keys));
      if (!delimiter.empty()) w.Element("Delimiter", enc(delimiter));
      if (url_encoding) w.Element("EncodingType", "url");
      w.Element("IsTruncated", truncated ? "true" : "false");
      if (truncated) {
        if (v2)
          w.Element("NextContinuationToken", common::Base64Encode(last));
        else if (!delimiter.empty())
          w.Element("NextMarker", enc(last));
      }
      bool owner = !v2 || r.Param("fetch-owner") == "true";
      for (const auto* entry : contents) {
        const Object& o = entry->second;
        w.Open("Contents")
            .Element("Key", enc(entry->first))
            .Element("LastModified", common::FormatIso8601Millis(o.last_modified))
            .Element("ETag", o.etag)
            .Element("Size", std::to_string(o.data->size()));
        if (owner) {
          w.Open("Owner")
              .Element("ID", OwnerId(impl.context.config().account_id))
              .Element("DisplayName", "localcloud")
              .Close();
        }
        w.Element("StorageClass", StorageClass(o)).Close();
      }
      for (const std::string& p : prefixes)
        w.Open("CommonPrefixes").Element("Prefix", enc(p)).Close();
      return XmlResponse(200, w.Finish());
    }

    // ---- object level ----
    const std::string& key = r.key;
    if (method == "POST" && r.Has("uploads")) {
      r.record.event_name = "CreateMultipartUpload";
      std::lock_guard<std::mutex> lock(impl.mu);
      if (!impl.buckets.count(r.bucket)) return NoSuchBucket();
      Upload u;
      u.bucket = r.bucket;
      u.key = key;
      u.prototype = PrototypeFrom(req);
      u.initiated = call.time;
      u.checksum_algorithm = common::ToLower(r.Header("x-amz-checksum-algorithm"));
      u.checksum_type = common::ToUpper(r.Header("x-amz-checksum-type"));
      if (!u.checksum_algorithm.empty()) {
        auto checked = CompleteMultipartChecksum(u.checksum_algorithm, u.checksum_type, {}, "");
        if (!checked.ok()) return checked.error();
        u.checksum_type = checked->type;
      }
      std::string id = common::HexEncode(common::RandomBytes(24));
      std::string algorithm = u.checksum_algorithm, type = u.checksum_type;
      impl.uploads.emplace(id, std::move(u));
      r.record.response_elements = {{"uploadId", id}};
      XmlWriter w;
      w.Open("InitiateMultipartUploadResult", kXmlns)
          .Element("Bucket", r.bucket)
          .Element("Key", key)
          .Element("UploadId", id);
      http::Response created = XmlResponse(200, w.Finish());
      if (!algorithm.empty()) {
        created.headers.Set("x-amz-checksum-algorithm", common::ToUpper(algorithm));
        created.headers.Set("x-amz-checksum-type", type);
      }
      return created;
    }

    // Reads the payload of PutObject / UploadPart: aws-chunked decoding with chunk signatures
    // and trailing checksums; Content-MD5 and x-amz-checksum-* headers checked.
    auto payload = [&]() -> aws::Outcome<std::string> {
      if (auto missing = CheckContentLength(req)) return *missing;
      if (auto requested = RequestedChecksumOf(req); !requested.ok()) return requested.error();
      std::string sha = r.Header("x-amz-content-sha256");
      std::string data;
      if (common::StartsWith(sha, "STREAMING-")) {
        bool signed_variant = sha != aws::kStreamingUnsignedPayloadTrailer;
        if (signed_variant && !call.signing.signed_request) {
          auto stripped = StripChunkFraming(req.body);
          if (!stripped.ok()) return stripped.error();
          data = std::move(stripped.value());
        } else {
          aws::ChunkedDecodeOptions opts;
          opts.content_sha256 = sha;
          opts.signing = {call.signing.signing_key, call.signing.amz_date, call.signing.scope,
                          call.signing.seed_signature};
          if (auto n = req.headers.Get("x-amz-decoded-content-length")) {
            opts.decoded_content_length = std::strtoull(n->c_str(), nullptr, 10);
          }
          for (const std::string& t : common::Split(r.Header("x-amz-trailer"), ',')) {
            std::string name = common::ToLower(common::Trim(t));
            if (!name.empty()) opts.declared_trailers.push_back(name);
          }
          auto decoded = aws::DecodeAwsChunked(req.body, opts);
          if (!decoded.ok()) {
            aws::AwsError e = decoded.error();
            e.service = "s3";
            return e;
          }
          data = std::move(decoded->payload);
        }
      } else {
        data = req.body;
      }
      if (auto md5 = req.headers.Get("content-md5")) {
        std::string raw;
        if (!common::Base64Decode(common::Trim(*md5), &raw) || raw.size() != 16) {
          return Err("InvalidDigest", "The Content-MD5 you specified was invalid.");
        }
        if (raw != common::Md5(data)) {
          return Err("BadDigest", "The Content-MD5 you specified did not match what we received.");
        }
      }
      for (const auto& [name, value] : req.headers.entries()) {
        std::string lower = common::ToLower(name);
        if (!common::StartsWith(lower, "x-amz-checksum-") || lower == "x-amz-checksum-algorithm" ||
            lower == "x-amz-checksum-type" || lower == "x-amz-checksum-mode") {
          continue;
        }
        std::string algorithm = lower.substr(std::string_view("x-amz-checksum-").size());
        auto computed = aws::ComputeChecksumBase64(algorithm, data);
        if (computed && *computed != common::Trim(value)) {
          return Err("BadDigest", "The " + common::ToUpper(algorithm) +
                                      " you specified did not match the calculated checksum.");
        }
      }
      return data;
    };

    if (method == "PUT" && r.Has("uploadId")) {
      r.record.event_name = "UploadPart";
      if (req.headers.Has("x-amz-copy-source")) {
        // UNFINISHED: UploadPartCopy (multipart server-side copy) is not implemented.
        return Err("NotImplemented", "localcloud does not implement UploadPartCopy", 501);
      }
      char* end = nullptr;
      long part_number = std::strtol(r.Param("partNumber").c_str(), &end, 10);
      if (*end != '\0' || part_number < 1 || part_number > 10000) {
        return Err("InvalidArgument",
                   "Part number must be an integer between 1 and 10000, inclusive");
      }
      auto data = payload();
      if (!data.ok()) return data.error();
      Part p;
      p.etag = Quote(common::Md5Hex(*data));
      p.data = std::make_shared<const std::string>(std::move(data.value()));
      p.last_modified = call.time;
      std::string etag = p.etag;
      std::lock_guard<std::mutex> lock(impl.mu);
      auto u = impl.uploads.find(r.Param("uploadId"));
      if (u == impl.uploads.end() || u->second.bucket != r.bucket || u->second.key != key) {
        return NoSuchUpload();
      }
      std::string part_checksum =
          u->second.checksum_algorithm.empty()
              ? ""
              : aws::ComputeChecksumBase64(u->second.checksum_algorithm, *p.data).value_or("");
      u->second.parts[static_cast<int>(part_number)] = std::move(p);
      http::Response resp = http::Response::Text(200, "", "application/xml");
      resp.headers.Set("ETag", etag);
      if (!part_checksum.empty()) {
        resp.headers.Set("x-amz-checksum-" + u->second.checksum_algorithm, part_checksum);
      }
      return resp;
    }

    if (method == "PUT") {
      std::optional<std::string> copy_source = req.headers.Get("x-amz-copy-source");
      Object o;
      std::string reason;
      bool returned_checksum = false;  // the writer asked for a checksum: S3 answers with it
      if (copy_source) {
        r.record.event_name = "CopyObject";
        reason = "CopyObject";
        std::string source = *copy_source;
        source = source.substr(0, source.find('?'));
        std::string decoded;
        if (!common::UriDecode(source, &decoded)) decoded = source;
        std::string_view sv = decoded;
        if (!sv.empty() && sv.front() == '/') sv.remove_prefix(1);
        size_t slash = sv.find('/');
        if (slash == std::string_view::npos) {
          return Err("InvalidArgument",
                     "Copy Source must mention the source bucket and key: sourcebucket/sourcekey");
        }
        std::string src_bucket(sv.substr(0, slash)), src_key(sv.substr(slash + 1));
        bool replace = common::ToUpper(r.Header("x-amz-metadata-directive")) == "REPLACE";
        std::lock_guard<std::mutex> lock(impl.mu);
        auto sb = impl.buckets.find(src_bucket);
        if (sb == impl.buckets.end()) return NoSuchBucket();
        auto so = sb->second.objects.find(src_key);
        if (so == sb->second.objects.end()) return NoSuchKey();
        if (src_bucket == r.bucket && src_key == key && !replace) {
          return Err("InvalidRequest",
                     "This copy request is illegal because it is trying to copy an object to "
                     "itself without changing the object's metadata, storage class, website "
                     "redirect location or encryption attributes.");
        }
        if (replace) {
          o = PrototypeFrom(req);
        } else {
          o = so->second;
        }
        o.data = so->second.data;
        o.etag = so->second.etag;
      } else {
        r.record.event_name = "PutObject";
        reason = "PutObject";
        auto data = payload();
        if (!data.ok()) return data.error();
        o = PrototypeFrom(req);
        o.etag = Quote(common::Md5Hex(*data));
        auto requested = RequestedChecksumOf(req);
        returned_checksum = requested.ok() && requested->has_value();
        for (auto& h : ObjectChecksumHeaders(requested.ok() ? *requested : std::nullopt, *data)) {
          o.headers.push_back(std::move(h));
        }
        o.data = std::make_shared<const std::string>(std::move(data.value()));
      }
      o.last_modified = call.time;
      std::lock_guard<std::mutex> lock(impl.mu);
      auto b = impl.buckets.find(r.bucket);
      if (b == impl.buckets.end()) return NoSuchBucket();
      if (auto s = impl.SaveObject(r.bucket, key, o); !s.ok()) {
        return Err("InternalError", "We encountered an internal error. Please try again.", 500);
      }
      uint64_t size = o.data->size();
      std::string etag = o.etag;
      common::SystemTime modified = o.last_modified;
      b->second.objects[key] = std::move(o);
      object_event(reason == "CopyObject" ? "ObjectCreated:Copy" : "ObjectCreated:Put", reason, key,
                   size, etag, b->second.notification);
      if (copy_source) {
        XmlWriter w;
        w.Open("CopyObjectResult", kXmlns)
            .Element("LastModified", common::FormatIso8601Millis(modified))
            .Element("ETag", etag);
        return XmlResponse(200, w.Finish());
      }
      http::Response resp = http::Response::Text(200, "", "application/xml");
      resp.headers.Set("ETag", etag);
      if (returned_checksum) {
        for (const auto& [name, value] : b->second.objects[key].headers) {
          if (common::StartsWith(name, "x-amz-checksum-")) resp.headers.Set(name, value);
        }
      }
      return resp;
    }

    if (method == "POST" && r.Has("uploadId")) {
      r.record.event_name = "CompleteMultipartUpload";
      pugi::xml_document doc;
      if (!LoadXml(req.body, &doc).ok()) return MalformedXml();
      std::vector<std::pair<int, std::string>> wanted;
      for (pugi::xml_node p : doc.child("CompleteMultipartUpload").children("Part")) {
        wanted.emplace_back(std::atoi(p.child_value("PartNumber")), Unquote(p.child_value("ETag")));
      }
      if (wanted.empty()) return MalformedXml();
      std::lock_guard<std::mutex> lock(impl.mu);
      auto u = impl.uploads.find(r.Param("uploadId"));
      if (u == impl.uploads.end() || u->second.bucket != r.bucket || u->second.key != key) {
        return NoSuchUpload();
      }
      auto b = impl.buckets.find(r.bucket);
      if (b == impl.buckets.end()) return NoSuchBucket();
      std::string digests;
      size_t total = 0;
      for (size_t i = 1; i < wanted.size(); ++i) {
        if (wanted[i].first <= wanted[i - 1].first) {
          return Err("InvalidPartOrder",
                     "The list of parts was not in ascending order. Parts must be ordered by "
                     "part number.");
        }
      }
      for (size_t i = 0; i < wanted.size(); ++i) {
        auto p = u->second.parts.find(wanted[i].first);
        if (p == u->second.parts.end() || Unquote(p->second.etag) != wanted[i].second) {
          return Err("InvalidPart",
                     "One or more of the specified parts could not be found. The part may not "
                     "have been uploaded, or the specified entity tag may not match the part's "
                     "entity tag.");
        }
        if (i + 1 < wanted.size() && p->second.data->size() < kMinPartSize) {
          return Err("EntityTooSmall",
                     "Your proposed upload is smaller than the minimum allowed object size.");
        }
        std::string raw;
        common::HexDecode(Unquote(p->second.etag), &raw);
        digests += raw;
        total += p->second.data->size();
      }
      auto data = std::make_shared<std::string>();
      data->reserve(total);
      for (const auto& [number, _] : wanted) data->append(*u->second.parts[number].data);
      std::optional<MultipartChecksum> checksum;
      if (!u->second.checksum_algorithm.empty()) {
        std::vector<std::string> part_checksums;
        for (const auto& [number, _] : wanted) {
          part_checksums.push_back(aws::ComputeChecksumBase64(u->second.checksum_algorithm,
                                                              *u->second.parts[number].data)
                                       .value_or(""));
        }
        auto computed = CompleteMultipartChecksum(u->second.checksum_algorithm,
                                                  u->second.checksum_type, part_checksums, *data);
        if (!computed.ok()) return computed.error();
        checksum = *computed;
      }
      Object o = u->second.prototype;
      if (checksum) {
        o.headers.emplace_back(checksum->header, checksum->value);
        o.headers.emplace_back("x-amz-checksum-type", checksum->type);
      }
      o.data = std::move(data);
      o.etag = Quote(common::Md5Hex(digests) + "-" + std::to_string(wanted.size()));
      o.last_modified = call.time;
      if (auto s = impl.SaveObject(r.bucket, key, o); !s.ok()) {
        return Err("InternalError", "We encountered an internal error. Please try again.", 500);
      }
      std::string etag = o.etag;
      b->second.objects[key] = std::move(o);
      impl.uploads.erase(u);
      object_event("ObjectCreated:CompleteMultipartUpload", "CompleteMultipartUpload", key, total,
                   etag, b->second.notification);
      std::string location =
          impl.context.config().endpoint + "/" + r.bucket + "/" + common::UriEncode(key, false);
      XmlWriter w;
      w.Open("CompleteMultipartUploadResult", kXmlns)
          .Element("Location", location)
          .Element("Bucket", r.bucket)
          .Element("Key", key)
          .Element("ETag", etag);
      if (checksum) {
        w.Element("Checksum" + common::ToUpper(checksum->header.substr(15)), checksum->value)
            .Element("ChecksumType", checksum->type);
      }
      return XmlResponse(200, w.Finish());
    }

    std::lock_guard<std::mutex> lock(impl.mu);
    auto b = impl.buckets.find(r.bucket);
    if (method == "DELETE" && r.Has("uploadId")) {
      r.record.event_name = "AbortMultipartUpload";
      if (b == impl.buckets.end()) return NoSuchBucket();
      auto u = impl.uploads.find(r.Param("uploadId"));
      if (u == impl.uploads.end()) return NoSuchUpload();
      impl.uploads.erase(u);
      return http::Response::Text(204, "", "application/xml");
    }
    if (method == "DELETE") {
      r.record.event_name = "DeleteObject";
      if (b == impl.buckets.end()) return NoSuchBucket();
      auto o = b->second.objects.find(key);
      if (o != b->second.objects.end()) {
        b->second.objects.erase(o);
        impl.RemoveObjectFiles(r.bucket, key);
        object_event("ObjectRemoved:Delete", "DeleteObject", key, 0, "", b->second.notification);
      }
      return http::Response::Text(204, "", "application/xml");
    }
    if (method == "GET" && r.Has("uploadId")) {
      r.record.event_name = "ListParts";
      r.record.read_only = true;
      if (b == impl.buckets.end()) return NoSuchBucket();
      auto u = impl.uploads.find(r.Param("uploadId"));
      if (u == impl.uploads.end()) return NoSuchUpload();
      XmlWriter w;
      w.Open("ListPartsResult", kXmlns)
          .Element("Bucket", r.bucket)
          .Element("Key", key)
          .Element("UploadId", u->first)
          .Element("PartNumberMarker", "0")
          .Element("MaxParts", "1000")
          .Element("IsTruncated", "false")
          .Element("StorageClass", "STANDARD");
      for (const auto& [number, p] : u->second.parts) {
        w.Open("Part")
            .Element("PartNumber", std::to_string(number))
            .Element("LastModified", common::FormatIso8601Millis(p.last_modified))
            .Element("ETag", p.etag)
            .Element("Size", std::to_string(p.data->size()))
            .Close();
      }
      return XmlResponse(200, w.Finish());
    }
    if (method != "GET" && method != "HEAD") {
      return Err("MethodNotAllowed", "The specified method is not allowed against this resource.",
                 405);
    }
    r.record.event_name = method == "GET" ? "GetObject" : "HeadObject";
    r.record.read_only = true;
    if (b == impl.buckets.end()) return NoSuchBucket();
    auto found = b->second.objects.find(key);
    if (found == b->second.objects.end()) return NoSuchKey();
    const Object o = found->second;  // shares the body buffer
    // Conditional requests.
    if (auto m = req.headers.Get("if-match"); m && Unquote(*m) != Unquote(o.etag) && *m != "*") {
      return Err("PreconditionFailed",
                 "At least one of the pre-conditions you specified did not hold", 412);
    }
    if (auto m = req.headers.Get("if-none-match");
        m && (Unquote(*m) == Unquote(o.etag) || *m == "*")) {
      http::Response resp;
      resp.status = 304;
      resp.headers.Set("ETag", o.etag);
      return resp;
    }
    http::Response resp;
    resp.status = 200;
    resp.headers.Set("Content-Type", r.Has("response-content-type")
                                         ? r.Param("response-content-type")
                                         : o.content_type);
    resp.headers.Set("ETag", o.etag);
    resp.headers.Set("Last-Modified", common::FormatHttpDate(o.last_modified));
    resp.headers.Set("Accept-Ranges", "bytes");
    for (const auto& [name, value] : o.headers) {
      if (ReturnedOnRead(name, req, req.headers.Has("range"))) resp.headers.Set(name, value);
    }
    for (const char* h :
         {"response-content-disposition", "response-content-encoding", "response-content-language",
          "response-cache-control", "response-expires"}) {
      if (r.Has(h)) resp.headers.Set(std::string(h).substr(9), r.Param(h));
    }
    size_t size = o.data->size();
    size_t first = 0, last = size == 0 ? 0 : size - 1;
    bool ranged = false;
    if (auto range = req.headers.Get("range");
        range && common::StartsWith(*range, "bytes=") && range->find(',') == std::string::npos) {
      std::string spec = range->substr(6);
      size_t dash = spec.find('-');
      if (dash != std::string::npos) {
        std::string a = spec.substr(0, dash), z = spec.substr(dash + 1);
        bool valid = true;
        if (a.empty()) {  // suffix: last N bytes
          uint64_t n = std::strtoull(z.c_str(), nullptr, 10);
          if (z.empty() || n == 0)
            valid = false;
          else {
            first = n >= size ? 0 : size - n;
            last = size - 1;
          }
        } else {
          first = std::strtoull(a.c_str(), nullptr, 10);
          last = z.empty() ? size - 1
                           : std::min<uint64_t>(std::strtoull(z.c_str(), nullptr, 10), size - 1);
          if (!z.empty() && std::strtoull(z.c_str(), nullptr, 10) < first)
            valid = false;  // ignored
          else if (first >= size) {
            aws::AwsError e = Err("InvalidRange", "The requested range is not satisfiable", 416);
            resp.headers.Set("Content-Range", "bytes */" + std::to_string(size));
            return e;
          }
        }
        ranged = valid && size > 0;
        if (!ranged) {
          first = 0;
          last = size == 0 ? 0 : size - 1;
        }
      }
    }
    if (ranged) {
      resp.status = 206;
      resp.headers.Set("Content-Range", "bytes " + std::to_string(first) + "-" +
                                            std::to_string(last) + "/" + std::to_string(size));
    }
    size_t length = size == 0 ? 0 : last - first + 1;
    if (method == "HEAD") {
      resp.headers.Set("Content-Length", std::to_string(length));
    } else {
      resp.body = o.data->substr(first, length);
      info.bytes_out = resp.body.size();
    }
    return resp;
  }();

  http::Response response;
  if (result.ok()) {
    response = std::move(result.value());
    response.headers.Set("x-amz-request-id", call.request_id);
    response.headers.Set("x-amz-id-2", call.host_id);
  } else {
    std::vector<std::pair<std::string, std::string>> extra;
    const aws::AwsError& e = result.error();
    if (e.code == "NoSuchBucket" || e.code == "BucketNotEmpty" ||
        e.code == "BucketAlreadyOwnedByYou" || e.code == "NoSuchBucketPolicy") {
      extra.emplace_back("BucketName", r.bucket);
    } else if (e.code == "NoSuchKey") {
      extra.emplace_back("Key", r.key);
    } else if (e.code == "NoSuchUpload") {
      extra.emplace_back("UploadId", r.Param("uploadId"));
    }
    response = ErrorResponse(call, e);
    if (!extra.empty() && req.method != "HEAD") {
      aws::AwsError copy = e;
      copy.request_id = call.request_id;
      extra.emplace_back("HostId", call.host_id);
      response = aws::ToS3XmlResponse(copy, extra);
      response.headers.Set("x-amz-id-2", call.host_id);
    }
    r.record.error_code = e.code;
    r.record.error_message = e.message;
  }
  r.record.http_status = response.status;

  if (!impl.observers.empty()) {
    info.bytes_out = req.method == "HEAD" ? 0 : response.body.size();
    r.record.request = info;
    r.record.additional_event_data = {{"SignatureVersion", "SigV4"},
                                      {"AuthenticationMethod", info.auth_method},
                                      {"bytesTransferredIn", info.bytes_in},
                                      {"bytesTransferredOut", info.bytes_out},
                                      {"x-amz-id-2", call.host_id}};
    for (S3ObjectEvent& e : events) {
      e.request = info;
      for (S3Observer* o : impl.observers) o->OnObjectEvent(e);
    }
    for (S3Observer* o : impl.observers) o->OnApiCall(r.record);
  }
  respond(std::move(response));
}

}  // namespace localcloud::s3
