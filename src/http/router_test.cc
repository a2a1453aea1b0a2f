#include <gtest/gtest.h>

#include <optional>

#include "http/server.h"

namespace http {
namespace {

// Runs the router's handler synchronously and returns what it responded.
Response Call(const Handler& handler, std::string method, std::string target) {
  Request request;
  request.method = std::move(method);
  request.target = std::move(target);
  std::optional<Response> out;
  handler(std::move(request), [&](Response r) { out = std::move(r); });
  EXPECT_TRUE(out.has_value());
  return out.value_or(Response{});
}

Handler Tagged(std::string tag) {
  return [tag](Request&& request, Respond respond) {
    respond(Response::Text(200, tag + " " + std::string(request.path())));
  };
}

TEST(RouterTest, RoutesByMethodAndPath) {
  Router router;
  router.Handle("GET", "/healthz", Tagged("health"));
  router.Handle("POST", "/v1/event/*", Tagged("event-post"));
  router.Handle("GET", "/v1/event/*", Tagged("event-get"));
  router.Handle("*", "/any", Tagged("any"));
  router.Handle("GET", "/v1/*", Tagged("v1"));
  Handler h = router.AsHandler();

  struct Case {
    const char* method;
    const char* target;
    int status;
    const char* body;  // prefix expected, or nullptr
  } cases[] = {
      {"GET", "/healthz", 200, "health /healthz"},
      {"GET", "/healthz?x=1", 200, "health /healthz"},
      {"GET", "/healthz/", 404, nullptr},
      {"POST", "/v1/event/abc", 200, "event-post /v1/event/abc"},
      {"GET", "/v1/event/", 200, "event-get /v1/event/"},
      {"DELETE", "/any", 200, "any /any"},
      {"PUT", "/any", 200, "any /any"},
      {"GET", "/v1/other", 200, "v1 /v1/other"},  // later prefix route
      {"GET", "/nothing", 404, nullptr},
  };
  for (const auto& c : cases) {
    Response r = Call(h, c.method, c.target);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.target;
    if (c.body) {
      EXPECT_EQ(r.body, c.body) << c.method << " " << c.target;
    }
  }
}

TEST(RouterTest, MethodNotAllowedListsAllowedMethods) {
  Router router;
  router.Handle("GET", "/thing", Tagged("get"));
  router.Handle("PUT", "/thing", Tagged("put"));
  Response r = Call(router.AsHandler(), "DELETE", "/thing");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers.GetOr("Allow", ""), "GET, PUT");
  EXPECT_NE(r.body.find("\"code\":405"), std::string::npos) << r.body;
}

TEST(RouterTest, NotFoundIsJsonAndFallbackReplacesIt) {
  Router router;
  router.Handle("GET", "/a", Tagged("a"));
  Handler h = router.AsHandler();
  Response r = Call(h, "GET", "/b");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.headers.GetOr("Content-Type", ""), "application/json");
  EXPECT_NE(r.body.find("\"code\":404"), std::string::npos) << r.body;

  router.SetFallback(Tagged("fallback"));
  r = Call(router.AsHandler(), "GET", "/b");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "fallback /b");
}

TEST(RouterTest, FirstRegisteredMatchWins) {
  Router router;
  router.Handle("GET", "/x/*", Tagged("first"));
  router.Handle("GET", "/x/y", Tagged("second"));
  EXPECT_EQ(Call(router.AsHandler(), "GET", "/x/y").body, "first /x/y");
}

}  // namespace
}  // namespace http
