// PlainHttpClient: a lean HTTP/1.1 client for http:// URLs, for hot paths that send many small
// requests to one peer (an event sink, a local endpoint). Compared with libcurl it spends a
// fraction of the CPU per request: one sendmsg() per request, no per-request option set-up,
// and SendAll() runs a batch of exchanges at once on parallel connections with one poll loop.
#pragma once

#include <memory>

#include "http/client.h"

namespace http {

// Keeps idle keep-alive connections per (client, calling thread, host:port). A reused connection
// that turns out to be closed by the peer (nothing of the response received) is replaced and the
// request sent once more, as curl does. Requests it does not handle itself (https URLs,
// body_file uploads, streamed responses) go to `fallback`. Thread-safe.
class PlainHttpClient : public HttpClient {
 public:
  explicit PlainHttpClient(HttpClient& fallback);
  ~PlainHttpClient() override;
  PlainHttpClient(const PlainHttpClient&) = delete;
  PlainHttpClient& operator=(const PlainHttpClient&) = delete;

  common::Result<Response> Send(const ClientRequest& request) override;
  // The exchanges run concurrently, each on its own connection (no pipelining: a POST is not
  // idempotent), so a batch costs about one wake-up instead of one per request.
  std::vector<common::Result<Response>> SendAll(
      const std::vector<ClientRequest>& requests) override;
  // Writes all requests back to back on one keep-alive connection (one sendmsg) and reads the
  // responses in order. Requests a broken pipeline left unanswered (the server closed early,
  // answered "Connection: close", or sent garbage) go again through SendAll: the caller said
  // repeating them is safe. Falls back to SendAll for mixed hosts, HEAD, or large bodies.
  std::vector<common::Result<Response>> SendPipelined(
      const std::vector<ClientRequest>& requests) override;

 private:
  HttpClient& fallback_;
  uint64_t id_;
  std::shared_ptr<std::atomic<bool>> alive_;
};

}  // namespace http
