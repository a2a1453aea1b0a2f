#include "driver/metrics.h"

#include <cstdio>

#include "http/server.h"

namespace driver {

void Metrics::ObserveLatency(double seconds) {
  size_t i = 0;
  while (i < kBuckets.size() && seconds > kBuckets[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  latency_count_.fetch_add(1, std::memory_order_relaxed);
  latency_sum_us_.fetch_add(static_cast<uint64_t>(seconds > 0 ? seconds * 1e6 : 0),
                            std::memory_order_relaxed);
}

std::string Metrics::Render() const {
  std::string out;
  auto counter = [&out](const char* name, const char* help, uint64_t v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name +
           " " + std::to_string(v) + "\n";
  };
  auto gauge = [&out](const char* name, const char* help, int64_t v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n" + name +
           " " + std::to_string(v) + "\n";
  };
  counter("dispatch_events_aws_messages_received_total", "SQS messages received.",
          messages_received.load());
  counter("dispatch_events_aws_events_delivered_total", "Events accepted by the sink.",
          events_delivered.load());
  counter("dispatch_events_aws_delivery_failures_total", "Failed delivery attempts.",
          delivery_failures.load());
  counter("dispatch_events_aws_messages_redelivered_total",
          "Messages received more than once (ApproximateReceiveCount > 1).",
          messages_redelivered.load());
  counter("dispatch_events_aws_messages_dead_lettered_total", "Messages moved to the DLQ.",
          messages_dead_lettered.load());
  counter("dispatch_events_aws_messages_skipped_total",
          "Messages deleted without delivery (no pattern matched, S3 test events).",
          messages_skipped.load());
  counter("dispatch_events_aws_messages_released_total",
          "Messages handed back to the queue undelivered.", messages_released.load());
  counter("dispatch_events_aws_visibility_extensions_total",
          "Visibility timeout extensions for messages in delivery.", visibility_extensions.load());
  counter("dispatch_events_aws_receive_errors_total", "Failed ReceiveMessage calls.",
          receive_errors.load());
  gauge("dispatch_events_aws_in_flight", "Messages received and not yet settled.",
        in_flight.load());
  gauge("dispatch_events_aws_queue_backlog",
        "ApproximateNumberOfMessages of the queue (for autoscalers such as KEDA).",
        queue_backlog.load());
  const char* h = "dispatch_events_aws_delivery_latency_seconds";
  out += std::string("# HELP ") + h +
         " Latency from the message's SentTimestamp to sink acceptance.\n# TYPE " + h +
         " histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    cumulative += buckets_[i].load();
    char le[32];
    std::snprintf(le, sizeof le, "%g", kBuckets[i]);
    out += std::string(h) + "_bucket{le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
  }
  cumulative += buckets_[kBuckets.size()].load();
  out += std::string(h) + "_bucket{le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  char sum[64];
  std::snprintf(sum, sizeof sum, "%.6f", static_cast<double>(latency_sum_us_.load()) / 1e6);
  out += std::string(h) + "_sum " + sum + "\n";
  out += std::string(h) + "_count " + std::to_string(latency_count_.load()) + "\n";
  return out;
}

MetricsServer::MetricsServer(const Metrics& metrics, std::function<bool(std::string*)> ready)
    : metrics_(metrics), ready_(std::move(ready)) {}

MetricsServer::~MetricsServer() { Stop(); }

common::Status MetricsServer::Start(const std::string& addr) {
  http::ServerOptions opts;
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos) {
    return common::InvalidArgument("--metrics-addr must be host:port, got '" + addr + "'");
  }
  opts.host = addr.substr(0, colon).empty() ? "127.0.0.1" : addr.substr(0, colon);
  if (opts.host.front() == '[' && opts.host.back() == ']')
    opts.host = opts.host.substr(1, opts.host.size() - 2);
  try {
    int port = std::stoi(addr.substr(colon + 1));
    if (port < 0 || port > 65535) throw std::out_of_range("port");
    opts.port = static_cast<uint16_t>(port);
  } catch (const std::exception&) {
    return common::InvalidArgument("--metrics-addr has a bad port: '" + addr + "'");
  }
  http::Router router;
  router.Handle("GET", "/metrics", [this](http::Request&&, http::Respond respond) {
    respond(http::Response::Text(200, metrics_.Render(), "text/plain; version=0.0.4"));
  });
  router.Handle("GET", "/healthz", [](http::Request&&, http::Respond respond) {
    respond(http::Response::Text(200, "ok\n"));
  });
  router.Handle("GET", "/readyz", [this](http::Request&&, http::Respond respond) {
    std::string why;
    bool ok = ready_(&why);
    respond(http::Response::Text(ok ? 200 : 503, ok ? "ready\n" : "not ready: " + why + "\n"));
  });
  server_ = std::make_unique<http::HttpServer>(opts, router.AsHandler());
  return server_->Start();
}

uint16_t MetricsServer::port() const { return server_ ? server_->port() : 0; }

void MetricsServer::Stop() {
  if (server_) server_->Stop(std::chrono::milliseconds(1000));
  server_.reset();
}

}  // namespace driver
