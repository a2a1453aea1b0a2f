#include "function/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>

#include "http/client.h"

namespace function {
namespace {

using nlohmann::json;

class ServerTest : public ::testing::Test {
 protected:
  void StartServer(Handler handler, int workers = 2) {
    ServerOptions options;
    options.port = 0;
    options.workers = workers;
    server_ = std::make_unique<Server>(options, std::move(handler));
    ASSERT_TRUE(server_->Start().ok());
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }

  common::Result<http::Response> Send(std::string method, std::string path, std::string body = "",
                                      http::Headers headers = {}) {
    http::ClientRequest req;
    req.method = std::move(method);
    req.url = base_ + path;
    req.body = std::move(body);
    req.headers = std::move(headers);
    if (!req.headers.Has("Content-Type")) req.headers.Set("Content-Type", "application/json");
    return client_.Send(req);
  }

  http::CurlHttpClient client_;
  std::unique_ptr<Server> server_;
  std::string base_;
};

Outcome EchoPayloadAndEventId(const Context& ctx, const json& payload) {
  const json& event = ctx.event();
  return json{{"payload", payload}, {"event_id", event.is_object() ? event.value("id", "") : ""}};
}

TEST_F(ServerTest, HealthzAndNotFound) {
  StartServer(EchoPayloadAndEventId);
  auto r = Send("GET", "/healthz");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  r = Send("GET", "/nope");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404);
}

TEST_F(ServerTest, DispatchAndCloudEventsOnOnePort) {
  StartServer(EchoPayloadAndEventId);
  auto r = Send("POST", "/", R"({"context":{},"payload":{"n":1}})");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["payload"]["n"], 1);

  http::Headers ce;
  ce.Set("ce-specversion", "1.0");
  ce.Set("ce-id", "abc");
  ce.Set("ce-source", "test");
  ce.Set("ce-type", "t");
  ce.Set("Content-Type", "application/json");
  r = Send("POST", "/", R"({"n":2})", ce);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["payload"]["n"], 2);
  EXPECT_EQ(json::parse(r->body)["event_id"], "abc");

  r = Send("POST", "/", "{bad");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(json::parse(r->body)["type"], "InputError");
}

TEST_F(ServerTest, HandlersRunConcurrentlyOnWorkers) {
  // Both calls must be inside the handler at the same time for either to finish.
  std::mutex mu;
  std::condition_variable cv;
  int inside = 0;
  StartServer(
      [&](const Context&, const json&) -> Outcome {
        std::unique_lock<std::mutex> lock(mu);
        ++inside;
        cv.notify_all();
        bool both = cv.wait_for(lock, std::chrono::seconds(20), [&] { return inside >= 2; });
        return json{{"both", both}};
      },
      2);
  auto a = std::async(std::launch::async, [&] { return Send("POST", "/", R"({"payload":1})"); });
  auto b = std::async(std::launch::async, [&] { return Send("POST", "/", R"({"payload":2})"); });
  for (auto* f : {&a, &b}) {
    auto r = f->get();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(json::parse(r->body)["both"], true);
  }
}

TEST_F(ServerTest, StopLetsARunningCallFinish) {
  std::promise<void> entered;
  std::atomic<bool> release{false};
  StartServer([&](const Context&, const json&) -> Outcome {
    entered.set_value();
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return json{{"done", true}};
  });
  auto call = std::async(std::launch::async, [&] { return Send("POST", "/", R"({"payload":1})"); });
  entered.get_future().wait();
  auto stopper = std::async(std::launch::async, [&] { server_->Stop(std::chrono::seconds(20)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  release = true;
  auto r = call.get();
  stopper.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["done"], true);
}

}  // namespace
}  // namespace function
