// CurlHttpClient against the project's HttpServer on loopback.
#include "http/client.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>

#include "http/server.h"

namespace http {
namespace {

using namespace std::chrono_literals;

// A server whose behaviour each test picks by path.
class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
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
    if (path == "/slow") {
      std::lock_guard<std::mutex> l(mu_);
      workers_.emplace_back([respond] {
        std::this_thread::sleep_for(1500ms);
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
  CurlHttpClient client_;
};

TEST_F(ClientTest, MethodsWithBodies) {
  struct Case {
    const char* method;
    const char* body;
  } cases[] = {{"GET", ""},        {"PUT", "put body"}, {"POST", "{\"a\":1}"},  {"POST", ""},
               {"PATCH", "patch"}, {"DELETE", ""},      {"DELETE", "del body"}, {"PUT", ""}};
  for (const auto& c : cases) {
    auto r = client_.Send(Make(c.method, "/echo", c.body));
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

TEST_F(ClientTest, HeadReturnsHeadersOnly) {
  auto r = client_.Send(Make("HEAD", "/echo"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers.GetOr("Content-Length", ""), "1234");
  EXPECT_EQ(r->body, "");
  // And the connection is usable afterwards.
  r = client_.Send(Make("GET", "/echo"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
}

TEST_F(ClientTest, CapturesHeadersAndDoesNotFollowRedirects) {
  ClientRequest request = Make("GET", "/redirect");
  request.headers.Set("X-Empty", "");
  auto r = client_.Send(request);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 302);
  EXPECT_EQ(r->headers.GetOr("Location", ""), "/echo");
  EXPECT_EQ(r->body, "moved");

  r = client_.Send(Make("GET", "/echo"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->headers.GetAll("x-multi"), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(r->headers.GetOr("content-type", ""), "application/octet-stream");
}

TEST_F(ClientTest, StreamsResponseToSink) {
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
  auto r = client_.Send(request);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "");
  EXPECT_EQ(received, Pattern(n));
  EXPECT_GT(chunks, 1);
}

TEST_F(ClientTest, SinkCanAbort) {
  ClientRequest request = Make("GET", "/big?n=1000000");
  request.body_sink = [](std::string_view) { return false; };
  auto r = client_.Send(request);
  EXPECT_EQ(r.status().code(), common::Code::kAborted) << r.status().ToString();
  // The client still works after an aborted transfer.
  auto again = client_.Send(Make("GET", "/big?n=10"));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->body, Pattern(10));
}

TEST_F(ClientTest, BufferedBodyOverLimitIsResourceExhausted) {
  ClientRequest request = Make("GET", "/big?n=100000");
  request.max_response_bytes = 1000;
  auto r = client_.Send(request);
  EXPECT_EQ(r.status().code(), common::Code::kResourceExhausted) << r.status().ToString();
  request.max_response_bytes = 100000;
  r = client_.Send(request);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body.size(), 100000u);
}

TEST_F(ClientTest, BodyFromFile) {
  std::string content = Pattern(2 << 20);
  char name[] = "/tmp/http_client_test_XXXXXX";
  int fd = ::mkstemp(name);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  ::close(fd);
  ClientRequest request = Make("PUT", "/echo");
  request.body_file = name;
  auto r = client_.Send(request);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->headers.GetOr("X-Content-Length", ""), std::to_string(content.size()));
  EXPECT_EQ(r->body, content);

  // Chunked when asked for.
  request.headers.Set("Transfer-Encoding", "chunked");
  r = client_.Send(request);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->headers.GetOr("X-Transfer-Encoding", ""), "chunked");
  EXPECT_EQ(r->body, content);
  ::unlink(name);

  request.body_file = "/nonexistent/file";
  EXPECT_EQ(client_.Send(request).status().code(), common::Code::kNotFound);
}

TEST_F(ClientTest, TotalTimeoutIsDeadlineExceeded) {
  ClientRequest request = Make("GET", "/slow");
  request.timeout = 200ms;
  auto start = std::chrono::steady_clock::now();
  auto r = client_.Send(request);
  EXPECT_EQ(r.status().code(), common::Code::kDeadlineExceeded) << r.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1400ms);
}

TEST_F(ClientTest, TransportErrors) {
  uint16_t port = server_->port();
  server_->Stop();
  ClientRequest request;
  request.url = "http://127.0.0.1:" + std::to_string(port) + "/";
  auto r = client_.Send(request);
  EXPECT_EQ(r.status().code(), common::Code::kUnavailable) << r.status().ToString();

  request.url = "not a url at all";
  EXPECT_EQ(client_.Send(request).status().code(), common::Code::kInvalidArgument);
  request.url = "ftp://127.0.0.1/x";
  EXPECT_EQ(client_.Send(request).status().code(), common::Code::kInvalidArgument);
}

TEST_F(ClientTest, ErrorMessagesOmitTheQuery) {
  server_->Stop();
  ClientRequest request = Make("GET", "/x?X-Amz-Signature=secret");
  auto r = client_.Send(request);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().find("secret"), std::string::npos) << r.status().message();
}

TEST_F(ClientTest, ClientsOutliveNothing) {
  // A client destroyed while other threads hold handles for it: those handles are
  // swept on their next use, and a fresh client works.
  for (int i = 0; i < 3; ++i) {
    auto client = std::make_unique<CurlHttpClient>();
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
TEST(ClientStaleConnectionTest, ReconnectsAfterServerClosedIdleConnection) {
  ServerOptions options;
  options.idle_timeout = 100ms;
  HttpServer server(options, [](Request&& request, Respond respond) {
    respond(Response::Text(200, request.body));
  });
  ASSERT_TRUE(server.Start().ok());
  CurlHttpClient client;
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

}  // namespace
}  // namespace http
