// One connection of the HTTP server, templated on its stream (plain TCP or TLS over TCP):
// everything but the handshake is the same code. Included only by server_session_plain.cc and
// server_session_tls.cc, which instantiate it once each.
#pragma once

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <exception>
#include <limits>
#include <type_traits>

#include "common/strings.h"
#include "common/time.h"
#include "http/server_impl.h"

namespace http {
namespace server_internal {

namespace bhttp = boost::beast::http;
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
// How long a connection we are closing after an error response may keep sending (we
// discard it) before we close: closing with unread input would reset the connection and
// the client could lose our response.
constexpr std::chrono::seconds kLingerTime{2};
constexpr size_t kReadChunk = 8192;

inline bool NoBodyStatus(int status) { return status < 200 || status == 204 || status == 304; }

}  // namespace server_internal

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

}  // namespace http
