#include "dispatch/client.h"

#include "common/strings.h"

namespace dispatch {

using common::Result;
using nlohmann::json;

common::Code CodeForHttpStatus(int status) {
  switch (status) {
    case 400:
      return common::Code::kInvalidArgument;
    case 401:
      return common::Code::kUnauthenticated;
    case 403:
      return common::Code::kPermissionDenied;
    case 404:
      return common::Code::kNotFound;
    case 409:
      return common::Code::kAlreadyExists;
    case 413:
      return common::Code::kResourceExhausted;
    case 501:
      return common::Code::kUnimplemented;
    case 503:
      return common::Code::kUnavailable;
    case 504:
      return common::Code::kDeadlineExceeded;
    default:
      return status >= 500 ? common::Code::kInternal : common::Code::kFailedPrecondition;
  }
}

ApiClient::ApiClient(std::string server, std::string token, http::HttpClient& http,
                     std::string ca_file)
    : server_(std::move(server)),
      token_(std::move(token)),
      http_(http),
      ca_file_(std::move(ca_file)) {
  while (common::EndsWith(server_, "/")) server_.pop_back();
}

Result<http::Response> ApiClient::Send(const std::string& method, const std::string& path,
                                       const std::string& body, std::chrono::milliseconds timeout) {
  http::ClientRequest req;
  req.method = method;
  req.url = server_ + path;
  req.timeout = timeout;
  req.ca_file = ca_file_;
  if (!token_.empty()) req.headers.Set("Authorization", "Bearer " + token_);
  if (!body.empty()) {
    req.headers.Set("Content-Type", "application/json");
    req.body = body;
  }
  auto resp = http_.Send(req);
  if (!resp.ok()) {
    return common::Status(
        resp.status().code() == common::Code::kDeadlineExceeded ? common::Code::kDeadlineExceeded
                                                                : common::Code::kUnavailable,
        "cannot reach the dispatch server at " + server_ + ": " + resp.status().message());
  }
  if (resp->status < 200 || resp->status >= 300) {
    std::string message;
    auto parsed = json::parse(resp->body, nullptr, false);
    if (parsed.is_object() && parsed.contains("message") && parsed["message"].is_string()) {
      message = parsed["message"].get<std::string>();
    } else {
      message = std::string(common::Trim(resp->body));
    }
    if (message.empty()) message = "HTTP " + std::to_string(resp->status);
    return common::Status(CodeForHttpStatus(resp->status), message);
  }
  return resp;
}

Result<json> ApiClient::Call(const std::string& method, const std::string& path,
                             const std::optional<json>& body, std::chrono::milliseconds timeout) {
  DAT_ASSIGN_OR_RETURN(
      http::Response resp,
      Send(method, path,
           body ? body->dump(-1, ' ', false, json::error_handler_t::replace) : std::string(),
           timeout));
  if (common::Trim(resp.body).empty()) return json();
  auto parsed = json::parse(resp.body, nullptr, false);
  if (parsed.is_discarded()) return common::Internal("the server answered with malformed JSON");
  return parsed;
}

Result<std::string> ApiClient::GetText(const std::string& path) {
  DAT_ASSIGN_OR_RETURN(http::Response resp, Send("GET", path, "", std::chrono::seconds(60)));
  return std::move(resp.body);
}

}  // namespace dispatch
