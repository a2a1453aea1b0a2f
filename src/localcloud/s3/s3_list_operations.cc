// S3's listings: ListObjects (v1 and v2), ListMultipartUploads, ListParts.
#include "common/crypto.h"
#include "common/strings.h"
#include "common/time.h"
#include "localcloud/core/xml_writer.h"
#include "localcloud/s3/s3_operations.h"

namespace localcloud::s3 {
namespace {

using Response = aws::Outcome<http::Response>;

// The parameters of a ListObjects / ListObjectsV2 request.
struct ListRequest {
  bool v2 = false;
  std::string prefix;
  std::string delimiter;
  bool url_encoding = false;
  int max_keys = 1000;
  std::string marker;  // v1 marker, v2 start-after or decoded continuation token
};

aws::Outcome<ListRequest> ParseListRequest(const S3Call& c) {
  ListRequest l;
  l.v2 = c.Param("list-type") == "2";
  l.prefix = c.Param("prefix");
  l.delimiter = c.Param("delimiter");
  l.url_encoding = c.Param("encoding-type") == "url";
  if (c.Has("max-keys")) {
    std::string text = c.Param("max-keys");
    char* end = nullptr;
    long v = std::strtol(text.c_str(), &end, 10);
    if (*end != '\0' || v < 0) {
      return Err("InvalidArgument", "Provided max-keys not an integer or within integer range");
    }
    l.max_keys = static_cast<int>(std::min<long>(v, 1000));
  }
  if (!l.v2) {
    l.marker = c.Param("marker");
  } else if (c.Has("continuation-token")) {
    if (!common::Base64Decode(c.Param("continuation-token"), &l.marker)) {
      return Err("InvalidArgument", "The continuation token provided is incorrect");
    }
  } else {
    l.marker = c.Param("start-after");
  }
  return l;
}

// One page of a listing: objects and common prefixes in key order.
struct ListPage {
  std::vector<std::pair<std::string, Object>> contents;  // copies share the body buffers
  std::vector<std::string> prefixes;
  bool truncated = false;
  std::string last;  // the last key or prefix listed (the next page starts after it)
};

ListPage CollectPage(const Bucket& b, const ListRequest& l) {
  ListPage page;
  const std::string& prefix = l.prefix;
  auto start = l.marker.empty() ? b.objects.lower_bound(prefix) : b.objects.upper_bound(l.marker);
  for (auto o = start; o != b.objects.end(); ++o) {
    const std::string& key = o->first;
    if (!common::StartsWith(key, prefix)) {
      if (key > prefix) break;
      continue;
    }
    std::string rollup;
    if (!l.delimiter.empty()) {
      size_t d = key.find(l.delimiter, prefix.size());
      if (d != std::string::npos) rollup = key.substr(0, d + l.delimiter.size());
    }
    if (!rollup.empty() &&
        (rollup == l.marker || (!page.prefixes.empty() && page.prefixes.back() == rollup))) {
      continue;
    }
    if (static_cast<int>(page.contents.size() + page.prefixes.size()) >= l.max_keys) {
      page.truncated = true;
      break;
    }
    if (!rollup.empty()) {
      page.prefixes.push_back(rollup);
      page.last = rollup;
    } else {
      page.contents.emplace_back(key, o->second);
      page.last = key;
    }
  }
  return page;
}

std::string RenderPage(const S3Call& c, const ListRequest& l, const ListPage& page,
                       const std::string& owner_id) {
  auto enc = [&](const std::string& s) { return l.url_encoding ? common::FormEncode(s) : s; };
  XmlWriter w;
  w.Open("ListBucketResult", kXmlns);
  w.Element("Name", c.bucket).Element("Prefix", enc(l.prefix));
  if (l.v2) {
    if (c.Has("continuation-token")) w.Element("ContinuationToken", c.Param("continuation-token"));
    if (c.Has("start-after")) w.Element("StartAfter", enc(c.Param("start-after")));
    w.Element("KeyCount", std::to_string(page.contents.size() + page.prefixes.size()));
  } else {
    w.Element("Marker", enc(l.marker));
  }
  w.Element("MaxKeys", std::to_string(l.max_keys));
  if (!l.delimiter.empty()) w.Element("Delimiter", enc(l.delimiter));
  if (l.url_encoding) w.Element("EncodingType", "url");
  w.Element("IsTruncated", page.truncated ? "true" : "false");
  if (page.truncated && l.v2) {
    w.Element("NextContinuationToken", common::Base64Encode(page.last));
  } else if (page.truncated && !l.delimiter.empty()) {
    w.Element("NextMarker", enc(page.last));
  }
  bool owner = !l.v2 || c.Param("fetch-owner") == "true";
  for (const auto& [key, o] : page.contents) {
    w.Open("Contents")
        .Element("Key", enc(key))
        .Element("LastModified", common::FormatIso8601Millis(o.last_modified))
        .Element("ETag", o.etag)
        .Element("Size", std::to_string(o.data->size()));
    if (owner) {
      w.Open("Owner").Element("ID", owner_id).Element("DisplayName", "localcloud").Close();
    }
    std::string storage_class = "STANDARD";
    for (const auto& [name, value] : o.headers) {
      if (name == "x-amz-storage-class") storage_class = value;
    }
    w.Element("StorageClass", storage_class).Close();
  }
  for (const std::string& p : page.prefixes) {
    w.Open("CommonPrefixes").Element("Prefix", enc(p)).Close();
  }
  return w.Finish();
}

}  // namespace

Response ListObjects(S3Service::Impl& impl, S3Call& c) {
  ListPage page;
  ListRequest l;
  {
    common::MutexLock lock(impl.mu);
    Bucket* b = impl.FindBucket(c.bucket);
    if (b == nullptr) return NoSuchBucket();
    auto parsed = ParseListRequest(c);
    if (!parsed.ok()) return parsed.error();
    l = std::move(parsed.value());
    page = CollectPage(*b, l);
  }
  return rest_xml::XmlResponse(200,
                               RenderPage(c, l, page, OwnerId(impl.context.config().account_id)));
}

Response ListMultipartUploads(S3Service::Impl& impl, S3Call& c) {
  common::MutexLock lock(impl.mu);
  if (!impl.buckets.count(c.bucket)) return NoSuchBucket();
  XmlWriter w;
  w.Open("ListMultipartUploadsResult", kXmlns)
      .Element("Bucket", c.bucket)
      .Element("KeyMarker", "")
      .Element("UploadIdMarker", "")
      .Element("MaxUploads", "1000")
      .Element("IsTruncated", "false");
  for (const auto& [id, u] : impl.uploads) {
    if (u.bucket != c.bucket) continue;
    w.Open("Upload")
        .Element("Key", u.key)
        .Element("UploadId", id)
        .Element("Initiated", common::FormatIso8601Millis(u.initiated))
        .Element("StorageClass", "STANDARD")
        .Close();
  }
  return rest_xml::XmlResponse(200, w.Finish());
}

Response ListParts(S3Service::Impl& impl, S3Call& c) {
  common::MutexLock lock(impl.mu);
  if (!impl.buckets.count(c.bucket)) return NoSuchBucket();
  auto u = impl.uploads.find(c.Param("uploadId"));
  if (u == impl.uploads.end()) return NoSuchUpload();
  XmlWriter w;
  w.Open("ListPartsResult", kXmlns)
      .Element("Bucket", c.bucket)
      .Element("Key", c.key)
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
  return rest_xml::XmlResponse(200, w.Finish());
}

}  // namespace localcloud::s3
