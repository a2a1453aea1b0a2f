// Front door of localcloud: verifies SigV4 once, then routes each request to a Service.
#pragma once

#include <memory>
#include <vector>

#include "http/server.h"
#include "localcloud/core/cloud.h"
#include "localcloud/core/landing_page.h"

namespace localcloud {

// Authenticates and routes requests. Add every service before AsHandler(); read-only
// (thread-safe) afterwards.
//
// Per request: computes the RouteInfo, picks the first service that Accepts it, verifies
// the SigV4 signature (header or presigned form) against the CredentialStore when the
// service NeedsSignature and auth is on, fills a Call and hands it over. Authentication
// failures are answered in the service's format (ErrorResponse). Requests nobody accepts get
// 400 "UnknownService". `GET /_localcloud/health` answers {"services": {"s3": "running", …},
// "version"}; an unsigned `GET /` from a browser gets the landing page (LandingPage).
// Logs one line per request at debug level: method, target, service, status, milliseconds.
class Dispatcher {
 public:
  explicit Dispatcher(CloudContext& context) : context_(context) {}

  void AddService(std::shared_ptr<Service> service) { services_.push_back(std::move(service)); }
  const std::vector<std::shared_ptr<Service>>& services() const { return services_; }

  // The server handler. The Dispatcher must outlive the server.
  http::Handler AsHandler();
  // The server's admission hook (http::ServerOptions::admit): decides from the head alone,
  // before the body is read. Routes the head; when its service needs a signature, answers
  // in the service's format what the signature check can already tell without the body
  // (no or malformed credentials, unknown access key, wrong session token, and a wrong
  // signature when the payload hash is a header, as S3 signs) and applies the service's
  // body limit. A form-encoded POST naming its Action only in the body and not signed with
  // a scope cannot be routed from its head: it gets kMaxApiBodyBytes and is checked after.
  // The Dispatcher must outlive the server.
  http::Admit AsAdmit();

  // Calls Service::Shutdown on every service (after the server stopped).
  void Shutdown();

 private:
  void Dispatch(http::Request&& request, http::Respond respond);
  http::Admission Admit(const http::Request& head) const;
  // The service that takes `request`, nullptr when none.
  Service* Route(const RouteInfo& route, const http::Request& request) const;

  CloudContext& context_;
  std::vector<std::shared_ptr<Service>> services_;
  LandingPage landing_;
};

// Computes routing facts of a request: X-Amz-Target, the credential scope of an
// Authorization header or X-Amz-Credential query parameter, the query-protocol Action
// (query string, or an application/x-www-form-urlencoded body), the Host without port.
RouteInfo ComputeRouteInfo(const http::Request& request);

}  // namespace localcloud
