#include "cloudevents/dispatch_format.h"

#include "cloudevents/json_format.h"
#include "common/strings.h"
#include "common/time.h"

namespace cloudevents {

namespace {

using common::InvalidArgument;
using common::Result;
using common::Status;

std::string ExtensionOr(const CloudEvent& event, std::string_view name, std::string_view fallback) {
  auto it = event.extensions.find(std::string(name));
  return it == event.extensions.end() ? std::string(fallback) : it->second;
}

bool IsMappedExtension(std::string_view name) {
  return name == kExtNamespace || name == kExtSourceType || name == kExtSourceId ||
         name == kExtEventTypeVersion;
}

Status ReadString(const nlohmann::json& object, const char* name, std::optional<std::string>* out) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return Status::Ok();
  if (!it->is_string()) {
    return InvalidArgument(std::string("\"") + name + "\" must be a string, got " +
                           it->type_name());
  }
  *out = it->get<std::string>();
  return Status::Ok();
}

}  // namespace

namespace {

// The 0.1 object; data written unless `with_data` is false.
Result<nlohmann::ordered_json> ToDispatchObject(const CloudEvent& event, bool with_data) {
  if (event.type.empty()) return InvalidArgument("missing event type (eventType)");
  if (event.id.empty()) return InvalidArgument("missing event id (eventID)");
  if (event.time && !common::ParseIso8601(*event.time)) {
    return InvalidArgument("event time is not an RFC 3339 timestamp: \"" + *event.time + "\"");
  }
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  out["namespace"] = ExtensionOr(event, kExtNamespace, "");
  out["eventType"] = event.type;
  out["eventTypeVersion"] = ExtensionOr(event, kExtEventTypeVersion, "0.1");
  out["cloudEventsVersion"] = "0.1";
  out["sourceType"] = ExtensionOr(event, kExtSourceType, "");
  out["sourceID"] = ExtensionOr(event, kExtSourceId, "");
  out["source"] = event.source;
  out["eventID"] = event.id;
  if (event.time) out["eventTime"] = *event.time;
  out["schemaURL"] = event.dataschema.value_or("");
  out["contentType"] = event.EffectiveContentType();
  nlohmann::ordered_json extensions = nlohmann::ordered_json::object();
  if (event.subject) extensions["subject"] = *event.subject;
  for (const auto& [name, value] : event.extensions) {
    if (!IsMappedExtension(name)) extensions[name] = value;
  }
  out["extensions"] = std::move(extensions);
  if (!with_data) return out;
  if (event.data) {
    out["data"] = nlohmann::ordered_json(*event.data);
  } else if (event.data_json) {
    if (auto depth = common::CheckJsonDepth(*event.data_json); !depth.ok()) return depth;
    auto parsed = nlohmann::ordered_json::parse(*event.data_json, nullptr, false);
    if (parsed.is_discarded()) return InvalidArgument("event data_json is not valid JSON");
    out["data"] = std::move(parsed);
  } else if (event.binary_data) {
    const std::string& bytes = *event.binary_data;
    if (IsJsonContentType(event.EffectiveContentType())) {
      auto parsed = ParseJson(bytes);
      if (parsed.ok()) {
        out["data"] = nlohmann::ordered_json(parsed.value());
      } else {
        return parsed.status().WithContext("data declared as JSON");
      }
    } else if (common::IsValidUtf8(bytes)) {
      out["data"] = bytes;
    } else {
      return InvalidArgument("binary (non-UTF-8) data cannot be carried in CloudEvents 0.1 JSON");
    }
  }
  return out;
}

}  // namespace

Result<nlohmann::ordered_json> ToDispatchJsonValue(const CloudEvent& event) {
  return ToDispatchObject(event, /*with_data=*/true);
}

Result<std::string> EncodeDispatchJson(const CloudEvent& event) {
  DAT_ASSIGN_OR_RETURN(auto value, ToDispatchObject(event, /*with_data=*/!event.data_json));
  std::string out = value.dump();
  if (event.data_json) AppendRawMember(&out, "data", *event.data_json);
  return out;
}

Result<CloudEvent> FromDispatchJsonValue(const nlohmann::json& object) {
  if (!object.is_object()) {
    return InvalidArgument(std::string("a CloudEvents 0.1 event must be a JSON object, got ") +
                           object.type_name());
  }
  std::optional<std::string> event_type, event_id, version, type_version, ns, source_type,
      source_id, source, event_time, schema_url, content_type;
  DAT_RETURN_IF_ERROR(ReadString(object, "eventType", &event_type));
  DAT_RETURN_IF_ERROR(ReadString(object, "eventID", &event_id));
  DAT_RETURN_IF_ERROR(ReadString(object, "cloudEventsVersion", &version));
  DAT_RETURN_IF_ERROR(ReadString(object, "eventTypeVersion", &type_version));
  DAT_RETURN_IF_ERROR(ReadString(object, "namespace", &ns));
  DAT_RETURN_IF_ERROR(ReadString(object, "sourceType", &source_type));
  DAT_RETURN_IF_ERROR(ReadString(object, "sourceID", &source_id));
  DAT_RETURN_IF_ERROR(ReadString(object, "source", &source));
  DAT_RETURN_IF_ERROR(ReadString(object, "eventTime", &event_time));
  DAT_RETURN_IF_ERROR(ReadString(object, "schemaURL", &schema_url));
  DAT_RETURN_IF_ERROR(ReadString(object, "contentType", &content_type));
  if (!event_type || event_type->empty()) return InvalidArgument("missing \"eventType\"");
  if (!event_id || event_id->empty()) return InvalidArgument("missing \"eventID\"");
  if (version && *version != "0.1") {
    return InvalidArgument("unsupported cloudEventsVersion \"" + *version +
                           "\" (expected \"0.1\")");
  }
  if (event_time && !event_time->empty() && !common::ParseIso8601(*event_time)) {
    return InvalidArgument("\"eventTime\" is not an RFC 3339 timestamp: \"" + *event_time + "\"");
  }

  CloudEvent event;
  event.type = std::move(*event_type);
  event.id = std::move(*event_id);
  if (source && !source->empty()) {
    event.source = *source;
  } else if (source_type && !source_type->empty()) {
    event.source = *source_type;
  } else if (ns && !ns->empty()) {
    event.source = *ns;
  } else {
    return InvalidArgument("missing \"source\" (and no \"sourceType\" or \"namespace\")");
  }
  if (event_time && !event_time->empty()) event.time = *event_time;
  if (schema_url && !schema_url->empty()) event.dataschema = *schema_url;
  if (content_type && !content_type->empty()) event.datacontenttype = *content_type;
  if (ns) event.extensions[std::string(kExtNamespace)] = *ns;
  if (source_type) event.extensions[std::string(kExtSourceType)] = *source_type;
  if (source_id) event.extensions[std::string(kExtSourceId)] = *source_id;
  if (type_version) event.extensions[std::string(kExtEventTypeVersion)] = *type_version;

  auto extensions = object.find("extensions");
  if (extensions != object.end() && !extensions->is_null()) {
    if (!extensions->is_object()) {
      return InvalidArgument(std::string("\"extensions\" must be an object, got ") +
                             extensions->type_name());
    }
    for (const auto& [name, value] : extensions->items()) {
      std::string text;
      if (value.is_string()) {
        text = value.get<std::string>();
      } else if (value.is_number() || value.is_boolean()) {
        text = value.dump();
      } else if (value.is_null()) {
        continue;
      } else {
        return InvalidArgument("extension \"" + name + "\" must be a scalar, got " +
                               value.type_name());
      }
      if (name == "subject") {
        event.subject = std::move(text);
      } else {
        event.extensions[name] = std::move(text);
      }
    }
  }
  auto data = object.find("data");
  if (data != object.end()) event.data = *data;
  return event;
}

Result<std::vector<CloudEvent>> DecodeDispatchJson(std::string_view json) {
  DAT_ASSIGN_OR_RETURN(auto value, ParseJson(json));
  std::vector<CloudEvent> events;
  if (value.is_array()) {
    events.reserve(value.size());
    for (size_t i = 0; i < value.size(); ++i) {
      auto event = FromDispatchJsonValue(value[i]);
      if (!event.ok()) return event.status().WithContext("event " + std::to_string(i));
      events.push_back(std::move(event).value());
    }
    return events;
  }
  DAT_ASSIGN_OR_RETURN(auto event, FromDispatchJsonValue(value));
  events.push_back(std::move(event));
  return events;
}

}  // namespace cloudevents
