#include "cloudevents/dispatch_format.h"

#include <cassert>
#include <utility>

#include "cloudevents/json_format.h"
#include "common/strings.h"
#include "common/time.h"

namespace cloudevents {

namespace {

using common::InvalidArgument;
using common::Result;
using common::Status;

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

// The checks of the 0.1 encoders (what FromDispatchJsonValue checks on the way in).
Status CheckDispatch(const CloudEvent& event) {
  if (event.type.empty()) return InvalidArgument("missing event type (eventType)");
  if (event.id.empty()) return InvalidArgument("missing event id (eventID)");
  if (event.time && !common::ParseIso8601(*event.time)) {
    return InvalidArgument("event time is not an RFC 3339 timestamp: \"" + *event.time + "\"");
  }
  return Status::Ok();
}

Status CheckDispatch(const CloudEvent& event, Validation validation) {
  if (validation == Validation::kAlreadyValid) {
    assert(CheckDispatch(event).ok());
    return Status::Ok();
  }
  return CheckDispatch(event);
}

// The 0.1 object without its data. Json is nlohmann::ordered_json (members in the documented
// order) or nlohmann::json (sorted by name).
template <typename Json>
Json DispatchEnvelope(const CloudEvent& event) {
  Json out = Json::object();
  out["namespace"] = event.ExtensionOr(kExtNamespace, "");
  out["eventType"] = event.type;
  out["eventTypeVersion"] = event.ExtensionOr(kExtEventTypeVersion, "0.1");
  out["cloudEventsVersion"] = "0.1";
  out["sourceType"] = event.ExtensionOr(kExtSourceType, "");
  out["sourceID"] = event.ExtensionOr(kExtSourceId, "");
  out["source"] = event.source;
  out["eventID"] = event.id;
  if (event.time) out["eventTime"] = *event.time;
  out["schemaURL"] = event.dataschema.value_or("");
  out["contentType"] = event.EffectiveContentType();
  Json extensions = Json::object();
  if (event.subject) extensions["subject"] = *event.subject;
  for (const auto& [name, value] : event.extensions) {
    if (!IsMappedExtension(name)) extensions[name] = value;
  }
  out["extensions"] = std::move(extensions);
  return out;
}

// The 0.1 "data" of an event with data_json or binary_data (none: null).
template <typename Json>
Result<Json> DispatchDataFromText(const CloudEvent& event) {
  if (event.data_json) {
    if (auto depth = common::CheckJsonDepth(*event.data_json); !depth.ok()) return depth;
    auto parsed = Json::parse(*event.data_json, nullptr, false);
    if (parsed.is_discarded()) return InvalidArgument("event data_json is not valid JSON");
    return parsed;
  }
  if (!event.binary_data) return Json();
  const std::string& bytes = *event.binary_data;
  if (IsJsonContentType(event.EffectiveContentType())) {
    auto parsed = ParseJson(bytes);
    if (!parsed.ok()) return parsed.status().WithContext("data declared as JSON");
    return Json(std::move(parsed).value());
  }
  if (common::IsValidUtf8(bytes)) return Json(bytes);
  return InvalidArgument("binary (non-UTF-8) data cannot be carried in CloudEvents 0.1 JSON");
}

// The whole 0.1 object. Event is const CloudEvent& (its data copied) or CloudEvent (an event
// the caller gave up: its data moved).
template <typename Json, typename Event>
Result<Json> DispatchObject(Event&& event, Validation validation) {
  DAT_RETURN_IF_ERROR(CheckDispatch(event, validation));
  Json out = DispatchEnvelope<Json>(event);
  if (event.data) {
    out["data"] = Json(std::forward<Event>(event).data.value());
  } else if (event.has_data()) {
    DAT_ASSIGN_OR_RETURN(out["data"], DispatchDataFromText<Json>(event));
  }
  return out;
}

}  // namespace

Result<nlohmann::ordered_json> ToDispatchJsonValue(const CloudEvent& event, Validation validation) {
  return DispatchObject<nlohmann::ordered_json>(event, validation);
}

Result<nlohmann::json> ToDispatchJson(CloudEvent event, Validation validation) {
  return DispatchObject<nlohmann::json>(std::move(event), validation);
}

Result<std::string> EncodeDispatchJson(const CloudEvent& event, Validation validation) {
  if (!event.data_json) {
    DAT_ASSIGN_OR_RETURN(auto value, ToDispatchJsonValue(event, validation));
    return value.dump();
  }
  DAT_RETURN_IF_ERROR(CheckDispatch(event, validation));
  std::string out = DispatchEnvelope<nlohmann::ordered_json>(event).dump();
  AppendRawMember(&out, "data", *event.data_json);
  return out;
}

namespace {

// Every attribute of a 0.1 object; the data is left to the caller.
Result<CloudEvent> DispatchAttributes(const nlohmann::json& object) {
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
  return event;
}

}  // namespace

Result<CloudEvent> FromDispatchJsonValue(const nlohmann::json& object) {
  DAT_ASSIGN_OR_RETURN(CloudEvent event, DispatchAttributes(object));
  auto data = object.find("data");
  if (data != object.end()) event.data = *data;
  return event;
}

Result<CloudEvent> FromDispatchJsonValue(nlohmann::json&& object) {
  DAT_ASSIGN_OR_RETURN(CloudEvent event, DispatchAttributes(object));
  auto data = object.find("data");
  if (data != object.end()) event.data = std::move(*data);
  return event;
}

Result<std::vector<CloudEvent>> DecodeDispatchJson(std::string_view json) {
  DAT_ASSIGN_OR_RETURN(auto value, ParseJson(json));
  return DecodeDispatchJsonValue(std::move(value));
}

Result<std::vector<CloudEvent>> DecodeDispatchJsonValue(nlohmann::json&& value) {
  std::vector<CloudEvent> events;
  if (value.is_array()) {
    events.reserve(value.size());
    for (size_t i = 0; i < value.size(); ++i) {
      auto event = FromDispatchJsonValue(std::move(value[i]));
      if (!event.ok()) return event.status().WithContext("event " + std::to_string(i));
      events.push_back(std::move(event).value());
    }
    return events;
  }
  DAT_ASSIGN_OR_RETURN(auto event, FromDispatchJsonValue(std::move(value)));
  events.push_back(std::move(event));
  return events;
}

}  // namespace cloudevents
