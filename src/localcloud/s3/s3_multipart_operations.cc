// S3's multipart uploads: CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
// AbortMultipartUpload (ListParts and ListMultipartUploads are with the listings).
#include <pugixml.hpp>

#include "aws/chunked.h"
#include "common/crypto.h"
#include "common/strings.h"
#include "localcloud/core/xml_writer.h"
#include "localcloud/s3/s3_checks.h"
#include "localcloud/s3/s3_operations.h"

namespace localcloud::s3 {
namespace {

using Response = aws::Outcome<http::Response>;

constexpr uint64_t kMinPartSize = 5ull * 1024 * 1024;

// The parts a CompleteMultipartUpload names: (part number, unquoted ETag), in document order.
using WantedParts = std::vector<std::pair<int, std::string>>;

aws::Outcome<WantedParts> ParseCompleteRequest(std::string_view body) {
  pugi::xml_document doc;
  if (auto loaded = rest_xml::LoadXml(body, &doc, "s3"); !loaded.ok()) return loaded.error();
  WantedParts wanted;
  for (pugi::xml_node p : doc.child("CompleteMultipartUpload").children("Part")) {
    wanted.emplace_back(std::atoi(p.child_value("PartNumber")), Unquote(p.child_value("ETag")));
  }
  if (wanted.empty()) return rest_xml::MalformedXml("s3");
  return wanted;
}

// The object the wanted parts of `u` make: data, multipart ETag, checksum headers.
struct Assembled {
  Object object;
  std::optional<MultipartChecksum> checksum;
};

aws::Outcome<Assembled> Assemble(const Upload& u, const WantedParts& wanted) {
  for (size_t i = 1; i < wanted.size(); ++i) {
    if (wanted[i].first <= wanted[i - 1].first) {
      return Err("InvalidPartOrder",
                 "The list of parts was not in ascending order. Parts must be ordered by part "
                 "number.");
    }
  }
  std::string digests;
  size_t total = 0;
  std::vector<const Part*> parts;
  for (size_t i = 0; i < wanted.size(); ++i) {
    auto p = u.parts.find(wanted[i].first);
    if (p == u.parts.end() || Unquote(p->second.etag) != wanted[i].second) {
      return Err("InvalidPart",
                 "One or more of the specified parts could not be found. The part may not have "
                 "been uploaded, or the specified entity tag may not match the part's entity "
                 "tag.");
    }
    if (i + 1 < wanted.size() && p->second.data->size() < kMinPartSize) {
      return Err("EntityTooSmall",
                 "Your proposed upload is smaller than the minimum allowed object size.");
    }
    std::string raw;
    common::HexDecode(Unquote(p->second.etag), &raw);
    digests += raw;
    total += p->second.data->size();
    parts.push_back(&p->second);
  }
  auto data = std::make_shared<std::string>();
  data->reserve(total);
  for (const Part* p : parts) data->append(*p->data);
  Assembled a{u.prototype, std::nullopt};
  Object& o = a.object;
  if (!u.checksum_algorithm.empty()) {
    std::vector<std::string> part_checksums;
    for (const Part* p : parts) {
      part_checksums.push_back(
          aws::ComputeChecksumBase64(u.checksum_algorithm, *p->data).value_or(""));
    }
    auto checksum =
        CompleteMultipartChecksum(u.checksum_algorithm, u.checksum_type, part_checksums, *data);
    if (!checksum.ok()) return checksum.error();
    o.headers.emplace_back(checksum->header, checksum->value);
    o.headers.emplace_back("x-amz-checksum-type", checksum->type);
    a.checksum = std::move(checksum.value());
  }
  o.data = std::move(data);
  o.etag = Quote(common::Md5Hex(digests) + "-" + std::to_string(wanted.size()));
  return a;
}

}  // namespace

Response CreateMultipartUpload(S3Service::Impl& impl, S3Call& c) {
  Upload u;
  u.bucket = c.bucket;
  u.key = c.key;
  u.prototype = PrototypeFrom(c.request);
  u.initiated = c.call.time;
  u.checksum_algorithm = common::ToLower(c.Header("x-amz-checksum-algorithm"));
  u.checksum_type = common::ToUpper(c.Header("x-amz-checksum-type"));
  if (!u.checksum_algorithm.empty()) {
    auto checked = CompleteMultipartChecksum(u.checksum_algorithm, u.checksum_type, {}, "");
    if (!checked.ok()) return checked.error();
    u.checksum_type = checked->type;
  }
  std::string id = common::HexEncode(common::RandomBytes(24));
  std::string algorithm = u.checksum_algorithm, type = u.checksum_type;
  {
    common::MutexLock lock(impl.mu);
    if (!impl.buckets.count(c.bucket)) return NoSuchBucket();
    impl.uploads.emplace(id, std::move(u));
  }
  c.record.response_elements = {{"uploadId", id}};
  XmlWriter w;
  w.Open("InitiateMultipartUploadResult", kXmlns)
      .Element("Bucket", c.bucket)
      .Element("Key", c.key)
      .Element("UploadId", id);
  http::Response created = rest_xml::XmlResponse(200, w.Finish());
  if (!algorithm.empty()) {
    created.headers.Set("x-amz-checksum-algorithm", common::ToUpper(algorithm));
    created.headers.Set("x-amz-checksum-type", type);
  }
  return created;
}

Response UploadPart(S3Service::Impl& impl, S3Call& c) {
  char* end = nullptr;
  std::string number_text = c.Param("partNumber");
  long part_number = std::strtol(number_text.c_str(), &end, 10);
  if (*end != '\0' || part_number < 1 || part_number > 10000) {
    return Err("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive");
  }
  auto data = ReadPayload(c);
  if (!data.ok()) return data.error();
  Part p;
  p.etag = Quote(common::Md5Hex(*data));
  p.data = std::make_shared<const std::string>(std::move(data.value()));
  p.last_modified = c.call.time;
  std::string etag = p.etag;
  common::MutexLock lock(impl.mu);
  auto u = impl.uploads.find(c.Param("uploadId"));
  if (u == impl.uploads.end() || u->second.bucket != c.bucket || u->second.key != c.key) {
    return NoSuchUpload();
  }
  const std::string& algorithm = u->second.checksum_algorithm;
  std::string part_checksum =
      algorithm.empty() ? "" : aws::ComputeChecksumBase64(algorithm, *p.data).value_or("");
  u->second.parts[static_cast<int>(part_number)] = std::move(p);
  http::Response resp = rest_xml::EmptyResponse(200);
  resp.headers.Set("ETag", etag);
  if (!part_checksum.empty()) resp.headers.Set("x-amz-checksum-" + algorithm, part_checksum);
  return resp;
}

Response UploadPartCopy(S3Service::Impl& /*impl*/, S3Call& /*c*/) {
  // UNFINISHED: UploadPartCopy (multipart server-side copy) is not implemented.
  return Err("NotImplemented", "localcloud does not implement UploadPartCopy", 501);
}

Response CompleteMultipartUpload(S3Service::Impl& impl, S3Call& c) {
  auto wanted = ParseCompleteRequest(c.request.body);
  if (!wanted.ok()) return wanted.error();
  common::MutexLock lock(impl.mu);
  auto u = impl.uploads.find(c.Param("uploadId"));
  if (u == impl.uploads.end() || u->second.bucket != c.bucket || u->second.key != c.key) {
    return NoSuchUpload();
  }
  Bucket* b = impl.FindBucket(c.bucket);
  if (b == nullptr) return NoSuchBucket();
  auto assembled = Assemble(u->second, *wanted);
  if (!assembled.ok()) return assembled.error();
  Object& o = assembled->object;
  o.last_modified = c.call.time;
  if (auto s = impl.SaveObject(c.bucket, c.key, o); !s.ok()) return InternalError();
  b->objects[c.key] = o;
  impl.uploads.erase(u);
  c.ObjectEvent(impl, "ObjectCreated:CompleteMultipartUpload", "CompleteMultipartUpload", c.key,
                o.data->size(), o.etag, b->notification);
  std::string location =
      impl.context.config().endpoint + "/" + c.bucket + "/" + common::UriEncode(c.key, false);
  XmlWriter w;
  w.Open("CompleteMultipartUploadResult", kXmlns)
      .Element("Location", location)
      .Element("Bucket", c.bucket)
      .Element("Key", c.key)
      .Element("ETag", o.etag);
  if (const auto& checksum = assembled->checksum) {
    w.Element("Checksum" + common::ToUpper(checksum->header.substr(15)), checksum->value)
        .Element("ChecksumType", checksum->type);
  }
  return rest_xml::XmlResponse(200, w.Finish());
}

Response AbortMultipartUpload(S3Service::Impl& impl, S3Call& c) {
  common::MutexLock lock(impl.mu);
  if (!impl.buckets.count(c.bucket)) return NoSuchBucket();
  auto u = impl.uploads.find(c.Param("uploadId"));
  if (u == impl.uploads.end()) return NoSuchUpload();
  impl.uploads.erase(u);
  return rest_xml::EmptyResponse(204);
}

}  // namespace localcloud::s3
