// The standard retry mode: which errors retry, how long it waits, how often it tries.
#include "aws/retry.h"

#include <gtest/gtest.h>

#include <vector>

namespace aws {
namespace {

AwsError HttpError(int status, std::string code) {
  AwsError e;
  e.service = "sqs";
  e.http_status = status;
  e.code = std::move(code);
  return e;
}

TEST(RetryClassification, WhatRetries) {
  for (const char* code :
       {"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
        "TooManyRequestsException", "ProvisionedThroughputExceededException",
        "TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
        "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
        "EC2ThrottledException"}) {
    EXPECT_TRUE(HttpError(400, code).IsThrottling()) << code;
    EXPECT_TRUE(HttpError(400, code).IsRetryable()) << code;
  }
  EXPECT_TRUE(HttpError(400, "RequestTimeout").IsRetryable());
  EXPECT_TRUE(HttpError(408, "RequestTimeoutException").IsRetryable());
  for (int status : {500, 502, 503, 504}) {
    EXPECT_TRUE(HttpError(status, "Whatever").IsRetryable()) << status;
  }
  EXPECT_TRUE(HttpError(429, "").IsRetryable());
  for (int status : {400, 403, 404, 409, 413}) {
    EXPECT_FALSE(HttpError(status, "ValidationError").IsRetryable()) << status;
  }
  EXPECT_FALSE(HttpError(403, "SignatureDoesNotMatch").IsRetryable());
  EXPECT_FALSE(HttpError(501, "NotImplemented").IsRetryable());
  EXPECT_TRUE(AwsError::FromTransport("sqs", common::Unavailable("refused")).IsRetryable());
  EXPECT_TRUE(AwsError::FromTransport("sqs", common::DeadlineExceeded("timeout")).IsRetryable());
  EXPECT_FALSE(AwsError::FromTransport("sqs", common::InvalidArgument("bad url")).IsRetryable());
  EXPECT_FALSE(AwsError::Local("sqs", common::Code::kInternal, "bad xml").IsRetryable());
}

TEST(RetryBackoff, FullJitterWithinBounds) {
  double r = 0.999999;
  RetryOptions o;
  o.random = [&r] { return r; };
  RetryPolicy policy(o);
  // Upper bounds: 100, 200, 400, … capped at 20 s.
  EXPECT_EQ(policy.Backoff(1).count(), 99);
  EXPECT_EQ(policy.Backoff(2).count(), 199);
  EXPECT_EQ(policy.Backoff(3).count(), 399);
  EXPECT_EQ(policy.Backoff(8).count(), 12799);
  EXPECT_EQ(policy.Backoff(9).count(), 19999);
  EXPECT_EQ(policy.Backoff(60).count(), 19999);
  r = 0.0;
  EXPECT_EQ(policy.Backoff(5).count(), 0);
  r = 0.5;
  EXPECT_EQ(policy.Backoff(2).count(), 100);

  // With the real random source, every delay is within [0, bound).
  RetryPolicy real;
  for (int attempt = 1; attempt < 12; ++attempt) {
    for (int i = 0; i < 50; ++i) {
      auto d = real.Backoff(attempt).count();
      long long bound = std::min<long long>(100LL << (attempt - 1), 20000);
      EXPECT_GE(d, 0);
      EXPECT_LT(d, bound);
    }
  }
}

TEST(RetryRun, StopsAtThreeAttemptsAndSleepsBetween) {
  std::vector<long long> slept;
  RetryOptions o;
  o.random = [] { return 0.5; };
  o.sleep = [&slept](std::chrono::milliseconds d) { slept.push_back(d.count()); };
  RetryPolicy policy(o);
  int calls = 0;
  Outcome<int> out = policy.Run<int>([&](int attempt) -> Outcome<int> {
    EXPECT_EQ(attempt, ++calls);
    return HttpError(503, "ServiceUnavailable");
  });
  EXPECT_FALSE(out.ok());
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(slept, (std::vector<long long>{50, 100}));
}

TEST(RetryRun, NoRetryOnClientErrorAndSucceedsAfterThrottle) {
  RetryOptions o;
  o.sleep = [](std::chrono::milliseconds) {};
  RetryPolicy policy(o);
  int calls = 0;
  auto out = policy.Run<int>([&](int) -> Outcome<int> {
    ++calls;
    return HttpError(400, "InvalidParameterValue");
  });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(out.error().code, "InvalidParameterValue");

  calls = 0;
  auto ok = policy.Run<int>([&](int attempt) -> Outcome<int> {
    ++calls;
    if (attempt == 1) return HttpError(400, "ThrottlingException");
    return 7;
  });
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 7);
  EXPECT_EQ(calls, 2);

  RetryOptions one;
  one.max_attempts = 1;
  one.sleep = [](std::chrono::milliseconds) { FAIL() << "must not sleep"; };
  calls = 0;
  RetryPolicy(one).Run<int>([&](int) -> Outcome<int> {
    ++calls;
    return HttpError(500, "InternalError");
  });
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace aws
