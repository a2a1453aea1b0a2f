#include "localcloud/core/dispatcher.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/crypto.h"
#include "common/json_limits.h"
#include "common/strings.h"
#include "common/version.h"
#include "localcloud/core/auth.h"

namespace localcloud {
namespace {

// "AKID/20150830/us-east-1/iam/aws4_request" -> region, service.
void ParseScope(std::string_view credential, RouteInfo* route) {
  std::vector<std::string> parts = common::Split(credential, '/');
  if (parts.size() >= 5) {
    route->signing_region = parts[parts.size() - 3];
    route->signing_service = parts[parts.size() - 2];
  }
}

std::string RandomHostId() { return common::Base64Encode(common::RandomBytes(48)); }

constexpr std::string_view kHealthPath = "/_localcloud/health";

}  // namespace

RouteInfo ComputeRouteInfo(const http::Request& request) {
  RouteInfo route;
  route.target = request.headers.GetOr("x-amz-target", "");
  if (auto auth = request.headers.Get("authorization")) {
    size_t pos = auth->find("Credential=");
    if (pos != std::string::npos) {
      size_t start = pos + 11;
      size_t end = auth->find_first_of(", ", start);
      ParseScope(std::string_view(*auth).substr(
                     start, end == std::string::npos ? std::string::npos : end - start),
                 &route);
    }
  } else if (auto cred = http::QueryParam(request.query(), "X-Amz-Credential")) {
    ParseScope(*cred, &route);
  }
  if (auto action = http::QueryParam(request.query(), "Action")) {
    route.action = *action;
  } else if (request.method == "POST" &&
             common::StartsWith(common::ToLower(request.headers.GetOr("content-type", "")),
                                "application/x-www-form-urlencoded")) {
    if (auto action = http::QueryParam(request.body, "Action")) route.action = *action;
  }
  std::string host = common::ToLower(request.headers.GetOr("host", ""));
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    host = host.substr(0, close == std::string::npos ? host.size() : close + 1);
  } else if (size_t colon = host.rfind(':'); colon != std::string::npos) {
    host.resize(colon);
  }
  route.host = std::move(host);
  return route;
}

Service* Dispatcher::Route(const RouteInfo& route, const http::Request& request) const {
  for (auto& candidate : services_) {
    if (candidate->Accepts(route, request)) return candidate.get();
  }
  return nullptr;
}

http::Admit Dispatcher::AsAdmit() {
  return [this](const http::Request& head) { return Admit(head); };
}

http::Admission Dispatcher::Admit(const http::Request& head) const {
  http::Admission admission;
  // Answered by Dispatch, unsigned: the health endpoint and a browser's landing page.
  if (head.path() == kHealthPath || IsLandingPageRequest(head)) return admission;
  RouteInfo route = ComputeRouteInfo(head);
  if (route.action.empty() && route.target.empty() && route.signing_service.empty() &&
      head.method == "POST" &&
      common::StartsWith(common::ToLower(head.headers.GetOr("content-type", "")),
                         "application/x-www-form-urlencoded")) {
    // The Action is in the body: route (and authenticate) once it is read.
    admission.max_body_bytes = kMaxApiBodyBytes;
    return admission;
  }
  Service* service = Route(route, head);
  if (service == nullptr) {
    admission.max_body_bytes = kMaxApiBodyBytes;
    return admission;
  }
  admission.max_body_bytes = service->MaxBodyBytes(route, head);
  if (!context_.config().auth || !service->NeedsSignature(route, head)) return admission;
  auto auth = Authenticate(context_, service->name(), head);
  if (auth.ok()) return admission;
  const std::string& code = auth.error().code;
  // The signature covers the body's hash unless the client sent it as a header (S3 always
  // does): a mismatch is known only once the body is here.
  bool body_dependent =
      code == "XAmzContentSHA256Mismatch" ||
      (code == "SignatureDoesNotMatch" && !head.headers.Has("x-amz-content-sha256"));
  if (body_dependent) return admission;
  Call call;
  call.route = std::move(route);
  call.request_id = service->NewRequestId();
  call.host_id = RandomHostId();
  call.request = head;
  aws::AwsError error = auth.error();
  error.request_id = call.request_id;
  spdlog::debug("{} {} -> {} {} {} (before the body)", head.method, head.target, service->name(),
                error.http_status, error.code);
  admission.refusal = service->ErrorResponse(call, error);
  return admission;
}

http::Handler Dispatcher::AsHandler() {
  return [this](http::Request&& request, http::Respond respond) {
    Dispatch(std::move(request), std::move(respond));
  };
}

void Dispatcher::Shutdown() {
  for (auto& service : services_) service->Shutdown();
}

void Dispatcher::Dispatch(http::Request&& request, http::Respond respond) {
  if (request.method == "GET" && request.path() == kHealthPath) {
    nlohmann::json services = nlohmann::json::object();
    for (auto& service : services_) services[std::string(service->name())] = "running";
    respond(http::Response::Json(
        200, nlohmann::json{{"services", services}, {"version", common::kVersion}}.dump()));
    return;
  }
  if (IsLandingPageRequest(request)) {
    landing_.Render(context_, services_, std::move(respond));
    return;
  }
  RouteInfo route = ComputeRouteInfo(request);
  Service* service = Route(route, request);
  if (service == nullptr) {
    respond(http::Response::Json(
        400, nlohmann::json{{"__type", "UnknownService"},
                            {"message", "no localcloud service serves this request"}}
                 .dump()));
    return;
  }

  std::string path(request.path());
  if (!common::StartsWith(path, "/x/2/sandbox/") && !common::StartsWith(path, "/x/media/") &&
      path != "/x/" && path != "/x") {
    // The landing page's "recent requests" (not the pages and their polling).
    respond = [this, inner = std::move(respond), name = std::string(service->name()),
               operation = LandingPage::OperationName(route, request),
               time = context_.clock().Now()](http::Response response) {
      landing_.Record({time, name, operation, response.status});
      inner(std::move(response));
    };
  }

  Call call;
  call.route = std::move(route);
  call.request_id = service->NewRequestId();
  call.host_id = RandomHostId();
  call.time = context_.clock().Now();
  call.user_agent = request.headers.GetOr("user-agent", "");
  call.source_ip = request.remote_address;
  call.caller = context_.RootPrincipal();

  if (context_.config().auth && service->NeedsSignature(call.route, request)) {
    auto auth = Authenticate(context_, service->name(), request);
    if (!auth.ok()) {
      aws::AwsError error = auth.error();
      error.request_id = call.request_id;
      call.request = std::move(request);
      spdlog::debug("{} {} -> {} {} {}", call.request.method, call.request.target, service->name(),
                    error.http_status, error.code);
      respond(service->ErrorResponse(call, error));
      return;
    }
    call.caller = std::move(auth->caller);
    call.signing = std::move(auth->signing);
  }
  call.request = std::move(request);

  if (spdlog::should_log(spdlog::level::debug)) {
    auto start = std::chrono::steady_clock::now();
    std::string line =
        call.request.method + " " + call.request.target + " -> " + std::string(service->name());
    if (!call.route.target.empty()) line += " " + call.route.target;
    if (!call.route.action.empty()) line += " " + call.route.action;
    respond = [inner = std::move(respond), line = std::move(line), start](http::Response response) {
      auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                    .count();
      spdlog::debug("{} {} {:.1f}ms", line, response.status, ms);
      inner(std::move(response));
    };
  }
  service->Handle(std::move(call), std::move(respond));
}

}  // namespace localcloud
