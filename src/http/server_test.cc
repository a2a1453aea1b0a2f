// HttpServer against real clients: CurlHttpClient, the `curl` program, and raw sockets for
// what well-behaved clients never send.
#include "http/server.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "common/strings.h"
#include "common/subprocess.h"
#include "http/client.h"
#include "http/test_support.h"

namespace http {
namespace {

using namespace std::chrono_literals;
using testing::RawConnection;
using testing::StatusOf;

// Answers with a JSON description of the request it got.
void Echo(Request&& request, Respond respond) {
  nlohmann::json headers = nlohmann::json::object();
  for (const auto& [name, value] : request.headers.entries())
    headers[common::ToLower(name)] = value;
  nlohmann::json body = {{"method", request.method}, {"target", request.target},
                         {"headers", headers},       {"body_size", request.body.size()},
                         {"body", request.body},     {"remote", request.remote_address}};
  respond(Response::Json(200, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
}

std::string Url(const HttpServer& server, std::string_view path = "/") {
  return "http://127.0.0.1:" + std::to_string(server.port()) + std::string(path);
}

std::unique_ptr<HttpServer> StartServer(ServerOptions options, Handler handler) {
  auto server = std::make_unique<HttpServer>(std::move(options), std::move(handler));
  common::Status status = server->Start();
  EXPECT_TRUE(status.ok()) << status.ToString();
  return server;
}

ClientRequest MakeRequest(std::string method, std::string url, std::string body = "") {
  ClientRequest request;
  request.method = std::move(method);
  request.url = std::move(url);
  request.body = std::move(body);
  return request;
}

Response MustSend(HttpClient& client, const ClientRequest& request) {
  auto result = client.Send(request);
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  if (result.ok()) return std::move(result).value();
  Response failed;
  failed.status = -1;
  return failed;
}

TEST(HttpServerTest, ServesRequestsOverKeepAlive) {
  auto server = StartServer({}, Echo);
  CurlHttpClient client;
  for (int i = 0; i < 5; ++i) {
    ClientRequest request;
    request.method = "POST";
    request.url = Url(*server, "/path/x%20y?a=1&b=" + std::to_string(i));
    request.headers.Add("X-Custom", "value " + std::to_string(i));
    request.body = "hello " + std::to_string(i);
    Response response = MustSend(client, request);
    ASSERT_EQ(response.status, 200) << response.body;
    auto json = nlohmann::json::parse(response.body);
    EXPECT_EQ(json["method"], "POST");
    EXPECT_EQ(json["target"], "/path/x%20y?a=1&b=" + std::to_string(i));
    EXPECT_EQ(json["headers"]["x-custom"], "value " + std::to_string(i));
    EXPECT_EQ(json["body"], "hello " + std::to_string(i));
    EXPECT_EQ(json["remote"], "127.0.0.1");
    EXPECT_FALSE(json["headers"].contains("expect"));
    EXPECT_EQ(response.headers.GetOr("Content-Type", ""), "application/json");
    EXPECT_EQ(response.headers.GetOr("Content-Length", ""), std::to_string(response.body.size()));
    EXPECT_TRUE(response.headers.Has("Date"));
  }
  EXPECT_EQ(server->accepted_connections(), 1u) << "keep-alive connection was not reused";
}

TEST(HttpServerTest, HeadKeepsHandlerContentLengthAndSendsNoBody) {
  auto server = StartServer({}, [](Request&& request, Respond respond) {
    Response r = Response::Text(200, request.method == "HEAD" ? "" : "0123456789");
    if (request.method == "HEAD") r.headers.Set("Content-Length", "10");
    respond(std::move(r));
  });
  CurlHttpClient client;
  ClientRequest head;
  head.method = "HEAD";
  head.url = Url(*server, "/object");
  Response r = MustSend(client, head);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers.GetOr("Content-Length", ""), "10");
  EXPECT_EQ(r.body, "");
  // The connection is still in sync: a GET on it gets its body.
  ClientRequest get;
  get.url = head.url;
  r = MustSend(client, get);
  EXPECT_EQ(r.body, "0123456789");
  EXPECT_EQ(server->accepted_connections(), 1u);
}

TEST(HttpServerTest, HeadWithoutHandlerLengthAnnouncesTheBodySize) {
  auto server = StartServer({}, [](Request&&, Respond respond) {
    Response r = Response::Text(299, "twelve bytes");
    respond(std::move(r));
  });
  RawConnection conn(server->port());
  ASSERT_TRUE(conn.Send("HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n"));
  std::string response = conn.ReadUntil("\r\n\r\n", 10s);
  EXPECT_TRUE(response.starts_with("HTTP/1.1 299 Unknown\r\n")) << response;
  EXPECT_NE(response.find("Content-Length: 12\r\n"), std::string::npos) << response;
  EXPECT_EQ(conn.ReadSome(300ms), "") << "HEAD response must not carry a body";
}

TEST(HttpServerTest, NoBodyStatusesCarryNoContentLength) {
  auto server =
      StartServer({}, [](Request&&, Respond respond) { respond(Response::Text(204, "ignored")); });
  RawConnection conn(server->port());
  ASSERT_TRUE(conn.Send("DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n"));
  std::string response = conn.ReadUntil("\r\n\r\n", 10s);
  EXPECT_EQ(StatusOf(response), 204) << response;
  EXPECT_EQ(response.find("Content-Length"), std::string::npos) << response;
  EXPECT_EQ(conn.ReadSome(300ms), "") << "204 must not carry a body";
}

TEST(HttpServerTest, HandlerExceptionGives500AndServerKeepsServing) {
  auto server = StartServer({}, [](Request&& request, Respond respond) {
    if (request.path() == "/throw") throw std::runtime_error("boom");
    respond(Response::Text(200, "fine"));
  });
  CurlHttpClient client;
  Response r = MustSend(client, MakeRequest("GET", Url(*server, "/throw")));
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body.find("boom"), std::string::npos) << "exception text leaked: " << r.body;
  r = MustSend(client, MakeRequest("GET", Url(*server, "/ok")));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "fine");
}

TEST(HttpServerTest, DroppedRespondGives500) {
  auto server = StartServer({}, [](Request&&, Respond) {});
  CurlHttpClient client;
  EXPECT_EQ(MustSend(client, MakeRequest("GET", Url(*server))).status, 500);
}

TEST(HttpServerTest, DeferredRespondFromAnotherThread) {
  std::vector<std::thread> workers;
  std::mutex mu;
  auto server = StartServer({}, [&](Request&& request, Respond respond) {
    std::lock_guard<std::mutex> l(mu);
    workers.emplace_back([respond, body = request.body] {
      std::this_thread::sleep_for(200ms);
      respond(Response::Text(200, "late " + body));
    });
  });
  CurlHttpClient client;
  auto start = std::chrono::steady_clock::now();
  Response r = MustSend(client, MakeRequest("POST", Url(*server), "poll"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "late poll");
  EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);
  for (auto& t : workers) t.join();
}

TEST(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  // The first request is answered late from another thread; the second must still come
  // second.
  std::vector<std::thread> workers;
  auto server = StartServer({}, [&](Request&& request, Respond respond) {
    std::string path(request.path());
    if (path == "/slow") {
      workers.emplace_back([respond] {
        std::this_thread::sleep_for(100ms);
        respond(Response::Text(200, "slow"));
      });
    } else {
      respond(Response::Text(200, "fast"));
    }
  });
  RawConnection conn(server->port());
  ASSERT_TRUE(
      conn.Send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET /fast HTTP/1.1\r\nHost: a\r\n\r\n"));
  std::string first = conn.ReadResponse();
  std::string second = conn.ReadResponse();
  EXPECT_TRUE(first.ends_with("\r\n\r\nslow")) << first;
  EXPECT_TRUE(second.ends_with("\r\n\r\nfast")) << second;
  for (auto& t : workers) t.join();
}

TEST(HttpServerTest, Http10AndConnectionCloseAreHonoured) {
  auto server = StartServer({}, Echo);
  {
    RawConnection conn(server->port());
    ASSERT_TRUE(conn.Send("GET /a HTTP/1.0\r\n\r\n"));
    std::string response = conn.ReadResponse();
    EXPECT_TRUE(response.starts_with("HTTP/1.0 200")) << response;
    EXPECT_TRUE(conn.WaitClosed(10s));
  }
  {
    RawConnection conn(server->port());
    ASSERT_TRUE(conn.Send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    EXPECT_EQ(StatusOf(conn.ReadResponse()), 200);
    ASSERT_TRUE(conn.Send("GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    EXPECT_EQ(StatusOf(conn.ReadResponse()), 200);
  }
  {
    RawConnection conn(server->port());
    ASSERT_TRUE(conn.Send("GET /a HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
    std::string response = conn.ReadResponse();
    EXPECT_EQ(StatusOf(response), 200);
    EXPECT_NE(response.find("Connection: close"), std::string::npos) << response;
    EXPECT_TRUE(conn.WaitClosed(10s));
  }
}

// --- the `curl` program -------------------------------------------------------------------

// A temporary file removed at scope exit.
class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    char name[] = "/tmp/http_test_XXXXXX";
    int fd = ::mkstemp(name);
    path_ = name;
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
    ::close(fd);
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string Pattern(size_t n) {
  std::string s(n, 'x');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 13) % 26);
  return s;
}

common::RunResult RunCurl(std::vector<std::string> args) {
  common::SpawnOptions options;
  options.argv = {"curl", "-sS", "-v", "--max-time", "30"};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.stdout_to = "pipe";
  options.stderr_to = "pipe";
  auto result = common::RunCommand(options, std::chrono::seconds(40));
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  return result.ok() ? *result : common::RunResult{};
}

TEST(HttpServerCurlTest, ExpectContinueIsAnsweredBeforeTheBody) {
  auto server = StartServer({}, Echo);
  std::string content = Pattern(200'000);
  TempFile file(content);
  // With a 30 s expect timeout, curl sends the body only after our 100 Continue.
  auto run = RunCurl({"-T", file.path(), "-H", "Expect: 100-continue", "--expect100-timeout", "30",
                      Url(*server, "/bucket/key")});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("< HTTP/1.1 100 Continue"), std::string::npos) << run.err;
  auto json = nlohmann::json::parse(run.out);
  EXPECT_EQ(json["method"], "PUT");
  EXPECT_EQ(json["body"], content);
}

TEST(HttpServerCurlTest, ChunkedUpload) {
  auto server = StartServer({}, Echo);
  std::string content = Pattern(300'000);
  TempFile file(content);
  auto run = RunCurl({"--data-binary", "@" + file.path(), "-H", "Transfer-Encoding: chunked", "-H",
                      "Content-Type: application/octet-stream", Url(*server, "/up")});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("> Transfer-Encoding: chunked"), std::string::npos) << run.err;
  auto json = nlohmann::json::parse(run.out);
  EXPECT_EQ(json["method"], "POST");
  EXPECT_EQ(json["body"], content);
}

TEST(HttpServerCurlTest, OversizedBodyGets413) {
  ServerOptions options;
  options.max_body_bytes = 1000;
  auto server = StartServer(options, Echo);
  TempFile big(Pattern(5000));
  TempFile exact(Pattern(1000));
  // Content-Length over the limit, announced with Expect: the body is never read.
  auto run = RunCurl({"-T", big.path(), "-H", "Expect: 100-continue", "--expect100-timeout", "30",
                      "-w", "\n%{http_code}", Url(*server, "/k")});
  EXPECT_TRUE(run.out.ends_with("\n413")) << run.out << run.err;
  EXPECT_EQ(run.err.find("100 Continue"), std::string::npos) << run.err;
  // Chunked over the limit.
  run = RunCurl({"--data-binary", "@" + big.path(), "-H", "Transfer-Encoding: chunked", "-w",
                 "\n%{http_code}", Url(*server, "/k")});
  EXPECT_TRUE(run.out.ends_with("\n413")) << run.out << run.err;
  // Exactly at the limit is fine.
  run = RunCurl({"-T", exact.path(), "-w", "\n%{http_code}", Url(*server, "/k")});
  EXPECT_TRUE(run.out.ends_with("\n200")) << run.out << run.err;
}

TEST(HttpServerCurlTest, OversizedHeaderGets431) {
  auto server = StartServer({}, Echo);  // default limit: 16 KiB
  auto run = RunCurl(
      {"-H", "X-Big: " + std::string(20'000, 'h'), "-w", "\n%{http_code}", Url(*server, "/")});
  EXPECT_TRUE(run.out.ends_with("\n431")) << run.out << run.err;
  run = RunCurl(
      {"-H", "X-Big: " + std::string(10'000, 'h'), "-w", "\n%{http_code}", Url(*server, "/")});
  EXPECT_TRUE(run.out.ends_with("\n200")) << run.out << run.err;
}

// --- limits and misbehaving clients over raw sockets ---------------------------------------

TEST(HttpServerTest, ExpectContinueOverRawSocket) {
  auto server = StartServer({}, Echo);
  RawConnection conn(server->port());
  ASSERT_TRUE(conn.Send(
      "PUT /b/k HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  EXPECT_EQ(conn.ReadUntil("\r\n\r\n", 10s), "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(conn.Send("hello"));
  std::string response = conn.ReadResponse();
  EXPECT_EQ(StatusOf(response), 200) << response;
  EXPECT_NE(response.find("\"body\":\"hello\""), std::string::npos) << response;
}

TEST(HttpServerTest, ExpectContinueWithEmptyBodyGetsThe100First) {
  // A client that sends `Expect: 100-continue` with an empty body (boto3's empty PutObject)
  // waits for the 100 before it reads the answer; the connection must stay in step.
  auto server = StartServer({}, Echo);
  RawConnection conn(server->port());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(conn.Send(
        "PUT /b/empty HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nExpect: 100-continue\r\n\r\n"));
    EXPECT_EQ(conn.ReadUntil("\r\n\r\n", 10s), "HTTP/1.1 100 Continue\r\n\r\n");
    std::string response = conn.ReadResponse();
    EXPECT_EQ(StatusOf(response), 200) << response;
    EXPECT_NE(response.find("\"body_size\":0"), std::string::npos) << response;
  }
  EXPECT_EQ(server->accepted_connections(), 1u);
}

// Admits requests carrying "Authorization: ok" and limits bodies under /small to 10 bytes.
Admission TestAdmit(const Request& head) {
  Admission admission;
  if (head.headers.GetOr("Authorization", "") != "ok") {
    admission.refusal = Response::Json(401, R"({"message":"no"})");
  } else if (head.path() == "/small") {
    admission.max_body_bytes = 10;
  }
  return admission;
}

TEST(HttpServerTest, RefusedBeforeBodyGetsNo100AndTheBodyIsNotRead) {
  ServerOptions options;
  options.admit = TestAdmit;
  std::atomic<int> handled{0};
  auto server = StartServer(options, [&](Request&& r, Respond respond) {
    ++handled;
    Echo(std::move(r), std::move(respond));
  });
  RawConnection conn(server->port());
  ASSERT_TRUE(conn.Send(
      "PUT /k HTTP/1.1\r\nHost: a\r\nContent-Length: 209715200\r\nExpect: 100-continue\r\n\r\n"));
  std::string response = conn.ReadResponse();
  EXPECT_EQ(StatusOf(response), 401) << response;
  EXPECT_EQ(response.find("100 Continue"), std::string::npos) << response;
  EXPECT_TRUE(conn.WaitClosed(10s));
  EXPECT_EQ(handled.load(), 0);

  // Without Expect, the client starts sending at once: still refused, connection closed.
  RawConnection eager(server->port());
  ASSERT_TRUE(eager.Send("PUT /k HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n"));
  eager.Send(std::string(1000, 'x'));
  EXPECT_EQ(StatusOf(eager.ReadResponse()), 401);
  EXPECT_TRUE(eager.WaitClosed(10s));

  // A refused request without a body keeps its connection.
  RawConnection get(server->port());
  ASSERT_TRUE(get.Send("GET /k HTTP/1.1\r\nHost: a\r\n\r\n"));
  EXPECT_EQ(StatusOf(get.ReadResponse()), 401);
  ASSERT_TRUE(get.Send("GET /k HTTP/1.1\r\nHost: a\r\nAuthorization: ok\r\n\r\n"));
  EXPECT_EQ(StatusOf(get.ReadResponse()), 200);
  EXPECT_EQ(handled.load(), 1);
}

TEST(HttpServerTest, PerRouteBodyLimit) {
  ServerOptions options;
  options.admit = TestAdmit;
  auto server = StartServer(options, Echo);
  RawConnection conn(server->port());
  ASSERT_TRUE(
      conn.Send("PUT /small HTTP/1.1\r\nHost: a\r\nAuthorization: ok\r\nContent-Length: 11\r\n"
                "Expect: 100-continue\r\n\r\n"));
  std::string response = conn.ReadResponse();
  EXPECT_EQ(StatusOf(response), 413) << response;
  EXPECT_EQ(response.find("100 Continue"), std::string::npos) << response;

  // Chunked: cut off once the limit is passed.
  RawConnection chunked(server->port());
  ASSERT_TRUE(chunked.Send(
      "PUT /small HTTP/1.1\r\nHost: a\r\nAuthorization: ok\r\nTransfer-Encoding: chunked\r\n\r\n"
      "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n"));
  EXPECT_EQ(StatusOf(chunked.ReadResponse()), 413);

  // Within the limit, and other routes under the server's limit.
  RawConnection ok(server->port());
  ASSERT_TRUE(
      ok.Send("PUT /small HTTP/1.1\r\nHost: a\r\nAuthorization: ok\r\nContent-Length: "
              "10\r\n\r\n0123456789"));
  EXPECT_EQ(StatusOf(ok.ReadResponse()), 200);
  ASSERT_TRUE(
      ok.Send("PUT /big HTTP/1.1\r\nHost: a\r\nAuthorization: ok\r\nContent-Length: 100\r\n\r\n" +
              std::string(100, 'y')));
  EXPECT_EQ(StatusOf(ok.ReadResponse()), 200);
}

TEST(HttpServerTest, ChunkedBodyOverRawSocket) {
  auto server = StartServer({}, Echo);
  RawConnection conn(server->port());
  ASSERT_TRUE(
      conn.Send("POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n"));
  std::string response = conn.ReadResponse();
  EXPECT_EQ(StatusOf(response), 200) << response;
  EXPECT_NE(response.find("\"body\":\"hello, world\""), std::string::npos) << response;
}

TEST(HttpServerTest, OversizedBodyGets413AndClose) {
  ServerOptions options;
  options.max_body_bytes = 1000;
  auto server = StartServer(options, Echo);
  RawConnection conn(server->port());
  ASSERT_TRUE(conn.Send("PUT /k HTTP/1.1\r\nHost: a\r\nContent-Length: 2000\r\n\r\n"));
  conn.Send(std::string(2000, 'b'));
  std::string response = conn.ReadResponse();
  EXPECT_EQ(StatusOf(response), 413) << response;
  EXPECT_TRUE(conn.WaitClosed(10s));

  // A client that keeps pushing a large body still gets the 413, not a reset.
  CurlHttpClient client;
  Response r = MustSend(client, MakeRequest("PUT", Url(*server, "/k"), Pattern(2 << 20)));
  EXPECT_EQ(r.status, 413);
}

TEST(HttpServerTest, MalformedRequestsGet400AndClose) {
  auto server = StartServer({}, Echo);
  const char* cases[] = {
      "NOT A REQUEST\r\n\r\n",
      "GET /\r\n\r\n",
      "GET / HTTP/9.x\r\n\r\n",
      "GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",  // a TLS ClientHello
  };
  for (const char* raw : cases) {
    RawConnection conn(server->port());
    ASSERT_TRUE(conn.Send(raw));
    std::string response = conn.ReadResponse();
    EXPECT_EQ(StatusOf(response), 400) << ::testing::PrintToString(std::string(raw)) << response;
    EXPECT_TRUE(conn.WaitClosed(10s)) << raw;
  }
  CurlHttpClient client;
  EXPECT_EQ(MustSend(client, MakeRequest("GET", Url(*server))).status, 200);
}

TEST(HttpServerTest, SlowHeaderIsCutOffWhileOthersAreServed) {
  ServerOptions options;
  options.header_timeout = 500ms;
  auto server = StartServer(options, Echo);
  RawConnection slow(server->port());
  ASSERT_TRUE(slow.Send("GET / HTTP/1.1\r\n"));
  auto start = std::chrono::steady_clock::now();
  bool closed = false;
  bool served_other = false;
  // Dribble one header byte every 50 ms; the server must hang up long before 20 s.
  while (!closed && std::chrono::steady_clock::now() - start < 20s) {
    if (!slow.Send("X")) break;
    slow.ReadSome(50ms, &closed);
    if (!served_other) {
      CurlHttpClient client;
      EXPECT_EQ(MustSend(client, MakeRequest("GET", Url(*server))).status, 200);
      served_other = true;
    }
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s) << "slowloris connection kept open";
  EXPECT_TRUE(served_other);
}

TEST(HttpServerTest, SlowBodyIsCutOff) {
  ServerOptions options;
  options.body_timeout = 500ms;
  auto server = StartServer(options, Echo);
  RawConnection slow(server->port());
  ASSERT_TRUE(slow.Send("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n"));
  auto start = std::chrono::steady_clock::now();
  bool closed = false;
  while (!closed && std::chrono::steady_clock::now() - start < 20s) {
    if (!slow.Send("b")) break;
    slow.ReadSome(50ms, &closed);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s) << "slow body kept open";
}

TEST(HttpServerTest, IdleConnectionsAreClosed) {
  ServerOptions options;
  options.idle_timeout = 300ms;
  auto server = StartServer(options, Echo);
  RawConnection never_spoke(server->port());
  RawConnection after_request(server->port());
  ASSERT_TRUE(after_request.Send("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  EXPECT_EQ(StatusOf(after_request.ReadResponse()), 200);
  EXPECT_TRUE(never_spoke.WaitClosed(20s));
  EXPECT_TRUE(after_request.WaitClosed(20s));
}

// Polls `condition` until it holds or `timeout` passes.
template <typename F>
bool WaitFor(F condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

TEST(HttpServerTest, ThousandIdleConnectionsWhileServing) {
  constexpr int kIdle = 1000;
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  // Both ends live in this process: 2 descriptors per connection, plus slack.
  rlim_t want = 2 * kIdle + 256;
  if (limit.rlim_cur < want) {
    limit.rlim_cur = std::min(want, limit.rlim_max);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0);
  }
  if (limit.rlim_cur < want) GTEST_SKIP() << "RLIMIT_NOFILE hard limit too low: " << limit.rlim_max;

  ServerOptions options;
  options.threads = 2;
  options.header_timeout = 60s;
  auto server = StartServer(options, Echo);
  std::vector<RawConnection> idle;
  idle.reserve(kIdle);
  for (int i = 0; i < kIdle; ++i) {
    idle.emplace_back(server->port());
    ASSERT_TRUE(idle.back().connected()) << "connection " << i;
    // Half of them stall in the middle of a request header.
    if (i % 2 == 1) {
      ASSERT_TRUE(idle.back().Send("GET /half HTTP/1.1\r\nHost: a\r\n"));
    }
  }
  ASSERT_TRUE(WaitFor([&] { return server->open_connections() >= kIdle; }, 30s))
      << server->open_connections();

  CurlHttpClient client;
  Response r = MustSend(client, MakeRequest("GET", Url(*server, "/busy")));
  EXPECT_EQ(r.status, 200);
  // The idle ones are alive: some of them complete a request now.
  for (int i = 0; i < kIdle; i += 100) {
    ASSERT_TRUE(idle[i].Send("GET /wake HTTP/1.1\r\nHost: a\r\n\r\n"));
    EXPECT_EQ(StatusOf(idle[i].ReadResponse()), 200) << "connection " << i;
    ASSERT_TRUE(idle[i + 1].Send("\r\n"));  // finishes the stalled header
    EXPECT_EQ(StatusOf(idle[i + 1].ReadResponse()), 200) << "connection " << i + 1;
  }
  idle.clear();
  EXPECT_TRUE(WaitFor([&] { return server->open_connections() <= 1; }, 30s))
      << server->open_connections();
}

// --- stopping -----------------------------------------------------------------------------

TEST(HttpServerTest, StopDrainsInFlightRequest) {
  std::promise<void> entered;
  std::vector<std::thread> workers;
  auto server = StartServer({}, [&](Request&& request, Respond respond) {
    if (request.path() != "/slow") return respond(Response::Text(200, "fast"));
    entered.set_value();
    workers.emplace_back([respond] {
      std::this_thread::sleep_for(300ms);
      respond(Response::Text(200, "slow done"));
    });
  });
  uint16_t port = server->port();
  RawConnection idle(port);
  ASSERT_TRUE(idle.Send("GET /first HTTP/1.1\r\nHost: a\r\n\r\n"));
  ASSERT_EQ(StatusOf(idle.ReadResponse()), 200);  // now idle in keep-alive

  auto in_flight = std::async(std::launch::async, [&] {
    CurlHttpClient client;
    return client.Send(MakeRequest("GET", Url(*server, "/slow")));
  });
  entered.get_future().wait();
  server->Stop(10s);
  auto result = in_flight.get();
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->body, "slow done");
  EXPECT_EQ(result->headers.GetOr("Connection", ""), "close");
  EXPECT_TRUE(idle.WaitClosed(1s)) << "idle keep-alive connection left open after Stop";
  for (auto& t : workers) t.join();

  CurlHttpClient client;
  auto refused = client.Send(MakeRequest("GET", "http://127.0.0.1:" + std::to_string(port) + "/"));
  EXPECT_EQ(refused.status().code(), common::Code::kUnavailable) << refused.status().ToString();
}

TEST(HttpServerTest, StopGivesUpAfterDrainAndLateRespondIsHarmless) {
  std::mutex mu;
  std::vector<Respond> held;
  std::promise<void> entered;
  auto server = StartServer({}, [&](Request&&, Respond respond) {
    std::lock_guard<std::mutex> l(mu);
    held.push_back(std::move(respond));
    entered.set_value();
  });
  auto in_flight = std::async(std::launch::async, [&] {
    CurlHttpClient client;
    return client.Send(MakeRequest("GET", Url(*server, "/never")));
  });
  entered.get_future().wait();
  auto start = std::chrono::steady_clock::now();
  server->Stop(200ms);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  auto result = in_flight.get();
  EXPECT_EQ(result.status().code(), common::Code::kUnavailable) << result.status().ToString();
  std::lock_guard<std::mutex> l(mu);
  ASSERT_EQ(held.size(), 1u);
  held[0](Response::Text(200, "too late"));  // server stopped: dropped
  server.reset();
  held.clear();  // the last copy dies after the server: must not touch it
}

TEST(HttpServerTest, RespondAfterClientLeftIsHarmless) {
  std::mutex mu;
  std::vector<Respond> held;
  auto server = StartServer({}, [&](Request&& request, Respond respond) {
    if (request.path() == "/hold") {
      std::lock_guard<std::mutex> l(mu);
      held.push_back(std::move(respond));
      return;
    }
    respond(Response::Text(200, "ok"));
  });
  CurlHttpClient client;
  ClientRequest hold = MakeRequest("GET", Url(*server, "/hold"));
  hold.timeout = 200ms;
  auto result = client.Send(hold);
  EXPECT_EQ(result.status().code(), common::Code::kDeadlineExceeded) << result.status().ToString();
  // The server notices the departure when it writes the response (it does not read while
  // a request is with the handler).
  {
    std::lock_guard<std::mutex> l(mu);
    ASSERT_EQ(held.size(), 1u);
    held[0](Response::Text(200, "late"));
    held[0](Response::Text(200, "twice"));
  }
  EXPECT_TRUE(WaitFor([&] { return server->open_connections() == 0; }, 20s));
  EXPECT_EQ(MustSend(client, MakeRequest("GET", Url(*server, "/x"))).body, "ok");
}

TEST(HttpServerTest, ConcurrentClients) {
  ServerOptions options;
  options.threads = 2;
  auto server = StartServer(options, Echo);
  constexpr int kThreads = 6, kRequests = 20;
  std::atomic<int> ok{0};
  CurlHttpClient client;  // one client, used from every thread
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRequests; ++i) {
        std::string body = std::to_string(t) + "/" + std::to_string(i);
        auto r = client.Send(MakeRequest("PUT", Url(*server, "/c"), body));
        if (r.ok() && r->status == 200 && nlohmann::json::parse(r->body)["body"] == body) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * kRequests);
  EXPECT_LE(server->accepted_connections(), static_cast<uint64_t>(kThreads));
}

TEST(HttpServerTest, StartFailsWhenPortTaken) {
  auto first = StartServer({}, Echo);
  ServerOptions options;
  options.port = first->port();
  HttpServer second(options, Echo);
  common::Status status = second.Start();
  EXPECT_EQ(status.code(), common::Code::kUnavailable) << status.ToString();
}

}  // namespace
}  // namespace http
