// EventBridge, S3 notifications and CloudTrail end to end: a real localcloud process, driven
// by awscli and boto3 (events_e2e.py beside this file), one localcloud for the whole suite.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>

#include "common/subprocess.h"
#include "localcloud/models/model_checker.h"

namespace {

class EventsE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!common::FindExecutable("aws") || !common::FindExecutable("python3")) return;
    common::SpawnOptions options;
    options.argv = {std::string(DAT_BIN_DIR) + "/localcloud",
                    "--port",
                    "0",
                    "--schedule-minute-ms",
                    "300",
                    "--log-level",
                    "warn"};
    for (const auto& f : localcloud::models::StrictModelsFlags()) options.argv.push_back(f);
    options.stdout_to = "pipe";
    auto process = common::Process::Spawn(options);
    ASSERT_TRUE(process.ok()) << process.status().ToString();
    localcloud_ = new common::Process(std::move(process).value());
    auto endpoint = common::WaitForListening(*localcloud_, std::chrono::seconds(20));
    ASSERT_TRUE(endpoint.ok()) << endpoint.status().ToString();
    endpoint_ = new std::string(*endpoint);
  }
  static void TearDownTestSuite() {
    if (localcloud_) localcloud_->Terminate(std::chrono::seconds(5));
    delete localcloud_;
    delete endpoint_;
    localcloud_ = nullptr;
    endpoint_ = nullptr;
  }

  void Run(const std::string& name) {
    if (!endpoint_) GTEST_SKIP() << "awscli/python3 not installed (scripts/install-deps)";
    common::SpawnOptions options;
    options.argv = {"python3",
                    std::string(DAT_SOURCE_DIR) + "/src/localcloud/eventbridge/e2e/events_e2e.py",
                    name};
    // A clean environment: no profile or config of the person running the tests leaks in.
    options.clear_env = true;
    options.env = {"AWS_ENDPOINT_URL=" + *endpoint_,
                   "AWS_ACCESS_KEY_ID=test",
                   "AWS_SECRET_ACCESS_KEY=test",
                   "AWS_DEFAULT_REGION=us-west-2",
                   "AWS_REGION=us-west-2",
                   "AWS_CONFIG_FILE=/dev/null",
                   "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
                   std::string("DAT_TESTDATA_DIR=") + DAT_TESTDATA_DIR};
    for (const char* name : {"PATH", "HOME", "LANG", "PYENV_ROOT", "PYTHONPATH"}) {
      if (const char* value = std::getenv(name))
        options.env.push_back(std::string(name) + "=" + value);
    }
    auto result = common::RunCommand(options, std::chrono::seconds(90));
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    std::printf("%s", result->out.c_str());
    EXPECT_EQ(result->exit_code, 0) << result->out << result->err;
  }

  static common::Process* localcloud_;
  static std::string* endpoint_;
};

common::Process* EventsE2eTest::localcloud_ = nullptr;
std::string* EventsE2eTest::endpoint_ = nullptr;

TEST_F(EventsE2eTest, PutEventsToSqsWithInputAndInputPath) { Run("put_events"); }
TEST_F(EventsE2eTest, ScheduleRuleFires) { Run("schedule"); }
TEST_F(EventsE2eTest, S3ObjectCreatedThroughPrefixRule) { Run("s3_object_created"); }
TEST_F(EventsE2eTest, S3ObjectDeleted) { Run("s3_object_deleted"); }
TEST_F(EventsE2eTest, CloudTrailDataEvents) { Run("cloudtrail"); }
TEST_F(EventsE2eTest, ClassicNotificationRecords) { Run("classic_notifications"); }
TEST_F(EventsE2eTest, TestEventPatternAgreesWithAws) { Run("test_event_pattern"); }
TEST_F(EventsE2eTest, QueuePolicyDecidesDelivery) { Run("queue_policy_decides_delivery"); }
TEST_F(EventsE2eTest, CloudTrailAnswersTheShortTargetForm) { Run("cloudtrail_short_target"); }

}  // namespace
