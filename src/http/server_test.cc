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

}  // namespace
}  // namespace http
