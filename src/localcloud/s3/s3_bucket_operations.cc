// S3's bucket operations: create, head, delete, location, versioning, tagging, policy and
// notification configuration.
#include <pugixml.hpp>

#include "common/crypto.h"
#include "common/strings.h"
#include "localcloud/core/resource_policy.h"
#include "localcloud/core/xml_writer.h"
#include "localcloud/s3/s3_checks.h"
#include "localcloud/s3/s3_operations.h"

namespace localcloud::s3 {
namespace {

using Response = aws::Outcome<http::Response>;

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

aws::AwsError InvalidTag(std::string message) { return Err("InvalidTag", std::move(message)); }

// The TagSet of a Tagging document, validated as S3 validates bucket tags.
aws::Outcome<std::vector<std::pair<std::string, std::string>>> ParseTagging(std::string_view body) {
  pugi::xml_document doc;
  if (auto loaded = rest_xml::LoadXml(body, &doc, "s3"); !loaded.ok()) return loaded.error();
  pugi::xml_node tag_set = doc.child("Tagging").child("TagSet");
  if (!tag_set) return rest_xml::MalformedXml("s3");
  std::vector<std::pair<std::string, std::string>> tags;
  for (pugi::xml_node tag : tag_set.children("Tag")) {
    if (!tag.child("Key")) return rest_xml::MalformedXml("s3");
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

// One <QueueConfiguration> of a notification configuration.
aws::Outcome<S3QueueConfiguration> ParseQueueConfiguration(const pugi::xml_node& n) {
  S3QueueConfiguration q;
  q.id = n.child_value("Id");
  if (q.id.empty()) q.id = common::Base64Encode(common::RandomBytes(12));
  q.queue_arn = n.child_value("Queue");
  for (pugi::xml_node e : n.children("Event")) q.events.push_back(e.child_value());
  for (pugi::xml_node r : n.child("Filter").child("S3Key").children("FilterRule")) {
    q.filter_rules.push_back({common::ToLower(r.child_value("Name")), r.child_value("Value")});
  }
  std::vector<std::string> arn = common::Split(q.queue_arn, ':');
  if (arn.size() != 6 || arn[2] != "sqs" || q.events.empty()) {
    return Err("InvalidArgument", "Unable to validate the following destination configurations");
  }
  for (const std::string& e : q.events) {
    if (!common::StartsWith(e, "s3:")) {
      return Err("InvalidArgument", "The event is not supported for notifications");
    }
  }
  return q;
}

// Changes a bucket's setting with `change(Bucket&)` under the lock and persists it: an
// empty answer with `status`, or NoSuchBucket.
template <typename Change>
Response UpdateBucket(S3Service::Impl& impl, const std::string& name, int status, Change change) {
  common::MutexLock lock(impl.mu);
  Bucket* b = impl.FindBucket(name);
  if (b == nullptr) return NoSuchBucket();
  change(*b);
  impl.SaveBucket(*b);
  return rest_xml::EmptyResponse(status);
}

}  // namespace

aws::Outcome<S3NotificationConfiguration> ParseNotification(const std::string& body) {
  S3NotificationConfiguration config;
  pugi::xml_document doc;
  if (!body.empty() && !rest_xml::LoadXml(body, &doc, "s3").ok()) {
    return rest_xml::MalformedXml("s3");
  }
  pugi::xml_node root_node = doc.child("NotificationConfiguration");
  if (!body.empty() && !root_node) return rest_xml::MalformedXml("s3");
  for (pugi::xml_node n : root_node.children()) {
    std::string name = n.name();
    if (name == "EventBridgeConfiguration") {
      config.eventbridge_enabled = true;
    } else if (name == "QueueConfiguration") {
      auto q = ParseQueueConfiguration(n);
      if (!q.ok()) return q.error();
      config.queues.push_back(std::move(q.value()));
    } else if (name == "TopicConfiguration" || name == "CloudFunctionConfiguration") {
      // UNFINISHED: SNS topics and Lambda functions are not emulated by localcloud.
      return Err("InvalidArgument", "Unable to validate the following destination configurations");
    }
  }
  config.raw_xml = RenderNotification(config);
  return config;
}

std::string RenderNotification(const S3NotificationConfiguration& config) {
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

Response ListBuckets(S3Service::Impl& impl, S3Call& /*c*/) {
  XmlWriter w;
  w.Open("ListAllMyBucketsResult", kXmlns);
  w.Open("Owner")
      .Element("ID", OwnerId(impl.context.config().account_id))
      .Element("DisplayName", "localcloud")
      .Close();
  w.Open("Buckets");
  common::MutexLock lock(impl.mu);
  for (const auto& [name, b] : impl.buckets) {
    w.Open("Bucket")
        .Element("Name", name)
        .Element("CreationDate", common::FormatIso8601Millis(b.created))
        .Close();
  }
  w.Close();
  return rest_xml::XmlResponse(200, w.Finish());
}

Response CreateBucket(S3Service::Impl& impl, S3Call& c) {
  if (!c.params.empty()) {
    return Err("NotImplemented",
               "A header you provided implies functionality that is not implemented", 501);
  }
  if (!ValidBucketName(c.bucket)) {
    return Err("InvalidBucketName", "The specified bucket is not valid.");
  }
  std::string region = c.call.route.signing_region.empty() ? impl.context.config().region
                                                           : c.call.route.signing_region;
  std::string constraint;
  if (!c.request.body.empty()) {
    pugi::xml_document doc;
    if (auto loaded = rest_xml::LoadXml(c.request.body, &doc, "s3"); !loaded.ok()) {
      return loaded.error();
    }
    constraint = doc.child("CreateBucketConfiguration").child_value("LocationConstraint");
  }
  if (auto e = CheckLocationConstraint(constraint, region)) return *e;
  if (!constraint.empty()) region = constraint == "EU" ? "eu-west-1" : constraint;
  common::MutexLock lock(impl.mu);
  if (impl.buckets.count(c.bucket)) {
    return Err("BucketAlreadyOwnedByYou",
               "Your previous request to create the named bucket succeeded and you already own "
               "it.",
               409);
  }
  Bucket b;
  b.name = c.bucket;
  b.region = region;
  b.created = c.call.time;
  impl.SaveBucket(b);
  impl.buckets.emplace(c.bucket, std::move(b));
  http::Response resp = rest_xml::EmptyResponse(200);
  resp.headers.Set("Location", "/" + c.bucket);
  return resp;
}

Response HeadBucket(S3Service::Impl& impl, S3Call& c) {
  common::MutexLock lock(impl.mu);
  Bucket* b = impl.FindBucket(c.bucket);
  if (b == nullptr) return NoSuchBucket();
  http::Response resp = rest_xml::EmptyResponse(200);
  resp.headers.Set("x-amz-bucket-region", b->region);
  return resp;
}

Response DeleteBucket(S3Service::Impl& impl, S3Call& c) {
  common::MutexLock lock(impl.mu);
  Bucket* b = impl.FindBucket(c.bucket);
  if (b == nullptr) return NoSuchBucket();
  if (!b->objects.empty()) {
    return Err("BucketNotEmpty", "The bucket you tried to delete is not empty", 409);
  }
  for (auto u = impl.uploads.begin(); u != impl.uploads.end();) {
    u = u->second.bucket == c.bucket ? impl.uploads.erase(u) : std::next(u);
  }
  impl.buckets.erase(c.bucket);
  impl.RemoveBucketFiles(c.bucket);
  return rest_xml::EmptyResponse(204);
}

Response GetBucketLocation(S3Service::Impl& impl, S3Call& c) {
  common::MutexLock lock(impl.mu);
  Bucket* b = impl.FindBucket(c.bucket);
  if (b == nullptr) return NoSuchBucket();
  // The region is the root's own text: <LocationConstraint xmlns=…>region</…>, empty for
  // us-east-1.
  XmlWriter w;
  w.Open("LocationConstraint", kXmlns);
  std::string body = w.Finish();
  body.insert(body.rfind("</LocationConstraint>"),
              XmlEscape(b->region == "us-east-1" ? "" : b->region));
  return rest_xml::XmlResponse(200, body);
}

Response GetBucketVersioning(S3Service::Impl& impl, S3Call& c) {
  common::MutexLock lock(impl.mu);
  if (!impl.buckets.count(c.bucket)) return NoSuchBucket();
  XmlWriter w;
  w.Open("VersioningConfiguration", kXmlns);
  return rest_xml::XmlResponse(200, w.Finish());
}

Response PutBucketTagging(S3Service::Impl& impl, S3Call& c) {
  auto tags = ParseTagging(c.request.body);
  if (!tags.ok()) return tags.error();
  return UpdateBucket(impl, c.bucket, 204, [&](Bucket& b) { b.tags = std::move(tags.value()); });
}

Response GetBucketTagging(S3Service::Impl& impl, S3Call& c) {
  common::MutexLock lock(impl.mu);
  Bucket* b = impl.FindBucket(c.bucket);
  if (b == nullptr) return NoSuchBucket();
  if (b->tags.empty()) return Err("NoSuchTagSet", "The TagSet does not exist", 404);
  XmlWriter w;
  w.Open("Tagging", kXmlns).Open("TagSet");
  for (const auto& [key, value] : b->tags) {
    w.Open("Tag").Element("Key", key).Element("Value", value).Close();
  }
  return rest_xml::XmlResponse(200, w.Finish());
}

Response DeleteBucketTagging(S3Service::Impl& impl, S3Call& c) {
  return UpdateBucket(impl, c.bucket, 204, [](Bucket& b) { b.tags.clear(); });
}

Response PutBucketPolicy(S3Service::Impl& impl, S3Call& c) {
  common::Status valid = ValidateResourcePolicy(c.request.body, {"s3", "arn:aws:s3:::" + c.bucket});
  if (!valid.ok()) return Err("MalformedPolicy", valid.message());
  return UpdateBucket(impl, c.bucket, 204, [&](Bucket& b) { b.policy = c.request.body; });
}

Response GetBucketPolicy(S3Service::Impl& impl, S3Call& c) {
  common::MutexLock lock(impl.mu);
  Bucket* b = impl.FindBucket(c.bucket);
  if (b == nullptr) return NoSuchBucket();
  if (b->policy.empty()) {
    return Err("NoSuchBucketPolicy", "The bucket policy does not exist", 404);
  }
  return http::Response::Text(200, b->policy, "application/json");
}

Response DeleteBucketPolicy(S3Service::Impl& impl, S3Call& c) {
  return UpdateBucket(impl, c.bucket, 204, [](Bucket& b) { b.policy.clear(); });
}

Response PutBucketNotificationConfiguration(S3Service::Impl& impl, S3Call& c) {
  auto config = ParseNotification(c.request.body);
  if (!config.ok()) return config.error();
  {
    common::MutexLock lock(impl.mu);
    if (!impl.buckets.count(c.bucket)) return NoSuchBucket();
  }
  // The observers send S3's test event to each queue, outside the lock.
  for (S3Observer* o : impl.observers) {
    common::Status s = o->OnNotificationConfiguration(c.bucket, *config, c.info);
    if (!s.ok()) {
      return Err("InvalidArgument",
                 "Unable to validate the following destination configurations: " + s.message());
    }
  }
  return UpdateBucket(impl, c.bucket, 200,
                      [&](Bucket& b) { b.notification = std::move(config.value()); });
}

Response GetBucketNotificationConfiguration(S3Service::Impl& impl, S3Call& c) {
  common::MutexLock lock(impl.mu);
  Bucket* b = impl.FindBucket(c.bucket);
  if (b == nullptr) return NoSuchBucket();
  return rest_xml::XmlResponse(200, RenderNotification(b->notification));
}

Response UnimplementedSubresource(S3Service::Impl& impl, S3Call& c) {
  {
    common::MutexLock lock(impl.mu);
    if (!impl.buckets.count(c.bucket)) return NoSuchBucket();
  }
  return Err("NotImplemented",
             "localcloud does not implement the " + std::string(c.route->query) + " subresource",
             501);
}

}  // namespace localcloud::s3
