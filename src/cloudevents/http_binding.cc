#include "cloudevents/http_binding.h"

#include "cloudevents/dispatch_format.h"
#include "cloudevents/json_format.h"
#include "common/strings.h"

namespace cloudevents {

namespace {

using common::InvalidArgument;
using common::Result;
using common::Status;

constexpr std::string_view kHeaderPrefix = "ce-";

// The media type of a Content-Type value, lower-cased, parameters dropped.
std::string MediaType(std::string_view content_type) {
  return common::ToLower(common::Trim(content_type.substr(0, content_type.find(';'))));
}

bool IsTextContentType(std::string_view content_type) {
  std::string media = MediaType(content_type);
  return common::StartsWith(media, "text/") || common::EndsWith(media, "/xml") ||
         common::EndsWith(media, "+xml");
}

void RemoveEventHeaders(http::Headers* headers) {
  http::Headers kept;
  for (const auto& [name, value] : headers->entries()) {
    if (common::StartsWith(common::ToLower(name), kHeaderPrefix) ||
        common::EqualsIgnoreCase(name, "content-type")) {
      continue;
    }
    kept.Add(name, value);
  }
  *headers = std::move(kept);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string PercentEncodeHeaderValue(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (unsigned char c : value) {
    if (c > 0x20 && c < 0x7f && c != '"' && c != '%') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

Result<std::string> DecodeHeaderValue(std::string_view value) {
  value = common::Trim(value);
  std::string unquoted;
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    for (size_t i = 1; i + 1 < value.size(); ++i) {
      if (value[i] == '\\' && i + 2 < value.size()) ++i;
      unquoted.push_back(value[i]);
    }
  } else {
    unquoted = std::string(value);
  }
  std::string out;
  out.reserve(unquoted.size());
  for (size_t i = 0; i < unquoted.size(); ++i) {
    if (unquoted[i] != '%') {
      out.push_back(unquoted[i]);
      continue;
    }
    int hi = i + 2 < unquoted.size() ? HexValue(unquoted[i + 1]) : -1;
    int lo = hi >= 0 ? HexValue(unquoted[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      return InvalidArgument("bad percent-encoding in header value \"" + std::string(value) + "\"");
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  if (!common::IsValidUtf8(out)) {
    return InvalidArgument("header value \"" + std::string(value) +
                           "\" does not decode to valid UTF-8");
  }
  return out;
}

Status WriteHttp(const CloudEvent& event, HttpMode mode, http::Headers* headers, std::string* body,
                 Validation validation) {
  if (mode == HttpMode::kStructured) {
    DAT_ASSIGN_OR_RETURN(std::string json, EncodeJson(event, validation));
    RemoveEventHeaders(headers);
    headers->Set("Content-Type", std::string(kStructuredContentType));
    *body = std::move(json);
    return Status::Ok();
  }
  DAT_RETURN_IF_ERROR(Check(event, validation));
  RemoveEventHeaders(headers);
  auto add = [&](std::string_view name, const std::string& value) {
    headers->Add(std::string(kHeaderPrefix) + std::string(name), PercentEncodeHeaderValue(value));
  };
  add("specversion", event.specversion);
  add("id", event.id);
  add("source", event.source);
  add("type", event.type);
  if (event.time) add("time", *event.time);
  if (event.subject) add("subject", *event.subject);
  if (event.dataschema) add("dataschema", *event.dataschema);
  for (const auto& [name, value] : event.extensions) add(name, value);
  if (event.datacontenttype || event.has_data()) {
    headers->Set("Content-Type", event.EffectiveContentType());
  }
  *body = event.DataBytes();
  return Status::Ok();
}

Status WriteHttpBatch(const std::vector<CloudEvent>& events, http::Headers* headers,
                      std::string* body) {
  DAT_ASSIGN_OR_RETURN(std::string json, EncodeJsonBatch(events));
  RemoveEventHeaders(headers);
  headers->Set("Content-Type", std::string(kBatchContentType));
  *body = std::move(json);
  return Status::Ok();
}

Status WriteHttp(const CloudEvent& event, HttpMode mode, http::Request* request,
                 Validation validation) {
  return WriteHttp(event, mode, &request->headers, &request->body, validation);
}

Status WriteHttpBatch(const std::vector<CloudEvent>& events, http::Request* request) {
  return WriteHttpBatch(events, &request->headers, &request->body);
}

Result<CloudEvent> ReadHttpBinary(const http::Headers& headers, std::string_view body) {
  CloudEvent event;
  event.specversion.clear();
  for (const auto& [raw_name, raw_value] : headers.entries()) {
    std::string name = common::ToLower(raw_name);
    if (!common::StartsWith(name, kHeaderPrefix)) continue;
    std::string attribute = name.substr(kHeaderPrefix.size());
    // The binding forbids ce-datacontenttype (Content-Type carries it); ignore it.
    if (attribute == "datacontenttype") continue;
    auto decoded = DecodeHeaderValue(raw_value);
    if (!decoded.ok()) return decoded.status().WithContext("header " + raw_name);
    std::string value = std::move(decoded).value();
    if (attribute == "specversion") {
      if (event.specversion.empty()) event.specversion = value;
    } else if (attribute == "id") {
      if (event.id.empty()) event.id = value;
    } else if (attribute == "source") {
      if (event.source.empty()) event.source = value;
    } else if (attribute == "type") {
      if (event.type.empty()) event.type = value;
    } else if (attribute == "time") {
      if (!event.time) event.time = value;
    } else if (attribute == "subject") {
      if (!event.subject) event.subject = value;
    } else if (attribute == "dataschema") {
      if (!event.dataschema) event.dataschema = value;
    } else if (IsValidAttributeName(attribute) && !IsCoreAttributeName(attribute)) {
      event.extensions.emplace(attribute, value);
    } else {
      return InvalidArgument("invalid extension attribute name in header \"" + raw_name +
                             "\" (only a-z and 0-9 allowed)");
    }
  }
  if (event.specversion.empty()) {
    return InvalidArgument("missing required attribute \"specversion\" (ce-specversion)");
  }
  if (auto content_type = headers.Get("Content-Type")) {
    event.datacontenttype = std::string(common::Trim(*content_type));
  }
  if (!body.empty()) {
    if (event.datacontenttype && IsJsonContentType(*event.datacontenttype)) {
      // Too deep to be data: refused, not kept as a string as malformed JSON is below.
      DAT_RETURN_IF_ERROR(common::CheckJsonDepth(body, common::kMaxJsonDepth).WithContext("data"));
      auto parsed = ParseJson(body);
      if (parsed.ok()) {
        event.data = std::move(parsed).value();
      } else if (common::IsValidUtf8(body)) {
        // The npm SDK sends a string payload unquoted under application/json; keep it as the
        // string it was meant to be rather than refuse the event.
        event.data = std::string(body);
      } else {
        event.binary_data = std::string(body);
      }
    } else if (event.datacontenttype && IsTextContentType(*event.datacontenttype) &&
               common::IsValidUtf8(body)) {
      event.data = std::string(body);
    } else {
      event.binary_data = std::string(body);
    }
  }
  DAT_RETURN_IF_ERROR(Validate(event));
  return event;
}

Result<std::vector<CloudEvent>> ReadHttp(const http::Headers& headers, std::string_view body) {
  std::string media = MediaType(headers.GetOr("Content-Type", ""));
  if (media == "application/cloudevents+json") {
    DAT_ASSIGN_OR_RETURN(auto event, DecodeJson(body));
    return std::vector<CloudEvent>{std::move(event)};
  }
  if (media == "application/cloudevents-batch+json") return DecodeJsonBatch(body);
  if (common::StartsWith(media, "application/cloudevents")) {
    return InvalidArgument("unsupported CloudEvents format \"" + media + "\"");
  }
  if (headers.Has("ce-specversion")) {
    DAT_ASSIGN_OR_RETURN(auto event, ReadHttpBinary(headers, body));
    return std::vector<CloudEvent>{std::move(event)};
  }
  if (!common::Trim(body).empty() && (media.empty() || IsJsonContentType(media))) {
    auto parsed = ParseJson(body);
    if (!parsed.ok()) return parsed.status().WithContext("not a CloudEvent");
    auto& value = parsed.value();
    bool looks_dispatch = (value.is_object() && value.contains("eventType")) ||
                          (value.is_array() && !value.empty() && value[0].is_object() &&
                           value[0].contains("eventType"));
    if (looks_dispatch) return DecodeDispatchJsonValue(std::move(value));
  }
  return InvalidArgument(
      "not a CloudEvent: no application/cloudevents+json or "
      "application/cloudevents-batch+json Content-Type, no ce-specversion header, and not "
      "Dispatch CloudEvents 0.1 JSON");
}

Result<std::vector<CloudEvent>> ReadHttp(const http::Request& request) {
  return ReadHttp(request.headers, request.body);
}

}  // namespace cloudevents
