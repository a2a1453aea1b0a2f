// HTTP client over libcurl, with connection reuse.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "http/message.h"

namespace http {

struct ClientRequest {
  std::string method = "GET";
  std::string url;  // absolute: "http://127.0.0.1:4566/bucket/key?x=1"
  Headers headers;
  std::string body;       // request body from memory…
  std::string body_file;  // …or streamed from this file when non-empty
  // https: trust the certificates in this PEM file instead of the system's (a private CA or
  // a self-signed server); "" uses $CURL_CA_BUNDLE when set, else the system trust store.
  std::string ca_file;
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds timeout{30'000};  // whole exchange; 0 = none
  // When set, the response body is streamed here in chunks instead of into
  // Response::body; return false to abort the transfer (the result is then an error).
  std::function<bool(std::string_view chunk)> body_sink;
  // Upper bound on a buffered response body; over it the result is ResourceExhausted.
  size_t max_response_bytes = 1ull << 30;
  // When set and it turns true (from any thread), the exchange ends with Aborted: within
  // kCancelCheckInterval for plain http, within about a second for libcurl. For long polls
  // that a stopping program must not wait out. Must outlive the call.
  const std::atomic<bool>* cancel = nullptr;
};

// How often a cancellable exchange looks at its `cancel` flag while it waits.
inline constexpr std::chrono::milliseconds kCancelCheckInterval{50};

// Sends HTTP requests. Implementations are thread-safe.
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Performs the exchange. Any HTTP status is a value (a 500 is not an error here);
  // errors are transport failures: Unavailable (refused, reset, DNS), DeadlineExceeded
  // (timeout), InvalidArgument (bad URL), ResourceExhausted (body over the limit).
  virtual common::Result<Response> Send(const ClientRequest& request) = 0;
  // Performs several independent exchanges, concurrently where the implementation can; one
  // result per request, in order. The default sends them one after another.
  virtual std::vector<common::Result<Response>> SendAll(const std::vector<ClientRequest>& requests);
  // Like SendAll, for requests to one server that may be repeated safely (each carries its own
  // id, say): an implementation may pipeline them on one connection, and resends what a broken
  // pipeline left unanswered. The default is SendAll.
  virtual std::vector<common::Result<Response>> SendPipelined(
      const std::vector<ClientRequest>& requests) {
    return SendAll(requests);
  }
};

// HttpClient over libcurl. Keeps one easy handle per calling thread so connections are
// reused (keep-alive) across calls from that thread, and shares DNS and connection caches.
// Thread-safe.
class CurlHttpClient : public HttpClient {
 public:
  CurlHttpClient();
  ~CurlHttpClient() override;
  common::Result<Response> Send(const ClientRequest& request) override;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// A process-wide CurlHttpClient.
HttpClient& DefaultHttpClient();

}  // namespace http
