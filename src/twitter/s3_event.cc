#include "twitter/s3_event.h"

#include "cloudevents/dispatch_format.h"
#include "cloudevents/json_format.h"
#include "common/json_fields.h"
#include "common/strings.h"

namespace twitter {
namespace {

using nlohmann::json;

constexpr const char* kExpected =
    "expected an S3 upload event: an EventBridge \"Object Created\" event, a CloudTrail "
    "\"AWS API Call via CloudTrail\" PutObject/CompleteMultipartUpload event, or an S3 event "
    "notification with \"Records\" (as the payload or as the data of a CloudEvent)";

// The object at `j[name]`, or an empty object.
const json& Obj(const json& j, const char* name) {
  static const json kEmpty = json::object();
  if (!j.is_object()) return kEmpty;
  auto it = j.find(name);
  return it != j.end() && it->is_object() ? *it : kEmpty;
}

std::optional<uint64_t> Size(const json& j, const char* name) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(name);
  if (it == j.end() || !it->is_number_integer() || it->get<int64_t>() < 0) return std::nullopt;
  return it->get<uint64_t>();
}

common::Status RequireBucketAndKey(const S3ObjectRef& ref, const char* shape) {
  if (ref.bucket.empty() || ref.key.empty()) {
    return common::InvalidArgument(std::string(shape) + " event without a bucket name and key");
  }
  return common::Status::Ok();
}

common::Result<ParsedEvent> ParseEventBridge(const json& e) {
  ParsedEvent out;
  out.event_id = common::JsonString(e, "id");
  const std::string detail_type = common::JsonString(e, "detail-type");
  const json& detail = Obj(e, "detail");
  if (detail_type == "AWS API Call via CloudTrail") {
    const std::string name = common::JsonString(detail, "eventName");
    if (name != "PutObject" && name != "CompleteMultipartUpload") {
      out.ignored_reason = "CloudTrail event " + (name.empty() ? "without eventName" : name) +
                           " does not create an object";
      return out;
    }
    const json& params = Obj(detail, "requestParameters");
    S3ObjectRef ref;
    ref.shape = EventShape::kCloudTrailApiCall;
    ref.bucket = common::JsonString(params, "bucketName");
    ref.key = common::JsonString(params, "key");
    ref.region = common::JsonString(detail, "awsRegion");
    if (ref.region.empty()) ref.region = common::JsonString(e, "region");
    ref.event_name = name;
    ref.version_id = common::JsonString(Obj(detail, "responseElements"), "x-amz-version-id");
    DAT_RETURN_IF_ERROR(RequireBucketAndKey(ref, "CloudTrail"));
    out.objects.push_back(std::move(ref));
    return out;
  }
  if (detail_type == "Object Created") {
    const json& object = Obj(detail, "object");
    S3ObjectRef ref;
    ref.shape = EventShape::kEventBridgeObjectCreated;
    ref.bucket = common::JsonString(Obj(detail, "bucket"), "name");
    ref.key = common::JsonString(object, "key");
    ref.etag = StripQuotes(common::JsonString(object, "etag"));
    ref.version_id = common::JsonString(object, "version-id");
    ref.size = Size(object, "size");
    ref.region = common::JsonString(e, "region");
    ref.event_name = detail_type;
    DAT_RETURN_IF_ERROR(RequireBucketAndKey(ref, "EventBridge \"Object Created\""));
    out.objects.push_back(std::move(ref));
    return out;
  }
  out.ignored_reason = "S3 event \"" + detail_type + "\" does not create an object";
  return out;
}

common::Result<ParsedEvent> ParseNotification(const json& e) {
  ParsedEvent out;
  const json& records = e["Records"];
  if (!records.is_array()) return common::InvalidArgument(std::string(kExpected));
  std::vector<std::string> ignored;
  for (size_t i = 0; i < records.size(); ++i) {
    const json& r = records[i];
    const std::string source = common::JsonString(r, "eventSource");
    const std::string name = common::JsonString(r, "eventName");
    if (source != "aws:s3") {
      return common::InvalidArgument("record " + std::to_string(i) + " has eventSource \"" +
                                     source + "\"; " + kExpected);
    }
    if (!common::StartsWith(name, "ObjectCreated:")) {
      ignored.push_back(name);
      continue;
    }
    const json& s3 = Obj(r, "s3");
    const json& object = Obj(s3, "object");
    S3ObjectRef ref;
    ref.shape = EventShape::kS3Notification;
    ref.bucket = common::JsonString(Obj(s3, "bucket"), "name");
    // Notification keys are form-encoded: "red flower.jpg" arrives as "red+flower.jpg".
    if (!common::UriDecode(common::JsonString(object, "key"), &ref.key, /*plus_as_space=*/true)) {
      return common::InvalidArgument("record " + std::to_string(i) +
                                     " has a key that is not URL-encoded correctly");
    }
    ref.etag = StripQuotes(common::JsonString(object, "eTag"));
    ref.version_id = common::JsonString(object, "versionId");
    ref.size = Size(object, "size");
    ref.region = common::JsonString(r, "awsRegion");
    ref.event_name = name;
    DAT_RETURN_IF_ERROR(RequireBucketAndKey(ref, "S3 notification"));
    if (out.event_id.empty())
      out.event_id = common::JsonString(Obj(r, "responseElements"), "x-amz-request-id");
    out.objects.push_back(std::move(ref));
  }
  if (out.objects.empty()) {
    out.ignored_reason =
        records.empty()
            ? "S3 notification without records"
            : "S3 notification records " + common::Join(ignored, ", ") + " do not create an object";
  }
  return out;
}

}  // namespace

const char* EventShapeName(EventShape shape) {
  switch (shape) {
    case EventShape::kEventBridgeObjectCreated:
      return "eventbridge";
    case EventShape::kCloudTrailApiCall:
      return "cloudtrail";
    case EventShape::kS3Notification:
      return "s3-notification";
  }
  return "unknown";
}

common::Result<std::optional<Unwrapped>> UnwrapCloudEvent(const json& payload) {
  if (!payload.is_object()) return std::optional<Unwrapped>();
  common::Result<cloudevents::CloudEvent> event = common::InvalidArgument("not a CloudEvent");
  if (payload.contains("specversion")) {
    event = cloudevents::FromJsonValue(payload);
  } else if (payload.contains("cloudEventsVersion")) {
    event = cloudevents::FromDispatchJsonValue(payload);  // Dispatch's CloudEvents 0.1
  } else {
    return std::optional<Unwrapped>();
  }
  if (!event.ok()) return event.status().WithContext("CloudEvent");
  Unwrapped out;
  out.id = event->id;
  if (event->data) {
    out.data = *event->data;
  } else if (event->binary_data) {
    auto parsed = cloudevents::ParseJson(*event->binary_data);
    if (!parsed.ok()) return parsed.status().WithContext("CloudEvent data_base64");
    out.data = std::move(*parsed);
  }
  // Some producers put the JSON event in data as a string.
  if (out.data.is_string()) {
    auto parsed = cloudevents::ParseJson(out.data.get<std::string>());
    if (parsed.ok() && parsed->is_object()) out.data = std::move(*parsed);
  }
  return std::optional<Unwrapped>(std::move(out));
}

common::Result<ParsedEvent> ParseS3Event(const json& payload) {
  DAT_ASSIGN_OR_RETURN(std::optional<Unwrapped> unwrapped, UnwrapCloudEvent(payload));
  const json& e = unwrapped ? unwrapped->data : payload;
  if (!e.is_object()) return common::InvalidArgument(std::string(kExpected));

  common::Result<ParsedEvent> parsed = common::InvalidArgument(std::string(kExpected));
  if (e.contains("Records")) {
    parsed = ParseNotification(e);
  } else if (common::JsonString(e, "Event") == "s3:TestEvent") {
    ParsedEvent test;
    test.ignored_reason = "S3 test event";
    parsed = test;
  } else if (common::JsonString(e, "source") == "aws.s3" && e.contains("detail-type")) {
    parsed = ParseEventBridge(e);
  } else if (e.contains("detail-type")) {
    return common::InvalidArgument("event from source \"" + common::JsonString(e, "source") +
                                   "\" (" + common::JsonString(e, "detail-type") + "); " +
                                   kExpected);
  }
  if (parsed.ok() && unwrapped && !unwrapped->id.empty()) parsed->event_id = unwrapped->id;
  return parsed;
}

std::string StripQuotes(std::string etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    return etag.substr(1, etag.size() - 2);
  }
  return etag;
}

}  // namespace twitter
