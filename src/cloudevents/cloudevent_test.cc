#include "cloudevents/cloudevent.h"

#include <gtest/gtest.h>

namespace cloudevents {
namespace {

CloudEvent Minimal() {
  CloudEvent e;
  e.id = "A234-1234-1234";
  e.source = "/mycontext";
  e.type = "com.example.someevent";
  return e;
}

TEST(CloudEventTest, MinimalEventIsValid) { EXPECT_TRUE(Validate(Minimal()).ok()); }

TEST(CloudEventTest, ValidateRejectsEachBrokenRule) {
  struct Case {
    const char* what;
    void (*mutate)(CloudEvent*);
    const char* message_part;
  };
  const Case cases[] = {
      {"no id", [](CloudEvent* e) { e->id.clear(); }, "\"id\""},
      {"no source", [](CloudEvent* e) { e->source.clear(); }, "\"source\""},
      {"no type", [](CloudEvent* e) { e->type.clear(); }, "\"type\""},
      {"specversion 0.3", [](CloudEvent* e) { e->specversion = "0.3"; }, "specversion"},
      {"bad time", [](CloudEvent* e) { e->time = "yesterday"; }, "\"time\""},
      {"upper-case extension", [](CloudEvent* e) { e->extensions["Foo"] = "x"; }, "Foo"},
      {"underscore extension", [](CloudEvent* e) { e->extensions["a_b"] = "x"; }, "a_b"},
      {"empty extension name", [](CloudEvent* e) { e->extensions[""] = "x"; }, "extension"},
      {"core name as extension", [](CloudEvent* e) { e->extensions["subject"] = "x"; }, "core"},
      {"two payloads",
       [](CloudEvent* e) {
         e->data = nlohmann::json::object();
         e->binary_data = "x";
       },
       "more than one form of data"},
      {"data_json and binary data",
       [](CloudEvent* e) {
         e->data_json = "{}";
         e->binary_data = "x";
       },
       "more than one form of data"},
      {"data_json as text",
       [](CloudEvent* e) {
         e->data_json = "{}";
         e->datacontenttype = "text/plain";
       },
       "non-JSON content type"},
  };
  for (const auto& c : cases) {
    CloudEvent e = Minimal();
    c.mutate(&e);
    auto status = Validate(e);
    EXPECT_FALSE(status.ok()) << c.what;
    EXPECT_EQ(status.code(), common::Code::kInvalidArgument) << c.what;
    EXPECT_NE(status.message().find(c.message_part), std::string::npos)
        << c.what << ": " << status.message();
  }
}

TEST(CloudEventTest, LongExtensionNamesAreOnlyRecommendedAgainst) {
  CloudEvent e = Minimal();
  e.extensions["abcdefghijklmnopqrstuvwxyz"] = "x";
  EXPECT_TRUE(Validate(e).ok());
}

TEST(CloudEventTest, JsonContentTypes) {
  EXPECT_TRUE(IsJsonContentType("application/json"));
  EXPECT_TRUE(IsJsonContentType("Application/JSON; charset=utf-8"));
  EXPECT_TRUE(IsJsonContentType("application/cloudevents+json"));
  EXPECT_TRUE(IsJsonContentType("text/json"));
  EXPECT_FALSE(IsJsonContentType("application/xml"));
  EXPECT_FALSE(IsJsonContentType("application/jsonx"));
  EXPECT_FALSE(IsJsonContentType("json"));
  EXPECT_FALSE(IsJsonContentType(""));
}

TEST(CloudEventTest, DataBytesFollowsContentType) {
  CloudEvent e = Minimal();
  EXPECT_EQ(e.DataBytes(), "");
  e.data = "I'm just a string";
  EXPECT_EQ(e.DataBytes(), "\"I'm just a string\"");  // implied application/json
  e.datacontenttype = "application/xml";
  e.data = "<much wow=\"xml\"/>";
  EXPECT_EQ(e.DataBytes(), "<much wow=\"xml\"/>");
  e.data.reset();
  e.binary_data = std::string("\x00\xff", 2);
  EXPECT_EQ(e.DataBytes(), std::string("\x00\xff", 2));
}

}  // namespace
}  // namespace cloudevents
