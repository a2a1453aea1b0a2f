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

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <exception>
#include <future>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "common/mutex.h"
#include "common/strings.h"
#include "common/time.h"

namespace http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
// How long a connection we are closing after an error response may keep sending (we
// discard it) before we close: closing with unread input would reset the connection and
// the client could lose our response.
constexpr std::chrono::seconds kLingerTime{2};
constexpr size_t kReadChunk = 8192;

Response ErrorResponse(int status, std::string_view message) {
  nlohmann::json body = {{"code", status}, {"message", message}};
  return Response::Json(status, body.dump());
}

bool NoBodyStatus(int status) { return status < 200 || status == 204 || status == 304; }

// Closed by Stop once the I/O threads are gone; Respond callbacks check it before they
// touch a session's executor (which dies with the server).
struct ResponseGate {
  common::Mutex mu;
  bool open GUARDED_BY(mu) = true;
};

}  // namespace

class HttpServer::Impl {
 public:
  class SessionBase;
  template <class Stream>
  class Session;
  class PendingResponse;

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

// One connection. Reads a request, hands it to the handler, writes the response, and
// loops while keep-alive holds. Requests on one connection are handled one at a time, so
// pipelined requests are answered in order. All members are touched on the strand only.
template <class Stream>
class HttpServer::Impl::Session : public SessionBase,
                                  public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  Session(HttpServer::Impl* server, tcp::socket socket) requires(!kTls)
      : server_(server), stream_(std::move(socket)) {
    Init();
  }
  Session(HttpServer::Impl* server, tcp::socket socket, net::ssl::context& tls) requires(kTls)
      : server_(server), stream_(std::move(socket), tls) {
    Init();
  }

  void Start() override {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        self->Tcp().expires_after(self->options().header_timeout);
        self->stream_.async_handshake(net::ssl::stream_base::server, [self](beast::error_code ec) {
          if (ec) return self->Close();
          self->WaitForRequest();
        });
      } else {
        self->WaitForRequest();
      }
    });
  }
  void RequestStop() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      self->stopping_ = true;
      if (!self->busy_) self->Close();
    });
  }
  void ForceClose() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->Close(); });
  }
  void PostResponse(Response response, uint64_t sequence) override {
    net::post(stream_.get_executor(),
              [self = this->shared_from_this(), response = std::move(response),
               sequence]() mutable { self->SendResponse(std::move(response), sequence); });
  }

 private:
  void Init() {
    beast::error_code ec;
    auto endpoint = Tcp().socket().remote_endpoint(ec);
    if (!ec) remote_address_ = endpoint.address().to_string();
    Tcp().socket().set_option(tcp::no_delay(true), ec);
  }
  // The TCP layer (timeouts, the socket), under TLS or not.
  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(stream_); }

  const ServerOptions& options() const { return server_->options(); }

  void WaitForRequest() {
    if (closed_) return;
    if (stopping_ || server_->stopping()) return Close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(
        std::min<size_t>(options().max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
    // The body limit is set once the head is admitted (Admit): a request is authenticated
    // before its size is judged.
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    if (buffer_.size() > 0) return ReadHeader();  // a pipelined request is already here
    // Idle until the first byte: the idle timeout applies, not the header timeout.
    Tcp().expires_after(options().idle_timeout);
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                              self->buffer_.commit(n);
                              if (ec) return self->Close();
                              self->ReadHeader();
                            });
  }

  void ReadHeader() {
    Tcp().expires_after(options().header_timeout);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    busy_ = true;
    server_->BeginRequest();
    auto& message = parser_->get();
    head_ = Request();
    head_.method = std::string(message.method_string());
    head_.target = std::string(message.target());
    for (const auto& field : message) {
      head_.headers.Add(std::string(field.name_string()), std::string(field.value()));
    }
    head_.remote_address = remote_address_;
    if (!Admit()) return;
    auto expect = message[bhttp::field::expect];
    bool wants_continue =
        common::EqualsIgnoreCase(common::Trim(std::string_view(expect.data(), expect.size())),
                                 "100-continue") &&
        message.version() >= 11;
    if (wants_continue) {
      // Also for an empty body: the client waits for the 100 before it reads our answer.
      Tcp().expires_after(options().body_timeout);
      net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                       [self = this->shared_from_this()](beast::error_code ec, size_t) {
                         if (ec) return self->Close();
                         if (self->parser_->is_done()) return self->Dispatch();
                         self->ReadBody();
                       });
      return;
    }
    if (parser_->is_done()) return Dispatch();
    ReadBody();
  }

  // Runs the admission hook on head_ and applies its body limit. False when the request was
  // refused (the refusal is on its way).
  bool Admit() {
    size_t limit = options().max_body_bytes;
    if (options().admit) {
      Admission admission;
      try {
        admission = options().admit(head_);
      } catch (const std::exception& e) {
        spdlog::error("http: admission hook threw: {}", e.what());
        admission.refusal = ErrorResponse(500, "internal error");
      }
      if (admission.refusal) {
        RefuseBeforeBody(std::move(*admission.refusal));
        return false;
      }
      if (admission.max_body_bytes != 0) limit = std::min(limit, admission.max_body_bytes);
    }
    auto length = parser_->content_length();
    if (length && *length > limit) {
      RefuseBeforeBody(ErrorResponse(413, "request body too large"));
      return false;
    }
    parser_->body_limit(limit);
    return true;
  }

  // Answers without reading the body. A request without a body keeps its connection; one
  // with a body closes it (after a short linger that discards what the client still sends).
  void RefuseBeforeBody(Response response) {
    bool has_body = !parser_->is_done();
    head_request_ = parser_->get().method() == bhttp::verb::head;
    keep_alive_ = parser_->get().keep_alive();
    version_ = parser_->get().version();
    parser_.reset();
    ++sequence_;
    bool close = has_body || !keep_alive_ || stopping_ || server_->stopping();
    Write(std::move(response), close, /*linger=*/has_body);
  }

  void ReadBody() {
    Tcp().expires_after(options().body_timeout);
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnBody(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    Dispatch();
  }

  // Maps a read failure to an answer: limits and malformed input get a 4xx and a close;
  // timeouts and a vanished peer just close.
  void OnReadError(beast::error_code ec) {
    if (ec == bhttp::error::header_limit) {
      return SendErrorAndClose(431, "request header too large");
    }
    if (ec == bhttp::error::body_limit) return SendErrorAndClose(413, "request body too large");
    if (ec == beast::error::timeout || ec == bhttp::error::end_of_stream ||
        ec == bhttp::error::partial_message ||
        ec.category() != bhttp::make_error_code(bhttp::error::bad_method).category()) {
      return Close();
    }
    SendErrorAndClose(400, "malformed HTTP request: " + ec.message());
  }

  void Dispatch() {
    auto& message = parser_->get();
    Request request = std::move(head_);
    request.body = std::move(message.body());
    head_request_ = message.method() == bhttp::verb::head;
    keep_alive_ = message.keep_alive();
    version_ = message.version();
    parser_.reset();

    auto pending =
        std::make_shared<PendingResponse>(server_->gate(), this->weak_from_this(), ++sequence_);
    Respond respond = [pending](Response response) { pending->Send(std::move(response)); };
    pending.reset();
    try {
      server_->handler()(std::move(request), respond);
    } catch (const std::exception& e) {
      spdlog::error("http: handler threw: {}", e.what());
      respond(ErrorResponse(500, "internal error"));
    } catch (...) {
      spdlog::error("http: handler threw a non-exception");
      respond(ErrorResponse(500, "internal error"));
    }
  }

  void SendResponse(Response response, uint64_t sequence) {
    if (closed_ || !busy_ || sequence != sequence_) return;  // connection gone or stale
    bool close = !keep_alive_ || stopping_ || server_->stopping();
    Write(std::move(response), close, /*linger=*/false);
  }

  void SendErrorAndClose(int status, std::string_view message) {
    if (!busy_) {
      busy_ = true;
      server_->BeginRequest();
    }
    parser_.reset();
    head_request_ = false;
    version_ = 11;
    ++sequence_;  // a handler still holding a Respond for this connection is now stale
    Write(ErrorResponse(status, message), /*close=*/true, /*linger=*/true);
  }

  void Write(Response response, bool close, bool linger) {
    auto& res = response_.emplace();
    int status = response.status;
    if (status < 100 || status > 999) status = 500;
    res.version(version_);
    res.result(static_cast<unsigned>(status));
    const char* reason = ReasonPhrase(status);
    res.reason(*reason ? reason : "Unknown");
    std::optional<std::string> handler_length;
    for (auto& [name, value] : response.headers.entries()) {
      if (common::EqualsIgnoreCase(name, "Content-Length")) {
        handler_length = value;
      } else if (!common::EqualsIgnoreCase(name, "Transfer-Encoding") &&
                 !common::EqualsIgnoreCase(name, "Connection")) {
        res.insert(name, value);
      }
    }
    if (!options().server_name.empty() && !response.headers.Has("Server")) {
      res.set(bhttp::field::server, options().server_name);
    }
    if (!response.headers.Has("Date")) {
      res.set(bhttp::field::date, common::FormatHttpDate(std::chrono::system_clock::now()));
    }
    if (head_request_) {
      // HEAD: announce the length a GET would have (S3 HeadObject), send no body.
      res.set(bhttp::field::content_length,
              handler_length ? *handler_length : std::to_string(response.body.size()));
    } else if (!NoBodyStatus(status)) {
      res.body() = std::move(response.body);
      res.content_length(res.body().size());
    }
    res.keep_alive(!close);
    Tcp().expires_after(options().body_timeout);
    bhttp::async_write(stream_, res,
                       [self = this->shared_from_this(), close, linger](
                           beast::error_code ec, size_t) { self->OnWrite(ec, close, linger); });
  }

  void OnWrite(beast::error_code ec, bool close, bool linger) {
    response_.reset();
    if (busy_) {
      busy_ = false;
      server_->EndRequest();
    }
    if (ec) return Close();
    if (close) return linger ? LingerAndClose() : Close();
    WaitForRequest();
  }

  void LingerAndClose() {
    beast::error_code ec;
    Tcp().socket().shutdown(tcp::socket::shutdown_send, ec);
    Tcp().expires_after(kLingerTime);
    buffer_.clear();
    Discard();
  }

  void Discard() {
    if (closed_) return;
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = this->shared_from_this()](beast::error_code ec, size_t) {
                              self->buffer_.clear();
                              if (ec) return self->Close();
                              self->Discard();
                            });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    if (busy_) {
      busy_ = false;
      server_->EndRequest();
    }
    beast::error_code ec;
    Tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
    Tcp().close();
    server_->Unregister(this);
  }

  HttpServer::Impl* server_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::response<bhttp::string_body>> response_;
  std::string remote_address_;
  Request head_;           // the request being read, without its body (from OnHeader to Dispatch)
  uint64_t sequence_ = 0;  // numbers requests; a Respond answers only its own
  unsigned version_ = 11;
  bool head_request_ = false;
  bool keep_alive_ = true;
  bool busy_ = false;  // a request was read and its response is not written yet
  bool stopping_ = false;
  bool closed_ = false;
};

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
    session = std::make_shared<Session<TlsStream>>(this, std::move(socket), *tls_);
  } else {
    session = std::make_shared<Session<PlainStream>>(this, std::move(socket));
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
