#include "cloudevents/http_binding.h"

#include <gtest/gtest.h>

#include "cloudevents/dispatch_format.h"
#include "cloudevents/json_format.h"

namespace cloudevents {
namespace {

using nlohmann::json;

CloudEvent Sample() {
  CloudEvent e;
  e.id = "1234-1234-1234";
  e.source = "/mycontext/subcontext";
  e.type = "com.example.someevent";
  e.time = "2018-04-05T03:56:24Z";
  e.subject = "my photo €.jpg";
  e.extensions["comexampleextension1"] = "value";
  e.datacontenttype = "application/json; charset=utf-8";
  e.data = json{{"appinfoA", "abc"}, {"appinfoB", 123}};
  return e;
}

TEST(HttpBindingTest, BinaryModeHeadersAndBody) {
  http::Request request;
  request.method = "POST";
  request.headers.Add("ce-stale", "old");  // replaced, not kept
  request.headers.Add("Authorization", "kept");
  ASSERT_TRUE(WriteHttp(Sample(), HttpMode::kBinary, &request).ok());
  const auto& h = request.headers;
  EXPECT_EQ(h.Get("ce-specversion"), "1.0");
  EXPECT_EQ(h.Get("ce-id"), "1234-1234-1234");
  EXPECT_EQ(h.Get("ce-source"), "/mycontext/subcontext");
  EXPECT_EQ(h.Get("ce-type"), "com.example.someevent");
  EXPECT_EQ(h.Get("ce-time"), "2018-04-05T03:56:24Z");
  EXPECT_EQ(h.Get("ce-subject"), "my%20photo%20%E2%82%AC.jpg");
  EXPECT_EQ(h.Get("ce-comexampleextension1"), "value");
  EXPECT_EQ(h.Get("Content-Type"), "application/json; charset=utf-8");
  EXPECT_FALSE(h.Has("ce-datacontenttype"));
  EXPECT_FALSE(h.Has("ce-stale"));
  EXPECT_EQ(h.Get("Authorization"), "kept");
  EXPECT_EQ(json::parse(request.body), (json{{"appinfoA", "abc"}, {"appinfoB", 123}}));
}

TEST(HttpBindingTest, RoundTripEveryMode) {
  CloudEvent binary_data = Sample();
  binary_data.data.reset();
  binary_data.datacontenttype = "application/octet-stream";
  binary_data.binary_data = std::string("\x00\x01\xfe\xff", 4);
  CloudEvent xml = Sample();
  xml.datacontenttype = "application/xml";
  xml.data = "<much wow=\"xml\"/>";
  CloudEvent no_data = Sample();
  no_data.data.reset();
  no_data.datacontenttype.reset();

  for (const CloudEvent& original : {Sample(), binary_data, xml, no_data}) {
    for (HttpMode mode : {HttpMode::kBinary, HttpMode::kStructured}) {
      http::Request request;
      ASSERT_TRUE(WriteHttp(original, mode, &request).ok());
      auto events = ReadHttp(request);
      ASSERT_TRUE(events.ok()) << events.status().ToString();
      ASSERT_EQ(events->size(), 1u);
      EXPECT_EQ(events->front(), original)
          << "mode " << static_cast<int>(mode) << " body " << request.body;
    }
  }
}

TEST(HttpBindingTest, StructuredModeContentType) {
  http::Request request;
  ASSERT_TRUE(WriteHttp(Sample(), HttpMode::kStructured, &request).ok());
  EXPECT_EQ(request.headers.Get("Content-Type"), "application/cloudevents+json; charset=utf-8");
  EXPECT_FALSE(request.headers.Has("ce-id"));
  auto j = json::parse(request.body);
  EXPECT_EQ(j["subject"], "my photo €.jpg");
  EXPECT_EQ(j["data"]["appinfoB"], 123);
}

TEST(HttpBindingTest, BatchMode) {
  CloudEvent second = Sample();
  second.id = "second";
  http::Request request;
  ASSERT_TRUE(WriteHttpBatch({Sample(), second}, &request).ok());
  EXPECT_EQ(request.headers.Get("Content-Type"),
            "application/cloudevents-batch+json; charset=utf-8");
  auto events = ReadHttp(request);
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0], Sample());
  EXPECT_EQ((*events)[1].id, "second");

  http::Request empty;
  ASSERT_TRUE(WriteHttpBatch({}, &empty).ok());
  auto none = ReadHttp(empty);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(HttpBindingTest, SpecBinaryExampleWithLegacyQuotedValueAndLowerCaseHex) {
  http::Headers h;
  h.Add("CE-SpecVersion", "1.0");
  h.Add("ce-type", "com.example.someevent");
  h.Add("ce-time", "2018-04-05T03:56:24Z");
  h.Add("ce-id", "1234-1234-1234");
  h.Add("ce-source", "/mycontext/subcontext");
  h.Add("ce-subject", "\"Euro%20%e2%82%ac \\\"q\\\"\"");
  h.Add("ce-comexampleothervalue", "5");
  h.Add("Content-Type", "application/json; charset=utf-8");
  auto event = ReadHttpBinary(h, R"({"a":1})");
  ASSERT_TRUE(event.ok()) << event.status().ToString();
  EXPECT_EQ(event->specversion, "1.0");
  EXPECT_EQ(event->subject, "Euro € \"q\"");
  EXPECT_EQ(event->extensions.at("comexampleothervalue"), "5");
  EXPECT_EQ(event->datacontenttype, "application/json; charset=utf-8");
  EXPECT_EQ((*event->data)["a"], 1);
}

// What the npm cloudevents SDK (v10) sends for `data: "just a string"` in binary mode: a JSON
// Content-Type over an unquoted body. Read as the string it means; other bytes stay bytes.
TEST(HttpBindingTest, UnquotedStringUnderJsonContentTypeIsKept) {
  http::Headers h;
  h.Add("ce-specversion", "1.0");
  h.Add("ce-id", "1");
  h.Add("ce-source", "s");
  h.Add("ce-type", "t");
  h.Add("content-type", "application/json; charset=utf-8");
  auto event = ReadHttpBinary(h, "just a string");
  ASSERT_TRUE(event.ok()) << event.status().ToString();
  EXPECT_EQ(*event->data, json("just a string"));
  auto bytes = ReadHttpBinary(h, std::string("\xff\xfe", 2));
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes->binary_data, std::string("\xff\xfe", 2));
}

TEST(HttpBindingTest, PercentEncodingMatchesSpecExample) {
  EXPECT_EQ(PercentEncodeHeaderValue("Euro \xE2\x82\xAC \xF0\x9F\x98\x80"),
            "Euro%20%E2%82%AC%20%F0%9F%98%80");
  EXPECT_EQ(PercentEncodeHeaderValue("100% \"sure\""), "100%25%20%22sure%22");
  EXPECT_EQ(*DecodeHeaderValue("Euro%20%E2%82%AC%20%F0%9F%98%80"),
            "Euro \xE2\x82\xAC \xF0\x9F\x98\x80");
  EXPECT_EQ(*DecodeHeaderValue("%41bc"), "Abc");   // unnecessary encoding accepted
  EXPECT_FALSE(DecodeHeaderValue("%C0%A0").ok());  // overlong space must be rejected
  EXPECT_FALSE(DecodeHeaderValue("50%").ok());
  EXPECT_FALSE(DecodeHeaderValue("%zz").ok());
}

TEST(HttpBindingTest, ReadsDispatchJsonPostedAsApplicationJson) {
  CloudEvent e;
  e.id = "abc";
  e.type = "aws.s3";
  e.source = "aws";
  e.extensions["sourcetype"] = "aws";
  http::Request request;
  request.headers.Add("Content-Type", "application/json");
  request.body = *EncodeDispatchJson(e);
  auto events = ReadHttp(request);
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ(events->front().type, "aws.s3");
  EXPECT_EQ(events->front().extensions.at("sourcetype"), "aws");
}

TEST(HttpBindingTest, RejectsBadMessages) {
  struct Case {
    const char* what;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    const char* message_part;
  };
  const std::vector<Case> cases = {
      {"nothing", {}, "", "not a CloudEvent"},
      {"plain json", {{"Content-Type", "application/json"}}, R"({"a":1})", "not a CloudEvent"},
      {"plain text", {{"Content-Type", "text/plain"}}, "hello", "not a CloudEvent"},
      {"structured bad json",
       {{"Content-Type", "application/cloudevents+json"}},
       "{",
       "malformed JSON"},
      {"structured missing type",
       {{"Content-Type", "application/cloudevents+json"}},
       R"({"specversion":"1.0","id":"1","source":"s"})",
       "\"type\""},
      {"batch not array",
       {{"Content-Type", "application/cloudevents-batch+json"}},
       "{}",
       "JSON array"},
      {"unknown format",
       {{"Content-Type", "application/cloudevents+avro"}},
       "x",
       "unsupported CloudEvents format"},
      {"binary bad specversion",
       {{"ce-specversion", "0.3"}, {"ce-id", "1"}, {"ce-source", "s"}, {"ce-type", "t"}},
       "",
       "specversion"},
      {"binary missing id",
       {{"ce-specversion", "1.0"}, {"ce-source", "s"}, {"ce-type", "t"}},
       "",
       "\"id\""},
      {"binary missing source",
       {{"ce-specversion", "1.0"}, {"ce-id", "1"}, {"ce-type", "t"}},
       "",
       "\"source\""},
      {"binary bad escape",
       {{"ce-specversion", "1.0"}, {"ce-id", "%G1"}, {"ce-source", "s"}, {"ce-type", "t"}},
       "",
       "percent-encoding"},
      {"binary bad extension name",
       {{"ce-specversion", "1.0"},
        {"ce-id", "1"},
        {"ce-source", "s"},
        {"ce-type", "t"},
        {"ce-my_ext", "x"}},
       "",
       "ce-my_ext"},
      {"binary bad time",
       {{"ce-specversion", "1.0"},
        {"ce-id", "1"},
        {"ce-source", "s"},
        {"ce-type", "t"},
        {"ce-time", "tomorrow"}},
       "",
       "\"time\""},
      {"dispatch json missing eventID",
       {{"Content-Type", "application/json"}},
       R"({"eventType":"aws.s3","source":"aws"})",
       "eventID"},
  };
  for (const auto& c : cases) {
    http::Headers h;
    for (const auto& [n, v] : c.headers) h.Add(n, v);
    auto result = ReadHttp(h, c.body);
    ASSERT_FALSE(result.ok()) << c.what;
    EXPECT_EQ(result.status().code(), common::Code::kInvalidArgument) << c.what;
    EXPECT_NE(result.status().message().find(c.message_part), std::string::npos)
        << c.what << ": " << result.status().message();
  }
}

TEST(HttpBindingTest, WriteRejectsInvalidEventAndLeavesMessageAlone) {
  CloudEvent e = Sample();
  e.extensions["Bad-Name"] = "x";
  http::Request request;
  request.body = "untouched";
  for (HttpMode mode : {HttpMode::kBinary, HttpMode::kStructured}) {
    EXPECT_FALSE(WriteHttp(e, mode, &request).ok());
    EXPECT_EQ(request.body, "untouched");
    EXPECT_TRUE(request.headers.empty());
  }
}

}  // namespace
}  // namespace cloudevents
