// The AWS SDKs' "standard" retry mode: at most 3 attempts, exponential backoff with full
// jitter (base 100 ms, cap 20 s), retrying throttling and transient errors, never plain 4xx.
// https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
#pragma once

#include <chrono>
#include <functional>
#include <string_view>

#include "aws/error.h"

namespace aws {

// True for the throttling error codes of the standard mode (Throttling, ThrottlingException,
// SlowDown, RequestLimitExceeded, TooManyRequestsException, …).
bool IsThrottlingCode(std::string_view code);
// True for the transient error codes (RequestTimeout, RequestTimeoutException,
// PriorRequestNotComplete, InternalError, ServiceUnavailable).
bool IsTransientCode(std::string_view code);

struct RetryOptions {
  int max_attempts = 3;  // first try included; 1 disables retries
  std::chrono::milliseconds base_delay{100};
  std::chrono::milliseconds max_backoff{20'000};
  // Uniform random number in [0, 1); default a thread-local PRNG. Tests inject their own.
  std::function<double()> random;
  // Sleeps between attempts; default std::this_thread::sleep_for. Tests inject their own.
  std::function<void(std::chrono::milliseconds)> sleep;
};

// Decides and waits between attempts. Thread-safe if the injected functions are.
class RetryPolicy {
 public:
  explicit RetryPolicy(RetryOptions options = RetryOptions());

  // Whether the error may be retried at all (AwsError::IsRetryable).
  bool ShouldRetry(const AwsError& error) const { return error.IsRetryable(); }
  // Delay before attempt number `attempt + 1`, after `attempt` (1-based) failed:
  // random * min(base * 2^(attempt-1), max_backoff).
  std::chrono::milliseconds Backoff(int attempt) const;
  int max_attempts() const { return options_.max_attempts; }
  // Waits `d` with the configured sleep function.
  void Sleep(std::chrono::milliseconds d) const;

  // Runs `call` until it succeeds, fails with a non-retryable error, or max_attempts is
  // reached; returns the last outcome. `call` receives the 1-based attempt number.
  template <typename T>
  Outcome<T> Run(const std::function<Outcome<T>(int attempt)>& call) const {
    for (int attempt = 1;; ++attempt) {
      Outcome<T> outcome = call(attempt);
      if (outcome.ok() || attempt >= options_.max_attempts || !ShouldRetry(outcome.error())) {
        return outcome;
      }
      Sleep(Backoff(attempt));
    }
  }

 private:
  RetryOptions options_;
};

}  // namespace aws
