// Private to the HTTP server (server.cc and its session units): the Beast types, the
// server's state (HttpServer::Impl) and the interface of a connection. The Session template
// itself is in server_session.h, instantiated once per stream type in its own unit
// (server_session_plain.cc, server_session_tls.cc), so a change to one rebuilds only it.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/error.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/mutex.h"
#include "http/server.h"

namespace http {
namespace server_internal {

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// {"code": status, "message": message} as a JSON response.
Response ErrorResponse(int status, std::string_view message);

// Closed by Stop once the I/O threads are gone; Respond callbacks check it before they
// touch a session's executor (which dies with the server).
struct ResponseGate {
  common::Mutex mu;
  bool open GUARDED_BY(mu) = true;
};

}  // namespace server_internal

using namespace server_internal;  // NOLINT: the server's own units only (private header)

class HttpServer::Impl {
 public:
  class SessionBase;
  template <class Stream>
  class Session;
  class PendingResponse;

  // The two kinds of connection, each instantiated in its own unit (server_session_*.cc).
  static std::shared_ptr<SessionBase> MakePlainSession(Impl* server, tcp::socket socket);
  static std::shared_ptr<SessionBase> MakeTlsSession(Impl* server, tcp::socket socket,
                                                     net::ssl::context& tls);

  Impl(ServerOptions options, Handler handler)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        acceptor_(net::make_strand(ioc_)),
        accept_retry_(acceptor_.get_executor()) {
    if (options_.threads < 1) options_.threads = 1;
  }

  common::Status Start();
  void Stop(std::chrono::milliseconds drain);
  uint16_t port() const { return port_; }
  uint64_t accepted() const { return accepted_.load(); }
  size_t open_connections() const {
    common::MutexLock l(mu_);
    return sessions_.size();
  }

  // Called by sessions, on their strands.
  void Unregister(SessionBase* session);
  void BeginRequest() {
    common::MutexLock l(mu_);
    ++in_flight_;
  }
  void EndRequest() {
    {
      common::MutexLock l(mu_);
      --in_flight_;
    }
    cv_.NotifyAll();
  }
  bool stopping() const { return stopping_.load(); }
  const ServerOptions& options() const { return options_; }
  const Handler& handler() const { return handler_; }
  const std::shared_ptr<ResponseGate>& gate() const { return gate_; }

 private:
  void DoAccept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  std::vector<std::shared_ptr<SessionBase>> SnapshotSessions() {
    common::MutexLock l(mu_);
    std::vector<std::shared_ptr<SessionBase>> out;
    for (auto& [ptr, s] : sessions_) out.push_back(s);
    return out;
  }

  ServerOptions options_;
  Handler handler_;
  // Declared first so it is destroyed last: sessions and pending handlers die with it.
  net::io_context ioc_{1};
  tcp::acceptor acceptor_;          // on its own strand
  net::steady_timer accept_retry_;  // same strand; backs off when accept fails (EMFILE)
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;  // touched by the controlling thread only
  uint16_t port_ = 0;
  bool started_ = false;  // controlling thread only
  bool stopped_ = false;  // controlling thread only
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> accepted_{0};
  std::shared_ptr<ResponseGate> gate_ = std::make_shared<ResponseGate>();
  std::optional<net::ssl::context> tls_;  // set by Start when the options name a certificate

  mutable common::Mutex mu_;
  common::CondVar cv_;
  std::unordered_map<SessionBase*, std::shared_ptr<SessionBase>> sessions_ GUARDED_BY(mu_);
  int in_flight_ GUARDED_BY(mu_) = 0;
};

// The shared state behind one Respond callback: sends at most once, and answers 500 if
// every copy of the callback is dropped without being called.
class HttpServer::Impl::PendingResponse {
 public:
  PendingResponse(std::shared_ptr<ResponseGate> gate, std::weak_ptr<SessionBase> session,
                  uint64_t sequence)
      : gate_(std::move(gate)), session_(std::move(session)), sequence_(sequence) {}
  ~PendingResponse() {
    if (!done_.load()) Send(ErrorResponse(500, "the handler did not respond"));
  }
  void Send(Response response);

 private:
  std::shared_ptr<ResponseGate> gate_;
  std::weak_ptr<SessionBase> session_;
  uint64_t sequence_;
  std::atomic<bool> done_{false};
};

// What the server and a Respond callback need of a connection, whatever its stream.
class HttpServer::Impl::SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void Start() = 0;
  // Stop phase 1: close if idle, otherwise close after the current response.
  virtual void RequestStop() = 0;
  // Stop phase 2: close now.
  virtual void ForceClose() = 0;
  // From a Respond callback, any thread.
  virtual void PostResponse(Response response, uint64_t sequence) = 0;
};

}  // namespace http
