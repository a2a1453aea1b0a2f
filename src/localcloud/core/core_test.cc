#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "localcloud/core/dispatcher.h"
#include "localcloud/core/s3_observer.h"
#include "localcloud/core/timer_queue.h"

namespace localcloud {
namespace {

using namespace std::chrono_literals;

TEST(TimerQueueTest, RunsInDueOrderAndHonoursCancel) {
  TimerQueue timers;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int> order;
  auto record = [&](int v) {
    return [&, v] {
      std::lock_guard<std::mutex> l(mu);
      order.push_back(v);
      cv.notify_all();
    };
  };
  timers.ScheduleAfter(60ms, record(3));
  timers.ScheduleAfter(20ms, record(1));
  auto cancelled = timers.ScheduleAfter(30ms, record(99));
  timers.ScheduleAfter(40ms, record(2));
  EXPECT_TRUE(timers.Cancel(cancelled));
  EXPECT_FALSE(timers.Cancel(cancelled));
  std::unique_lock<std::mutex> l(mu);
  ASSERT_TRUE(cv.wait_for(l, 5s, [&] { return order.size() == 3; }));
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(TimerQueueTest, StopDropsPendingTimers) {
  std::atomic<bool> ran{false};
  {
    TimerQueue timers;
    timers.ScheduleAfter(10s, [&] { ran = true; });
    timers.Stop();
  }
  EXPECT_FALSE(ran);
}

TEST(RouteInfoTest, ReadsTargetScopeActionAndHost) {
  http::Request r;
  r.method = "POST";
  r.target = "/";
  r.headers.Add("Host", "Bucket.LocalHost:4566");
  r.headers.Add("X-Amz-Target", "AmazonSQS.SendMessage");
  r.headers.Add("Authorization",
                "AWS4-HMAC-SHA256 Credential=test/20260101/us-west-2/sqs/aws4_request, "
                "SignedHeaders=host;x-amz-date, Signature=abc");
  RouteInfo route = ComputeRouteInfo(r);
  EXPECT_EQ(route.target, "AmazonSQS.SendMessage");
  EXPECT_EQ(route.signing_service, "sqs");
  EXPECT_EQ(route.signing_region, "us-west-2");
  EXPECT_EQ(route.host, "bucket.localhost");
  EXPECT_EQ(route.action, "");

  http::Request q;
  q.method = "POST";
  q.target = "/";
  q.headers.Add("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
  q.body = "Action=GetCallerIdentity&Version=2011-06-15";
  EXPECT_EQ(ComputeRouteInfo(q).action, "GetCallerIdentity");

  http::Request presigned;
  presigned.method = "GET";
  presigned.target =
      "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=test%2F20260101%2Fus-east-1%2Fs3"
      "%2Faws4_request&X-Amz-Signature=00";
  EXPECT_EQ(ComputeRouteInfo(presigned).signing_service, "s3");
  EXPECT_EQ(ComputeRouteInfo(presigned).signing_region, "us-east-1");
}

TEST(S3ObserverTest, EventSelectionAndFilters) {
  EXPECT_TRUE(S3EventSelected("s3:ObjectCreated:*", "ObjectCreated:Put"));
  EXPECT_TRUE(S3EventSelected("s3:ObjectCreated:Put", "ObjectCreated:Put"));
  EXPECT_FALSE(S3EventSelected("s3:ObjectCreated:Put", "ObjectCreated:Copy"));
  EXPECT_FALSE(S3EventSelected("s3:ObjectRemoved:*", "ObjectCreated:Put"));
  std::vector<S3FilterRule> rules = {{"Prefix", "images/"}, {"suffix", ".jpg"}};
  EXPECT_TRUE(S3KeyMatchesFilter(rules, "images/a b.jpg"));
  EXPECT_FALSE(S3KeyMatchesFilter(rules, "images/a.png"));
  EXPECT_FALSE(S3KeyMatchesFilter(rules, "docs/a.jpg"));
  EXPECT_TRUE(S3KeyMatchesFilter({}, "anything"));
}

}  // namespace
}  // namespace localcloud
