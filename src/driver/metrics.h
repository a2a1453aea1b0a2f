// The driver's Prometheus metrics and its /metrics, /healthz, /readyz endpoint.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"

namespace http {
class HttpServer;
}

namespace driver {

// Lock-free counters and a latency histogram. Thread-safe.
class Metrics {
 public:
  std::atomic<uint64_t> messages_received{0};
  std::atomic<uint64_t> events_delivered{0};
  std::atomic<uint64_t> delivery_failures{0};     // failed attempts (each retry counts)
  std::atomic<uint64_t> messages_redelivered{0};  // received with ApproximateReceiveCount > 1
  std::atomic<uint64_t> messages_dead_lettered{0};
  std::atomic<uint64_t> messages_skipped{0};
  std::atomic<uint64_t> messages_released{0};
  std::atomic<uint64_t> visibility_extensions{0};
  std::atomic<uint64_t> receive_errors{0};
  std::atomic<int64_t> in_flight{0};
  std::atomic<int64_t> queue_backlog{-1};  // -1 until first read

  // Records the latency from SentTimestamp to sink acceptance.
  void ObserveLatency(double seconds);
  // The Prometheus text exposition of every metric.
  std::string Render() const;

  // Bucket upper bounds in seconds.
  static constexpr std::array<double, 14> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                      0.25,  0.5,    1,     2.5,  5,     10,   30};

 private:
  std::array<std::atomic<uint64_t>, kBuckets.size() + 1> buckets_{};
  std::atomic<uint64_t> latency_count_{0};
  std::atomic<uint64_t> latency_sum_us_{0};
};

// Serves the metrics and health endpoints. `ready` is asked on every /readyz.
class MetricsServer {
 public:
  MetricsServer(const Metrics& metrics, std::function<bool(std::string* why)> ready);
  ~MetricsServer();
  // `addr` is host:port (port 0 picks one); prints nothing.
  common::Status Start(const std::string& addr);
  uint16_t port() const;
  void Stop();

 private:
  const Metrics& metrics_;
  std::function<bool(std::string*)> ready_;
  std::unique_ptr<http::HttpServer> server_;
};

}  // namespace driver
