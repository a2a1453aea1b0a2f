#include "function/protocol.h"

#include <gtest/gtest.h>

namespace function {
namespace {

using nlohmann::json;

http::Request Post(std::string body, std::string content_type = "application/json") {
  http::Request r;
  r.method = "POST";
  r.target = "/";
  r.body = std::move(body);
  if (!content_type.empty()) r.headers.Set("Content-Type", content_type);
  return r;
}

// Echoes what the function saw.
Outcome Echo(const Context& ctx, const json& payload) {
  return json{
      {"payload", payload}, {"event", ctx.event()}, {"secret", ctx.Secret("s", "k").value_or("")}};
}

TEST(DecodeRequestTest, DispatchProtocol) {
  auto inv = DecodeRequest(Post(R"({"context":{"secrets":{"s":{"k":"v"}}},"payload":{"a":1}})"));
  ASSERT_TRUE(inv.ok()) << inv.status().ToString();
  EXPECT_EQ(inv->kind, RequestKind::kDispatch);
  EXPECT_EQ(inv->payload, json({{"a", 1}}));
  EXPECT_EQ(inv->context["secrets"]["s"]["k"], "v");
}

TEST(DecodeRequestTest, NestingIsBoundedInEveryMode) {
  std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  auto dispatch = DecodeRequest(Post(R"({"context":{},"payload":)" + deep + "}"));
  ASSERT_FALSE(dispatch.ok());
  EXPECT_EQ(dispatch.status().code(), common::Code::kInvalidArgument);
  EXPECT_NE(dispatch.status().message().find("nested deeper"), std::string::npos);
  EXPECT_FALSE(
      DecodeRequest(
          Post(R"({"specversion":"1.0","id":"1","source":"s","type":"t","data":)" + deep + "}",
               "application/cloudevents+json"))
          .ok());
  http::Request binary = Post(deep);
  binary.headers.Set("ce-specversion", "1.0");
  binary.headers.Set("ce-id", "1");
  binary.headers.Set("ce-source", "s");
  binary.headers.Set("ce-type", "t");
  EXPECT_FALSE(DecodeRequest(binary).ok());
  // A payload at the limit, wrapped as Dispatch wraps it, passes.
  std::string payload =
      std::string(common::kMaxJsonDepth, '[') + std::string(common::kMaxJsonDepth, ']');
  auto ok = DecodeRequest(
      Post(R"({"context":{"event":{"data":)" + payload + R"(}},"payload":)" + payload + "}"));
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();
}

TEST(DecodeRequestTest, DispatchProtocolWithoutContext) {
  auto inv = DecodeRequest(Post(R"({"payload":"hi"})"));
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->payload, "hi");
  EXPECT_TRUE(inv->context.is_object());
}

TEST(DecodeRequestTest, BinaryCloudEvent) {
  http::Request r = Post(R"({"bucket":"b"})");
  r.headers.Set("ce-specversion", "1.0");
  r.headers.Set("ce-id", "evt-1");
  r.headers.Set("ce-source", "aws");
  r.headers.Set("ce-type", "aws.s3");
  auto inv = DecodeRequest(r);
  ASSERT_TRUE(inv.ok()) << inv.status().ToString();
  EXPECT_EQ(inv->kind, RequestKind::kCloudEventBinary);
  EXPECT_EQ(inv->payload, json({{"bucket", "b"}}));
  EXPECT_EQ(inv->context["event"]["id"], "evt-1");
  EXPECT_EQ(inv->context["event"]["type"], "aws.s3");
  EXPECT_EQ(inv->context["event"]["data"], json({{"bucket", "b"}}));
}

TEST(DecodeRequestTest, BinaryCloudEventWithTextData) {
  http::Request r = Post("plain words", "text/plain");
  r.headers.Set("ce-specversion", "1.0");
  r.headers.Set("ce-id", "1");
  r.headers.Set("ce-source", "s");
  r.headers.Set("ce-type", "t");
  auto inv = DecodeRequest(r);
  ASSERT_TRUE(inv.ok()) << inv.status().ToString();
  EXPECT_EQ(inv->payload, "plain words");
}

TEST(DecodeRequestTest, StructuredCloudEvent) {
  auto inv = DecodeRequest(
      Post(R"({"specversion":"1.0","id":"e2","source":"aws","type":"aws.s3","data":{"x":true}})",
           "application/cloudevents+json; charset=UTF-8"));
  ASSERT_TRUE(inv.ok()) << inv.status().ToString();
  EXPECT_EQ(inv->kind, RequestKind::kCloudEventStructured);
  EXPECT_EQ(inv->payload, json({{"x", true}}));
  EXPECT_EQ(inv->context["event"]["id"], "e2");
}

TEST(DecodeRequestTest, StructuredCloudEventSentAsPlainJson) {
  auto inv = DecodeRequest(
      Post(R"({"specversion":"1.0","id":"e3","source":"aws","type":"aws.s3","data":[1]})"));
  ASSERT_TRUE(inv.ok()) << inv.status().ToString();
  EXPECT_EQ(inv->kind, RequestKind::kCloudEventStructured);
  EXPECT_EQ(inv->payload, json::array({1}));
}

TEST(DecodeRequestTest, BadInputIsInvalidArgument) {
  struct Case {
    const char* name;
    http::Request request;
    const char* message_has;
  } cases[] = {
      {"malformed json", Post("{not json"), "malformed JSON"},
      {"not an object", Post("[1,2]"), "context"},
      {"object without context/payload", Post(R"({"a":1})"), "CloudEvents"},
      {"context not an object", Post(R"({"context":5,"payload":1})"), "context"},
      {"structured without id",
       Post(R"({"specversion":"1.0","source":"s","type":"t"})", "application/cloudevents+json"),
       "id"},
      {"batch", Post("[]", "application/cloudevents-batch+json"), "batch"},
  };
  for (const auto& c : cases) {
    auto inv = DecodeRequest(c.request);
    ASSERT_FALSE(inv.ok()) << c.name;
    EXPECT_EQ(inv.status().code(), common::Code::kInvalidArgument) << c.name;
    EXPECT_NE(inv.status().message().find(c.message_has), std::string::npos)
        << c.name << ": " << inv.status().message();
  }
}

TEST(DecodeRequestTest, BinaryWithoutRequiredAttribute) {
  http::Request r = Post("{}");
  r.headers.Set("ce-specversion", "1.0");
  r.headers.Set("ce-source", "s");
  r.headers.Set("ce-type", "t");
  auto inv = DecodeRequest(r);
  ASSERT_FALSE(inv.ok());
  EXPECT_EQ(inv.status().code(), common::Code::kInvalidArgument);
}

TEST(InvokeTest, ResultIs200Json) {
  http::Response resp =
      Invoke(Post(R"({"context":{"secrets":{"s":{"k":"v"}}},"payload":7})"), Echo, nullptr);
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.headers.GetOr("Content-Type", ""), "application/json");
  json j = json::parse(resp.body);
  EXPECT_EQ(j["payload"], 7);
  EXPECT_EQ(j["secret"], "v");
}

TEST(InvokeTest, CloudEventUsesSecretFallback) {
  SecretFallback fallback;
  fallback.getenv = [](const std::string& n) -> std::optional<std::string> {
    if (n == "SECRET_S_K") return "from-env";
    return std::nullopt;
  };
  http::Request r = Post("5");
  r.headers.Set("ce-specversion", "1.0");
  r.headers.Set("ce-id", "1");
  r.headers.Set("ce-source", "s");
  r.headers.Set("ce-type", "t");
  http::Response resp = Invoke(r, Echo, &fallback);
  ASSERT_EQ(resp.status, 200) << resp.body;
  json j = json::parse(resp.body);
  EXPECT_EQ(j["secret"], "from-env");
  EXPECT_EQ(j["payload"], 5);
  EXPECT_EQ(j["event"]["type"], "t");
}

TEST(InvokeTest, ErrorsHaveTypeAndStatus) {
  struct Case {
    Error error;
    int status;
    const char* type;
  } cases[] = {
      {Error::Input("in"), 400, "InputError"},
      {Error::Function("fn"), 500, "FunctionError"},
      {Error::System("sys"), 502, "SystemError"},
  };
  for (const auto& c : cases) {
    Handler h = [&c](const Context&, const json&) -> Outcome { return c.error; };
    http::Response resp = Invoke(Post(R"({"payload":1})"), h, nullptr);
    EXPECT_EQ(resp.status, c.status);
    json j = json::parse(resp.body);
    EXPECT_EQ(j["type"], c.type);
    EXPECT_EQ(j["message"], c.error.message);
    EXPECT_TRUE(j["stacktrace"].is_array());
  }
}

TEST(InvokeTest, BadJsonIsInputError400) {
  bool called = false;
  Handler h = [&called](const Context&, const json&) -> Outcome {
    called = true;
    return json();
  };
  http::Response resp = Invoke(Post("{oops"), h, nullptr);
  EXPECT_EQ(resp.status, 400);
  EXPECT_EQ(json::parse(resp.body)["type"], "InputError");
  EXPECT_FALSE(called);
}

TEST(InvokeTest, RetryAfterHeaderRoundsUp) {
  Handler h = [](const Context&, const json&) -> Outcome {
    return Error::Retryable("throttled", std::chrono::milliseconds(1200));
  };
  http::Response resp = Invoke(Post(R"({"payload":1})"), h, nullptr);
  EXPECT_EQ(resp.status, 500);
  EXPECT_EQ(resp.headers.GetOr("Retry-After", ""), "2");
  json j = json::parse(resp.body);
  EXPECT_EQ(j["retryable"], true);
  EXPECT_EQ(j["retry_after_ms"], 1200);
}

TEST(InvokeTest, ThrowingHandlerIsSystemError) {
  Handler h = [](const Context&, const json&) -> Outcome { throw std::runtime_error("boom"); };
  http::Response resp = Invoke(Post(R"({"payload":1})"), h, nullptr);
  EXPECT_EQ(resp.status, 502);
  EXPECT_NE(json::parse(resp.body)["message"].get<std::string>().find("boom"), std::string::npos);
}

}  // namespace
}  // namespace function
