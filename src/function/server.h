// Serves a Handler over HTTP: the Dispatch function protocol and CloudEvents 1.0 HTTP on
// `POST /`, and `GET /healthz`. Handlers run on a pool of worker threads (they may block on
// S3 or X); the HTTP I/O threads never block.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "function/function.h"
#include "http/server.h"

namespace function {

struct ServerOptions {
  std::string host = "127.0.0.1";  // "0.0.0.0" in a container
  uint16_t port = 8080;            // 0: pick a free port
  int workers = 4;                 // handler calls running at once
  size_t max_queued = 64;          // requests waiting for a worker; over it: 503 SystemError
  size_t max_body_bytes = 8 * 1024 * 1024;  // over it: 413
  SecretFallback secrets;

  // Defaults overridden from the environment: PORT, HOST, FUNCTION_WORKERS,
  // DISPATCH_SECRETS_DIR. InvalidArgument when PORT or FUNCTION_WORKERS is not a number.
  static common::Result<ServerOptions> FromEnvironment();
};

// The function's HTTP server. Start/Stop from one controlling thread; the handler is called
// from worker threads, concurrently up to `workers`.
class Server {
 public:
  Server(ServerOptions options, Handler handler);
  ~Server();  // Stops if still running.
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts the I/O and worker threads. Error when the address is taken.
  common::Status Start();
  // The bound port (after Start).
  uint16_t port() const;
  // Stops accepting, lets running handler calls finish for up to `drain`, then joins every
  // thread. Idempotent.
  void Stop(std::chrono::milliseconds drain = std::chrono::milliseconds(10'000));

 private:
  void Enqueue(std::function<void()> task, const http::Respond& respond);
  void WorkerLoop();

  ServerOptions options_;
  Handler handler_;
  std::unique_ptr<http::HttpServer> http_;
  std::vector<std::thread> workers_;
  common::Mutex mu_;
  common::CondVar cv_;
  std::deque<std::function<void()>> queue_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  bool started_ = false;
};

// Runs a function process: starts a Server with `options`, prints
// "listening on http://HOST:PORT" on stdout, serves until SIGTERM or SIGINT, then stops
// gracefully. Returns the process exit code (0, or 1 with a message on stderr when the
// server cannot start). Call from main before starting any other thread.
int RunFunction(const ServerOptions& options, Handler handler);

}  // namespace function
