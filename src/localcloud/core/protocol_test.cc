// The protocol adapters on their own: routing by target and Action, the errors they answer
// themselves (bad target, malformed body, unknown operation) in each protocol's shape, and
// rendering, checked against what botocore's parsers read from the bytes.
#include "localcloud/core/protocol.h"

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/subprocess.h"
#include "localcloud/core/json_protocol.h"
#include "localcloud/core/query_protocol.h"

namespace localcloud {
namespace {

using nlohmann::json;

// EventBridge's shape: JSON 1.1, no type prefix, default unknown-operation error.
JsonProtocolOptions EventsLike() { return JsonProtocolOptions("events", "1.1", {"AWSEvents."}); }

std::string SqsQueryCode(std::string_view code) {
  if (code == "QueueDoesNotExist") return "AWS.SimpleQueueService.NonExistentQueue";
  return std::string(code);
}

// SQS's shape: JSON 1.0, "com.amazonaws.sqs#" types, the legacy query code in a header.
JsonProtocolOptions SqsLike() {
  JsonProtocolOptions o("sqs", "1.0", {"AmazonSQS."});
  o.error_type_prefix = "com.amazonaws.sqs#";
  o.query_error_code = SqsQueryCode;
  o.unknown_operation = [](std::string_view op) {
    return ServiceError("sqs", "InvalidAction",
                        "The action " + std::string(op) + " is not valid for this endpoint.");
  };
  return o;
}

QueryProtocolOptions StsLike() {
  return QueryProtocolOptions("sts", "https://sts.amazonaws.com/doc/2011-06-15/");
}

Call JsonCall(std::string target, std::string body) {
  Call call;
  call.route.target = std::move(target);
  call.request.method = "POST";
  call.request.body = std::move(body);
  call.request_id = "req-1";
  return call;
}

Call QueryCall(std::string target, std::string body) {
  Call call;
  call.request.method = "POST";
  call.request.target = std::move(target);
  call.request.headers.Add("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
  call.request.body = std::move(body);
  call.request_id = "req-2";
  return call;
}

// Serves `call` and returns the response, which the tests' operations give at once.
http::Response Serve(const ProtocolAdapter& adapter, const OperationTable& table, Call call) {
  std::optional<http::Response> out;
  adapter.Serve(table, std::move(call), [&](http::Response r) { out = std::move(r); });
  EXPECT_TRUE(out.has_value()) << "no response";
  return out.value_or(http::Response{});
}

// A table whose operations count their runs: Echo returns its input, Fail an error.
struct CountingTable {
  CountingTable() {
    table.Add("Echo", [this](const json& in, const Call&) -> OperationResult {
      ++runs;
      return in;
    });
    table.Add("Fail", [this](const json&, const Call&) -> OperationResult {
      ++runs;
      return ServiceError("sqs", "QueueDoesNotExist", "The specified queue does not exist.");
    });
  }
  OperationTable table;
  int runs = 0;
};

// What botocore's parser reads from `response` as an answer to service/operation; nullopt
// (the caller skips) when python3 or botocore is not installed.
std::optional<json> Botocore(const http::Response& response, const std::string& service,
                             const std::string& operation, const std::string& protocol = "") {
  json headers = json::object();
  for (const auto& [name, value] : response.headers.entries()) headers[name] = value;
  json spec = {{"service", service}, {"operation", operation}, {"status", response.status},
               {"headers", headers}, {"body", response.body},  {"protocol", protocol}};
  common::SpawnOptions options;
  options.argv = {"/usr/bin/python3",
                  std::string(DAT_SOURCE_DIR) + "/src/localcloud/core/testdata/botocore_parse.py"};
  auto run = common::RunCommand(options, std::chrono::seconds(30), spec.dump());
  if (!run.ok() || run->exit_code == 3 || run->exit_code == 127) return std::nullopt;
  EXPECT_EQ(run->exit_code, 0) << run->err;
  json parsed = json::parse(run->out, nullptr, false);
  EXPECT_TRUE(parsed.is_object()) << run->out << run->err;
  return parsed;
}

TEST(JsonProtocolTest, TakesOnlyItsOwnTargets) {
  JsonProtocol cloudtrail(JsonProtocolOptions(
      "cloudtrail", "1.1",
      {"com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.", "CloudTrail_20131101."}));
  EXPECT_EQ(cloudtrail.OperationOf("CloudTrail_20131101.GetTrail"), "GetTrail");
  EXPECT_EQ(
      cloudtrail.OperationOf("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.GetTrail"),
      "GetTrail");
  EXPECT_EQ(cloudtrail.OperationOf("CloudTrail_20131101."), "");  // nothing after the prefix
  EXPECT_EQ(cloudtrail.OperationOf("AWSEvents.PutRule"), "");
  RouteInfo route;
  route.target = "AmazonSQS.SendMessage";
  EXPECT_FALSE(cloudtrail.Accepts(route));
  EXPECT_TRUE(JsonProtocol(SqsLike()).Accepts(route));
  route.target = "Amazonsqs.SendMessage";  // prefixes are case-sensitive, as AWS's
  EXPECT_FALSE(JsonProtocol(SqsLike()).Accepts(route));
  // A bare prefix is the service's request for an unknown (empty) operation.
  route.target = "AWSEvents.";
  EXPECT_TRUE(JsonProtocol(EventsLike()).Accepts(route));
  CountingTable t;
  http::Response r = Serve(JsonProtocol(EventsLike()), t.table, JsonCall("AWSEvents.", "{}"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["__type"], "UnknownOperationException");
}

TEST(JsonProtocolTest, MalformedBodiesAreSerializationExceptionsAndRunNothing) {
  JsonProtocol protocol(EventsLike());
  CountingTable t;
  std::string deep = std::string(200, '[') + std::string(200, ']');
  struct Case {
    std::string body;
    std::string message;
  } cases[] = {
      {"{\"a\":", "Request body is not valid JSON"},
      {"{\"a\":\"\xff\"}", "Request body is not valid JSON"},  // invalid UTF-8
      {deep, "Request body is not valid: JSON nested deeper than 128 levels"},
      {"[1]", "Request body is not a JSON object"},
      {"\"text\"", "Request body is not a JSON object"},
  };
  for (const Case& c : cases) {
    http::Response r = Serve(protocol, t.table, JsonCall("AWSEvents.Echo", c.body));
    EXPECT_EQ(r.status, 400) << c.body;
    EXPECT_EQ(r.headers.GetOr("content-type", ""), "application/x-amz-json-1.1");
    EXPECT_EQ(r.headers.GetOr("x-amzn-RequestId", ""), "req-1");
    json body = json::parse(r.body);
    EXPECT_EQ(body["__type"], "SerializationException") << c.body;
    EXPECT_EQ(body["message"], c.message);
  }
  EXPECT_EQ(t.runs, 0);
  // An empty body is an empty input, as AWS takes it.
  http::Response empty = Serve(protocol, t.table, JsonCall("AWSEvents.Echo", ""));
  EXPECT_EQ(empty.status, 200);
  EXPECT_EQ(empty.body, "{}");
}

TEST(JsonProtocolTest, UnknownOperationIsTheServicesError) {
  CountingTable t;
  http::Response events =
      Serve(JsonProtocol(EventsLike()), t.table, JsonCall("AWSEvents.Nope", "{}"));
  EXPECT_EQ(events.status, 400);
  EXPECT_EQ(json::parse(events.body),
            json({{"__type", "UnknownOperationException"},
                  {"message", "localcloud events does not implement Nope"}}));
  EXPECT_EQ(events.headers.GetOr("x-amzn-ErrorType", ""), "UnknownOperationException");

  http::Response sqs = Serve(JsonProtocol(SqsLike()), t.table, JsonCall("AmazonSQS.Nope", "{}"));
  EXPECT_EQ(sqs.status, 400);
  EXPECT_EQ(sqs.headers.GetOr("content-type", ""), "application/x-amz-json-1.0");
  EXPECT_EQ(json::parse(sqs.body)["__type"], "com.amazonaws.sqs#InvalidAction");
  EXPECT_EQ(sqs.headers.GetOr("x-amzn-query-error", ""), "InvalidAction;Sender");
  EXPECT_EQ(t.runs, 0);
}

TEST(JsonProtocolTest, RendersResultsAndOperationErrors) {
  JsonProtocol protocol(SqsLike());
  CountingTable t;
  http::Response ok = Serve(protocol, t.table, JsonCall("AmazonSQS.Echo", R"({"QueueUrl":"u"})"));
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.headers.GetOr("content-type", ""), "application/x-amz-json-1.0");
  EXPECT_EQ(ok.headers.GetOr("x-amzn-RequestId", ""), "req-1");
  EXPECT_EQ(json::parse(ok.body), json({{"QueueUrl", "u"}}));

  http::Response failed = Serve(protocol, t.table, JsonCall("AmazonSQS.Fail", "{}"));
  EXPECT_EQ(failed.status, 400);
  EXPECT_EQ(json::parse(failed.body)["__type"], "com.amazonaws.sqs#QueueDoesNotExist");
  EXPECT_EQ(failed.headers.GetOr("x-amzn-query-error", ""),
            "AWS.SimpleQueueService.NonExistentQueue;Sender");
  EXPECT_EQ(failed.headers.GetOr("x-amzn-RequestId", ""), "req-1");
}

TEST(JsonProtocolTest, AsyncOperationAnswersLater) {
  JsonProtocol protocol(EventsLike());
  OperationTable table;
  Reply kept;
  table.AddAsync("Wait", [&](const json&, const Call&, Reply reply) { kept = std::move(reply); });
  std::optional<http::Response> out;
  protocol.Serve(table, JsonCall("AWSEvents.Wait", "{}"), [&](http::Response r) { out = r; });
  EXPECT_FALSE(out.has_value());
  ASSERT_TRUE(kept);
  kept(json{{"Done", true}});
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->status, 200);
  EXPECT_EQ(out->headers.GetOr("x-amzn-RequestId", ""), "req-1");
  EXPECT_EQ(json::parse(out->body), json({{"Done", true}}));
}

TEST(OperationTableTest, GuardAllAnswersBeforeTheOperation) {
  CountingTable t;
  t.table.GuardAll([](const json& in, const Call&) -> std::optional<aws::AwsError> {
    if (in.contains("Foreign")) return ServiceError("sqs", "AccessDenied", "denied", 403);
    return std::nullopt;
  });
  JsonProtocol protocol(SqsLike());
  EXPECT_EQ(Serve(protocol, t.table, JsonCall("AmazonSQS.Echo", R"({"Foreign":1})")).status, 403);
  EXPECT_EQ(t.runs, 0);
  EXPECT_EQ(Serve(protocol, t.table, JsonCall("AmazonSQS.Echo", "{}")).status, 200);
  EXPECT_EQ(t.runs, 1);
}

TEST(QueryProtocolTest, ActionAndParametersFromQueryStringAndFormBody) {
  QueryProtocol protocol(StsLike());
  CountingTable t;
  // The body overrides the query string; indexed members become JSON shapes.
  http::Response r =
      Serve(protocol, t.table,
            QueryCall("/?Action=Nope&Name=a", "Action=Echo&Name=b&Tag.1.Key=k&Tag.1.Value=v"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers.GetOr("content-type", ""), "text/xml");
  EXPECT_EQ(r.headers.GetOr("x-amzn-RequestId", ""), "req-2");
  EXPECT_NE(
      r.body.find("<EchoResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><EchoResult>"),
      std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("<Name>b</Name>"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("<Tag><Key>k</Key><Value>v</Value></Tag>"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("<RequestId>req-2</RequestId>"), std::string::npos) << r.body;
  EXPECT_EQ(t.runs, 1);
}

TEST(QueryProtocolTest, UnknownOrMissingActionIsInvalidAction) {
  QueryProtocol protocol(StsLike());
  CountingTable t;
  for (const char* body : {"Action=Nope&Version=2011-06-15", "Version=2011-06-15", "%zz=&&="}) {
    http::Response r = Serve(protocol, t.table, QueryCall("/", body));
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(r.headers.GetOr("content-type", ""), "text/xml");
    EXPECT_NE(r.body.find("<Code>InvalidAction</Code>"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("<RequestId>req-2</RequestId>"), std::string::npos) << r.body;
  }
  EXPECT_EQ(t.runs, 0);
}

TEST(QueryProtocolTest, ErrorsCarryTheQueryCode) {
  QueryProtocolOptions options("sqs", "http://queue.amazonaws.com/doc/2012-11-05/");
  options.query_error_code = SqsQueryCode;
  QueryProtocol protocol(options);
  CountingTable t;
  http::Response r = Serve(protocol, t.table, QueryCall("/", "Action=Fail"));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("<Type>Sender</Type><Code>AWS.SimpleQueueService.NonExistentQueue</Code>"),
            std::string::npos)
      << r.body;
}

TEST(JsonOrQueryProtocolTest, PicksTheProtocolOfTheRequest) {
  JsonOrQueryProtocol protocol(SqsLike(), QueryProtocolOptions("sqs", "ns"));
  CountingTable t;
  EXPECT_EQ(
      Serve(protocol, t.table, JsonCall("AmazonSQS.Echo", "{}")).headers.GetOr("content-type", ""),
      "application/x-amz-json-1.0");
  EXPECT_EQ(
      Serve(protocol, t.table, QueryCall("/", "Action=Echo")).headers.GetOr("content-type", ""),
      "text/xml");
  aws::AwsError denied = ServiceError("sqs", "AccessDenied", "no", 403);
  EXPECT_EQ(protocol.RenderError(JsonCall("AmazonSQS.Echo", ""), denied)
                .headers.GetOr("content-type", ""),
            "application/x-amz-json-1.0");
  http::Response xml = protocol.RenderError(QueryCall("/", ""), denied);
  EXPECT_EQ(xml.status, 403);
  EXPECT_NE(xml.body.find("<Code>AccessDenied</Code>"), std::string::npos);
}

// What SDKs read from the adapters' bytes, by botocore's own parsers and service models.
TEST(ProtocolBotocoreTest, SdkReadsErrorsAndResults) {
  CountingTable t;
  // JSON 1.1 unknown operation (EventBridge).
  http::Response unknown =
      Serve(JsonProtocol(EventsLike()), t.table, JsonCall("AWSEvents.Nope", "{}"));
  auto parsed = Botocore(unknown, "events", "ListRules");
  if (!parsed) GTEST_SKIP() << "python3 with botocore is not installed";
  EXPECT_EQ((*parsed)["Error"]["Code"], "UnknownOperationException") << *parsed;
  EXPECT_EQ((*parsed)["Error"]["Message"], "localcloud events does not implement Nope");

  // JSON malformed body.
  http::Response malformed =
      Serve(JsonProtocol(EventsLike()), t.table, JsonCall("AWSEvents.Echo", "{"));
  EXPECT_EQ((*Botocore(malformed, "events", "ListRules"))["Error"]["Code"],
            "SerializationException");

  // JSON 1.0 SQS error: botocore reads the legacy code from x-amzn-query-error.
  http::Response sqs = Serve(JsonProtocol(SqsLike()), t.table, JsonCall("AmazonSQS.Fail", "{}"));
  json sqs_error = *Botocore(sqs, "sqs", "GetQueueUrl", "json");
  EXPECT_EQ(sqs_error["Error"]["Code"], "AWS.SimpleQueueService.NonExistentQueue") << sqs_error;
  EXPECT_EQ(sqs_error["Error"]["Message"], "The specified queue does not exist.");

  // Query protocol: an unknown Action, then a result in the operation's output shape.
  QueryProtocol sts(StsLike());
  http::Response invalid = Serve(sts, t.table, QueryCall("/", "Action=Nope"));
  json query_error = *Botocore(invalid, "sts", "GetCallerIdentity", "query");
  EXPECT_EQ(query_error["Error"]["Code"], "InvalidAction") << query_error;
  OperationTable identity;
  identity.Add("GetCallerIdentity", [](const json&, const Call&) -> OperationResult {
    return json{{"Arn", "arn:aws:iam::000000000000:root"},
                {"UserId", "000000000000"},
                {"Account", "000000000000"}};
  });
  http::Response ok = Serve(sts, identity, QueryCall("/", "Action=GetCallerIdentity"));
  json result = *Botocore(ok, "sts", "GetCallerIdentity", "query");
  EXPECT_EQ(result["Account"], "000000000000") << result;
  EXPECT_EQ(result["Arn"], "arn:aws:iam::000000000000:root");
  EXPECT_EQ(result["ResponseMetadata"]["RequestId"], "req-2");
}

}  // namespace
}  // namespace localcloud
