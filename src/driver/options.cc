#include "driver/options.h"

#include <CLI/CLI.hpp>
#include <cstdlib>

#include "cloudevents/json_format.h"
#include "common/crypto.h"
#include "common/version.h"

namespace driver {

const char* ToString(S3EventsMode mode) {
  return mode == S3EventsMode::kCloudTrail ? "cloudtrail" : "eventbridge";
}

const char* ToString(OutputFormat format) {
  switch (format) {
    case OutputFormat::kDispatch:
      return "dispatch";
    case OutputFormat::kBinary:
      return "binary";
    case OutputFormat::kStructured:
      return "structured";
  }
  return "dispatch";
}

void AddFlags(CLI::App& app, DriverOptions* o) {
  app.description(
      "dispatch-events-aws: relays AWS events (S3 uploads, EventBridge patterns, schedules) "
      "from an SQS queue to Dispatch or any CloudEvents sink, losing none.\n"
      "Credentials, region and endpoint are read as the AWS SDKs read them (AWS_* variables, "
      "~/.aws/credentials, ~/.aws/config, AWS_ENDPOINT_URL, web identity, ECS, IMDSv2).");
  app.get_formatter()->column_width(34);
  // The seed's flags.
  app.add_option("--region", o->region,
                 "AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region, "
                 "else us-west-2)")
      ->default_str("us-west-2");
  app.add_option("--bucket-name", o->bucket_name,
                 "S3 bucket whose object events to relay; created if missing");
  app.add_option("--key-prefix", o->key_prefixes,
                 "Relay only objects whose key starts with this prefix, e.g. images/ "
                 "(repeatable or comma-separated; the S3 rule filters on it, so writes "
                 "elsewhere in the bucket, such as a function's records, never arrive)")
      ->delimiter(',');
  app.add_option("--queue-name", o->queue_name,
                 "SQS queue name prefix; a UUID suffix makes it unique")
      ->capture_default_str();
  app.add_option("--duration", o->duration, "SQS long-poll wait in seconds (0-20)")
      ->capture_default_str();
  app.add_option("--namespace", o->namespace_, "Dispatch event namespace")->capture_default_str();
  app.add_option("--source-id", o->source_id, "Dispatch event source id (default: a new UUID)");
  app.add_flag("--clean-up", o->clean_up,
               "On shutdown remove what this run created (queue, DLQ, rules, trail, "
               "notification config); never a bucket it did not create");
  app.add_option("--event-patterns", o->event_patterns,
                 "JSON array of EventBridge event patterns; one rule per pattern");
  // Upstream flags.
  app.add_option("--schedule-expression", o->schedule_expression,
                 "EventBridge schedule, e.g. 'rate(5 minutes)' or 'cron(0 12 * * ? *)'");
  app.add_option("--dispatch-api-endpoint", o->dispatch_api_endpoint,
                 "Dispatch API host:port (or URL) events are posted to")
      ->capture_default_str();
  app.add_option("--org", o->org, "Dispatch organization (sent as X-Dispatch-Org)");
  app.add_flag("--dry-run", o->dry_run, "Receive and log events; send and delete nothing");
  // This project's flags.
  app.add_option_function<std::string>(
         "--s3-events",
         [o](const std::string& v) {
           o->s3_events =
               v == "cloudtrail" ? S3EventsMode::kCloudTrail : S3EventsMode::kEventBridge;
         },
         "How S3 object events reach the queue: eventbridge (seconds) or cloudtrail (the "
         "seed's way, minutes)")
      ->check(CLI::IsMember({"eventbridge", "cloudtrail"}))
      ->default_str("eventbridge");
  app.add_option("--sink", o->sink,
                 "Deliver CloudEvents 1.0 to this URL instead of Dispatch (also K_SINK)");
  app.add_option_function<std::string>(
         "--format",
         [o](const std::string& v) {
           o->format = v == "binary"       ? OutputFormat::kBinary
                       : v == "structured" ? OutputFormat::kStructured
                                           : OutputFormat::kDispatch;
         },
         "Event format: dispatch (CloudEvents 0.1 JSON), binary or structured (CloudEvents "
         "1.0 HTTP); default dispatch, or binary with --sink")
      ->check(CLI::IsMember({"dispatch", "binary", "structured"}));
  app.add_option("--concurrency", o->concurrency, "Parallel pollers/deliveries")
      ->capture_default_str();
  app.add_option("--metrics-addr", o->metrics_addr,
                 "Serve /metrics (Prometheus), /healthz and /readyz on host:port");
  app.add_option("--log-format", o->log_format, "Log format: text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--log-level", o->log_level, "trace|debug|info|warn|error|off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  app.set_version_flag("--version", std::string("dispatch-events-aws ") + common::kVersion);
  app.add_option("--queue-url", o->queue_url,
                 "Use this existing queue: provision no queue and delete nothing of it");
  app.add_option("--max-receive-count", o->max_receive_count,
                 "Receives before a message moves to the dead-letter queue (0: no DLQ)")
      ->capture_default_str();
  app.add_option("--visibility-timeout", o->visibility_timeout,
                 "Visibility timeout (s) of a queue this driver creates")
      ->capture_default_str();
  app.add_option("--delivery-timeout", o->delivery_timeout,
                 "Seconds one message's delivery keeps retrying before it is released")
      ->capture_default_str();
  app.add_option("--max-rate", o->max_rate, "Cap on events per second (0: none)")
      ->capture_default_str();
  app.add_flag("--strict", o->strict,
               "Send messages that are not AWS events to the DLQ instead of relaying them "
               "as aws.sqs.message events");
  app.add_flag("--print-iam-policy", o->print_iam_policy,
               "Print the least-privilege IAM policy for these options and exit");
}

common::Status FinishOptions(DriverOptions* o) {
  if (o->sink.empty()) {
    if (const char* k = std::getenv("K_SINK"); k && *k) o->sink = k;
  }
  if (const char* t = std::getenv("DISPATCH_TOKEN"); t && *t) o->dispatch_token = t;
  if (const char* r = std::getenv("DISPATCH_DRIVER_READY_URL"); r && *r) o->ready_url = r;
  if (o->source_id.empty()) o->source_id = common::NewUuid();
  if (!o->sink.empty() && o->format == OutputFormat::kDispatch) {
    // A CloudEvents sink speaks 1.0; Dispatch's 0.1 JSON only makes sense for Dispatch.
    o->format = OutputFormat::kBinary;
  }
  if (o->duration < 0 || o->duration > 20) {
    return common::InvalidArgument(
        "--duration must be between 0 and 20 seconds (SQS's limit), got " +
        std::to_string(o->duration));
  }
  if (o->concurrency < 1 || o->concurrency > 256) {
    return common::InvalidArgument("--concurrency must be between 1 and 256");
  }
  if (o->max_receive_count < 0 || o->max_receive_count > 1000) {
    return common::InvalidArgument("--max-receive-count must be between 0 and 1000");
  }
  if (o->visibility_timeout < 1 || o->visibility_timeout > 43200) {
    return common::InvalidArgument("--visibility-timeout must be between 1 and 43200 seconds");
  }
  if (o->delivery_timeout < 1)
    return common::InvalidArgument("--delivery-timeout must be positive");
  if (o->max_rate < 0) return common::InvalidArgument("--max-rate must not be negative");
  if (!o->event_patterns.empty()) {
    auto parsed = cloudevents::ParseJson(o->event_patterns);
    if (!parsed.ok() || !parsed->is_array()) {
      return common::InvalidArgument(
          "--event-patterns must be a JSON array of EventBridge patterns, e.g. "
          "'[{\"source\":[\"aws.ec2\"]}]'");
    }
  }
  for (const auto& prefix : o->key_prefixes) {
    if (prefix.empty()) return common::InvalidArgument("--key-prefix must not be empty");
  }
  if (!o->key_prefixes.empty() && o->bucket_name.empty()) {
    return common::InvalidArgument(
        "--key-prefix needs --bucket-name (it filters that bucket's events)");
  }
  if (o->queue_name.empty() && o->queue_url.empty()) {
    return common::InvalidArgument("--queue-name must not be empty");
  }
  return common::Status::Ok();
}

common::Status ParseCommandLine(int argc, const char* const* argv, DriverOptions* options,
                                std::string* help_text) {
  CLI::App app;
  app.name("dispatch-events-aws");
  AddFlags(app, options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    *help_text = app.help();
    return common::Status::Ok();
  } catch (const CLI::CallForVersion&) {
    *help_text = std::string("dispatch-events-aws ") + common::kVersion + "\n";
    return common::Status::Ok();
  } catch (const CLI::ParseError& e) {
    return common::InvalidArgument(std::string(e.what()) + " (see --help)");
  }
  return FinishOptions(options);
}

}  // namespace driver
