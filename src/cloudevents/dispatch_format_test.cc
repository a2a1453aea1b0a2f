#include "cloudevents/dispatch_format.h"

#include <gtest/gtest.h>

#include <vector>

#include "cloudevents/json_format.h"

namespace cloudevents {
namespace {

using nlohmann::json;

constexpr const char* kAwsEvent = R"({"version":"0","id":"17793124-05d4-b198-2fde-7ededc63b103",
  "detail-type":"Object Created","source":"aws.s3","account":"000000000000",
  "time":"2021-11-12T00:00:00Z","region":"us-west-2",
  "resources":["arn:aws:s3:::example-bucket"],
  "detail":{"bucket":{"name":"example-bucket"},"object":{"key":"my photo.jpg","size":5}}})";

CloudEvent DriverEvent() {
  CloudEvent e;
  e.type = "aws.s3";
  e.id = "17793124-05d4-b198-2fde-7ededc63b103";
  e.source = "aws";
  e.time = "2021-11-12T00:00:00Z";
  e.datacontenttype = "application/json";
  e.extensions[std::string(kExtNamespace)] = std::string(kDefaultNamespace);
  e.extensions[std::string(kExtSourceType)] = "aws";
  e.extensions[std::string(kExtSourceId)] = "0b8e4c3e-5b8a-4a3b-9a43-5a1f7d0c2b11";
  e.data = json::parse(kAwsEvent);
  return e;
}

// Deeply nested input is refused before any recursive walk (parse, copy, dump).
TEST(DispatchFormatTest, DeepNestingIsRefusedAtEveryEntryPoint) {
  std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  std::string event01 = R"({"eventType":"t","eventID":"1","source":"s","data":)" + deep + "}";
  auto d = DecodeDispatchJson(event01);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("nested deeper"), std::string::npos) << d.status().message();
  std::string event10 =
      R"({"specversion":"1.0","id":"1","source":"s","type":"t","data":)" + deep + "}";
  EXPECT_FALSE(DecodeJson(event10).ok());
  EXPECT_FALSE(DecodeJsonBatch("[" + event10 + "]").ok());

  CloudEvent e = DriverEvent();
  e.data.reset();
  e.data_json = deep;
  EXPECT_FALSE(ToDispatchJsonValue(e).ok());
  EXPECT_FALSE(ToJsonValue(e).ok());

  // The payload limit holds inside the envelopes: a payload at the limit still passes.
  std::string at_limit =
      std::string(common::kMaxJsonDepth, '[') + std::string(common::kMaxJsonDepth, ']');
  std::string batch =
      "[" + std::string(R"({"specversion":"1.0","id":"1","source":"s","type":"t","data":)") +
      at_limit + "}]";
  EXPECT_TRUE(DecodeJsonBatch(batch).ok());
  e.data_json = at_limit;
  EXPECT_TRUE(ToDispatchJsonValue(e).ok());
}

TEST(DispatchFormatTest, EncodesExactlyTheDispatchShape) {
  auto encoded = EncodeDispatchJson(DriverEvent());
  ASSERT_TRUE(encoded.ok()) << encoded.status().ToString();
  std::string expected_prefix =
      R"({"namespace":"dispatchframework.io/aws-event","eventType":"aws.s3",)"
      R"("eventTypeVersion":"0.1","cloudEventsVersion":"0.1","sourceType":"aws",)"
      R"("sourceID":"0b8e4c3e-5b8a-4a3b-9a43-5a1f7d0c2b11","source":"aws",)"
      R"("eventID":"17793124-05d4-b198-2fde-7ededc63b103","eventTime":"2021-11-12T00:00:00Z",)"
      R"("schemaURL":"","contentType":"application/json","extensions":{},"data":{)";
  EXPECT_EQ(encoded->substr(0, expected_prefix.size()), expected_prefix) << *encoded;
  auto j = json::parse(*encoded);
  EXPECT_EQ(j["data"], json::parse(kAwsEvent));
}

TEST(DispatchFormatTest, DataJsonIsWrittenAsItIs) {
  CloudEvent e = DriverEvent();
  std::string expected = *EncodeDispatchJson(e);
  e.data.reset();
  e.data_json = json::parse(kAwsEvent).dump();
  EXPECT_EQ(*EncodeDispatchJson(e), expected);  // same bytes as from the parsed value
  e.data_json = kAwsEvent;                      // the original text, newlines and all
  auto encoded = EncodeDispatchJson(e);
  ASSERT_TRUE(encoded.ok());
  EXPECT_NE(encoded->find(kAwsEvent), std::string::npos);
  EXPECT_EQ(json::parse(*encoded)["data"], json::parse(kAwsEvent));
  EXPECT_EQ(json::parse((*ToDispatchJsonValue(e))["data"].dump()), json::parse(kAwsEvent));
}

TEST(DispatchFormatTest, RoundTrip) {
  CloudEvent original = DriverEvent();
  original.extensions["region"] = "us-west-2";
  original.subject = "my photo.jpg";
  auto encoded = EncodeDispatchJson(original);
  ASSERT_TRUE(encoded.ok());
  EXPECT_EQ(json::parse(*encoded)["extensions"],
            json({{"subject", "my photo.jpg"}, {"region", "us-west-2"}}));
  auto decoded = DecodeDispatchJson(*encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ASSERT_EQ(decoded->size(), 1u);
  CloudEvent expected = original;
  expected.extensions[std::string(kExtEventTypeVersion)] = "0.1";  // made explicit
  EXPECT_EQ(decoded->front(), expected);
}

TEST(DispatchFormatTest, DecodesAnArray) {
  CloudEvent a = DriverEvent();
  CloudEvent b = DriverEvent();
  b.id = "second";
  std::string text = "[" + *EncodeDispatchJson(a) + "," + *EncodeDispatchJson(b) + "]";
  auto decoded = DecodeDispatchJson(text);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ASSERT_EQ(decoded->size(), 2u);
  EXPECT_EQ((*decoded)[1].id, "second");
  EXPECT_EQ((*decoded)[0].extensions.at("sourcetype"), "aws");
}

TEST(DispatchFormatTest, MinimalEventFallsBackForSource) {
  auto decoded = DecodeDispatchJson(R"({"eventType":"aws.s3","eventID":"1","sourceType":"aws"})");
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->front().source, "aws");
  EXPECT_FALSE(decoded->front().time.has_value());
  EXPECT_FALSE(decoded->front().has_data());
  // The result is a valid 1.0 event and re-encodes as one.
  EXPECT_TRUE(Validate(decoded->front()).ok());
}

TEST(DispatchFormatTest, ScalarExtensionsBecomeStrings) {
  auto decoded = DecodeDispatchJson(
      R"({"eventType":"t","eventID":"1","source":"s","extensions":{"n":5,"b":true,"s":"x"}})");
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->front().extensions.at("n"), "5");
  EXPECT_EQ(decoded->front().extensions.at("b"), "true");
  EXPECT_EQ(decoded->front().extensions.at("s"), "x");
}

TEST(DispatchFormatTest, RejectsMalformedInput) {
  struct Case {
    const char* what;
    const char* text;
    const char* message_part;
  };
  const Case cases[] = {
      {"empty", "", "malformed JSON"},
      {"bad json", R"({"eventType": "aws.s3",)", "malformed JSON"},
      {"number", "42", "JSON object"},
      {"no eventType", R"({"eventID":"1","source":"s"})", "eventType"},
      {"empty eventType", R"({"eventType":"","eventID":"1","source":"s"})", "eventType"},
      {"no eventID", R"({"eventType":"t","source":"s"})", "eventID"},
      {"numeric eventID", R"({"eventType":"t","eventID":7,"source":"s"})", "eventID"},
      {"object eventType", R"({"eventType":{},"eventID":"1","source":"s"})", "eventType"},
      {"numeric namespace", R"({"eventType":"t","eventID":"1","namespace":1})", "namespace"},
      {"bad version", R"({"eventType":"t","eventID":"1","source":"s","cloudEventsVersion":"1.0"})",
       "cloudEventsVersion"},
      {"bad time", R"({"eventType":"t","eventID":"1","source":"s","eventTime":"now"})",
       "eventTime"},
      {"no source at all", R"({"eventType":"t","eventID":"1"})", "source"},
      {"extensions array", R"({"eventType":"t","eventID":"1","source":"s","extensions":[]})",
       "extensions"},
      {"nested extension",
       R"({"eventType":"t","eventID":"1","source":"s","extensions":{"a":{"b":1}}})",
       "extension \"a\""},
      {"bad array member", R"([{"eventType":"t","eventID":"1","source":"s"},{"eventType":"t"}])",
       "event 1"},
  };
  for (const auto& c : cases) {
    auto result = DecodeDispatchJson(c.text);
    ASSERT_FALSE(result.ok()) << c.what;
    EXPECT_EQ(result.status().code(), common::Code::kInvalidArgument) << c.what;
    EXPECT_NE(result.status().message().find(c.message_part), std::string::npos)
        << c.what << ": " << result.status().message();
  }
}

TEST(DispatchFormatTest, EncodeRejectsWhatCannotBeCarried) {
  CloudEvent e = DriverEvent();
  e.id.clear();
  EXPECT_FALSE(EncodeDispatchJson(e).ok());
  e = DriverEvent();
  e.data.reset();
  e.datacontenttype = "application/octet-stream";
  e.binary_data = std::string("\xff\xfe", 2);
  EXPECT_FALSE(EncodeDispatchJson(e).ok());
  e.binary_data = "plain text";
  auto ok = EncodeDispatchJson(e);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(json::parse(*ok)["data"], "plain text");
}

// The dispatch server's stored form: ToDispatchJson renders the same object as
// ToDispatchJsonValue (members sorted, as an nlohmann::json holds them) for every form of data,
// moving the data in, and refuses what ToDispatchJsonValue refuses.
TEST(DispatchFormatTest, ToDispatchJsonIsTheSameObjectAsTheOrderedEncoding) {
  std::vector<CloudEvent> events;
  events.push_back(DriverEvent());
  CloudEvent text = DriverEvent();
  text.data.reset();
  text.data_json = kAwsEvent;
  events.push_back(text);
  CloudEvent bytes = DriverEvent();
  bytes.data.reset();
  bytes.datacontenttype = "text/plain";
  bytes.binary_data = "plain text";
  events.push_back(bytes);
  CloudEvent no_data = DriverEvent();
  no_data.data.reset();
  no_data.subject = "images/a b.jpg";
  events.push_back(no_data);
  for (const CloudEvent& e : events) {
    auto ordered = ToDispatchJsonValue(e);
    ASSERT_TRUE(ordered.ok()) << ordered.status().ToString();
    auto stored = ToDispatchJson(e, Validation::kAlreadyValid);
    ASSERT_TRUE(stored.ok()) << stored.status().ToString();
    EXPECT_EQ(*stored, json(*ordered));
    EXPECT_EQ(stored->dump(), json(*ordered).dump());
  }
  CloudEvent binary = bytes;
  binary.datacontenttype = "application/octet-stream";
  binary.binary_data = std::string("\xff\xfe", 2);
  EXPECT_FALSE(ToDispatchJson(binary).ok());
  CloudEvent no_id = DriverEvent();
  no_id.id.clear();
  EXPECT_FALSE(ToDispatchJson(no_id).ok());
}

// An event checked once (decoded, or passed through Validate) encodes the same without the
// second check.
TEST(DispatchFormatTest, AlreadyValidEventsEncodeTheSame) {
  CloudEvent e = DriverEvent();
  EXPECT_EQ(*EncodeDispatchJson(e, Validation::kAlreadyValid), *EncodeDispatchJson(e));
  e.data.reset();
  e.data_json = kAwsEvent;
  EXPECT_EQ(*EncodeDispatchJson(e, Validation::kAlreadyValid), *EncodeDispatchJson(e));
  EXPECT_EQ(*EncodeJson(e, Validation::kAlreadyValid), *EncodeJson(e));
}

// Decoding from a value the caller gives up gives the same event, with the data moved out.
TEST(DispatchFormatTest, DecodingAnOwnedValueMovesTheDataOut) {
  json object = json::parse(*EncodeDispatchJson(DriverEvent()));
  auto copied = FromDispatchJsonValue(object);
  ASSERT_TRUE(copied.ok());
  auto moved = FromDispatchJsonValue(std::move(object));
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(*moved, *copied);
  EXPECT_EQ(*moved->data, json::parse(kAwsEvent));

  json array = json::array({json::parse(*EncodeDispatchJson(DriverEvent()))});
  auto events = DecodeDispatchJsonValue(std::move(array));
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0], *copied);
  json structured = json::parse(*EncodeJson(DriverEvent()));
  auto copied10 = FromJsonValue(structured);
  ASSERT_TRUE(copied10.ok());
  auto moved10 = FromJsonValue(std::move(structured));
  ASSERT_TRUE(moved10.ok());
  EXPECT_EQ(*moved10, *copied10);
  EXPECT_EQ(*moved10->data, json::parse(kAwsEvent));

  EXPECT_EQ(DriverEvent().ExtensionOr(kExtSourceType), "aws");
  EXPECT_EQ(DriverEvent().ExtensionOr("absent", "x"), "x");
}

}  // namespace
}  // namespace cloudevents
