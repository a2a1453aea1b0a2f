// A client of the dispatch server's REST API, used by the CLI (and tests). Thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/status.h"
#include "http/client.h"

namespace dispatch {

class ApiClient {
 public:
  // `server` is "http://host:port" or "https://…"; `token` the bearer token ("" sends none);
  // `ca_file` a PEM file of certificates to trust for https ("" trusts the system's).
  ApiClient(std::string server, std::string token, http::HttpClient& http,
            std::string ca_file = "");

  // Sends a request with an optional JSON body and returns the parsed JSON answer. A non-2xx
  // answer is an error whose message is the server's reason (code from the HTTP status);
  // a transport failure is Unavailable naming the server.
  common::Result<nlohmann::json> Call(
      const std::string& method, const std::string& path,
      const std::optional<nlohmann::json>& body = std::nullopt,
      std::chrono::milliseconds timeout = std::chrono::milliseconds(60'000));
  // GET returning the body as text (logs).
  common::Result<std::string> GetText(const std::string& path);

 private:
  common::Result<http::Response> Send(const std::string& method, const std::string& path,
                                      const std::string& body, std::chrono::milliseconds timeout);
  std::string server_;
  std::string token_;
  http::HttpClient& http_;
  std::string ca_file_;
};

// Maps an HTTP status to a Status code (400 → InvalidArgument, 401 → Unauthenticated, …).
common::Code CodeForHttpStatus(int status);

}  // namespace dispatch
