// An asynchronous HTTP/1.1 server over Boost.Beast.
//
// Threading: a fixed pool of I/O threads runs every connection; no thread per connection.
// A handler runs on an I/O thread and must not block: it either answers at once or keeps
// the Respond callback and calls it later from any thread (SQS long polls hold a request
// open for up to 20 s this way).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/status.h"
#include "http/message.h"

namespace http {

// Sends the response for one request. Call exactly once, from any thread. Calling it after
// the connection closed or the server stopped is harmless (the response is dropped).
using Respond = std::function<void(Response)>;

// Handles one request. Runs on an I/O thread; must not block. While a request is with its
// handler the connection is not read, so a client that hangs up is noticed only when the
// response is written (which is then dropped).
using Handler = std::function<void(Request&& request, Respond respond)>;

// The server's decision on a request taken from its head alone, before any body byte is read.
struct Admission {
  // Set: the request is answered with this and its body is never read (a request that has a
  // body then closes its connection). `Expect: 100-continue` gets no interim 100.
  std::optional<Response> refusal;
  // Body limit for this request (over: 413 before reading it when Content-Length announces
  // it, as soon as it is exceeded when chunked). 0: ServerOptions::max_body_bytes, which is
  // also the ceiling.
  size_t max_body_bytes = 0;
};

// Decides on a request from its head: method, target, headers and remote_address are set,
// the body is empty. Used to authenticate and to apply per-route body limits before a body
// is read. Runs on an I/O thread; must not block; must not throw.
using Admit = std::function<Admission(const Request& head)>;

struct ServerOptions {
  std::string host = "127.0.0.1";                    // loopback by default
  uint16_t port = 0;                                 // 0: pick a free port (see HttpServer::port())
  int threads = 1;                                   // I/O threads
  size_t max_header_bytes = 16 * 1024;               // over: 431
  size_t max_body_bytes = 8 * 1024 * 1024;           // over: 413
  std::chrono::milliseconds header_timeout{10'000};  // whole header must arrive in this (slowloris)
  std::chrono::milliseconds body_timeout{120'000};   // whole body must arrive in this
  std::chrono::milliseconds idle_timeout{75'000};  // keep-alive idle connections closed after this
  std::string server_name;                         // value of the Server header, none when empty
  Admit admit;  // none: every request is admitted under max_body_bytes
  // HTTPS: PEM certificate chain and private key. Both empty: plain HTTP. With them every
  // connection must complete a TLS (1.2 or later) handshake within header_timeout.
  std::string tls_cert_file;
  std::string tls_key_file;
};

// Serves HTTP/1.1 with keep-alive, `Expect: 100-continue`, and chunked request bodies.
// Each request is first admitted from its head (ServerOptions::admit); only then is the
// interim 100 sent (also for an empty body: clients that wait for it stay in step) and the
// body read.
// Malformed requests get 400 and a closed connection; a handler that throws gets 500.
// Thread-safe: Start/Stop from one controlling thread; handlers from I/O threads.
class HttpServer {
 public:
  HttpServer(ServerOptions options, Handler handler);
  ~HttpServer();  // Stops (with a short drain) if still running.
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts the I/O threads. Error when the address is taken or invalid.
  common::Status Start();
  // The bound port (after Start).
  uint16_t port() const;
  // Stops accepting, lets in-flight requests finish for up to `drain`, then closes every
  // connection and joins the threads. Idle keep-alive connections are closed at once; a
  // request in flight gets its response with `Connection: close`. Idempotent. Must not be
  // called from a handler (it joins the I/O threads).
  void Stop(std::chrono::milliseconds drain = std::chrono::milliseconds(5000));

  // Connections accepted since Start (tests use it to observe keep-alive reuse).
  uint64_t accepted_connections() const;
  // Connections open right now.
  size_t open_connections() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Routes requests by method and path to handlers. Build it before the server starts;
// read-only (and so thread-safe) afterwards.
class Router {
 public:
  // `pattern` is an exact path ("/healthz"), or a prefix ending in "*" ("/v1/event/*").
  // `method` "*" matches any method. First registered match wins.
  void Handle(std::string method, std::string pattern, Handler handler);
  // Handler used when nothing matches (default: 404 JSON).
  void SetFallback(Handler handler);
  // A Handler that dispatches to the routes (405 when the path matches but not the method).
  Handler AsHandler() const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    Handler handler;
  };
  std::shared_ptr<std::vector<Route>> routes_ = std::make_shared<std::vector<Route>>();
  std::shared_ptr<Handler> fallback_ = std::make_shared<Handler>();
};

}  // namespace http
