#include "driver/event_mapper.h"

#include <simdjson.h>

#include "cloudevents/dispatch_format.h"
#include "cloudevents/json_format.h"
#include "common/json_limits.h"
#include "common/strings.h"
#include "common/time.h"

namespace driver {
namespace {

using cloudevents::CloudEvent;
using nlohmann::json;

constexpr const char* kSourceType = "aws";
constexpr const char* kSqsMessageType = "aws.sqs.message";

// Message bodies are classified and their attributes read with simdjson, which validates the
// whole document at several GB/s; the body then travels as the event's data_json without
// being re-serialized. Only S3 notification records (split into one event per record) and
// pattern matching build an nlohmann DOM.
using Element = simdjson::dom::element;

// One parser per thread and nesting level (an SNS envelope and the message inside it): a
// parser's documents live until its next parse.
simdjson::dom::parser& Parser(int depth) {
  thread_local simdjson::dom::parser parsers[2];
  return parsers[depth];
}

std::optional<std::string_view> StringAt(Element object, const char* key) {
  std::string_view v;
  if (object[key].get(v) != simdjson::SUCCESS) return std::nullopt;
  return v;
}

bool StringIs(Element object, const char* key, std::string_view want) {
  auto v = StringAt(object, key);
  return v && *v == want;
}

// An EventBridge event: id, source, detail-type and time as strings (what every AWS service
// event, schedule and CloudTrail "AWS API Call" event delivered by a rule carries).
bool IsEventBridgeEvent(Element j) {
  return j.is_object() && StringAt(j, "id") && StringAt(j, "source") &&
         StringAt(j, "detail-type") && StringAt(j, "time");
}

bool IsS3Records(Element j) {
  simdjson::dom::array records;
  if (!j.is_object() || j["Records"].get(records) != simdjson::SUCCESS) return false;
  for (Element r : records) {
    if (!StringIs(r, "eventSource", "aws:s3")) return false;
  }
  return records.size() > 0;
}

bool IsS3TestEvent(Element j) { return j.is_object() && StringIs(j, "Event", "s3:TestEvent"); }

bool IsSnsNotification(Element j) {
  return j.is_object() && StringIs(j, "Type", "Notification") && StringAt(j, "Message") &&
         StringAt(j, "TopicArn");
}

bool IsString(const json& j, const char* key) { return j.contains(key) && j[key].is_string(); }

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
std::optional<std::string> NormalizeTime(std::string_view t) {
  auto parsed = common::ParseIso8601(std::string(t));
  if (!parsed) return std::nullopt;
  return common::FormatIso8601Millis(*parsed);
}

std::string S3KeyOf(Element event) {
  // EventBridge S3 events: detail.object.key; CloudTrail: detail.requestParameters.key.
  std::string_view key;
  if (event.at_pointer("/detail/object/key").get(key) == simdjson::SUCCESS ||
      event.at_pointer("/detail/requestParameters/key").get(key) == simdjson::SUCCESS) {
    return std::string(key);
  }
  return "";
}

// Patterns are matched on an nlohmann DOM (the matcher localcloud's EventBridge shares), built
// only when the driver has patterns.
bool MatchesAny(std::string_view text, const MapperConfig& config) {
  if (config.patterns == nullptr || config.patterns->empty()) return true;
  auto event = cloudevents::ParseJson(text);
  if (!event.ok()) return false;
  for (const auto& p : *config.patterns) {
    if (p.Matches(*event)) return true;
  }
  return false;
}

MappedMessage FromEventBridge(Element event, std::string_view text, const MapperConfig& config) {
  MappedMessage out;
  if (!MatchesAny(text, config)) {
    out.disposition = Disposition::kSkip;
    out.reason = "event matches none of the driver's patterns";
    return out;
  }
  CloudEvent e = BaseEvent(config);
  e.id = *StringAt(event, "id");
  e.type = *StringAt(event, "source");
  e.time = NormalizeTime(*StringAt(event, "time"));
  e.extensions["awsdetailtype"] = *StringAt(event, "detail-type");
  if (auto v = StringAt(event, "account")) e.extensions["awsaccount"] = *v;
  if (auto v = StringAt(event, "region")) e.extensions["awsregion"] = *v;
  if (e.type == "aws.s3") {
    std::string key = S3KeyOf(event);
    if (!key.empty()) e.subject = std::move(key);
  }
  e.data_json = std::string(text);
  out.events.push_back(std::move(e));
  return out;
}

MappedMessage FromS3Records(std::string_view text, const QueueMessage& m,
                            const MapperConfig& config) {
  MappedMessage out;
  auto parsed = cloudevents::ParseJson(text);
  if (!parsed.ok()) return out;  // not reached: simdjson accepted the same text
  const json& records = (*parsed)["Records"];
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
        if (IsString(s3["object"], "sequencer"))
          sequencer = s3["object"]["sequencer"].get<std::string>();
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
    e.id = (!request_id.empty() && !sequencer.empty()) ? request_id + "-" + sequencer
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

// `body_json`: the message body as JSON text (normalized when simdjson could not take it as
// sent), std::nullopt when the body is not JSON.
MappedMessage FromGenericMessage(const QueueMessage& m, std::optional<std::string_view> body_json,
                                 const MapperConfig& config) {
  MappedMessage out;
  if (config.strict) {
    out.disposition = Disposition::kDeadLetter;
    out.reason = "not an AWS event (strict mode)";
    return out;
  }
  CloudEvent e = BaseEvent(config);
  e.type = kSqsMessageType;
  e.id = m.message_id;
  if (m.sent_timestamp_ms > 0)
    e.time = common::FormatIso8601Millis(common::FromUnixMillis(m.sent_timestamp_ms));
  if (body_json) {
    e.data_json = std::string(*body_json);
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

// Parses `text` at nesting `depth` (MapBody has bounded its nesting). simdjson rejects a few
// documents that are valid JSON (integers beyond 64 bits): those are normalized through
// nlohmann (as the driver always serialized data) into *normalized and parsed again.
// *doc stays empty for JSON still beyond simdjson: no AWS event has that shape.
bool ParseBody(std::string_view text, int depth, std::string* normalized,
               std::optional<Element>* doc, std::string_view* json_text) {
  Element e;
  if (Parser(depth).parse(text.data(), text.size()).get(e) == simdjson::SUCCESS) {
    *doc = e;
    *json_text = text;
    return true;
  }
  auto slow = cloudevents::ParseJson(text);
  if (!slow.ok()) return false;
  *normalized = slow->dump();
  *json_text = *normalized;
  if (Parser(depth).parse(*normalized).get(e) == simdjson::SUCCESS) *doc = e;
  return true;
}

MappedMessage MapBody(std::string_view text, const QueueMessage& m, const MapperConfig& config,
                      int depth, std::optional<std::string_view> body_json) {
  // Before simdjson (which takes 1024 levels) and nlohmann (whose dump recurses): a body
  // nested deeper than any event cannot be delivered, and must not crash the relay.
  if (common::Status nesting = common::CheckJsonDepth(text, common::kMaxJsonDepth); !nesting.ok()) {
    return {Disposition::kDeadLetter, {}, "message body: " + nesting.message()};
  }
  std::string normalized;
  std::optional<Element> parsed;
  std::string_view json_text;
  if (ParseBody(text, depth, &normalized, &parsed, &json_text)) {
    if (depth == 0) body_json = json_text;
    if (!parsed) return FromGenericMessage(m, body_json, config);
    Element doc = *parsed;
    if (IsEventBridgeEvent(doc)) return FromEventBridge(doc, json_text, config);
    if (IsS3Records(doc)) return FromS3Records(json_text, m, config);
    if (IsS3TestEvent(doc)) {
      MappedMessage out;
      out.disposition = Disposition::kSkip;
      out.reason = "S3 test event (sent when a notification configuration is set)";
      return out;
    }
    if (IsSnsNotification(doc) && depth == 0) {
      std::string inner(*StringAt(doc, "Message"));
      return MapBody(inner, m, config, depth + 1, body_json);
    }
  }
  return FromGenericMessage(m, body_json, config);
}

}  // namespace

MappedMessage MapMessage(const QueueMessage& message, const MapperConfig& config) {
  if (!common::IsValidUtf8(message.body)) {
    return {Disposition::kDeadLetter, {}, "message body is not valid UTF-8"};
  }
  if (message.body.size() > config.max_event_bytes) {
    return {Disposition::kDeadLetter,
            {},
            "message body is " + std::to_string(message.body.size()) +
                " bytes, over the sink's limit of " + std::to_string(config.max_event_bytes)};
  }
  MappedMessage out = MapBody(message.body, message, config, 0, std::nullopt);
  // The one check of the events the driver relays (the sink's encoders trust it).
  for (const auto& e : out.events) {
    common::Status valid = cloudevents::Validate(e);
    if (!valid.ok()) {
      return {Disposition::kDeadLetter, {}, "cannot form a CloudEvent: " + valid.message()};
    }
  }
  return out;
}

}  // namespace driver
