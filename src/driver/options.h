// The driver's command line: the seed's flags with their names and defaults, the later
// upstream flags, and this project's additions (DESIGN.md: driver flags).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace CLI {
class App;
}

namespace driver {

enum class S3EventsMode { kEventBridge, kCloudTrail };
enum class OutputFormat { kDispatch, kBinary, kStructured };

// Everything the driver is told at start. Plain value.
struct DriverOptions {
  // The seed's flags.
  std::string region;  // empty: from the AWS config, else us-west-2
  std::string bucket_name;
  // Only object keys under one of these prefixes reach the queue (the rule filters on
  // detail.object.key), so what a function writes elsewhere in the bucket never triggers it.
  std::vector<std::string> key_prefixes;
  std::string queue_name = "dispatch";  // a UUID suffix makes it unique
  int duration = 20;                    // long-poll seconds, 0–20
  std::string namespace_ = "dispatchframework.io/aws-event";
  std::string source_id;  // default: a new UUID
  bool clean_up = false;
  std::string event_patterns;  // JSON array of EventBridge patterns
  // Upstream additions.
  std::string schedule_expression;
  std::string dispatch_api_endpoint = "localhost:8080";
  std::string org;
  bool dry_run = false;
  // This project's additions.
  S3EventsMode s3_events = S3EventsMode::kEventBridge;
  std::string sink;  // CloudEvents sink URL (or K_SINK); empty: Dispatch's event API
  OutputFormat format = OutputFormat::kDispatch;
  int concurrency = 4;
  std::string metrics_addr;  // host:port of /metrics, /healthz, /readyz; empty: off
  std::string log_format = "text";
  std::string log_level = "info";
  std::string queue_url;        // an existing queue: provision no queue, delete nothing of it
  int max_receive_count = 5;    // 0: no dead-letter queue
  int visibility_timeout = 30;  // seconds, for a queue this driver creates
  int delivery_timeout = 300;   // seconds a message's delivery may keep retrying
  double max_rate = 0;          // events/s, 0 = unlimited
  bool strict = false;          // non-AWS messages go to the DLQ
  bool print_iam_policy = false;
  std::string dispatch_token;         // from DISPATCH_TOKEN
  std::string ready_url;              // from DISPATCH_DRIVER_READY_URL
  int max_event_bytes = 1024 * 1024;  // the sink's size limit for one event
};

// Registers every flag on `app`, writing into `options`. `--flag=value` and `--flag value`
// both work; a bare `--clean-up` means true.
void AddFlags(CLI::App& app, DriverOptions* options);

// Fills what comes from the environment (K_SINK, DISPATCH_TOKEN, DISPATCH_DRIVER_READY_URL)
// and defaults that need computing (source-id), then checks ranges and combinations.
// InvalidArgument with a message that says what to change.
common::Status FinishOptions(DriverOptions* options);

// Parses a full command line (argv[0] included). On --help, *help_text is set and the
// result is OK with nothing else to do. For tests and main alike.
common::Status ParseCommandLine(int argc, const char* const* argv, DriverOptions* options,
                                std::string* help_text);

const char* ToString(S3EventsMode mode);
const char* ToString(OutputFormat format);

}  // namespace driver
