#include "localcloud/sqs/sqs_protocol.h"

#include <gtest/gtest.h>

#include "localcloud/core/query_protocol.h"

namespace localcloud::sqs {
namespace {

TEST(SqsProtocolTest, Md5OfMessageAttributesFollowsTheDocumentedEncoding) {
  std::map<std::string, MessageAttributeValue> attrs;
  attrs["city"] = {"String", "Any City", ""};
  attrs["n"] = {"Number", "42", ""};
  attrs["bin"] = {"Binary", "", std::string("\x00\x01", 2)};
  // Computed independently (Python, struct.pack('>I') length prefixes, sorted names).
  EXPECT_EQ(Md5OfMessageAttributes(attrs), "a043b8d04ec85feabb386702b79a1121");
  EXPECT_EQ(Md5OfMessageAttributes({}), "");
}

TEST(SqsProtocolTest, QueryParamsBecomeJsonShapes) {
  std::map<std::string, std::string> params = {
      {"Action", "SendMessageBatch"},
      {"QueueUrl", "http://h/000000000000/q"},
      {"SendMessageBatchRequestEntry.2.Id", "b"},
      {"SendMessageBatchRequestEntry.2.MessageBody", "two"},
      {"SendMessageBatchRequestEntry.1.Id", "a"},
      {"SendMessageBatchRequestEntry.1.MessageBody", "one"},
      {"SendMessageBatchRequestEntry.1.MessageAttribute.1.Name", "k"},
      {"SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType", "String"},
      {"SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue", "v"},
      {"Attribute.1.Name", "VisibilityTimeout"},
      {"Attribute.1.Value", "5"},
      {"AttributeName.2", "SentTimestamp"},
      {"AttributeName.1", "All"},
      {"Tag.1.Key", "team"},
      {"Tag.1.Value", "x"},
  };
  nlohmann::json j = QueryParamsToJson(params);
  ASSERT_EQ(j["Entries"].size(), 2u);
  EXPECT_EQ(j["Entries"][0]["Id"], "a");
  EXPECT_EQ(j["Entries"][1]["MessageBody"], "two");
  EXPECT_EQ(j["Entries"][0]["MessageAttributes"]["k"]["StringValue"], "v");
  EXPECT_EQ(j["Attributes"]["VisibilityTimeout"], "5");
  EXPECT_EQ(j["AttributeNames"], nlohmann::json({"All", "SentTimestamp"}));
  EXPECT_EQ(j["Tags"]["team"], "x");
}

TEST(SqsProtocolTest, RendersQueryXml) {
  nlohmann::json result = {
      {"Messages",
       {{{"MessageId", "m1"}, {"Body", "a<b"}, {"Attributes", {{"SentTimestamp", "1"}}}}}}};
  std::string xml = RenderQueryResponse("ReceiveMessage", result, "rid", kQueryNamespace);
  EXPECT_NE(xml.find("<ReceiveMessageResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\">"
                     "<ReceiveMessageResult><Message>"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<Body>a&lt;b</Body>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<Attribute><Name>SentTimestamp</Name><Value>1</Value></Attribute>"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata>"),
            std::string::npos);
  std::string empty = RenderQueryResponse("DeleteMessage", nlohmann::json::object(), "r", "ns");
  EXPECT_NE(empty.find("<DeleteMessageResult></DeleteMessageResult>"), std::string::npos) << empty;
}

}  // namespace
}  // namespace localcloud::sqs
