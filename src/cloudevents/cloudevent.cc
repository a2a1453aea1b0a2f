#include "cloudevents/cloudevent.h"

#include <array>
#include <cassert>

#include "common/strings.h"
#include "common/time.h"

namespace cloudevents {

namespace {

constexpr std::array<std::string_view, 10> kCoreNames = {
    "id",      "source",          "specversion", "type", "time",
    "subject", "datacontenttype", "dataschema",  "data", "data_base64"};

}  // namespace

std::string CloudEvent::DataBytes() const {
  if (binary_data) return *binary_data;
  if (data_json) return *data_json;
  if (!data) return "";
  if (data->is_string() && !IsJsonContentType(EffectiveContentType())) {
    return data->get<std::string>();
  }
  return data->dump();
}

std::string CloudEvent::EffectiveContentType() const {
  return datacontenttype ? *datacontenttype : std::string("application/json");
}

std::string CloudEvent::ExtensionOr(std::string_view name, std::string_view fallback) const {
  auto it = extensions.find(std::string(name));
  return it == extensions.end() ? std::string(fallback) : it->second;
}

bool IsValidAttributeName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

bool IsCoreAttributeName(std::string_view name) {
  for (auto core : kCoreNames) {
    if (core == name) return true;
  }
  return false;
}

bool IsJsonContentType(std::string_view content_type) {
  auto semi = content_type.find(';');
  std::string media = common::ToLower(common::Trim(content_type.substr(0, semi)));
  auto slash = media.find('/');
  if (slash == std::string::npos) return false;
  std::string_view subtype = std::string_view(media).substr(slash + 1);
  return subtype == "json" || common::EndsWith(subtype, "+json");
}

common::Status Validate(const CloudEvent& event) {
  if (event.specversion != kSpecVersion) {
    return common::InvalidArgument("unsupported specversion \"" + event.specversion +
                                   "\" (only \"1.0\" is supported)");
  }
  if (event.id.empty()) return common::InvalidArgument("missing required attribute \"id\"");
  if (event.source.empty()) {
    return common::InvalidArgument("missing required attribute \"source\"");
  }
  if (event.type.empty()) return common::InvalidArgument("missing required attribute \"type\"");
  if (event.time && !common::ParseIso8601(*event.time)) {
    return common::InvalidArgument("attribute \"time\" is not an RFC 3339 timestamp: \"" +
                                   *event.time + "\"");
  }
  if (event.dataschema && event.dataschema->empty()) {
    return common::InvalidArgument("attribute \"dataschema\" must not be empty");
  }
  if (event.datacontenttype && event.datacontenttype->empty()) {
    return common::InvalidArgument("attribute \"datacontenttype\" must not be empty");
  }
  for (const auto& [name, value] : event.extensions) {
    if (!IsValidAttributeName(name)) {
      return common::InvalidArgument("invalid extension attribute name \"" + name +
                                     "\" (only a-z and 0-9 allowed)");
    }
    if (IsCoreAttributeName(name)) {
      return common::InvalidArgument("extension attribute \"" + name +
                                     "\" collides with a core attribute");
    }
  }
  if (int(event.data.has_value()) + int(event.data_json.has_value()) +
          int(event.binary_data.has_value()) >
      1) {
    return common::InvalidArgument("event has more than one form of data");
  }
  if (event.data_json && !IsJsonContentType(event.EffectiveContentType())) {
    return common::InvalidArgument("data_json under the non-JSON content type \"" +
                                   event.EffectiveContentType() + "\"");
  }
  return common::Status::Ok();
}

common::Status Check(const CloudEvent& event, Validation validation) {
  if (validation == Validation::kAlreadyValid) {
    assert(Validate(event).ok());
    return common::Status::Ok();
  }
  return Validate(event);
}

}  // namespace cloudevents
