#include "cloudevents/json_format.h"

#include <gtest/gtest.h>

namespace cloudevents {
namespace {

using nlohmann::json;

// The JSON format spec's examples (section 3.2), data abbreviated where the spec elides it.
constexpr const char* kBinaryExample = R"({
    "specversion" : "1.0",
    "type" : "com.example.someevent",
    "source" : "/mycontext",
    "id" : "A234-1234-1234",
    "time" : "2018-04-05T17:31:00Z",
    "comexampleextension1" : "value",
    "comexampleothervalue" : 5,
    "datacontenttype" : "application/vnd.apache.thrift.binary",
    "data_base64" : "AAH/"
})";

constexpr const char* kXmlExample = R"({
    "specversion" : "1.0",
    "type" : "com.example.someevent",
    "source" : "/mycontext",
    "id" : "B234-1234-1234",
    "time" : "2018-04-05T17:31:00Z",
    "comexampleextension1" : "value",
    "comexampleothervalue" : 5,
    "unsetextension": null,
    "datacontenttype" : "application/xml",
    "data" : "<much wow=\"xml\"/>"
})";

constexpr const char* kJsonExample = R"({
    "specversion" : "1.0",
    "type" : "com.example.someevent",
    "source" : "/mycontext",
    "subject": null,
    "id" : "C234-1234-1234",
    "time" : "2018-04-05T17:31:00Z",
    "comexampleextension1" : "value",
    "comexampleothervalue" : 5,
    "datacontenttype" : "application/json",
    "data" : {
        "appinfoA" : "abc",
        "appinfoB" : 123,
        "appinfoC" : true
    }
})";

constexpr const char* kStringExample = R"({
    "specversion" : "1.0",
    "type" : "com.example.someevent",
    "source" : "/mycontext",
    "subject": null,
    "id" : "D234-1234-1234",
    "time" : "2018-04-05T17:31:00Z",
    "comexampleextension1" : "value",
    "comexampleothervalue" : 5,
    "data" : "I'm just a string"
})";

TEST(JsonFormatTest, SpecBinaryExample) {
  auto event = DecodeJson(kBinaryExample);
  ASSERT_TRUE(event.ok()) << event.status().ToString();
  EXPECT_EQ(event->id, "A234-1234-1234");
  EXPECT_EQ(event->source, "/mycontext");
  EXPECT_EQ(event->type, "com.example.someevent");
  EXPECT_EQ(event->time, "2018-04-05T17:31:00Z");
  EXPECT_EQ(event->extensions.at("comexampleextension1"), "value");
  EXPECT_EQ(event->extensions.at("comexampleothervalue"), "5");
  ASSERT_TRUE(event->binary_data.has_value());
  EXPECT_EQ(*event->binary_data, std::string("\x00\x01\xff", 3));
  EXPECT_FALSE(event->data.has_value());
}

TEST(JsonFormatTest, SpecXmlExampleAndNullExtension) {
  auto event = DecodeJson(kXmlExample);
  ASSERT_TRUE(event.ok()) << event.status().ToString();
  EXPECT_EQ(event->datacontenttype, "application/xml");
  EXPECT_EQ(*event->data, json("<much wow=\"xml\"/>"));
  EXPECT_EQ(event->DataBytes(), "<much wow=\"xml\"/>");
  EXPECT_EQ(event->extensions.count("unsetextension"), 0u);
}

TEST(JsonFormatTest, SpecJsonExampleNullSubjectIsAbsent) {
  auto event = DecodeJson(kJsonExample);
  ASSERT_TRUE(event.ok()) << event.status().ToString();
  EXPECT_FALSE(event->subject.has_value());
  EXPECT_EQ((*event->data)["appinfoB"], 123);
  EXPECT_EQ((*event->data)["appinfoC"], true);
}

TEST(JsonFormatTest, SpecStringExampleImpliesJson) {
  auto event = DecodeJson(kStringExample);
  ASSERT_TRUE(event.ok()) << event.status().ToString();
  EXPECT_FALSE(event->datacontenttype.has_value());
  EXPECT_EQ(*event->data, json("I'm just a string"));
  EXPECT_EQ(event->DataBytes(), "\"I'm just a string\"");
}

TEST(JsonFormatTest, RoundTripsEverySpecExample) {
  for (const char* text : {kBinaryExample, kXmlExample, kJsonExample, kStringExample}) {
    auto first = DecodeJson(text);
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    auto encoded = EncodeJson(*first);
    ASSERT_TRUE(encoded.ok()) << encoded.status().ToString();
    auto second = DecodeJson(*encoded);
    ASSERT_TRUE(second.ok()) << second.status().ToString() << "\n" << *encoded;
    EXPECT_EQ(*first, *second) << *encoded;
  }
}

TEST(JsonFormatTest, EncodeWritesSpecMembers) {
  CloudEvent e;
  e.id = "1";
  e.source = "aws";
  e.type = "aws.s3";
  e.time = "2026-11-27T10:00:00Z";
  e.subject = "photos/cat.jpg";
  e.dataschema = "https://example.com/schema";
  e.datacontenttype = "application/json";
  e.extensions["sourceid"] = "abc";
  e.data = json{{"bucket", "b"}};
  auto encoded = EncodeJson(e);
  ASSERT_TRUE(encoded.ok());
  auto j = json::parse(*encoded);
  EXPECT_EQ(j["specversion"], "1.0");
  EXPECT_EQ(j["id"], "1");
  EXPECT_EQ(j["source"], "aws");
  EXPECT_EQ(j["type"], "aws.s3");
  EXPECT_EQ(j["time"], "2026-11-27T10:00:00Z");
  EXPECT_EQ(j["subject"], "photos/cat.jpg");
  EXPECT_EQ(j["dataschema"], "https://example.com/schema");
  EXPECT_EQ(j["sourceid"], "abc");
  EXPECT_EQ(j["data"]["bucket"], "b");  // embedded, not a string
  EXPECT_FALSE(j.contains("data_base64"));
  EXPECT_EQ(encoded->rfind("{\"specversion\":\"1.0\"", 0), 0u) << *encoded;

  e.data.reset();
  e.binary_data = "hello";
  j = json::parse(*EncodeJson(e));
  EXPECT_EQ(j["data_base64"], "aGVsbG8=");
  EXPECT_FALSE(j.contains("data"));
}

TEST(JsonFormatTest, DataJsonIsWrittenAsItIs) {
  CloudEvent e;
  e.id = "1";
  e.source = "aws";
  e.type = "aws.s3";
  e.extensions["sourceid"] = "abc";
  const std::string text = R"({ "b" : [1, 2.50, "\u00e9"] })";  // spacing and escapes kept
  e.data_json = text;
  auto encoded = EncodeJson(e);
  ASSERT_TRUE(encoded.ok()) << encoded.status().ToString();
  EXPECT_EQ(*encoded, R"({"specversion":"1.0","id":"1","source":"aws","type":"aws.s3",)"
                      R"("sourceid":"abc","data":)" +
                          text + "}");
  EXPECT_EQ(e.DataBytes(), text);
  // The value form parses it: the same event as one carrying the parsed value.
  CloudEvent as_value = e;
  as_value.data_json.reset();
  as_value.data = json::parse(text);
  EXPECT_EQ(json::parse(*encoded), json::parse(*EncodeJson(as_value)));
  EXPECT_EQ(ToJsonValue(e)->dump(), ToJsonValue(as_value)->dump());
  auto batch = EncodeJsonBatch({e, as_value});
  ASSERT_TRUE(batch.ok());
  auto decoded = DecodeJsonBatch(*batch);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ((*decoded)[0], (*decoded)[1]);

  // One form of data only, and only under a JSON content type.
  CloudEvent both = e;
  both.data = json(1);
  EXPECT_FALSE(Validate(both).ok());
  CloudEvent text_type = e;
  text_type.datacontenttype = "text/plain";
  EXPECT_FALSE(EncodeJson(text_type).ok());
  CloudEvent broken = e;
  broken.data_json = "{not json";
  EXPECT_FALSE(ToJsonValue(broken).ok());
}

TEST(JsonFormatTest, ExplicitNullDataIsKeptDistinctFromAbsent) {
  auto event = DecodeJson(R"({"specversion":"1.0","id":"1","source":"s","type":"t","data":null})");
  ASSERT_TRUE(event.ok());
  ASSERT_TRUE(event->data.has_value());
  EXPECT_TRUE(event->data->is_null());
  auto j = json::parse(*EncodeJson(*event));
  EXPECT_TRUE(j.contains("data"));
}

TEST(JsonFormatTest, EncodeRejectsInvalidEvent) {
  CloudEvent e;
  e.source = "s";
  e.type = "t";
  EXPECT_FALSE(EncodeJson(e).ok());
  EXPECT_FALSE(EncodeJsonBatch({e}).ok());
}

TEST(JsonFormatTest, BatchRoundTripAndEmptyBatch) {
  auto events = DecodeJsonBatch(std::string("[") + kBinaryExample + "," + kJsonExample + "]");
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_EQ(events->size(), 2u);
  auto encoded = EncodeJsonBatch(*events);
  ASSERT_TRUE(encoded.ok());
  auto again = DecodeJsonBatch(*encoded);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*events, *again);

  auto empty = DecodeJsonBatch("[]");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  EXPECT_EQ(*EncodeJsonBatch({}), "[]");
}

TEST(JsonFormatTest, RejectsMalformedInput) {
  struct Case {
    const char* what;
    const char* text;
    const char* message_part;
  };
  const Case cases[] = {
      {"empty", "", "malformed JSON"},
      {"truncated", R"({"specversion":"1.0","id":"1")", "malformed JSON"},
      {"garbage", "not json", "malformed JSON"},
      {"array", "[]", "JSON object"},
      {"string", R"("event")", "JSON object"},
      {"no specversion", R"({"id":"1","source":"s","type":"t"})", "specversion"},
      {"specversion 0.3", R"({"specversion":"0.3","id":"1","source":"s","type":"t"})",
       "unsupported specversion"},
      {"numeric specversion", R"({"specversion":1.0,"id":"1","source":"s","type":"t"})",
       "specversion"},
      {"no id", R"({"specversion":"1.0","source":"s","type":"t"})", "\"id\""},
      {"empty id", R"({"specversion":"1.0","id":"","source":"s","type":"t"})", "\"id\""},
      {"numeric id", R"({"specversion":"1.0","id":1,"source":"s","type":"t"})", "\"id\""},
      {"no source", R"({"specversion":"1.0","id":"1","type":"t"})", "\"source\""},
      {"no type", R"({"specversion":"1.0","id":"1","source":"s"})", "\"type\""},
      {"null type", R"({"specversion":"1.0","id":"1","source":"s","type":null})", "\"type\""},
      {"bad time", R"({"specversion":"1.0","id":"1","source":"s","type":"t","time":"noon"})",
       "\"time\""},
      {"numeric subject", R"({"specversion":"1.0","id":"1","source":"s","type":"t","subject":3})",
       "\"subject\""},
      {"object extension",
       R"({"specversion":"1.0","id":"1","source":"s","type":"t","ext":{"a":1}})",
       "extension attribute \"ext\""},
      {"array extension", R"({"specversion":"1.0","id":"1","source":"s","type":"t","ext":[1]})",
       "extension attribute \"ext\""},
      {"float extension", R"({"specversion":"1.0","id":"1","source":"s","type":"t","ext":1.5})",
       "extension attribute \"ext\""},
      {"bad extension name",
       R"({"specversion":"1.0","id":"1","source":"s","type":"t","myExt":"x"})", "myExt"},
      {"data and data_base64",
       R"({"specversion":"1.0","id":"1","source":"s","type":"t","data":1,"data_base64":"AA=="})",
       "mutually exclusive"},
      {"bad base64",
       R"({"specversion":"1.0","id":"1","source":"s","type":"t","data_base64":"!!!"})", "base64"},
      {"numeric base64",
       R"({"specversion":"1.0","id":"1","source":"s","type":"t","data_base64":12})", "base64"},
      {"object data under xml",
       R"({"specversion":"1.0","id":"1","source":"s","type":"t","datacontenttype":"application/xml","data":{}})",
       "must be a string"},
  };
  for (const auto& c : cases) {
    auto result = DecodeJson(c.text);
    ASSERT_FALSE(result.ok()) << c.what;
    EXPECT_EQ(result.status().code(), common::Code::kInvalidArgument) << c.what;
    EXPECT_NE(result.status().message().find(c.message_part), std::string::npos)
        << c.what << ": " << result.status().message();
  }
}

TEST(JsonFormatTest, BatchRejectsNonArrayAndNamesBadMember) {
  EXPECT_FALSE(DecodeJsonBatch(kJsonExample).ok());
  auto bad = DecodeJsonBatch(std::string("[") + kJsonExample + R"(,{"specversion":"1.0"}])");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("event 1"), std::string::npos) << bad.status().message();
}

}  // namespace
}  // namespace cloudevents
