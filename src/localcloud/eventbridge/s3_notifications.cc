#include "localcloud/eventbridge/s3_notifications.h"

#include <spdlog/spdlog.h>

#include <memory>

#include "common/crypto.h"
#include "common/strings.h"

namespace localcloud::eventbridge {
namespace {

using nlohmann::json;

// A stable stand-in for the bucket owner's canonical principal id ("A3NL1KOZZKExample").
std::string OwnerPrincipalId(const std::string& account) {
  return "A" + common::ToUpper(common::HexEncode(common::Md5(account))).substr(0, 13);
}

}  // namespace

S3Notifications::S3Notifications(CloudContext& context, EventsService& bus, QueueDelivery& queues)
    : context_(context), bus_(bus), queues_(queues) {}

json S3Notifications::EventBridgeEvent(const S3ObjectEvent& e) const {
  bool created = common::StartsWith(e.event_name, "ObjectCreated");
  json object = {{"key", e.key}};
  if (created) {
    object["size"] = e.size;
    object["etag"] = e.etag;
  }
  if (!e.version_id.empty()) object["version-id"] = e.version_id;
  object["sequencer"] = e.sequencer;
  std::string requester = e.request.caller.account_id.empty() ? context_.config().account_id
                                                              : e.request.caller.account_id;
  json detail = {{"version", "0"},         {"bucket", {{"name", e.bucket}}},
                 {"object", object},       {"request-id", e.request.request_id},
                 {"requester", requester}, {"source-ip-address", e.request.source_ip},
                 {"reason", e.reason}};
  if (!created) {
    detail["deletion-type"] =
        e.version_id.empty() ? "Permanently Deleted" : "Delete Marker Created";
  }
  return bus_.MakeEvent("aws.s3", created ? "Object Created" : "Object Deleted",
                        {"arn:aws:s3:::" + e.bucket}, std::move(detail), e.request.time);
}

json S3Notifications::NotificationRecord(const S3ObjectEvent& e,
                                         const std::string& configuration_id) const {
  json object = {{"key", common::FormEncode(e.key)}};
  if (common::StartsWith(e.event_name, "ObjectCreated")) {
    object["size"] = e.size;
    object["eTag"] = e.etag;
  }
  if (!e.version_id.empty()) object["versionId"] = e.version_id;
  object["sequencer"] = e.sequencer;
  std::string principal = e.request.caller.principal_id.empty() ? context_.config().account_id
                                                                : e.request.caller.principal_id;
  json record = {
      {"eventVersion", "2.1"},
      {"eventSource", "aws:s3"},
      {"awsRegion", context_.config().region},
      {"eventTime", common::FormatIso8601Millis(e.request.time)},
      {"eventName", e.event_name},
      {"userIdentity", {{"principalId", "AWS:" + principal}}},
      {"requestParameters", {{"sourceIPAddress", e.request.source_ip}}},
      {"responseElements",
       {{"x-amz-request-id", e.request.request_id}, {"x-amz-id-2", e.request.host_id}}},
      {"s3",
       {{"s3SchemaVersion", "1.0"},
        {"configurationId", configuration_id},
        {"bucket",
         {{"name", e.bucket},
          {"ownerIdentity", {{"principalId", OwnerPrincipalId(context_.config().account_id)}}},
          {"arn", "arn:aws:s3:::" + e.bucket}}},
        {"object", object}}}};
  return json{{"Records", json::array({record})}};
}

OutgoingMessage S3Notifications::FromBucket(const std::string& bucket) const {
  OutgoingMessage m;
  m.sender_service = "s3.amazonaws.com";
  m.sender_source_arn = "arn:aws:s3:::" + bucket;
  m.sender_source_account = context_.config().account_id;
  return m;
}

void S3Notifications::OnObjectEvent(const S3ObjectEvent& e) {
  if (e.notification.eventbridge_enabled) bus_.Publish(EventBridgeEvent(e));
  for (const S3QueueConfiguration& q : e.notification.queues) {
    bool selected = false;
    for (const std::string& configured : q.events)
      selected = selected || S3EventSelected(configured, e.event_name);
    if (!selected || !S3KeyMatchesFilter(q.filter_rules, e.key)) continue;
    auto body = std::make_shared<std::string>(NotificationRecord(e, q.id).dump());
    std::string arn = q.queue_arn;
    std::string bucket = e.bucket;
    context_.timers().ScheduleAfter(std::chrono::milliseconds(0), [this, arn, body, bucket] {
      OutgoingMessage m = FromBucket(bucket);
      m.body = *body;
      auto sent = queues_.SendMessageToArn(arn, std::move(m));
      if (!sent.ok())
        spdlog::warn("s3 notification to {} failed: {}", arn, sent.status().ToString());
    });
  }
}

common::Status S3Notifications::OnNotificationConfiguration(
    const std::string& bucket, const S3NotificationConfiguration& config,
    const S3RequestInfo& request) {
  // S3 validates each destination by sending it the test event; a missing queue fails the call.
  for (const S3QueueConfiguration& q : config.queues) {
    json test = {{"Service", "Amazon S3"},
                 {"Event", "s3:TestEvent"},
                 {"Time", common::FormatIso8601Millis(request.time)},
                 {"Bucket", bucket},
                 {"RequestId", request.request_id},
                 {"HostId", request.host_id}};
    OutgoingMessage m = FromBucket(bucket);
    m.body = test.dump();
    auto sent = queues_.SendMessageToArn(q.queue_arn, std::move(m));
    if (!sent.ok()) return common::InvalidArgument(q.queue_arn + ": " + sent.status().message());
  }
  return common::Status::Ok();
}

}  // namespace localcloud::eventbridge
