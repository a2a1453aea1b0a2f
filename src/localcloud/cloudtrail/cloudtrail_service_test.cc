// CloudTrail's operations in-process, through its JSON 1.1 adapter: trails, selectors, and the
// errors AWS answers for bad selectors and unknown operations.
#include "localcloud/cloudtrail/cloudtrail_service.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "localcloud/eventbridge/events_service.h"

namespace localcloud::cloudtrail {
namespace {

using nlohmann::json;

// No queue receives anything in these tests.
class NoQueues : public QueueDelivery {
 public:
  common::Result<std::string> SendMessageToArn(const std::string&, OutgoingMessage) override {
    return common::NotFound("no queues here");
  }
};

class CloudTrailServiceTest : public ::testing::Test {
 protected:
  ~CloudTrailServiceTest() override { context_.timers().Stop(); }

  // Calls an operation with the short target form (AWS SDK for JavaScript v3).
  std::pair<int, json> Call(const std::string& operation, const std::string& body) {
    localcloud::Call call;
    call.route.target = "CloudTrail_20131101." + operation;
    call.request.body = body;
    call.request_id = "rid";
    http::Response out;
    service_.Handle(std::move(call), [&](http::Response r) { out = std::move(r); });
    return {out.status, json::parse(out.body, nullptr, false)};
  }

  CloudContext context_{CloudConfig{}, common::SystemClock::Instance()};
  NoQueues queues_;
  eventbridge::EventsService bus_{context_, queues_};
  CloudTrailService service_{context_, bus_};
};

TEST_F(CloudTrailServiceTest, TrailsAndSelectors) {
  auto created = Call("CreateTrail", R"({"Name":"trail1","S3BucketName":"logs"})");
  ASSERT_EQ(created.first, 200) << created.second;
  EXPECT_EQ(created.second["TrailARN"], "arn:aws:cloudtrail:us-west-2:000000000000:trail/trail1");
  EXPECT_EQ(Call("CreateTrail", R"({"Name":"trail1","S3BucketName":"logs"})").second["__type"],
            "TrailAlreadyExistsException");
  auto put = Call("PutEventSelectors",
                  R"({"TrailName":"trail1","EventSelectors":[{"ReadWriteType":"WriteOnly",
                      "DataResources":[{"Type":"AWS::S3::Object","Values":["arn:aws:s3"]}]}]})");
  ASSERT_EQ(put.first, 200) << put.second;
  EXPECT_EQ(put.second["EventSelectors"][0]["IncludeManagementEvents"], true);  // default added
  EXPECT_EQ(Call("StartLogging", R"({"Name":"trail1"})").first, 200);
  EXPECT_EQ(Call("GetTrailStatus", R"({"Name":"trail1"})").second["IsLogging"], true);
  auto listed = Call("ListTrails", "{}");
  ASSERT_EQ(listed.second["Trails"].size(), 1u);
  EXPECT_EQ(listed.second["Trails"][0]["Name"], "trail1");
  EXPECT_EQ(Call("DeleteTrail", R"({"Name":"trail1"})").first, 200);
  EXPECT_EQ(Call("GetTrail", R"({"Name":"trail1"})").second["__type"], "TrailNotFoundException");
}

TEST_F(CloudTrailServiceTest, BadSelectorsAndUnknownOperationsAreErrorsNotCrashes) {
  ASSERT_EQ(Call("CreateTrail", R"({"Name":"trail2","S3BucketName":"logs"})").first, 200);
  for (const char* selectors : {R"([1])", R"(["x"])", R"([{"ReadWriteType":"Sometimes"}])",
                                R"([{"DataResources":[{"Type":"AWS::EC2::Instance"}]}])"}) {
    auto r = Call("PutEventSelectors",
                  std::string(R"({"TrailName":"trail2","EventSelectors":)") + selectors + "}");
    EXPECT_EQ(r.first, 400) << selectors;
    EXPECT_EQ(r.second["__type"], "InvalidEventSelectorsException") << selectors;
  }
  auto unknown = Call("LookupEvents", "{}");
  EXPECT_EQ(unknown.first, 400);
  EXPECT_EQ(unknown.second["__type"], "UnknownOperationException");
  auto malformed = Call("GetTrail", "[]");
  EXPECT_EQ(malformed.first, 400);
  EXPECT_EQ(malformed.second["__type"], "SerializationException");
}

}  // namespace
}  // namespace localcloud::cloudtrail
