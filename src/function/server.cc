#include "function/server.h"

#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "function/protocol.h"

namespace function {
namespace {

std::optional<std::string> Env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

bool ParseInt(const std::string& s, long min, long max, long* out) {
  long v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < min || v > max) return false;
  *out = v;
  return true;
}

}  // namespace

common::Result<ServerOptions> ServerOptions::FromEnvironment() {
  ServerOptions options;
  if (auto port = Env("PORT")) {
    long v = 0;
    if (!ParseInt(*port, 0, 65535, &v))
      return common::InvalidArgument("PORT is not a port: " + *port);
    options.port = static_cast<uint16_t>(v);
  }
  // Under Knative (K_SERVICE set) the function must be reachable from outside its container.
  if (Env("K_SERVICE")) options.host = "0.0.0.0";
  if (auto host = Env("HOST")) options.host = *host;
  if (auto workers = Env("FUNCTION_WORKERS")) {
    long v = 0;
    if (!ParseInt(*workers, 1, 256, &v)) {
      return common::InvalidArgument("FUNCTION_WORKERS must be 1..256: " + *workers);
    }
    options.workers = static_cast<int>(v);
  }
  if (auto dir = Env("DISPATCH_SECRETS_DIR")) options.secrets.dir = *dir;
  return options;
}

Server::Server(ServerOptions options, Handler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {}

Server::~Server() { Stop(std::chrono::milliseconds(1000)); }

common::Status Server::Start() {
  assert(!started_);
  http::Router router;
  router.Handle("GET", "/healthz", [](http::Request&&, http::Respond respond) {
    respond(http::Response::Json(200, R"({"status":"ok"})"));
  });
  router.Handle("POST", "/", [this](http::Request&& request, http::Respond respond) {
    auto shared = std::make_shared<http::Request>(std::move(request));
    Enqueue([this, shared, respond] { respond(Invoke(*shared, handler_, &options_.secrets)); },
            respond);
  });
  http::ServerOptions http_options;
  http_options.host = options_.host;
  http_options.port = options_.port;
  http_options.max_body_bytes = options_.max_body_bytes;
  http_options.server_name = "dat-function";
  http_ = std::make_unique<http::HttpServer>(http_options, router.AsHandler());
  DAT_RETURN_IF_ERROR(http_->Start());
  started_ = true;
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  return common::Status::Ok();
}

uint16_t Server::port() const { return http_ ? http_->port() : 0; }

void Server::Enqueue(std::function<void()> task, const http::Respond& respond) {
  {
    common::MutexLock lock(mu_);
    if (!stopping_ && queue_.size() < options_.max_queued) {
      queue_.push_back(std::move(task));
      cv_.NotifyOne();
      return;
    }
  }
  http::Response busy = EncodeOutcome(Error::System("function is busy or stopping; retry later"));
  busy.status = 503;
  busy.headers.Set("Retry-After", "1");
  respond(std::move(busy));
}

void Server::WorkerLoop() {
  for (;;) {
    std::function<void()> task;
    {
      common::MutexLock lock(mu_);
      cv_.Wait(mu_, [this]() REQUIRES(mu_) { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

void Server::Stop(std::chrono::milliseconds drain) {
  if (!started_) return;
  started_ = false;
  // The HTTP server drains first: requests already queued or running still get their
  // answers from the workers, which keep running until the queue is empty.
  http_->Stop(drain);
  {
    common::MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.NotifyAll();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

int RunFunction(const ServerOptions& options, Handler handler) {
  // Block the stop signals in every thread (the server's threads inherit the mask) and wait
  // for them here, so stopping happens on this thread and not in a signal handler.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Server server(options, std::move(handler));
  if (auto status = server.Start(); !status.ok()) {
    std::cerr << "cannot start the function server on " << options.host << ":" << options.port
              << ": " << status.ToString() << std::endl;
    return 1;
  }
  std::string host = options.host == "0.0.0.0" ? "127.0.0.1" : options.host;
  std::cout << "listening on http://" << host << ":" << server.port() << std::endl;
  spdlog::info("serving the function protocol and CloudEvents on {}:{}", options.host,
               server.port());
  int signo = 0;
  sigwait(&stop_signals, &signo);
  spdlog::info("signal {}: stopping", signo);
  server.Stop();
  return 0;
}

}  // namespace function
