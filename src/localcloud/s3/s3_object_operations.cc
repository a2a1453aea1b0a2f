// S3's object operations: PutObject, CopyObject, GetObject/HeadObject, DeleteObject,
// DeleteObjects, and the payload reader PutObject and UploadPart share.
#include <pugixml.hpp>

#include "aws/chunked.h"
#include "common/crypto.h"
#include "common/strings.h"
#include "common/time.h"
#include "localcloud/core/xml_writer.h"
#include "localcloud/s3/s3_checks.h"
#include "localcloud/s3/s3_operations.h"

namespace localcloud::s3 {
namespace {

using Response = aws::Outcome<http::Response>;

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

// The payload of an aws-chunked body (x-amz-content-sha256: STREAMING-…).
aws::Outcome<std::string> DecodeStreamingPayload(const S3Call& c, const std::string& sha) {
  const SigningInfo& signing = c.call.signing;
  bool signed_variant = sha != aws::kStreamingUnsignedPayloadTrailer;
  if (signed_variant && !signing.signed_request) return StripChunkFraming(c.request.body);
  aws::ChunkedDecodeOptions opts;
  opts.content_sha256 = sha;
  opts.signing = {signing.signing_key, signing.amz_date, signing.scope, signing.seed_signature};
  if (auto n = c.request.headers.Get("x-amz-decoded-content-length")) {
    opts.decoded_content_length = std::strtoull(n->c_str(), nullptr, 10);
  }
  for (const std::string& t : common::Split(c.Header("x-amz-trailer"), ',')) {
    std::string name = common::ToLower(common::Trim(t));
    if (!name.empty()) opts.declared_trailers.push_back(name);
  }
  auto decoded = aws::DecodeAwsChunked(c.request.body, opts);
  if (!decoded.ok()) {
    aws::AwsError e = decoded.error();
    e.service = "s3";
    return e;
  }
  return std::move(decoded->payload);
}

// Content-MD5 and x-amz-checksum-<algorithm> headers against the payload.
aws::AwsStatus CheckDigests(const http::Request& req, const std::string& data) {
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
  return aws::Empty{};
}

// Stores `o` as c.key (write-through) and queues its ObjectCreated event. Returns the
// stored object's ETag and checksum headers.
aws::Outcome<Object> StoreObject(S3Service::Impl& impl, S3Call& c, Object o, const char* event_name,
                                 const char* reason) {
  common::MutexLock lock(impl.mu);
  Bucket* b = impl.FindBucket(c.bucket);
  if (b == nullptr) return NoSuchBucket();
  if (auto s = impl.SaveObject(c.bucket, c.key, o); !s.ok()) return InternalError();
  b->objects[c.key] = o;
  c.ObjectEvent(impl, event_name, reason, c.key, o.data->size(), o.etag, b->notification);
  return o;
}

// The source of a CopyObject: "/bucket/key" or "bucket/key", URL-encoded, maybe ?versionId.
aws::Outcome<std::pair<std::string, std::string>> CopySource(const std::string& header) {
  std::string source = header.substr(0, header.find('?'));
  std::string decoded;
  if (!common::UriDecode(source, &decoded)) decoded = source;
  std::string_view sv = decoded;
  if (!sv.empty() && sv.front() == '/') sv.remove_prefix(1);
  size_t slash = sv.find('/');
  if (slash == std::string_view::npos) {
    return Err("InvalidArgument",
               "Copy Source must mention the source bucket and key: sourcebucket/sourcekey");
  }
  return std::make_pair(std::string(sv.substr(0, slash)), std::string(sv.substr(slash + 1)));
}

// A byte range of an object of `size` bytes.
struct ByteRange {
  size_t first = 0;
  size_t last = 0;
  bool ranged = false;  // false: the whole object
};

// The Range header as S3 reads it: one "bytes=a-b", "bytes=a-" or "bytes=-n"; an invalid or
// multi-range header is ignored (the whole object); a start beyond the end is InvalidRange.
aws::Outcome<ByteRange> ParseRange(const std::optional<std::string>& range, size_t size) {
  ByteRange whole{0, size == 0 ? 0 : size - 1, false};
  if (!range || !common::StartsWith(*range, "bytes=") || range->find(',') != std::string::npos) {
    return whole;
  }
  std::string spec = range->substr(6);
  size_t dash = spec.find('-');
  if (dash == std::string::npos) return whole;
  std::string a = spec.substr(0, dash), z = spec.substr(dash + 1);
  ByteRange r = whole;
  if (a.empty()) {  // suffix: last N bytes
    uint64_t n = std::strtoull(z.c_str(), nullptr, 10);
    if (z.empty() || n == 0) return whole;
    r.first = n >= size ? 0 : size - n;
    r.last = size - 1;
  } else {
    r.first = std::strtoull(a.c_str(), nullptr, 10);
    r.last =
        z.empty() ? size - 1 : std::min<uint64_t>(std::strtoull(z.c_str(), nullptr, 10), size - 1);
    if (!z.empty() && std::strtoull(z.c_str(), nullptr, 10) < r.first) return whole;
    if (r.first >= size) {
      return Err("InvalidRange", "The requested range is not satisfiable", 416);
    }
  }
  if (size == 0) return whole;
  r.ranged = true;
  return r;
}

// The headers GetObject and HeadObject answer with (status and body set by the caller).
http::Response ObjectHeaders(const S3Call& c, const Object& o) {
  const http::Request& req = c.request;
  http::Response resp;
  resp.status = 200;
  resp.headers.Set("Content-Type", c.Has("response-content-type") ? c.Param("response-content-type")
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
    if (c.Has(h)) resp.headers.Set(std::string(h).substr(9), c.Param(h));
  }
  return resp;
}

}  // namespace

aws::Outcome<std::string> ReadPayload(const S3Call& c) {
  const http::Request& req = c.request;
  if (auto missing = CheckContentLength(req)) return *missing;
  if (auto requested = RequestedChecksumOf(req); !requested.ok()) return requested.error();
  std::string sha = c.Header("x-amz-content-sha256");
  std::string data;
  if (common::StartsWith(sha, "STREAMING-")) {
    auto decoded = DecodeStreamingPayload(c, sha);
    if (!decoded.ok()) return decoded.error();
    data = std::move(decoded.value());
  } else {
    data = req.body;
  }
  if (auto digests = CheckDigests(req, data); !digests.ok()) return digests.error();
  return data;
}

Response PutObject(S3Service::Impl& impl, S3Call& c) {
  auto data = ReadPayload(c);
  if (!data.ok()) return data.error();
  Object o = PrototypeFrom(c.request);
  o.etag = Quote(common::Md5Hex(*data));
  auto requested = RequestedChecksumOf(c.request);
  // The writer asked for a checksum: S3 answers with it.
  bool returned_checksum = requested.ok() && requested->has_value();
  for (auto& h : ObjectChecksumHeaders(requested.ok() ? *requested : std::nullopt, *data)) {
    o.headers.push_back(std::move(h));
  }
  o.data = std::make_shared<const std::string>(std::move(data.value()));
  o.last_modified = c.call.time;
  auto stored = StoreObject(impl, c, std::move(o), "ObjectCreated:Put", "PutObject");
  if (!stored.ok()) return stored.error();
  http::Response resp = rest_xml::EmptyResponse(200);
  resp.headers.Set("ETag", stored->etag);
  if (returned_checksum) {
    for (const auto& [name, value] : stored->headers) {
      if (common::StartsWith(name, "x-amz-checksum-")) resp.headers.Set(name, value);
    }
  }
  return resp;
}

Response CopyObject(S3Service::Impl& impl, S3Call& c) {
  auto source = CopySource(c.Header("x-amz-copy-source"));
  if (!source.ok()) return source.error();
  const auto& [src_bucket, src_key] = *source;
  bool replace = common::ToUpper(c.Header("x-amz-metadata-directive")) == "REPLACE";
  Object o;
  {
    common::MutexLock lock(impl.mu);
    Bucket* sb = impl.FindBucket(src_bucket);
    if (sb == nullptr) return NoSuchBucket();
    auto so = sb->objects.find(src_key);
    if (so == sb->objects.end()) return NoSuchKey();
    if (src_bucket == c.bucket && src_key == c.key && !replace) {
      return Err("InvalidRequest",
                 "This copy request is illegal because it is trying to copy an object to itself "
                 "without changing the object's metadata, storage class, website redirect "
                 "location or encryption attributes.");
    }
    o = replace ? PrototypeFrom(c.request) : so->second;
    o.data = so->second.data;
    o.etag = so->second.etag;
  }
  o.last_modified = c.call.time;
  auto stored = StoreObject(impl, c, std::move(o), "ObjectCreated:Copy", "CopyObject");
  if (!stored.ok()) return stored.error();
  XmlWriter w;
  w.Open("CopyObjectResult", kXmlns)
      .Element("LastModified", common::FormatIso8601Millis(stored->last_modified))
      .Element("ETag", stored->etag);
  return rest_xml::XmlResponse(200, w.Finish());
}

// GetObject and HeadObject: conditional requests, ranges, response-* overrides.
Response GetObject(S3Service::Impl& impl, S3Call& c) {
  const http::Request& req = c.request;
  Object o;  // shares the body buffer
  {
    common::MutexLock lock(impl.mu);
    Bucket* b = impl.FindBucket(c.bucket);
    if (b == nullptr) return NoSuchBucket();
    auto found = b->objects.find(c.key);
    if (found == b->objects.end()) return NoSuchKey();
    o = found->second;
  }
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
  size_t size = o.data->size();
  auto range = ParseRange(req.headers.Get("range"), size);
  if (!range.ok()) return range.error();
  http::Response resp = ObjectHeaders(c, o);
  if (range->ranged) {
    resp.status = 206;
    resp.headers.Set("Content-Range", "bytes " + std::to_string(range->first) + "-" +
                                          std::to_string(range->last) + "/" + std::to_string(size));
  }
  size_t length = size == 0 ? 0 : range->last - range->first + 1;
  if (req.method == "HEAD") {
    resp.headers.Set("Content-Length", std::to_string(length));
  } else {
    resp.body = o.data->substr(range->first, length);
  }
  return resp;
}

Response DeleteObject(S3Service::Impl& impl, S3Call& c) {
  common::MutexLock lock(impl.mu);
  Bucket* b = impl.FindBucket(c.bucket);
  if (b == nullptr) return NoSuchBucket();
  auto o = b->objects.find(c.key);
  if (o != b->objects.end()) {
    b->objects.erase(o);
    impl.RemoveObjectFiles(c.bucket, c.key);
    c.ObjectEvent(impl, "ObjectRemoved:Delete", "DeleteObject", c.key, 0, "", b->notification);
  }
  return rest_xml::EmptyResponse(204);
}

Response DeleteObjects(S3Service::Impl& impl, S3Call& c) {
  {
    common::MutexLock lock(impl.mu);
    if (!impl.buckets.count(c.bucket)) return NoSuchBucket();
  }
  pugi::xml_document doc;
  if (auto loaded = rest_xml::LoadXml(c.request.body, &doc, "s3"); !loaded.ok()) {
    return loaded.error();
  }
  pugi::xml_node del = doc.child("Delete");
  if (!del) return rest_xml::MalformedXml("s3");
  bool quiet = std::string(del.child_value("Quiet")) == "true";
  std::vector<std::string> keys;
  for (pugi::xml_node o : del.children("Object")) keys.push_back(o.child_value("Key"));
  if (keys.empty() || keys.size() > 1000) return rest_xml::MalformedXml("s3");
  common::MutexLock lock(impl.mu);
  Bucket* b = impl.FindBucket(c.bucket);
  if (b == nullptr) return NoSuchBucket();
  XmlWriter w;
  w.Open("DeleteResult", kXmlns);
  for (const std::string& key : keys) {
    auto obj = b->objects.find(key);
    if (obj != b->objects.end()) {
      b->objects.erase(obj);
      impl.RemoveObjectFiles(c.bucket, key);
      c.ObjectEvent(impl, "ObjectRemoved:Delete", "DeleteObjects", key, 0, "", b->notification);
    }
    if (!quiet) w.Open("Deleted").Element("Key", key).Close();
  }
  return rest_xml::XmlResponse(200, w.Finish());
}

}  // namespace localcloud::s3
