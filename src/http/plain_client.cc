// PlainHttpClient: non-blocking sockets kept alive per (client, thread, host:port). Each request
// is written with sendmsg (head and body as two pieces); a batch of exchanges is driven by one
// poll() loop; responses are parsed with Beast's parser fed from recv().
#include "http/plain_client.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <optional>
#include <unordered_map>

#include "common/strings.h"

namespace http {
namespace {

namespace bhttp = boost::beast::http;
using SteadyClock = std::chrono::steady_clock;

std::atomic<uint64_t> next_plain_client_id{1};

struct Target {
  std::string host;       // without brackets
  std::string port;       // "80" when absent
  std::string authority;  // for the Host header: as written in the URL
  std::string path;       // "/path?query"
};

// "http://host[:port][/path][?query]"; nullopt when not a plain-HTTP URL we can handle.
std::optional<Target> ParseHttpUrl(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (url.size() <= kScheme.size() ||
      !common::EqualsIgnoreCase(url.substr(0, kScheme.size()), kScheme)) {
    return std::nullopt;
  }
  std::string_view rest = std::string_view(url).substr(kScheme.size());
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view path = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  Target t;
  t.authority = std::string(authority);
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    t.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      t.port = std::string(after.substr(1));
    }
  } else {
    size_t colon = authority.rfind(':');
    t.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) t.port = std::string(authority.substr(colon + 1));
  }
  if (t.port.empty()) t.port = "80";
  if (t.host.empty() || t.port.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  size_t hash = path.find('#');
  if (hash != std::string_view::npos) path = path.substr(0, hash);
  t.path = path.empty() ? "/" : (path.front() == '?' ? "/" + std::string(path) : std::string(path));
  return t;
}

struct Connection {
  int fd = -1;
  SteadyClock::time_point last_used;
  std::shared_ptr<std::atomic<bool>> client_alive;
  // The shortest response a pipeline has read on this connection (0: none yet), the basis
  // of the next pipeline's SO_RCVLOWAT, and the socket's current low-water mark (pipelines
  // leave theirs set; a single exchange puts it back to 1).
  size_t min_response = 0;
  int low_water = 1;
};

// Sets the socket's receive low-water mark: poll reports it readable (and the kernel wakes
// the thread) only once `bytes` are queued, or at end of stream or on an error.
void SetReceiveLowWater(int fd, int* current, int bytes) {
  if (*current == bytes) return;
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof bytes) == 0) *current = bytes;
}

// This thread's idle connections. Entries of destroyed clients are swept on the next call.
class ThreadConnections {
 public:
  static constexpr size_t kMaxIdlePerKey = 64;

  ~ThreadConnections() {
    for (auto& [key, list] : idle_) {
      for (auto& c : list) ::close(c.fd);
    }
  }
  std::optional<Connection> Take(const std::string& key) {
    Sweep();
    auto it = idle_.find(key);
    if (it == idle_.end() || it->second.empty()) return std::nullopt;
    Connection c = std::move(it->second.back());
    it->second.pop_back();
    return c;
  }
  void Put(const std::string& key, Connection c) {
    auto& list = idle_[key];
    if (list.size() >= kMaxIdlePerKey) {
      ::close(c.fd);
      return;
    }
    list.push_back(std::move(c));
  }

 private:
  void Sweep() {
    for (auto it = idle_.begin(); it != idle_.end();) {
      auto& list = it->second;
      if (!list.empty() && !list.front().client_alive->load()) {
        for (auto& c : list) ::close(c.fd);
        it = idle_.erase(it);
      } else {
        ++it;
      }
    }
  }
  std::unordered_map<std::string, std::vector<Connection>> idle_;
};

ThreadConnections& Connections() {
  thread_local ThreadConnections connections;
  return connections;
}

std::string ErrnoText(int err) { return std::strerror(err); }

// A non-blocking, connected socket (TCP_NODELAY), or an error naming the peer.
common::Result<int> Connect(const Target& t, std::chrono::milliseconds connect_timeout,
                            const std::string& what) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(t.host.c_str(), t.port.c_str(), &hints, &found);
  if (rc != 0)
    return common::Unavailable(what + ": cannot resolve " + t.host + ": " + gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(found, &freeaddrinfo);
  std::string last_error = "no address";
  bool timed_out = false;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) {
      last_error = ErrnoText(errno);
      continue;
    }
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last_error = ErrnoText(errno);
      ::close(fd);
      continue;
    }
    pollfd p{fd, POLLOUT, 0};
    int ready =
        ::poll(&p, 1, connect_timeout.count() > 0 ? static_cast<int>(connect_timeout.count()) : -1);
    int err = 0;
    socklen_t len = sizeof err;
    if (ready <= 0) {
      timed_out = ready == 0;
      last_error = ready == 0 ? "connect timed out" : ErrnoText(errno);
      ::close(fd);
      continue;
    }
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      last_error = ErrnoText(err);
      ::close(fd);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
  }
  std::string message = what + ": cannot connect to " + t.authority + ": " + last_error;
  return timed_out ? common::DeadlineExceeded(message) : common::Unavailable(message);
}

// True when an idle kept-alive connection still looks usable (not closed, nothing unread).
bool StillOpen(int fd) {
  char byte;
  ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

bool HasLineBreak(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

using Parser = bhttp::response_parser<bhttp::string_body>;

// This thread's idle connection for `key` if it is still usable (one idle for a while is
// checked first: the peer may have closed it), else nullopt.
std::optional<Connection> TakeIdle(const std::string& key) {
  auto idle = Connections().Take(key);
  if (idle && SteadyClock::now() - idle->last_used > std::chrono::milliseconds(500) &&
      !StillOpen(idle->fd)) {
    ::close(idle->fd);
    return std::nullopt;
  }
  return idle;
}

// Reads one response from bytes as they arrive: feeds Beast's parser, skips interim (1xx)
// responses, and enforces the body limit (Beast's own body_limit does not cover every
// response shape). Used by single exchanges and by pipelines alike.
class ResponseReader {
 public:
  enum class Step { kNeedMore, kDone, kMalformed, kTooLarge };

  ResponseReader(bool head_request, size_t max_body)
      : head_request_(head_request), max_body_(max_body) {
    Reset();
  }

  // Consumes what it can of buffer[offset…), advancing `offset`. kMalformed sets *error.
  Step Feed(const std::string& buffer, size_t& offset, std::string* error) {
    while (offset < buffer.size()) {
      boost::beast::error_code ec;
      size_t used =
          parser_->put(boost::asio::buffer(buffer.data() + offset, buffer.size() - offset), ec);
      offset += used;
      if (ec && ec != bhttp::error::need_more) {
        *error = ec.message();
        return Step::kMalformed;
      }
      if (!head_request_ && parser_->is_header_done() &&
          (parser_->content_length().value_or(0) > max_body_ ||
           parser_->get().body().size() > max_body_)) {
        return Step::kTooLarge;
      }
      if (parser_->is_done()) {
        int status = parser_->get().result_int();
        if (status >= 100 && status < 200 && status != 101) {
          Reset();  // an interim response: the final one follows
          continue;
        }
        return Step::kDone;
      }
      if (ec == bhttp::error::need_more || used == 0) break;
    }
    return Step::kNeedMore;
  }

  // At end of stream: true when the response is one that ends there and is now complete.
  bool FinishAtEof() {
    if (!parser_->is_header_done() || !parser_->need_eof()) return false;
    boost::beast::error_code ec;
    parser_->put_eof(ec);
    return !ec && parser_->is_done();
  }

  Parser& parser() { return *parser_; }

 private:
  void Reset() {
    parser_.emplace();
    parser_->header_limit(64 * 1024);
    parser_->eager(true);
    if (head_request_) parser_->skip(true);
  }

  bool head_request_;
  size_t max_body_;
  std::optional<Parser> parser_;
};

// The parsed message as a Response (the body is moved out).
Response ToResponse(Parser& parser) {
  auto& message = parser.get();
  Response response;
  response.status = message.result_int();
  for (const auto& field : message) {
    response.headers.Add(std::string(field.name_string()), std::string(field.value()));
  }
  response.body = std::move(message.body());
  return response;
}

// One request/response exchange on one connection, advanced by the poll loop.
class Exchange {
 public:
  enum class State { kSending, kReceiving, kDone };

  Exchange(const ClientRequest& request, uint64_t client_id,
           std::shared_ptr<std::atomic<bool>> client_alive)
      : request_(request), client_id_(client_id), client_alive_(std::move(client_alive)) {}
  ~Exchange() {
    if (conn_.fd >= 0) ::close(conn_.fd);
  }
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // Parses the URL and builds the request head. False when the request is not ours (the
  // caller hands it to the fallback); otherwise the exchange is ready to Start() or done.
  bool Prepare() {
    std::optional<Target> target = ParseHttpUrl(request_.url);
    if (!target) return false;
    target_ = std::move(*target);
    what_ = request_.method + " " + request_.url.substr(0, request_.url.find('?'));
    if (request_.timeout.count() > 0) deadline_ = SteadyClock::now() + request_.timeout;
    head_request_ = common::EqualsIgnoreCase(request_.method, "HEAD");
    key_ = std::to_string(client_id_) + "|" + target_.host + "|" + target_.port;

    if (request_.method.empty() || HasLineBreak(request_.method) ||
        request_.method.find(' ') != std::string::npos) {
      return Finish(common::InvalidArgument(what_ + ": invalid method"));
    }
    head_.reserve(256 + request_.headers.entries().size() * 48);
    head_.append(request_.method).append(" ").append(target_.path).append(" HTTP/1.1\r\n");
    if (!request_.headers.Has("host"))
      head_.append("Host: ").append(target_.authority).append("\r\n");
    for (const auto& [name, value] : request_.headers.entries()) {
      if (name.empty() || HasLineBreak(name) || HasLineBreak(value)) {
        return Finish(
            common::InvalidArgument(what_ + ": header " + name + " contains a line break"));
      }
      head_.append(name).append(": ").append(value).append("\r\n");
    }
    if (!request_.headers.Has("content-length") &&
        (!request_.body.empty() || request_.method == "POST" || request_.method == "PUT" ||
         request_.method == "PATCH")) {
      head_.append("Content-Length: ").append(std::to_string(request_.body.size())).append("\r\n");
    }
    head_.append("\r\n");
    return true;
  }

  // Takes a connection (this thread's idle one, or a new one) and starts sending.
  void Start() {
    if (state_ == State::kDone) return;
    reused_ = false;
    if (attempt_ == 0) {
      if (auto idle = TakeIdle(key_)) {
        conn_ = std::move(*idle);
        SetReceiveLowWater(conn_.fd, &conn_.low_water, 1);
        reused_ = true;
      }
    }
    if (!reused_) {
      auto connect_timeout = request_.connect_timeout;
      if (deadline_) {
        connect_timeout =
            std::min(connect_timeout, std::max(std::chrono::milliseconds(1), MillisLeft()));
      }
      auto fd = Connect(target_, connect_timeout, what_);
      if (!fd.ok()) {
        Finish(fd.status());
        return;
      }
      conn_.fd = *fd;
      conn_.client_alive = client_alive_;
    }
    state_ = State::kSending;
    sent_ = 0;
    received_ = 0;
    buffer_.clear();
    offset_ = 0;
    reader_.emplace(head_request_, request_.max_response_bytes);
    Advance(POLLOUT);
  }

  // Makes what progress the socket allows now; `revents` from poll (or POLLOUT to try).
  void Advance(short revents) {
    if (state_ == State::kSending && (revents & (POLLOUT | POLLERR | POLLHUP))) SendSome();
    if (state_ == State::kReceiving && (revents & (POLLIN | POLLERR | POLLHUP))) ReceiveSome();
  }

  void ExpireIfLate(SteadyClock::time_point now) {
    if (state_ == State::kDone || !deadline_ || now < *deadline_) return;
    Finish(common::DeadlineExceeded(what_ + (state_ == State::kSending
                                                 ? ": timed out sending the request"
                                                 : ": timed out waiting for the response")));
  }

  void Abort(common::Status status) {
    if (state_ != State::kDone) Finish(std::move(status));
  }

  State state() const { return state_; }
  int fd() const { return conn_.fd; }
  const std::string& head() const { return head_; }
  const std::string& key() const { return key_; }
  const Target& target() const { return target_; }
  const std::string& what() const { return what_; }
  bool head_request() const { return head_request_; }
  // True when the caller's cancel flag is set (see ClientRequest::cancel).
  bool cancelled() const { return request_.cancel != nullptr && request_.cancel->load(); }
  bool cancellable() const { return request_.cancel != nullptr; }
  std::optional<SteadyClock::time_point> deadline() const { return deadline_; }
  common::Result<Response> TakeResult() { return std::move(*result_); }

 private:
  std::chrono::milliseconds MillisLeft() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(*deadline_ - SteadyClock::now());
  }

  void SendSome() {
    const std::string& body = request_.body;
    const size_t total = head_.size() + body.size();
    while (sent_ < total) {
      iovec parts[2];
      int count = 0;
      if (sent_ < head_.size()) {
        parts[count++] = {const_cast<char*>(head_.data() + sent_), head_.size() - sent_};
        if (!body.empty()) parts[count++] = {const_cast<char*>(body.data()), body.size()};
      } else {
        size_t off = sent_ - head_.size();
        parts[count++] = {const_cast<char*>(body.data() + off), body.size() - off};
      }
      msghdr msg{};
      msg.msg_iov = parts;
      msg.msg_iovlen = static_cast<size_t>(count);
      ssize_t n = ::sendmsg(conn_.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;  // poll for POLLOUT
        int err = errno;
        Fail(reused_ && sent_ == 0,
             common::Unavailable(what_ + ": sending the request failed: " + ErrnoText(err)));
        return;
      }
      sent_ += static_cast<size_t>(n);
    }
    state_ = State::kReceiving;
  }

  void ReceiveSome() {
    char chunk[16 * 1024];
    while (state_ == State::kReceiving) {
      ssize_t n = ::recv(conn_.fd, chunk, sizeof chunk, MSG_DONTWAIT);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // poll again
      if (n > 0) {
        received_ += static_cast<size_t>(n);
        buffer_.append(chunk, static_cast<size_t>(n));
        Parse();
        continue;
      }
      // End of stream (or reset).
      int err = n < 0 ? errno : 0;
      std::string detail = err ? ": " + ErrnoText(err) : std::string();
      if (received_ == 0) {
        Fail(reused_, common::Unavailable(
                          what_ + ": the server closed the connection without answering" + detail));
        return;
      }
      if (n == 0 && reader_->FinishAtEof()) {
        Complete(false);
        return;
      }
      Fail(false, common::Unavailable(
                      what_ + ": the connection closed in the middle of the response" + detail));
      return;
    }
  }

  // Feeds the buffered bytes to the reader; completes the exchange when a final response is in.
  void Parse() {
    std::string error;
    switch (reader_->Feed(buffer_, offset_, &error)) {
      case ResponseReader::Step::kMalformed:
        Fail(false, common::Unavailable(what_ + ": malformed response: " + error));
        return;
      case ResponseReader::Step::kTooLarge:
        Fail(false, common::ResourceExhausted(what_ + ": response body over limit"));
        return;
      case ResponseReader::Step::kDone:
        Complete(reader_->parser().get().keep_alive() && offset_ == buffer_.size());
        return;
      case ResponseReader::Step::kNeedMore:
        break;
    }
    if (offset_ == buffer_.size()) {
      buffer_.clear();
      offset_ = 0;
    }
  }

  void Complete(bool keep_alive) {
    Response response = ToResponse(reader_->parser());
    if (keep_alive) {
      conn_.last_used = SteadyClock::now();
      Connections().Put(key_, std::move(conn_));
      conn_ = Connection();
    }
    Finish(std::move(response));
  }

  // A failed exchange. `stale`: a reused connection the peer had closed before answering; the
  // request goes once more on a fresh connection, as curl does.
  void Fail(bool stale, common::Status status) {
    if (stale && attempt_ == 0) {
      ::close(conn_.fd);
      conn_.fd = -1;
      ++attempt_;
      Start();
      return;
    }
    Finish(std::move(status));
  }

  bool Finish(common::Result<Response> result) {
    if (conn_.fd >= 0) {
      ::close(conn_.fd);
      conn_.fd = -1;
    }
    result_.emplace(std::move(result));
    state_ = State::kDone;
    return true;
  }

  const ClientRequest& request_;
  uint64_t client_id_;
  std::shared_ptr<std::atomic<bool>> client_alive_;
  Target target_;
  std::string what_;
  std::string key_;
  std::string head_;
  bool head_request_ = false;
  std::optional<SteadyClock::time_point> deadline_;

  State state_ = State::kSending;
  Connection conn_;
  bool reused_ = false;
  int attempt_ = 0;
  size_t sent_ = 0;
  size_t received_ = 0;
  std::optional<ResponseReader> reader_;
  std::string buffer_;
  size_t offset_ = 0;
  std::optional<common::Result<Response>> result_;
};

// Runs the exchanges together: one poll loop over all their sockets.
std::vector<common::Result<Response>> RunAll(const std::vector<const ClientRequest*>& requests,
                                             uint64_t client_id,
                                             const std::shared_ptr<std::atomic<bool>>& alive,
                                             HttpClient& fallback) {
  std::vector<std::optional<common::Result<Response>>> results(requests.size());
  std::vector<std::unique_ptr<Exchange>> exchanges(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    const ClientRequest& r = *requests[i];
    if (!r.body_file.empty() || r.body_sink) continue;  // streamed bodies: the fallback's job
    auto ex = std::make_unique<Exchange>(r, client_id, alive);
    if (ex->Prepare()) exchanges[i] = std::move(ex);
  }
  for (size_t i = 0; i < requests.size(); ++i) {
    if (!exchanges[i]) results[i] = fallback.Send(*requests[i]);
  }
  for (auto& ex : exchanges) {
    if (ex) ex->Start();
  }

  std::vector<pollfd> fds;
  std::vector<Exchange*> polled;
  while (true) {
    fds.clear();
    polled.clear();
    std::optional<SteadyClock::time_point> earliest;
    bool cancellable = false;
    for (auto& ex : exchanges) {
      if (!ex || ex->state() == Exchange::State::kDone) continue;
      if (ex->cancelled()) {
        ex->Abort(common::Status(common::Code::kAborted, ex->what() + ": cancelled"));
        continue;
      }
      cancellable = cancellable || ex->cancellable();
      short events = ex->state() == Exchange::State::kSending ? POLLOUT : POLLIN;
      fds.push_back(pollfd{ex->fd(), events, 0});
      polled.push_back(ex.get());
      if (auto d = ex->deadline(); d && (!earliest || *d < *earliest)) earliest = d;
    }
    if (fds.empty()) break;
    int timeout = -1;
    if (earliest) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(*earliest - SteadyClock::now())
              .count();
      timeout = static_cast<int>(std::clamp<int64_t>(left + 1, 0, 24 * 3600 * 1000));
    }
    if (cancellable) {
      const int check = static_cast<int>(kCancelCheckInterval.count());
      timeout = timeout < 0 ? check : std::min(timeout, check);
    }
    int ready = ::poll(fds.data(), fds.size(), timeout);
    if (ready < 0 && errno != EINTR) {
      // Cannot happen with valid descriptors; end every exchange rather than spin.
      int err = errno;
      for (Exchange* ex : polled) ex->Abort(common::Internal("poll failed: " + ErrnoText(err)));
      break;
    }
    for (size_t i = 0; ready > 0 && i < fds.size(); ++i) {
      if (fds[i].revents != 0) polled[i]->Advance(fds[i].revents);
    }
    auto now = SteadyClock::now();
    for (Exchange* ex : polled) ex->ExpireIfLate(now);
  }

  std::vector<common::Result<Response>> out;
  out.reserve(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    if (exchanges[i])
      out.push_back(exchanges[i]->TakeResult());
    else
      out.push_back(std::move(*results[i]));
  }
  return out;
}

// Runs prepared exchanges as one pipeline on one connection. Returns a result per request;
// nullopt for those the pipeline left unanswered.
std::vector<std::optional<common::Result<Response>>> RunPipeline(
    const std::vector<std::unique_ptr<Exchange>>& exchanges,
    const std::vector<const ClientRequest*>& requests,
    const std::shared_ptr<std::atomic<bool>>& alive) {
  const size_t n = exchanges.size();
  std::vector<std::optional<common::Result<Response>>> results(n);
  const ClientRequest& first = *requests[0];
  const std::string& key = exchanges[0]->key();
  const std::string& what = exchanges[0]->what();
  std::optional<SteadyClock::time_point> deadline;
  if (first.timeout.count() > 0) deadline = SteadyClock::now() + first.timeout;
  // Any request's cancel flag ends the whole pipeline (they share the connection).
  const std::atomic<bool>* cancel = nullptr;
  for (const ClientRequest* r : requests) {
    if (r->cancel != nullptr) cancel = r->cancel;
  }
  auto millis_left = [&]() -> int {
    if (!deadline) return -1;
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - SteadyClock::now());
    return static_cast<int>(std::max<int64_t>(0, left.count()));
  };

  for (int attempt = 0; attempt < 2; ++attempt) {
    Connection conn;
    bool reused = false;
    if (attempt == 0) {
      if (auto idle = TakeIdle(key)) {
        conn = std::move(*idle);
        reused = true;
      }
    }
    if (conn.fd < 0) {
      auto fd = Connect(exchanges[0]->target(), first.connect_timeout, what);
      if (!fd.ok()) {
        for (auto& r : results) r = fd.status();
        return results;
      }
      conn.fd = *fd;
      conn.client_alive = alive;
    }
    auto fail_all = [&](common::Status status) {
      ::close(conn.fd);
      for (auto& r : results) {
        if (!r) r = status;
      }
      return results;
    };

    // Every request in one go (more sendmsg calls only if the socket buffer fills).
    std::vector<iovec> parts;
    size_t total = 0;
    for (size_t i = 0; i < n; ++i) {
      const std::string& head = exchanges[i]->head();
      parts.push_back({const_cast<char*>(head.data()), head.size()});
      total += head.size();
      const std::string& body = requests[i]->body;
      if (!body.empty()) {
        parts.push_back({const_cast<char*>(body.data()), body.size()});
        total += body.size();
      }
    }
    size_t sent = 0, part = 0;
    bool stale = false;
    while (sent < total) {
      msghdr msg{};
      msg.msg_iov = parts.data() + part;
      msg.msg_iovlen = std::min<size_t>(parts.size() - part, IOV_MAX);
      ssize_t w = ::sendmsg(conn.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        pollfd p{conn.fd, POLLOUT, 0};
        if (::poll(&p, 1, millis_left()) <= 0) {
          return fail_all(common::DeadlineExceeded(what + ": timed out sending the requests"));
        }
        continue;
      }
      if (w < 0) {
        if (reused && sent == 0) {
          stale = true;
          break;
        }
        return fail_all(
            common::Unavailable(what + ": sending the requests failed: " + ErrnoText(errno)));
      }
      sent += static_cast<size_t>(w);
      size_t consumed = static_cast<size_t>(w);
      while (consumed > 0 && part < parts.size()) {
        if (consumed >= parts[part].iov_len) {
          consumed -= parts[part].iov_len;
          ++part;
        } else {
          parts[part].iov_base = static_cast<char*>(parts[part].iov_base) + consumed;
          parts[part].iov_len -= consumed;
          consumed = 0;
        }
      }
    }
    if (stale) {
      ::close(conn.fd);
      continue;
    }

    // The responses, in order. A server writes pipelined responses one by one; waking for
    // each costs a context switch, so the socket's low-water mark asks the kernel to wake
    // this thread once the rest can have arrived, counting each remaining response as at
    // least the shortest seen on this connection. A response shorter than that is caught by
    // a short poll timeout, after which whatever arrived is read; the timeout doubles while
    // nothing arrives (a slow server), up to a bound on the delay a wrong guess can add.
    constexpr int kMaxLowWater = 32 * 1024;
    constexpr int kMaxCoalesceMillis = 16;
    int coalesce_millis = 2;
    // The thread's read buffer, kept between pipelines: no large allocation per batch.
    thread_local std::string buffer;
    buffer.clear();
    if (buffer.capacity() > (1u << 20)) std::string().swap(buffer);  // after a huge answer
    size_t offset = 0, received = 0, answered = 0;
    bool keep_alive = true, broken = false;
    char chunk[16 * 1024];
    auto wanted_bytes = [&]() -> int {
      if (conn.min_response == 0) return 1;
      size_t remaining = n - answered;  // including the one being read
      size_t want = (remaining - 1) * conn.min_response + 1;
      size_t buffered = buffer.size() - offset;
      return want > buffered ? static_cast<int>(std::min<size_t>(want - buffered, kMaxLowWater))
                             : 1;
    };
    while (answered < n && !broken) {
      ResponseReader reader(/*head_request=*/false, requests[answered]->max_response_bytes);
      const size_t response_start = received - (buffer.size() - offset);
      while (true) {
        std::string error;
        ResponseReader::Step step = reader.Feed(buffer, offset, &error);
        if (step == ResponseReader::Step::kMalformed || step == ResponseReader::Step::kTooLarge) {
          broken = true;
          break;
        }
        if (step == ResponseReader::Step::kDone) {
          size_t size = received - (buffer.size() - offset) - response_start;
          if (conn.min_response == 0 || size < conn.min_response) conn.min_response = size;
          break;
        }
        if (offset == buffer.size()) {
          buffer.clear();
          offset = 0;
        }
        SetReceiveLowWater(conn.fd, &conn.low_water, wanted_bytes());
        int wait = millis_left();
        if (conn.low_water > 1 && (wait < 0 || wait > coalesce_millis)) wait = coalesce_millis;
        if (cancel != nullptr) {
          if (cancel->load())
            return fail_all(common::Status(common::Code::kAborted, what + ": cancelled"));
          const int check = static_cast<int>(kCancelCheckInterval.count());
          wait = wait < 0 ? check : std::min(wait, check);
        }
        pollfd p{conn.fd, POLLIN, 0};
        int ready = ::poll(&p, 1, wait);
        if (ready == 0 && millis_left() == 0) {
          return fail_all(
              common::DeadlineExceeded(what + ": timed out waiting for pipelined responses"));
        }
        ssize_t r = ::recv(conn.fd, chunk, sizeof chunk, MSG_DONTWAIT);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          coalesce_millis = std::min(coalesce_millis * 2, kMaxCoalesceMillis);
          continue;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
          if (r == 0 && reader.FinishAtEof()) {
            keep_alive = false;
            break;
          }
          broken = true;
          break;
        }
        received += static_cast<size_t>(r);
        buffer.append(chunk, static_cast<size_t>(r));
      }
      if (broken) break;
      const bool message_keep_alive = reader.parser().get().keep_alive();
      results[answered++] = ToResponse(reader.parser());
      if (!message_keep_alive || !keep_alive) {
        keep_alive = false;
        break;  // the server ends the connection here: the rest go again
      }
    }
    if (received == 0 && reused && attempt == 0) {
      ::close(conn.fd);  // the peer had closed the idle connection: once more on a new one
      continue;
    }
    if (answered == n && keep_alive && !broken && offset == buffer.size()) {
      conn.last_used = SteadyClock::now();
      Connections().Put(key, std::move(conn));
    } else {
      ::close(conn.fd);
    }
    return results;
  }
  return results;
}

}  // namespace

PlainHttpClient::PlainHttpClient(HttpClient& fallback)
    : fallback_(fallback),
      id_(next_plain_client_id.fetch_add(1)),
      alive_(std::make_shared<std::atomic<bool>>(true)) {}

PlainHttpClient::~PlainHttpClient() { alive_->store(false); }

common::Result<Response> PlainHttpClient::Send(const ClientRequest& request) {
  if (!request.body_file.empty() || request.body_sink) return fallback_.Send(request);
  return std::move(RunAll({&request}, id_, alive_, fallback_).front());
}

std::vector<common::Result<Response>> PlainHttpClient::SendPipelined(
    const std::vector<ClientRequest>& requests) {
  constexpr size_t kMaxPipelineBytes = 256 * 1024;  // beyond: parallel (no read/write deadlock)
  if (requests.size() < 2) return SendAll(requests);
  std::vector<std::unique_ptr<Exchange>> exchanges;
  std::vector<const ClientRequest*> pointers;
  size_t bytes = 0;
  for (const auto& r : requests) {
    if (!r.body_file.empty() || r.body_sink) return SendAll(requests);
    auto ex = std::make_unique<Exchange>(r, id_, alive_);
    if (!ex->Prepare() || ex->state() == Exchange::State::kDone || ex->head_request() ||
        (!exchanges.empty() && ex->key() != exchanges[0]->key())) {
      return SendAll(requests);
    }
    bytes += ex->head().size() + r.body.size();
    exchanges.push_back(std::move(ex));
    pointers.push_back(&r);
  }
  if (bytes > kMaxPipelineBytes) return SendAll(requests);
  auto results = RunPipeline(exchanges, pointers, alive_);
  std::vector<const ClientRequest*> again;
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i]) again.push_back(pointers[i]);
  }
  if (!again.empty()) {
    auto retried = RunAll(again, id_, alive_, fallback_);
    size_t k = 0;
    for (auto& r : results) {
      if (!r) r = std::move(retried[k++]);
    }
  }
  std::vector<common::Result<Response>> out;
  out.reserve(results.size());
  for (auto& r : results) out.push_back(std::move(*r));
  return out;
}

std::vector<common::Result<Response>> PlainHttpClient::SendAll(
    const std::vector<ClientRequest>& requests) {
  std::vector<const ClientRequest*> pointers;
  pointers.reserve(requests.size());
  for (const auto& r : requests) pointers.push_back(&r);
  return RunAll(pointers, id_, alive_, fallback_);
}

}  // namespace http
