#include "cloudevents/json_format.h"

#include "common/strings.h"

namespace cloudevents {

namespace {

using common::InvalidArgument;
using common::Result;
using common::Status;

// Reads an optional string attribute: absent or null leaves *out unset; any other non-string
// type is an error.
Status ReadOptionalString(const nlohmann::json& object, const char* name,
                          std::optional<std::string>* out) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return Status::Ok();
  if (!it->is_string()) {
    return InvalidArgument(std::string("attribute \"") + name + "\" must be a string, got " +
                           it->type_name());
  }
  *out = it->get<std::string>();
  return Status::Ok();
}

Status ReadRequiredString(const nlohmann::json& object, const char* name, std::string* out) {
  std::optional<std::string> value;
  DAT_RETURN_IF_ERROR(ReadOptionalString(object, name, &value));
  if (!value || value->empty()) {
    return InvalidArgument(std::string("missing required attribute \"") + name + "\"");
  }
  *out = std::move(*value);
  return Status::Ok();
}

}  // namespace

Result<nlohmann::json> ParseJson(std::string_view text) {
  return common::ParseJsonBounded(text, kMaxEventJsonDepth);
}

namespace {

// The event's members except its data, in ToJsonValue's order.
nlohmann::ordered_json Envelope(const CloudEvent& event) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  out["specversion"] = event.specversion;
  out["id"] = event.id;
  out["source"] = event.source;
  out["type"] = event.type;
  if (event.datacontenttype) out["datacontenttype"] = *event.datacontenttype;
  if (event.dataschema) out["dataschema"] = *event.dataschema;
  if (event.subject) out["subject"] = *event.subject;
  if (event.time) out["time"] = *event.time;
  for (const auto& [name, value] : event.extensions) out[name] = value;
  return out;
}

}  // namespace

void AppendRawMember(std::string* object, std::string_view key, std::string_view raw_json) {
  object->pop_back();  // the closing brace
  if (object->size() > 1) object->push_back(',');
  common::AppendJsonString(object, key);
  object->push_back(':');
  object->append(raw_json);
  object->push_back('}');
}

Result<nlohmann::ordered_json> ToJsonValue(const CloudEvent& event, Validation validation) {
  DAT_RETURN_IF_ERROR(Check(event, validation));
  nlohmann::ordered_json out = Envelope(event);
  if (event.binary_data) {
    out["data_base64"] = common::Base64Encode(*event.binary_data);
  } else if (event.data) {
    out["data"] = nlohmann::ordered_json(*event.data);
  } else if (event.data_json) {
    if (auto depth = common::CheckJsonDepth(*event.data_json); !depth.ok()) return depth;
    auto parsed = nlohmann::ordered_json::parse(*event.data_json, nullptr, false);
    if (parsed.is_discarded()) return InvalidArgument("event data_json is not valid JSON");
    out["data"] = std::move(parsed);
  }
  return out;
}

Result<std::string> EncodeJson(const CloudEvent& event, Validation validation) {
  if (!event.data_json) {
    DAT_ASSIGN_OR_RETURN(auto value, ToJsonValue(event, validation));
    return value.dump();
  }
  DAT_RETURN_IF_ERROR(Check(event, validation));
  std::string out = Envelope(event).dump();
  AppendRawMember(&out, "data", *event.data_json);
  return out;
}

Result<std::string> EncodeJsonBatch(const std::vector<CloudEvent>& events) {
  std::string out = "[";
  for (size_t i = 0; i < events.size(); ++i) {
    auto one = EncodeJson(events[i]);
    if (!one.ok()) return one.status().WithContext("event " + std::to_string(i));
    if (i > 0) out.push_back(',');
    out += *one;
  }
  out.push_back(']');
  return out;
}

namespace {

// FromJsonValue. `owned` is null, or the same object when the caller gives it up: its data is
// then moved into the event instead of copied.
Result<CloudEvent> ReadJsonEvent(const nlohmann::json& object, nlohmann::json* owned) {
  if (!object.is_object()) {
    return InvalidArgument(std::string("a CloudEvent must be a JSON object, got ") +
                           object.type_name());
  }
  CloudEvent event;
  std::optional<std::string> specversion;
  DAT_RETURN_IF_ERROR(ReadOptionalString(object, "specversion", &specversion));
  if (!specversion) return InvalidArgument("missing required attribute \"specversion\"");
  if (*specversion != kSpecVersion) {
    return InvalidArgument("unsupported specversion \"" + *specversion +
                           "\" (only \"1.0\" is supported)");
  }
  event.specversion = *specversion;
  DAT_RETURN_IF_ERROR(ReadRequiredString(object, "id", &event.id));
  DAT_RETURN_IF_ERROR(ReadRequiredString(object, "source", &event.source));
  DAT_RETURN_IF_ERROR(ReadRequiredString(object, "type", &event.type));
  DAT_RETURN_IF_ERROR(ReadOptionalString(object, "time", &event.time));
  DAT_RETURN_IF_ERROR(ReadOptionalString(object, "subject", &event.subject));
  DAT_RETURN_IF_ERROR(ReadOptionalString(object, "datacontenttype", &event.datacontenttype));
  DAT_RETURN_IF_ERROR(ReadOptionalString(object, "dataschema", &event.dataschema));

  for (const auto& [name, value] : object.items()) {
    if (IsCoreAttributeName(name) || value.is_null()) continue;
    if (!IsValidAttributeName(name)) {
      return InvalidArgument("invalid extension attribute name \"" + name +
                             "\" (only a-z and 0-9 allowed)");
    }
    if (value.is_string()) {
      event.extensions[name] = value.get<std::string>();
    } else if (value.is_boolean()) {
      event.extensions[name] = value.get<bool>() ? "true" : "false";
    } else if (value.is_number_integer()) {
      event.extensions[name] = value.dump();
    } else {
      return InvalidArgument("extension attribute \"" + name +
                             "\" must be a string, integer or boolean, got " + value.type_name());
    }
  }

  auto data = object.find("data");
  auto data_base64 = object.find("data_base64");
  bool has_data = data != object.end();
  bool has_base64 = data_base64 != object.end() && !data_base64->is_null();
  if (has_data && has_base64) {
    return InvalidArgument("\"data\" and \"data_base64\" are mutually exclusive");
  }
  if (has_base64) {
    if (!data_base64->is_string()) {
      return InvalidArgument("\"data_base64\" must be a string");
    }
    std::string bytes;
    if (!common::Base64Decode(data_base64->get<std::string>(), &bytes)) {
      return InvalidArgument("\"data_base64\" is not valid base64");
    }
    event.binary_data = std::move(bytes);
  } else if (has_data) {
    if (!IsJsonContentType(event.EffectiveContentType()) && !data->is_string()) {
      return InvalidArgument("\"data\" must be a string for non-JSON datacontenttype \"" +
                             event.EffectiveContentType() + "\"");
    }
    if (owned != nullptr) {
      event.data = std::move((*owned)["data"]);
    } else {
      event.data = *data;
    }
  }
  DAT_RETURN_IF_ERROR(Validate(event));
  return event;
}

}  // namespace

Result<CloudEvent> FromJsonValue(const nlohmann::json& object) {
  return ReadJsonEvent(object, nullptr);
}

Result<CloudEvent> FromJsonValue(nlohmann::json&& object) { return ReadJsonEvent(object, &object); }

Result<CloudEvent> DecodeJson(std::string_view json) {
  DAT_ASSIGN_OR_RETURN(auto value, ParseJson(json));
  return FromJsonValue(std::move(value));
}

Result<std::vector<CloudEvent>> DecodeJsonBatch(std::string_view json) {
  DAT_ASSIGN_OR_RETURN(auto value, ParseJson(json));
  if (!value.is_array()) {
    return InvalidArgument(std::string("a CloudEvents batch must be a JSON array, got ") +
                           value.type_name());
  }
  std::vector<CloudEvent> events;
  events.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    auto event = FromJsonValue(std::move(value[i]));
    if (!event.ok()) return event.status().WithContext("event " + std::to_string(i));
    events.push_back(std::move(event).value());
  }
  return events;
}

}  // namespace cloudevents
