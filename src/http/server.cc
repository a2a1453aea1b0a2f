// HttpServer over Boost.Beast. Beast is included here only (pimpl), so that code using
// server.h compiles fast.
//
// A Session is templated on its stream: plain TCP, or TLS over TCP when the options name a
// certificate and key; everything but the handshake is the same code.
//
// Concurrency: every connection (Session) runs on its own strand; all of a Session's state
// is touched only from that strand. The acceptor runs on its own strand. The server-wide
// state shared between strands and the controlling thread (session registry, in-flight
// count) is guarded by Impl::mu_. A Respond callback may outlive the server: it reaches
// the session only through a weak_ptr and a ResponseGate that Stop closes.
#include "http/server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <future>
#include <nlohmann/json.hpp>

#include "common/mutex.h"
#include "http/server_impl.h"

namespace http {
namespace server_internal {

Response ErrorResponse(int status, std::string_view message) {
  nlohmann::json body = {{"code", status}, {"message", message}};
  return Response::Json(status, body.dump());
}

}  // namespace server_internal

void HttpServer::Impl::PendingResponse::Send(Response response) {
  if (done_.exchange(true)) return;  // called twice: the first answer stands
  common::MutexLock l(gate_->mu);
  if (!gate_->open) return;
  if (auto session = session_.lock()) session->PostResponse(std::move(response), sequence_);
}

common::Status HttpServer::Impl::Start() {
  if (started_ || stopped_) return common::FailedPrecondition("http server already started");
  beast::error_code ec;
  if (!options_.tls_cert_file.empty() || !options_.tls_key_file.empty()) {
    if (options_.tls_cert_file.empty() || options_.tls_key_file.empty()) {
      return common::InvalidArgument("http server: TLS needs both a certificate and a key file");
    }
    tls_.emplace(net::ssl::context::tls_server);
    tls_->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                          net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                          net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use,
                      ec);
    if (tls_->use_certificate_chain_file(options_.tls_cert_file, ec)) {
      return common::InvalidArgument("http server: TLS certificate " + options_.tls_cert_file +
                                     ": " + ec.message());
    }
    if (tls_->use_private_key_file(options_.tls_key_file, net::ssl::context::pem, ec)) {
      return common::InvalidArgument("http server: TLS key " + options_.tls_key_file + ": " +
                                     ec.message());
    }
  }
  net::ip::address address = net::ip::make_address(options_.host, ec);
  if (ec) {
    tcp::resolver resolver(ioc_);
    auto results = resolver.resolve(options_.host, "", ec);
    if (ec || results.empty()) {
      return common::InvalidArgument("http server: cannot resolve host '" + options_.host + "'");
    }
    address = results.begin()->endpoint().address();
  }
  tcp::endpoint endpoint(address, options_.port);
  std::string where = options_.host + ":" + std::to_string(options_.port);
  if (acceptor_.open(endpoint.protocol(), ec)) {
    return common::Unavailable("http server: open " + where + ": " + ec.message());
  }
  acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (acceptor_.bind(endpoint, ec)) {
    return common::Unavailable("http server: bind " + where + ": " + ec.message());
  }
  if (acceptor_.listen(net::socket_base::max_listen_connections, ec)) {
    return common::Unavailable("http server: listen " + where + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint(ec).port();
  started_ = true;
  work_.emplace(ioc_.get_executor());
  net::post(acceptor_.get_executor(), [this] { DoAccept(); });
  for (int i = 0; i < options_.threads; ++i) {
    threads_.emplace_back([this] {
      for (;;) {
        try {
          ioc_.run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("http server: I/O thread caught: {}", e.what());
        }
      }
    });
  }
  return common::Status::Ok();
}

void HttpServer::Impl::DoAccept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket s) {
    OnAccept(ec, std::move(s));
  });
}

void HttpServer::Impl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (stopping_ || ec == net::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec) {
    // Out of descriptors or similar: back off instead of spinning, keep serving.
    spdlog::warn("http server: accept failed: {}", ec.message());
    accept_retry_.expires_after(std::chrono::milliseconds(50));
    accept_retry_.async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec && !stopping_) DoAccept();
    });
    return;
  }
  accepted_.fetch_add(1);
  std::shared_ptr<SessionBase> session;
  if (tls_) {
    session = MakeTlsSession(this, std::move(socket), *tls_);
  } else {
    session = MakePlainSession(this, std::move(socket));
  }
  {
    common::MutexLock l(mu_);
    sessions_.emplace(session.get(), session);
  }
  session->Start();
  DoAccept();
}

void HttpServer::Impl::Unregister(SessionBase* session) {
  {
    common::MutexLock l(mu_);
    sessions_.erase(session);
  }
  cv_.NotifyAll();
}

void HttpServer::Impl::Stop(std::chrono::milliseconds drain) {
  if (!started_ || stopped_) return;
  stopped_ = true;
  stopping_ = true;
  auto deadline = std::chrono::steady_clock::now() + drain;

  // 1. Stop accepting. The acceptor lives on its strand, so close it there.
  std::promise<void> closed;
  net::post(acceptor_.get_executor(), [this, &closed] {
    beast::error_code ec;
    acceptor_.close(ec);
    accept_retry_.cancel();
    closed.set_value();
  });
  closed.get_future().wait();

  // 2. Close idle connections, let busy ones finish (they answer with Connection: close).
  for (auto& session : SnapshotSessions()) session->RequestStop();
  {
    common::MutexLock l(mu_);
    cv_.WaitUntil(mu_, deadline, [this]() REQUIRES(mu_) { return in_flight_ == 0; });
  }

  // 3. Close whatever is left and wait (briefly) for the sessions to unregister.
  for (auto& session : SnapshotSessions()) session->ForceClose();
  {
    common::MutexLock l(mu_);
    cv_.WaitFor(mu_, std::chrono::seconds(2), [this]() REQUIRES(mu_) { return sessions_.empty(); });
  }
  work_.reset();
  ioc_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  {
    common::MutexLock l(gate_->mu);
    gate_->open = false;
  }
  common::MutexLock l(mu_);
  sessions_.clear();
}

HttpServer::HttpServer(ServerOptions options, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() { Stop(std::chrono::milliseconds(1000)); }

common::Status HttpServer::Start() { return impl_->Start(); }
uint16_t HttpServer::port() const { return impl_->port(); }
void HttpServer::Stop(std::chrono::milliseconds drain) { impl_->Stop(drain); }
uint64_t HttpServer::accepted_connections() const { return impl_->accepted(); }
size_t HttpServer::open_connections() const { return impl_->open_connections(); }

}  // namespace http
