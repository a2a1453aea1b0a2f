#include "aws/error.h"

#include <nlohmann/json.hpp>
#include <pugixml.hpp>
#include <sstream>

#include "aws/retry.h"
#include "common/strings.h"

namespace aws {
namespace {

bool Contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

// "com.amazonaws.sqs#QueueDoesNotExist" → "QueueDoesNotExist";
// "ValidationException:http://internal.amazon.com/…" → "ValidationException".
std::string SanitizeErrorCode(std::string_view raw) {
  std::string_view code = common::Trim(raw);
  if (size_t colon = code.find(':'); colon != std::string_view::npos) code = code.substr(0, colon);
  if (size_t hash = code.rfind('#'); hash != std::string_view::npos) code = code.substr(hash + 1);
  return std::string(code);
}

std::string CodeFromStatus(int status) {
  switch (status) {
    case 301:
      return "PermanentRedirect";
    case 304:
      return "NotModified";
    case 307:
      return "TemporaryRedirect";
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 409:
      return "Conflict";
    case 412:
      return "PreconditionFailed";
    case 413:
      return "EntityTooLarge";
    case 416:
      return "InvalidRange";
    case 429:
      return "TooManyRequestsException";
    case 500:
      return "InternalError";
    case 502:
      return "BadGateway";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "GatewayTimeout";
    default:
      return "HttpError" + std::to_string(status);
  }
}

void ParseXmlError(std::string_view body, AwsError* e) {
  pugi::xml_document doc;
  if (!doc.load_buffer(body.data(), body.size())) return;
  pugi::xml_node error = doc.child("Error");
  pugi::xml_node request_id_holder = error;
  if (!error) {
    // <ErrorResponse><Error/><RequestId/></ErrorResponse>, or EC2's
    // <Response><Errors><Error/></Errors><RequestID/></Response>.
    pugi::xpath_node found = doc.select_node("//*[local-name()='Error']");
    error = found.node();
    request_id_holder = doc.document_element();
  }
  if (!error) return;
  auto text = [](pugi::xml_node parent, const char* name) -> std::string {
    for (pugi::xml_node child : parent.children()) {
      std::string_view n = child.name();
      if (size_t colon = n.find(':'); colon != std::string_view::npos) n = n.substr(colon + 1);
      if (n == name) return child.text().get();
    }
    return "";
  };
  e->code = SanitizeErrorCode(text(error, "Code"));
  e->message = text(error, "Message");
  if (e->message.empty()) e->message = text(error, "message");
  if (std::string type = text(error, "Type"); !type.empty()) e->sender_fault = type != "Receiver";
  std::string rid = text(error, "RequestId");
  if (rid.empty()) rid = text(request_id_holder, "RequestId");
  if (rid.empty()) rid = text(request_id_holder, "RequestID");
  if (!rid.empty()) e->request_id = rid;
}

void ParseJsonError(std::string_view body, AwsError* e) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return;
  auto str = [&j](const char* key) -> std::string {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : "";
  };
  std::string code = str("__type");
  if (code.empty()) code = str("code");
  if (code.empty()) code = str("Code");
  if (!code.empty()) e->code = SanitizeErrorCode(code);
  for (const char* key : {"message", "Message", "errorMessage"}) {
    if (std::string m = str(key); !m.empty()) {
      e->message = m;
      break;
    }
  }
}

}  // namespace

AwsError AwsError::FromTransport(std::string service, const common::Status& status) {
  AwsError e;
  e.service = std::move(service);
  e.transport = status.ok() ? common::Code::kUnavailable : status.code();
  e.message = status.message();
  e.sender_fault = false;
  return e;
}

AwsError AwsError::Local(std::string service, common::Code code, std::string message) {
  AwsError e;
  e.service = std::move(service);
  e.transport = code == common::Code::kOk ? common::Code::kInternal : code;
  e.message = std::move(message);
  return e;
}

bool AwsError::IsThrottling() const { return http_status == 429 || IsThrottlingCode(code); }

bool AwsError::IsTransient() const {
  if (IsTransportError()) {
    return transport == common::Code::kUnavailable || transport == common::Code::kDeadlineExceeded;
  }
  if (http_status == 500 || http_status == 502 || http_status == 503 || http_status == 504) {
    return true;
  }
  return IsTransientCode(code);
}

common::Status AwsError::ToStatus() const {
  std::string text = service.empty() ? std::string("aws") : service;
  if (IsTransportError()) {
    text += ": " + message;
    return common::Status(transport, text);
  }
  text += " " + (code.empty() ? CodeFromStatus(http_status) : code) + ": ";
  text += message.empty() ? std::string("HTTP ") + std::to_string(http_status) : message;
  if (!request_id.empty()) text += " (request id " + request_id + ")";

  common::Code c;
  if (IsThrottling()) {
    c = common::Code::kResourceExhausted;
  } else if (http_status == 404 || common::StartsWith(code, "NoSuch") ||
             Contains(code, "NotFound") || Contains(code, "NonExistent") ||
             Contains(code, "DoesNotExist")) {
    c = common::Code::kNotFound;
  } else if (Contains(code, "AlreadyExists") || Contains(code, "AlreadyOwned") ||
             Contains(code, "NameExists")) {
    c = common::Code::kAlreadyExists;
  } else if (http_status >= 500) {
    c = common::Code::kUnavailable;
  } else if (http_status == 401) {
    c = common::Code::kUnauthenticated;
  } else if (http_status == 403) {
    c = common::Code::kPermissionDenied;
  } else if (http_status == 409 || http_status == 412 ||
             (http_status >= 300 && http_status < 400)) {
    c = common::Code::kFailedPrecondition;
  } else if (http_status == 413) {
    c = common::Code::kResourceExhausted;
  } else {
    c = common::Code::kInvalidArgument;
  }
  return common::Status(c, text);
}

AwsError ParseErrorResponse(std::string_view service, const http::Response& response) {
  AwsError e;
  e.service = std::string(service);
  e.http_status = response.status;
  e.sender_fault = response.status < 500;
  for (const char* h : {"x-amzn-RequestId", "x-amz-request-id"}) {
    if (auto v = response.headers.Get(h)) {
      e.request_id = *v;
      break;
    }
  }
  std::string_view body = common::Trim(response.body);
  if (!body.empty() && body.front() == '<') {
    ParseXmlError(body, &e);
  } else if (!body.empty() && body.front() == '{') {
    ParseJsonError(body, &e);
  }
  if (e.code.empty()) {
    if (auto t = response.headers.Get("x-amzn-ErrorType")) e.code = SanitizeErrorCode(*t);
  }
  if (auto q = response.headers.Get("x-amzn-query-error")) {
    // "AWS.SimpleQueueService.NonExistentQueue;Sender"
    std::vector<std::string> parts = common::Split(*q, ';');
    if (!parts[0].empty()) e.code = std::string(common::Trim(parts[0]));
    if (parts.size() > 1) e.sender_fault = common::Trim(parts[1]) != "Receiver";
  }
  if (e.code.empty()) e.code = CodeFromStatus(response.status);
  return e;
}

std::string ToXmlBody(const AwsError& error, bool query_protocol) {
  pugi::xml_document doc;
  pugi::xml_node decl = doc.append_child(pugi::node_declaration);
  decl.append_attribute("version") = "1.0";
  decl.append_attribute("encoding") = "UTF-8";
  pugi::xml_node err;
  pugi::xml_node holder;
  if (query_protocol) {
    holder = doc.append_child("ErrorResponse");
    err = holder.append_child("Error");
    err.append_child("Type").text().set(error.sender_fault ? "Sender" : "Receiver");
  } else {
    err = doc.append_child("Error");
    holder = err;
  }
  err.append_child("Code").text().set(error.code.c_str());
  err.append_child("Message").text().set(error.message.c_str());
  if (query_protocol) err.append_child("Detail");
  holder.append_child("RequestId").text().set(error.request_id.c_str());
  std::ostringstream out;
  doc.save(out, "", pugi::format_raw);
  return out.str();
}

namespace {

std::string InsertBeforeClosing(std::string xml, std::string_view closing,
                                const std::vector<std::pair<std::string, std::string>>& extra) {
  if (extra.empty()) return xml;
  std::string elements;
  for (const auto& [name, value] : extra) {
    pugi::xml_document one;
    one.append_child(name.c_str()).text().set(value.c_str());
    std::ostringstream out;
    one.save(out, "", pugi::format_raw | pugi::format_no_declaration);
    elements += out.str();
  }
  size_t pos = xml.rfind(closing);
  if (pos == std::string::npos) return xml;
  xml.insert(pos, elements);
  return xml;
}

void SetRequestIdHeaders(const AwsError& error, http::Response* r) {
  if (error.request_id.empty()) return;
  r->headers.Set("x-amz-request-id", error.request_id);
  r->headers.Set("x-amzn-RequestId", error.request_id);
}

}  // namespace

http::Response ToS3XmlResponse(const AwsError& error,
                               const std::vector<std::pair<std::string, std::string>>& extra) {
  http::Response r;
  r.status = error.http_status ? error.http_status : 500;
  r.body = InsertBeforeClosing(ToXmlBody(error, false), "</Error>", extra);
  r.headers.Set("Content-Type", "application/xml");
  SetRequestIdHeaders(error, &r);
  return r;
}

http::Response ToQueryXmlResponse(const AwsError& error) {
  http::Response r;
  r.status = error.http_status ? error.http_status : 500;
  r.body = ToXmlBody(error, true);
  r.headers.Set("Content-Type", "text/xml");
  SetRequestIdHeaders(error, &r);
  return r;
}

std::string ToJsonBody(const AwsError& error, std::string_view type_prefix) {
  nlohmann::json j;
  j["__type"] = std::string(type_prefix) + error.code;
  j["message"] = error.message;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

http::Response ToJsonResponse(const AwsError& error, std::string_view json_version,
                              std::string_view type_prefix, std::string_view query_error_code) {
  http::Response r;
  r.status = error.http_status ? error.http_status : 500;
  r.body = ToJsonBody(error, type_prefix);
  r.headers.Set("Content-Type", "application/x-amz-json-" + std::string(json_version));
  r.headers.Set("x-amzn-ErrorType", error.code);
  if (!query_error_code.empty()) {
    r.headers.Set("x-amzn-query-error", std::string(query_error_code) + ";" +
                                            (error.sender_fault ? "Sender" : "Receiver"));
  }
  SetRequestIdHeaders(error, &r);
  return r;
}

}  // namespace aws
