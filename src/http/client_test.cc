// CurlHttpClient and PlainHttpClient against the project's HttpServer on loopback: every
// fixture test runs against both.
#include "http/client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "http/plain_client.h"
#include "http/server.h"

namespace http {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<HttpClient> NewClient(const std::string& kind) {
  if (kind == "plain") return std::make_unique<PlainHttpClient>(DefaultHttpClient());
  return std::make_unique<CurlHttpClient>();
}

// A server whose behaviour each test picks by path.
class ClientTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    client_ = NewClient(GetParam());
    server_ = std::make_unique<HttpServer>(ServerOptions{}, [this](Request&& r, Respond respond) {
      Handle(std::move(r), std::move(respond));
    });
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    server_->Stop();
    for (auto& t : workers_) t.join();
  }

  void Handle(Request&& request, Respond respond) {
    std::string path(request.path());
    if (path == "/echo") {
      Response r = Response::Text(200, request.body, "application/octet-stream");
      r.headers.Set("X-Method", request.method);
      r.headers.Set("X-Body-Size", std::to_string(request.body.size()));
      r.headers.Set("X-Content-Type", request.headers.GetOr("Content-Type", "(none)"));
      r.headers.Set("X-Content-Length", request.headers.GetOr("Content-Length", "(none)"));
      r.headers.Set("X-Transfer-Encoding", request.headers.GetOr("Transfer-Encoding", "(none)"));
      r.headers.Set("X-Expect", request.headers.GetOr("Expect", "(none)"));
      r.headers.Add("X-Multi", "1");
      r.headers.Add("X-Multi", "2");
      if (request.method == "HEAD") r.headers.Set("Content-Length", "1234");
      return respond(std::move(r));
    }
    if (path == "/big") {
      size_t n = std::stoul(QueryParam(request.query(), "n").value_or("0"));
      return respond(Response::Text(200, Pattern(n)));
    }
    if (path == "/redirect") {
      Response r = Response::Text(302, "moved");
      r.headers.Set("Location", "/echo");
      return respond(std::move(r));
    }
    if (path == "/slow" || path == "/slower") {
      std::lock_guard<std::mutex> l(mu_);
      auto delay = path == "/slow" ? 1500ms : 3000ms;
      workers_.emplace_back([respond, delay] {
        std::this_thread::sleep_for(delay);
        respond(Response::Text(200, "slow"));
      });
      return;
    }
    respond(Response::Text(404, "no"));
  }

  static std::string Pattern(size_t n) {
    std::string s(n, ' ');
    for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('A' + (i * 31 + i / 7) % 26);
    return s;
  }

  ClientRequest Make(std::string method, std::string path, std::string body = "") {
    ClientRequest request;
    request.method = std::move(method);
    request.url = "http://127.0.0.1:" + std::to_string(server_->port()) + path;
    request.body = std::move(body);
    return request;
  }

  std::unique_ptr<HttpServer> server_;
  std::mutex mu_;
  std::vector<std::thread> workers_;
  std::unique_ptr<HttpClient> client_;
};

TEST_P(ClientTest, MethodsWithBodies) {
  struct Case {
    const char* method;
    const char* body;
  } cases[] = {{"GET", ""},        {"PUT", "put body"}, {"POST", "{\"a\":1}"},  {"POST", ""},
               {"PATCH", "patch"}, {"DELETE", ""},      {"DELETE", "del body"}, {"PUT", ""}};
  for (const auto& c : cases) {
    auto r = client_->Send(Make(c.method, "/echo", c.body));
    ASSERT_TRUE(r.ok()) << c.method << ": " << r.status().ToString();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->headers.GetOr("X-Method", ""), c.method);
    EXPECT_EQ(r->body, c.body) << c.method;
    EXPECT_EQ(r->headers.GetOr("X-Expect", ""), "(none)") << c.method;
    // curl must not invent a form content type for our bodies.
    EXPECT_EQ(r->headers.GetOr("X-Content-Type", ""), "(none)") << c.method;
    if (std::string(c.method) != "GET" && std::string(c.method) != "DELETE") {
      EXPECT_EQ(r->headers.GetOr("X-Content-Length", ""), std::to_string(strlen(c.body)))
          << c.method;
    }
  }
  EXPECT_EQ(server_->accepted_connections(), 1u) << "connection not reused";
}

TEST_P(ClientTest, HeadReturnsHeadersOnly) {
  auto r = client_->Send(Make("HEAD", "/echo"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers.GetOr("Content-Length", ""), "1234");
  EXPECT_EQ(r->body, "");
  // And the connection is usable afterwards.
  r = client_->Send(Make("GET", "/echo"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
}

TEST_P(ClientTest, CapturesHeadersAndDoesNotFollowRedirects) {
  ClientRequest request = Make("GET", "/redirect");
  request.headers.Set("X-Empty", "");
  auto r = client_->Send(request);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 302);
  EXPECT_EQ(r->headers.GetOr("Location", ""), "/echo");
  EXPECT_EQ(r->body, "moved");

  r = client_->Send(Make("GET", "/echo"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->headers.GetAll("x-multi"), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(r->headers.GetOr("content-type", ""), "application/octet-stream");
}

TEST_P(ClientTest, StreamsResponseToSink) {
  const size_t n = 3 << 20;
  ClientRequest request = Make("GET", "/big?n=" + std::to_string(n));
  std::string received;
  int chunks = 0;
  request.body_sink = [&](std::string_view chunk) {
    received.append(chunk);
    ++chunks;
    return true;
  };
  request.max_response_bytes = 1024;  // applies to buffered bodies only
  auto r = client_->Send(request);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "");
  EXPECT_EQ(received, Pattern(n));
  EXPECT_GT(chunks, 1);
}

TEST_P(ClientTest, SinkCanAbort) {
  ClientRequest request = Make("GET", "/big?n=1000000");
  request.body_sink = [](std::string_view) { return false; };
  auto r = client_->Send(request);
  EXPECT_EQ(r.status().code(), common::Code::kAborted) << r.status().ToString();
  // The client still works after an aborted transfer.
  auto again = client_->Send(Make("GET", "/big?n=10"));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->body, Pattern(10));
}

TEST_P(ClientTest, BufferedBodyOverLimitIsResourceExhausted) {
  ClientRequest request = Make("GET", "/big?n=100000");
  request.max_response_bytes = 1000;
  auto r = client_->Send(request);
  EXPECT_EQ(r.status().code(), common::Code::kResourceExhausted) << r.status().ToString();
  request.max_response_bytes = 100000;
  r = client_->Send(request);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body.size(), 100000u);
}

TEST_P(ClientTest, BodyFromFile) {
  std::string content = Pattern(2 << 20);
  char name[] = "/tmp/http_client_test_XXXXXX";
  int fd = ::mkstemp(name);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  ::close(fd);
  ClientRequest request = Make("PUT", "/echo");
  request.body_file = name;
  auto r = client_->Send(request);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->headers.GetOr("X-Content-Length", ""), std::to_string(content.size()));
  EXPECT_EQ(r->body, content);

  // Chunked when asked for.
  request.headers.Set("Transfer-Encoding", "chunked");
  r = client_->Send(request);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->headers.GetOr("X-Transfer-Encoding", ""), "chunked");
  EXPECT_EQ(r->body, content);
  ::unlink(name);

  request.body_file = "/nonexistent/file";
  EXPECT_EQ(client_->Send(request).status().code(), common::Code::kNotFound);
}

TEST_P(ClientTest, TotalTimeoutIsDeadlineExceeded) {
  ClientRequest request = Make("GET", "/slow");
  request.timeout = 200ms;
  auto start = std::chrono::steady_clock::now();
  auto r = client_->Send(request);
  EXPECT_EQ(r.status().code(), common::Code::kDeadlineExceeded) << r.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1400ms);
}

// A long poll a stopping program must not wait out: the flag ends it (Aborted) well before
// the answer or the timeout.
TEST_P(ClientTest, CancelFlagEndsAWaitingExchange) {
  ClientRequest request = Make("GET", "/slower");
  request.timeout = 30s;
  std::atomic<bool> cancel{false};
  request.cancel = &cancel;
  auto start = std::chrono::steady_clock::now();
  std::thread stopper([&] {
    std::this_thread::sleep_for(100ms);
    cancel = true;
  });
  auto r = client_->Send(request);
  auto took = std::chrono::steady_clock::now() - start;
  stopper.join();
  EXPECT_EQ(r.status().code(), common::Code::kAborted) << r.status().ToString();
  EXPECT_LT(took, 2500ms);
  if (GetParam() == "plain") EXPECT_LT(took, 100ms + 10 * kCancelCheckInterval);
}

TEST_P(ClientTest, TransportErrors) {
  uint16_t port = server_->port();
  server_->Stop();
  ClientRequest request;
  request.url = "http://127.0.0.1:" + std::to_string(port) + "/";
  auto r = client_->Send(request);
  EXPECT_EQ(r.status().code(), common::Code::kUnavailable) << r.status().ToString();

  request.url = "not a url at all";
  EXPECT_EQ(client_->Send(request).status().code(), common::Code::kInvalidArgument);
  request.url = "ftp://127.0.0.1/x";
  EXPECT_EQ(client_->Send(request).status().code(), common::Code::kInvalidArgument);
}

TEST_P(ClientTest, ErrorMessagesOmitTheQuery) {
  server_->Stop();
  ClientRequest request = Make("GET", "/x?X-Amz-Signature=secret");
  auto r = client_->Send(request);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().find("secret"), std::string::npos) << r.status().message();
}

TEST_P(ClientTest, ClientsOutliveNothing) {
  // A client destroyed while other threads hold handles for it: those handles are
  // swept on their next use, and a fresh client works.
  for (int i = 0; i < 3; ++i) {
    auto client = NewClient(GetParam());
    std::thread other([&] { EXPECT_TRUE(client->Send(Make("GET", "/echo")).ok()); });
    other.join();
    EXPECT_TRUE(client->Send(Make("GET", "/echo")).ok());
  }
  auto& shared = DefaultHttpClient();
  EXPECT_EQ(&shared, &DefaultHttpClient());
  EXPECT_TRUE(shared.Send(Make("GET", "/echo")).ok());
}

// The server closes an idle keep-alive connection; the next request (with a body, which
// curl may have to rewind) goes out on a fresh connection.
class ClientStaleConnectionTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ClientStaleConnectionTest, ReconnectsAfterServerClosedIdleConnection) {
  ServerOptions options;
  options.idle_timeout = 100ms;
  HttpServer server(options, [](Request&& request, Respond respond) {
    respond(Response::Text(200, request.body));
  });
  ASSERT_TRUE(server.Start().ok());
  auto client_owner = NewClient(GetParam());
  HttpClient& client = *client_owner;
  ClientRequest request;
  request.method = "PUT";
  request.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/k";
  request.body = "first";
  auto r = client.Send(request);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (server.open_connections() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(server.open_connections(), 0u);
  request.body = "second";
  r = client.Send(request);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "second");
  EXPECT_EQ(server.accepted_connections(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Clients, ClientTest, ::testing::Values("curl", "plain"));
INSTANTIATE_TEST_SUITE_P(Clients, ClientStaleConnectionTest, ::testing::Values("curl", "plain"));

// A loopback server that answers each request it reads with the next scripted bytes, and
// closes the connection after an answer marked so. For responses HttpServer never sends.
class ScriptedServer {
 public:
  struct Answer {
    std::string bytes;
    bool close_after = false;
    std::chrono::milliseconds delay{0};  // before answering
  };
  explicit ScriptedServer(std::vector<Answer> answers) : answers_(std::move(answers)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listener_, 8);
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~ScriptedServer() {
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    thread_.join();
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int accepted() const { return accepted_; }
  std::vector<std::string> requests() {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }

 private:
  void Serve() {
    size_t next = 0;
    while (next < answers_.size()) {
      int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) return;
      ++accepted_;
      std::string buffer;
      while (next < answers_.size()) {
        // One request: the head, then Content-Length bytes of body.
        size_t end;
        while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
          char chunk[4096];
          ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
          if (n <= 0) break;
          buffer.append(chunk, static_cast<size_t>(n));
        }
        if (end == std::string::npos) break;
        size_t length = 0;
        size_t at = buffer.find("Content-Length: ");
        if (at != std::string::npos && at < end) length = std::stoul(buffer.substr(at + 16));
        while (buffer.size() < end + 4 + length) {
          char chunk[4096];
          ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
          if (n <= 0) break;
          buffer.append(chunk, static_cast<size_t>(n));
        }
        {
          std::lock_guard<std::mutex> l(mu_);
          requests_.push_back(buffer.substr(0, end + 4 + length));
        }
        buffer.erase(0, end + 4 + length);
        const Answer& a = answers_[next++];
        if (a.delay.count() > 0) std::this_thread::sleep_for(a.delay);
        ::send(fd, a.bytes.data(), a.bytes.size(), MSG_NOSIGNAL);
        if (a.close_after) break;
      }
      ::close(fd);
    }
  }

  std::vector<Answer> answers_;
  int listener_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<int> accepted_{0};
  std::mutex mu_;
  std::vector<std::string> requests_;
};

ClientRequest Post(const std::string& url, std::string body) {
  ClientRequest r;
  r.method = "POST";
  r.url = url;
  r.body = std::move(body);
  r.timeout = 5s;
  return r;
}

TEST(PlainClientTest, ReadsChunkedInterimAndUntilCloseResponses) {
  ScriptedServer server({
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n "
       "world\r\n0\r\n\r\n"},
      {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok"},
      {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx", true},
      {"HTTP/1.1 200 OK\r\n\r\nuntil close", true},
  });
  PlainHttpClient client(DefaultHttpClient());
  auto r = client.Send(Post(server.url("/a"), "one"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "hello world");
  r = client.Send(Post(server.url("/b"), "two"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 202);
  EXPECT_EQ(r->body, "ok");
  r = client.Send(Post(server.url("/c"), "three"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "x");
  r = client.Send(Post(server.url("/d"), "four"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "until close");
  // The first three shared a connection; "Connection: close" forced a new one for the fourth.
  EXPECT_EQ(server.accepted(), 2);
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[0].rfind("POST /a HTTP/1.1\r\nHost: 127.0.0.1:", 0), 0u) << requests[0];
  EXPECT_NE(requests[2].find("Content-Length: 5\r\n\r\nthree"), std::string::npos) << requests[2];
}

TEST(PlainClientTest, MalformedOrMissingAnswersAreErrorsNotRetries) {
  ScriptedServer server({{"garbage\r\n\r\n", true}, {"", true}});
  PlainHttpClient client(DefaultHttpClient());
  auto r = client.Send(Post(server.url("/x"), "a"));
  EXPECT_EQ(r.status().code(), common::Code::kUnavailable);
  EXPECT_NE(r.status().message().find("malformed"), std::string::npos) << r.status().ToString();
  // A fresh connection closed without an answer is not retried (the request may have run).
  r = client.Send(Post(server.url("/y"), "b"));
  EXPECT_EQ(r.status().code(), common::Code::kUnavailable) << r.status().ToString();
  EXPECT_EQ(server.requests().size(), 2u);
}

// SendAll runs the exchanges at once: the server answers none of them until all have arrived,
// which one-after-another sending could never satisfy.
TEST(PlainClientTest, SendAllRunsExchangesConcurrently) {
  constexpr int kCount = 6;
  std::mutex mu;
  std::vector<std::pair<std::string, Respond>> waiting;
  HttpServer server(ServerOptions{}, [&](Request&& request, Respond respond) {
    std::lock_guard<std::mutex> l(mu);
    waiting.emplace_back(request.body, std::move(respond));
    if (waiting.size() == kCount) {
      for (auto& [body, r] : waiting) r(Response::Text(200, "echo:" + body));
      waiting.clear();
    }
  });
  ASSERT_TRUE(server.Start().ok());
  PlainHttpClient client(DefaultHttpClient());
  std::vector<ClientRequest> requests;
  for (int i = 0; i < kCount; ++i) {
    requests.push_back(
        Post("http://127.0.0.1:" + std::to_string(server.port()) + "/", std::to_string(i)));
  }
  for (int round = 0; round < 2; ++round) {
    auto results = client.SendAll(requests);
    ASSERT_EQ(results.size(), requests.size());
    for (int i = 0; i < kCount; ++i) {
      ASSERT_TRUE(results[i].ok()) << results[i].status().ToString();
      EXPECT_EQ(results[i]->body, "echo:" + std::to_string(i));
    }
  }
  // The second round reused the first round's connections.
  EXPECT_EQ(server.accepted_connections(), static_cast<size_t>(kCount));
  server.Stop();
}

// SendPipelined writes every request on one connection and reads the answers in order.
TEST(PlainClientTest, PipelinesRequestsOnOneConnection) {
  ScriptedServer server(
      {{"HTTP/1.1 202 Accepted\r\nContent-Length: 1\r\n\r\na"},
       {"HTTP/1.1 202 Accepted\r\nContent-Length: 1\r\n\r\nb"},
       {"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nc\r\n0\r\n\r\n"}});
  PlainHttpClient client(DefaultHttpClient());
  std::vector<ClientRequest> requests = {Post(server.url("/1"), "one"),
                                         Post(server.url("/2"), "two"),
                                         Post(server.url("/3"), "three")};
  auto results = client.SendPipelined(requests);
  ASSERT_EQ(results.size(), 3u);
  std::string bodies;
  for (auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 202);
    bodies += r->body;
  }
  EXPECT_EQ(bodies, "abc");
  EXPECT_EQ(server.accepted(), 1);
  auto seen = server.requests();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_NE(seen[2].find("POST /3 HTTP/1.1"), std::string::npos);
  EXPECT_NE(seen[2].find("\r\n\r\nthree"), std::string::npos);
}

// A server that ends the connection after the first answer: what the pipeline left unanswered
// goes again on fresh connections, and every request gets its own answer.
TEST(PlainClientTest, BrokenPipelineResendsTheUnanswered) {
  ScriptedServer server(
      {{"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nr1", true},
       {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nr2", true},
       {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nr3", true}});
  PlainHttpClient client(DefaultHttpClient());
  std::vector<ClientRequest> requests = {Post(server.url("/1"), "one"),
                                         Post(server.url("/2"), "two"),
                                         Post(server.url("/3"), "three")};
  auto results = client.SendPipelined(requests);
  ASSERT_EQ(results.size(), 3u);
  for (auto& r : results) ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(results[0]->body, "r1");
  // The other two were answered on their own connections (in whichever order they arrived).
  std::set<std::string> rest = {results[1]->body, results[2]->body};
  EXPECT_EQ(rest, (std::set<std::string>{"r2", "r3"}));
  EXPECT_EQ(server.accepted(), 3);
  // The server saw "one" first; the resent requests are the other two.
  auto seen = server.requests();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_NE(seen[0].find("one"), std::string::npos);
}

// The pipeline waits for the rest of its answers with a receive low-water mark guessed from
// the shortest answer seen on the connection. Answers shorter than the guess must still be
// read promptly, and the connection must serve a single exchange afterwards.
TEST(PlainClientTest, PipelineReadsAnswersShorterThanItExpected) {
  const std::string long_answer =
      "HTTP/1.1 202 Accepted\r\nContent-Length: 200\r\n\r\n" + std::string(200, 'L');
  const std::string short_answer = "HTTP/1.1 202 Accepted\r\nContent-Length: 1\r\n\r\ns";
  std::vector<ScriptedServer::Answer> answers;
  for (int i = 0; i < 4; ++i) answers.push_back({long_answer, false, 5ms});  // learns ~240 bytes
  answers.push_back({long_answer});
  for (int i = 0; i < 3; ++i) answers.push_back({short_answer, false, 5ms});  // then far shorter
  answers.push_back({"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"});
  ScriptedServer server(std::move(answers));
  PlainHttpClient client(DefaultHttpClient());
  std::vector<ClientRequest> requests;
  for (int i = 0; i < 4; ++i) requests.push_back(Post(server.url("/e"), "event"));
  auto first = client.SendPipelined(requests);
  for (auto& r : first) ASSERT_TRUE(r.ok()) << r.status().ToString();

  auto start = std::chrono::steady_clock::now();
  auto second = client.SendPipelined(requests);
  ASSERT_EQ(second.size(), 4u);
  std::string bodies;
  for (auto& r : second) {
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    bodies += r->body.substr(0, 1);
  }
  EXPECT_EQ(bodies, "Lsss");
  // A wrong guess costs a few milliseconds, never the 5 s request timeout.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);

  start = std::chrono::steady_clock::now();
  ClientRequest single = Post(server.url("/one"), "x");
  auto r = client.Send(single);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "x");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_EQ(server.accepted(), 1);  // all on the one kept-alive connection
}

TEST(PlainClientTest, RefusesHeaderInjection) {
  PlainHttpClient client(DefaultHttpClient());
  ClientRequest r = Post("http://127.0.0.1:9/", "x");
  r.headers.Set("X-Evil", "a\r\nX-Injected: 1");
  EXPECT_EQ(client.Send(r).status().code(), common::Code::kInvalidArgument);
}

// HTTPS: the server with a certificate (self-signed here, made with the openssl tool), a client
// trusting it through ca_file; a plain-HTTP request to the TLS port gets no answer; a client
// that does not trust the certificate is refused.
TEST(TlsTest, ServesHttpsWithItsCertificate) {
  std::string dir = "/tmp/http_tls_test_" + std::to_string(::getpid());
  std::string cert = dir + "/cert.pem", key = dir + "/key.pem";
  std::string cmd = "mkdir -p " + dir +
                    " && openssl req -x509 -newkey rsa:2048 -nodes -days 1 "
                    "-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost "
                    "-keyout " +
                    key + " -out " + cert + " >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "the openssl tool is not available";

  ServerOptions options;
  options.tls_cert_file = cert;
  options.tls_key_file = key;
  HttpServer server(options, [](Request&& request, Respond respond) {
    respond(Response::Text(200, "secure " + request.method + " " + request.body));
  });
  ASSERT_TRUE(server.Start().ok());
  std::string port = std::to_string(server.port());

  CurlHttpClient client;
  ClientRequest request;
  request.method = "POST";
  request.url = "https://127.0.0.1:" + port + "/x";
  request.body = "hello";
  request.ca_file = cert;
  request.timeout = 10s;
  for (int i = 0; i < 2; ++i) {  // the second request reuses the TLS connection
    auto r = client.Send(request);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->body, "secure POST hello");
  }
  EXPECT_EQ(server.accepted_connections(), 1u);

  ClientRequest untrusted = request;
  untrusted.ca_file.clear();
  EXPECT_EQ(client.Send(untrusted).status().code(), common::Code::kUnavailable);

  ClientRequest plain = request;
  plain.url = "http://127.0.0.1:" + port + "/x";
  plain.timeout = 3s;
  auto r = client.Send(plain);
  EXPECT_TRUE(!r.ok() || r->status >= 400) << "plain HTTP answered on the TLS port";

  ServerOptions missing;
  missing.tls_cert_file = cert;
  missing.tls_key_file = dir + "/absent.pem";
  HttpServer bad(missing, [](Request&&, Respond respond) { respond(Response::Text(200, "")); });
  common::Status s = bad.Start();
  EXPECT_EQ(s.code(), common::Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("absent.pem"), std::string::npos) << s.ToString();
  server.Stop();
  std::system(("rm -rf " + dir).c_str());
}

}  // namespace
}  // namespace http
