#include "driver/event_mapper.h"

#include "cloudevents/dispatch_format.h"
#include "cloudevents/json_format.h"
#include "common/strings.h"
#include "common/time.h"

namespace driver {
namespace {

using cloudevents::CloudEvent;
using nlohmann::json;

constexpr const char* kSourceType = "aws";
constexpr const char* kSqsMessageType = "aws.sqs.message";

bool IsString(const json& j, const char* key) { return j.contains(key) && j[key].is_string(); }

// An EventBridge event: id, source, detail-type and time as strings (what every AWS service
// event, schedule and CloudTrail "AWS API Call" event delivered by a rule carries).
bool IsEventBridgeEvent(const json& j) {
  return j.is_object() && IsString(j, "id") && IsString(j, "source") &&
         IsString(j, "detail-type") && IsString(j, "time");
}

bool IsS3Records(const json& j) {
  if (!j.is_object() || !j.contains("Records") || !j["Records"].is_array()) return false;
  for (const auto& r : j["Records"]) {
    if (!r.is_object() || !IsString(r, "eventSource") || r["eventSource"] != "aws:s3") return false;
  }
  return !j["Records"].empty();
}

bool IsS3TestEvent(const json& j) {
  return j.is_object() && IsString(j, "Event") && j["Event"] == "s3:TestEvent";
}

bool IsSnsNotification(const json& j) {
  return j.is_object() && IsString(j, "Type") && j["Type"] == "Notification" &&
         IsString(j, "Message") && IsString(j, "TopicArn");
}

CloudEvent BaseEvent(const MapperConfig& config) {
  CloudEvent e;
  e.source = kSourceType;
  e.datacontenttype = "application/json";
  e.extensions[std::string(cloudevents::kExtNamespace)] = config.namespace_;
  e.extensions[std::string(cloudevents::kExtSourceType)] = kSourceType;
  e.extensions[std::string(cloudevents::kExtSourceId)] = config.source_id;
  return e;
}

// The CloudEvents time of an AWS timestamp, normalized to RFC 3339 UTC.
std::optional<std::string> NormalizeTime(const std::string& t) {
  auto parsed = common::ParseIso8601(t);
  if (!parsed) return std::nullopt;
  return common::FormatIso8601Millis(*parsed);
}

std::string S3KeyOf(const json& event) {
  // EventBridge S3 events: detail.object.key; CloudTrail: detail.requestParameters.key.
  const json& d = event.contains("detail") ? event["detail"] : json();
  if (d.is_object()) {
    if (d.contains("object") && d["object"].is_object() && IsString(d["object"], "key"))
      return d["object"]["key"].get<std::string>();
    if (d.contains("requestParameters") && d["requestParameters"].is_object() &&
        IsString(d["requestParameters"], "key"))
      return d["requestParameters"]["key"].get<std::string>();
  }
  return "";
}

bool MatchesAny(const json& event, const MapperConfig& config) {
  if (config.patterns == nullptr || config.patterns->empty()) return true;
  for (const auto& p : *config.patterns) {
    if (p.Matches(event)) return true;
  }
  return false;
}

MappedMessage FromEventBridge(json event, const MapperConfig& config) {
  MappedMessage out;
  if (!MatchesAny(event, config)) {
    out.disposition = Disposition::kSkip;
    out.reason = "event matches none of the driver's patterns";
    return out;
  }
  CloudEvent e = BaseEvent(config);
  e.id = event["id"].get<std::string>();
  e.type = event["source"].get<std::string>();
  e.time = NormalizeTime(event["time"].get<std::string>());
  e.extensions["awsdetailtype"] = event["detail-type"].get<std::string>();
  if (IsString(event, "account")) e.extensions["awsaccount"] = event["account"].get<std::string>();
  if (IsString(event, "region")) e.extensions["awsregion"] = event["region"].get<std::string>();
  if (e.type == "aws.s3") {
    std::string key = S3KeyOf(event);
    if (!key.empty()) e.subject = key;
  }
  e.data = std::move(event);
  out.events.push_back(std::move(e));
  return out;
}

MappedMessage FromS3Records(const json& body, const QueueMessage& m, const MapperConfig& config) {
  MappedMessage out;
  const json& records = body["Records"];
  for (size_t i = 0; i < records.size(); ++i) {
    const json& r = records[i];
    CloudEvent e = BaseEvent(config);
    e.type = "aws.s3";
    // Stable across redeliveries and duplicate notifications: S3's request id and sequencer
    // identify the object change itself.
    std::string request_id, sequencer, key, bucket;
    if (r.contains("responseElements") && IsString(r["responseElements"], "x-amz-request-id"))
      request_id = r["responseElements"]["x-amz-request-id"].get<std::string>();
    if (r.contains("s3") && r["s3"].is_object()) {
      const json& s3 = r["s3"];
      if (s3.contains("object") && s3["object"].is_object()) {
        if (IsString(s3["object"], "sequencer")) sequencer = s3["object"]["sequencer"].get<std::string>();
        if (IsString(s3["object"], "key")) {
          // Keys in records are form-encoded ('+' for space).
          std::string decoded;
          const std::string raw = s3["object"]["key"].get<std::string>();
          key = common::UriDecode(raw, &decoded, true) ? decoded : raw;
        }
      }
      if (s3.contains("bucket") && IsString(s3["bucket"], "name"))
        bucket = s3["bucket"]["name"].get<std::string>();
    }
    e.id = (!request_id.empty() && !sequencer.empty())
               ? request_id + "-" + sequencer
               : m.message_id + "-" + std::to_string(i);
    if (IsString(r, "eventTime")) e.time = NormalizeTime(r["eventTime"].get<std::string>());
    if (IsString(r, "eventName")) e.extensions["awsdetailtype"] = r["eventName"].get<std::string>();
    if (IsString(r, "awsRegion")) e.extensions["awsregion"] = r["awsRegion"].get<std::string>();
    if (!key.empty()) e.subject = key;
    e.data = json{{"Records", json::array({r})}};
    out.events.push_back(std::move(e));
  }
  return out;
}

std::string ExtensionName(const std::string& attribute) {
  std::string out;
  for (char c : common::ToLower(attribute)) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) out.push_back(c);
  }
  return out;
}

MappedMessage FromGenericMessage(const QueueMessage& m, const MapperConfig& config) {
  MappedMessage out;
  if (config.strict) {
    out.disposition = Disposition::kDeadLetter;
    out.reason = "not an AWS event (strict mode)";
    return out;
  }
  CloudEvent e = BaseEvent(config);
  e.type = kSqsMessageType;
  e.id = m.message_id;
  if (m.sent_timestamp_ms > 0) e.time = common::FormatIso8601Millis(common::FromUnixMillis(m.sent_timestamp_ms));
  auto parsed = cloudevents::ParseJson(m.body);
  if (parsed.ok()) {
    e.data = std::move(*parsed);
  } else {
    e.datacontenttype = "text/plain; charset=utf-8";
    e.data = m.body;
  }
  for (const auto& [name, value] : m.attributes) {
    std::string ext = ExtensionName(name);
    if (ext.empty() || cloudevents::IsCoreAttributeName(ext) || e.extensions.count(ext)) continue;
    e.extensions[ext] = value;
  }
  out.events.push_back(std::move(e));
  return out;
}

MappedMessage MapBody(const std::string& text, const QueueMessage& m, const MapperConfig& config,
                      int depth) {
  auto parsed = cloudevents::ParseJson(text);
  if (parsed.ok()) {
    json& body = *parsed;
    if (IsEventBridgeEvent(body)) return FromEventBridge(std::move(body), config);
    if (IsS3Records(body)) return FromS3Records(body, m, config);
    if (IsS3TestEvent(body)) {
      MappedMessage out;
      out.disposition = Disposition::kSkip;
      out.reason = "S3 test event (sent when a notification configuration is set)";
      return out;
    }
    if (IsSnsNotification(body) && depth == 0) {
      return MapBody(body["Message"].get<std::string>(), m, config, depth + 1);
    }
  }
  return FromGenericMessage(m, config);
}

}  // namespace

MappedMessage MapMessage(const QueueMessage& message, const MapperConfig& config) {
  if (!common::IsValidUtf8(message.body)) {
    return {Disposition::kDeadLetter, {}, "message body is not valid UTF-8"};
  }
  if (message.body.size() > config.max_event_bytes) {
    return {Disposition::kDeadLetter, {},
            "message body is " + std::to_string(message.body.size()) +
                " bytes, over the sink's limit of " + std::to_string(config.max_event_bytes)};
  }
  MappedMessage out = MapBody(message.body, message, config, 0);
  for (const auto& e : out.events) {
    common::Status valid = cloudevents::Validate(e);
    if (!valid.ok()) {
      return {Disposition::kDeadLetter, {}, "cannot form a CloudEvent: " + valid.message()};
    }
  }
  return out;
}

}  // namespace driver
