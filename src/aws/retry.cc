#include "aws/retry.h"

#include <algorithm>
#include <array>
#include <random>
#include <thread>

namespace aws {

bool IsThrottlingCode(std::string_view code) {
  static constexpr std::array<std::string_view, 14> kCodes = {
      "Throttling",
      "ThrottlingException",
      "ThrottledException",
      "RequestThrottledException",
      "TooManyRequestsException",
      "ProvisionedThroughputExceededException",
      "TransactionInProgressException",
      "RequestLimitExceeded",
      "BandwidthLimitExceeded",
      "LimitExceededException",
      "RequestThrottled",
      "SlowDown",
      "PriorRequestNotComplete",
      "EC2ThrottledException",
  };
  return std::find(kCodes.begin(), kCodes.end(), code) != kCodes.end();
}

bool IsTransientCode(std::string_view code) {
  static constexpr std::array<std::string_view, 5> kCodes = {
      "RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete", "InternalError",
      "ServiceUnavailable"};
  return std::find(kCodes.begin(), kCodes.end(), code) != kCodes.end();
}

RetryPolicy::RetryPolicy(RetryOptions options) : options_(std::move(options)) {
  if (options_.max_attempts < 1) options_.max_attempts = 1;
  if (!options_.random) {
    options_.random = [] {
      thread_local std::mt19937_64 rng{std::random_device{}()};
      return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    };
  }
  if (!options_.sleep) {
    options_.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  }
}

std::chrono::milliseconds RetryPolicy::Backoff(int attempt) const {
  if (attempt < 1) attempt = 1;
  // base * 2^(attempt-1), computed without overflow.
  double ceiling = static_cast<double>(options_.base_delay.count());
  for (int i = 1; i < attempt && ceiling < options_.max_backoff.count(); ++i) ceiling *= 2;
  ceiling = std::min(ceiling, static_cast<double>(options_.max_backoff.count()));
  double r = std::clamp(options_.random(), 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<long long>(r * ceiling));
}

void RetryPolicy::Sleep(std::chrono::milliseconds d) const { options_.sleep(d); }

}  // namespace aws
