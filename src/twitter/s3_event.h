// Recognises the shapes in which an S3 upload reaches the twitter function and extracts the
// objects it names. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace twitter {

// Which documented AWS event shape an object reference came from.
enum class EventShape {
  kEventBridgeObjectCreated,  // EventBridge "Object Created" (S3's EventBridge notifications)
  kCloudTrailApiCall,         // EventBridge "AWS API Call via CloudTrail" (the seed's way)
  kS3Notification,            // classic S3 event notification {"Records": [...]}
};

// "eventbridge", "cloudtrail" or "s3-notification".
const char* EventShapeName(EventShape shape);

// One uploaded object named by an event. Fields the shape does not carry are empty.
struct S3ObjectRef {
  EventShape shape = EventShape::kEventBridgeObjectCreated;
  std::string bucket;
  std::string key;         // decoded (S3 notifications form-encode keys; this is the real key)
  std::string etag;        // without quotes; empty for CloudTrail events
  std::string version_id;  // empty when the bucket is not versioned or the shape omits it
  std::optional<uint64_t> size;
  std::string region;      // the event's region, when it names one
  std::string event_name;  // "Object Created", "PutObject", "ObjectCreated:Put", …
};

// What an event turned out to be.
struct ParsedEvent {
  // Objects created. Empty when the event is a recognised AWS S3 event that creates nothing
  // (see `ignored_reason`).
  std::vector<S3ObjectRef> objects;
  // Why a recognised event names no object to act on: the S3 test event, a CloudTrail call
  // other than PutObject/CompleteMultipartUpload, an S3 record that is not ObjectCreated:*.
  std::string ignored_reason;
  // The CloudEvent id when the payload was wrapped in a CloudEvent, else the AWS event id.
  std::string event_id;
};

// Parses a payload: one of the three shapes, either as-is or as the data of a CloudEvent
// (Dispatch's CloudEvents 0.1 JSON, or CloudEvents 1.0 JSON with data or data_base64).
// InvalidArgument naming what was expected when the payload is none of them, or when a
// recognised shape lacks the bucket or key.
common::Result<ParsedEvent> ParseS3Event(const nlohmann::json& payload);

// When `payload` is a CloudEvent (0.1 or 1.0 JSON), its data (parsed from data_base64 when
// the event carries bytes that are JSON) and the event id; otherwise nullopt.
// InvalidArgument when it is a CloudEvent whose data cannot be read as JSON.
struct Unwrapped {
  nlohmann::json data;
  std::string id;
};
common::Result<std::optional<Unwrapped>> UnwrapCloudEvent(const nlohmann::json& payload);

// An ETag without the double quotes S3 puts around it in headers (events carry it either way).
std::string StripQuotes(std::string etag);

}  // namespace twitter
