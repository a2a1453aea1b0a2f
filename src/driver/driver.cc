#include "driver/driver.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "aws/clients.h"
#include "aws/config.h"
#include "aws/credentials.h"
#include "common/log.h"
#include "common/time.h"
#include "driver/metrics.h"
#include "driver/provisioner.h"
#include "driver/relay.h"
#include "driver/sink.h"
#include "driver/sqs_queue.h"
#include "eventpattern/pattern.h"
#include "http/client.h"
#include "http/plain_client.h"

namespace driver {
namespace {

// Tells the dispatch server (when it started us) that provisioning is done.
void ReportReady(http::HttpClient& client, const DriverOptions& o, const Provisioned& p) {
  std::printf("ready queue=%s\n", p.queue_url.c_str());
  std::fflush(stdout);
  if (o.ready_url.empty()) return;
  http::ClientRequest req;
  req.method = "POST";
  req.url = o.ready_url;
  req.headers.Set("Content-Type", "application/json");
  if (!o.dispatch_token.empty()) req.headers.Set("Authorization", "Bearer " + o.dispatch_token);
  nlohmann::json body = {{"status", "READY"}, {"queue_url", p.queue_url}};
  req.body = body.dump();
  req.timeout = std::chrono::milliseconds(5000);
  auto r = client.Send(req);
  if (!r.ok() || r->status >= 300) {
    spdlog::warn("could not report readiness to dispatch: {}",
                 r.ok() ? "HTTP " + std::to_string(r->status) : r.status().ToString());
  }
}

// The AWS configuration from the environment, with --region (default us-west-2) applied.
common::Result<aws::AwsConfig> DriverAwsConfig(const DriverOptions& o) {
  auto config = aws::LoadConfig();
  if (!config.ok()) return config.status();
  if (!o.region.empty()) config->region = o.region;
  if (config->region.empty()) config->region = "us-west-2";
  return config;
}

// The HTTP client, credential chain and client options the driver's AWS clients share.
// Plain-HTTP endpoints (a local sink, localcloud, the credential endpoints) go through the
// lean client: it costs a fraction of libcurl's CPU per request. https goes to libcurl.
struct AwsAccess {
  explicit AwsAccess(const aws::AwsConfig& config)
      : http(http::DefaultHttpClient()),
        credentials(aws::DefaultCredentialsChain(config, aws::ProcessEnv(), http,
                                                 common::SystemClock::Instance())) {
    options.config = config;
    options.credentials = credentials.get();
    options.http = &http;
  }
  http::PlainHttpClient http;
  std::unique_ptr<aws::CredentialsProvider> credentials;
  aws::ClientOptions options;
};

// --print-iam-policy. With --queue-url the queue's redrive policy is read (with the usual
// credentials) so its dead-letter queue is in the policy; without access, a warning says so.
int PrintIamPolicy(const DriverOptions& o) {
  std::string dead_letter_queue_arn;
  if (!o.queue_url.empty()) {
    auto config = DriverAwsConfig(o);
    common::Result<std::string> arn = config.status();
    if (config.ok()) {
      AwsAccess access(*config);
      arn = DeadLetterQueueArn(aws::SqsClient(access.options), o.queue_url);
    }
    if (arn.ok()) {
      dead_letter_queue_arn = *arn;
    } else {
      spdlog::warn(
          "could not read the redrive policy of {} ({}); its dead-letter queue, if "
          "any, is not in this policy",
          o.queue_url, arn.status().message());
    }
  }
  std::printf("%s\n", IamPolicy(o, dead_letter_queue_arn).c_str());
  return 0;
}

}  // namespace

int RunDriver(const DriverOptions& options_in) {
  DriverOptions o = options_in;
  common::InitLogging({"dispatch-events-aws", o.log_level, o.log_format == "json"});

  if (o.print_iam_policy) return PrintIamPolicy(o);

  // Stop signals are taken synchronously by this thread; every thread started below
  // inherits the blocked mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto config = DriverAwsConfig(o);
  if (!config.ok()) {
    spdlog::error("AWS configuration: {}", config.status().message());
    return 1;
  }
  AwsAccess access(*config);
  http::PlainHttpClient& http_client = access.http;
  const auto& credentials = access.credentials;
  const aws::ClientOptions& client_options = access.options;
  aws::SqsClient sqs(client_options);
  aws::S3Client s3(client_options);
  aws::EventBridgeClient events(client_options);
  aws::CloudTrailClient cloudtrail(client_options);

  Provisioner provisioner({&s3, &sqs, &events, &cloudtrail}, o);
  auto provisioned = provisioner.Provision();
  if (!provisioned.ok()) {
    spdlog::error("provisioning failed: {}", provisioned.status().message());
    return 1;
  }
  const Provisioned& p = *provisioned;
  spdlog::info("AWS credentials from the {} provider", credentials->name());
  spdlog::info("relaying from {} to {}", p.queue_url,
               o.sink.empty() ? "dispatch at " + o.dispatch_api_endpoint : o.sink);

  std::vector<eventpattern::Pattern> patterns;
  for (const auto& pattern : p.rule_patterns) {
    auto parsed = eventpattern::Pattern::Parse(pattern.dump());
    if (parsed.ok()) patterns.push_back(std::move(*parsed));
  }

  SqsMessageQueue queue(sqs, p.queue_url, p.dlq_url, p.visibility_timeout, p.fifo);
  HttpSink sink(http_client, o.format, o.sink.empty() ? o.dispatch_api_endpoint : o.sink,
                o.sink.empty() ? o.dispatch_token : "", o.org);
  Metrics metrics;
  RelayConfig rc;
  rc.concurrency = o.concurrency;
  rc.wait_seconds = o.duration;
  rc.delivery_timeout = std::chrono::milliseconds(o.delivery_timeout * 1000LL);
  rc.max_rate = o.max_rate;
  rc.dry_run = o.dry_run;
  rc.mapper.namespace_ = o.namespace_;
  rc.mapper.source_id = o.source_id;
  rc.mapper.strict = o.strict;
  rc.mapper.max_event_bytes = static_cast<size_t>(o.max_event_bytes);
  rc.mapper.patterns = &patterns;
  Relay relay(queue, sink, metrics, rc);

  std::unique_ptr<MetricsServer> metrics_server;
  if (!o.metrics_addr.empty()) {
    metrics_server = std::make_unique<MetricsServer>(
        metrics, [&relay](std::string* why) { return relay.Ready(why); });
    common::Status s = metrics_server->Start(o.metrics_addr);
    if (!s.ok()) {
      spdlog::error("metrics endpoint: {}", s.ToString());
      if (o.clean_up) (void)provisioner.CleanUp(p);
      return 1;
    }
    spdlog::info("metrics on http://{}:{}/metrics",
                 o.metrics_addr.substr(0, o.metrics_addr.rfind(':')), metrics_server->port());
  }

  relay.Start();
  ReportReady(http_client, o, p);

  int signo = 0;
  sigwait(&stop_signals, &signo);
  spdlog::info("received {}, stopping: in-flight messages are finished or released",
               signo == SIGTERM ? "SIGTERM" : "SIGINT");
  relay.Stop();
  if (metrics_server) metrics_server->Stop();
  int code = 0;
  if (o.clean_up) {
    common::Status s = provisioner.CleanUp(p);
    if (!s.ok()) {
      spdlog::error("clean-up incomplete: {}", s.message());
      code = 1;
    } else {
      spdlog::info("clean-up done: removed what this run created");
    }
  }
  spdlog::info("stopped: {} messages received, {} events delivered, {} dead-lettered",
               metrics.messages_received.load(), metrics.events_delivered.load(),
               metrics.messages_dead_lettered.load());
  return code;
}

}  // namespace driver
