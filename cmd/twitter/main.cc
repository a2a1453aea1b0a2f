// The twitter function: serves the Dispatch function protocol and CloudEvents 1.0 HTTP; each
// S3 upload event becomes a watermarked post on X. Logic in src/twitter, server in
// src/function.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/log.h"
#include "common/version.h"
#include "function/server.h"
#include "http/client.h"
#include "image/watermark_flags.h"
#include "twitter/iam_policy.h"
#include "twitter/twitter_function.h"

int main(int argc, char** argv) {
  auto server_options = function::ServerOptions::FromEnvironment();
  if (!server_options.ok()) {
    std::cerr << "twitter: " << server_options.status().message() << std::endl;
    return 2;
  }
  twitter::Options options;
  if (auto status = options.ApplyEnvironment(); !status.ok()) {
    std::cerr << "twitter: " << status.message() << std::endl;
    return 2;
  }
  common::LogOptions log{.program = "twitter"};
  std::string gravity = "southeast";
  std::string logo_file;
  uint64_t inline_wait_ms = options.max_inline_wait.count();

  CLI::App app{
      "The twitter function: an S3 upload event in (EventBridge \"Object Created\", CloudTrail "
      "PutObject/CompleteMultipartUpload, or an S3 notification; bare or in a CloudEvent), the "
      "image watermarked and posted on X out.\n"
      "Serves the Dispatch function protocol (POST / {context, payload}, GET /healthz) and "
      "CloudEvents 1.0 HTTP on one port.\n"
      "Secrets (context.secrets, else files $DISPATCH_SECRETS_DIR/<secret>/<key>, else env "
      "SECRET_<SECRET>_<KEY>): aws {aws_access_key_id, aws_secret_access_key, "
      "[aws_session_token], [endpoint_url], [region]} (without it: the AWS SDK environment); "
      "twitter {appKey, appSecret, oathToken|oauthToken, oathTokenSecret|oauthTokenSecret, "
      "[apiBase]}.\n"
      "Every flag's environment variable is in [brackets] (the watermark's: TWITTER_GRAVITY, "
      "TWITTER_MARGIN, TWITTER_SCALE, TWITTER_OPACITY, TWITTER_LOGO); flags win."};
  // 8090 unless PORT says otherwise (Knative sets 8080): 8080 is the dispatch server's.
  if (std::getenv("PORT") == nullptr) server_options->port = 8090;
  app.add_option("--port", server_options->port, "Port to serve; 0 picks one [PORT]")
      ->capture_default_str();
  app.add_option("--host", server_options->host,
                 "Address to bind [HOST; 0.0.0.0 when K_SERVICE is set]")
      ->capture_default_str();
  app.add_option("--workers", server_options->workers,
                 "Events processed at once [FUNCTION_WORKERS]")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--folder", options.folder,
                 "Only keys under this prefix are posted; \"\" = whole bucket [TWITTER_FOLDER]")
      ->capture_default_str();
  app.add_option("--posted-prefix", options.posted_prefix,
                 "Where the at-most-once records go, in the object's bucket "
                 "[TWITTER_POSTED_PREFIX]")
      ->capture_default_str();
  app.add_option("--write-back-prefix", options.write_back_prefix,
                 "Also store the watermarked copy at <prefix><key>; empty = off "
                 "[TWITTER_WRITE_BACK_PREFIX]")
      ->capture_default_str();
  app.add_option("--text-template", options.text_template,
                 "Post text; {filename}, {key}, {bucket} are replaced [TWITTER_TEXT_TEMPLATE]")
      ->capture_default_str();
  app.add_option("--aws-secret", options.aws_secret, "Name of the AWS secret")
      ->capture_default_str();
  app.add_option("--twitter-secret", options.twitter_secret, "Name of the X secret")
      ->capture_default_str();
  app.add_option("--api-base", options.api_base,
                 "X API base when the secret has no apiBase [TWITTER_API_BASE]")
      ->capture_default_str();
  app.add_option("--max-object-bytes", options.max_object_bytes,
                 "Larger objects are refused (InputError) [TWITTER_MAX_OBJECT_BYTES]")
      ->capture_default_str();
  app.add_option("--max-inline-wait-ms", inline_wait_ms,
                 "X rate limits resetting within this are waited out in-process (once); longer "
                 "ones return a retryable FunctionError with retry_after_ms "
                 "[TWITTER_MAX_INLINE_WAIT_MS]")
      ->capture_default_str();
  image::AddWatermarkFlags(app, &options.watermark, &gravity, &logo_file, "TWITTER_");
  std::string log_format = "text";
  bool log_json = false;
  app.add_option("--log-level", log.level, "trace|debug|info|warn|error|off [TWITTER_LOG_LEVEL]")
      ->envname("TWITTER_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  app.add_option("--log-format", log_format, "text|json [TWITTER_LOG_FORMAT]")
      ->envname("TWITTER_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_flag("--keep-metadata", options.watermark.keep_metadata,
               "Keep GPS data in what is posted and written back [TWITTER_KEEP_METADATA]")
      ->envname("TWITTER_KEEP_METADATA");
  app.add_flag("--log-json", log_json, "Same as --log-format=json (kept for old scripts)");
  app.set_version_flag("--version", std::string("twitter ") + common::kVersion);
  bool print_iam_policy = false;
  std::string bucket_name;
  app.add_flag("--print-iam-policy", print_iam_policy,
               "Print the function's least-privilege IAM policy for --bucket-name and exit");
  app.add_option("--bucket-name", bucket_name, "The watched bucket (for --print-iam-policy)");
  CLI11_PARSE(app, argc, argv);
  if (print_iam_policy) {
    if (bucket_name.empty()) {
      std::cerr << "twitter: --print-iam-policy needs --bucket-name" << std::endl;
      return 2;
    }
    std::cout << twitter::FunctionIamPolicy(options, bucket_name) << std::endl;
    return 0;
  }

  log.json = log_json || log_format == "json";
  common::InitLogging(log);
  // What the function writes must stay outside the folder it posts from: there it would come
  // back as events (a run for each record and copy) wherever the driver's rule watches.
  for (const auto& [flag, prefix] :
       {std::pair<const char*, const std::string&>{"--posted-prefix", options.posted_prefix},
        {"--write-back-prefix", options.write_back_prefix}}) {
    if (prefix.empty()) continue;
    if (options.folder.empty()) {
      spdlog::warn(
          "{} {} is inside the watched bucket (--folder is \"\"): give the driver "
          "--key-prefix so that the function's own writes do not trigger it",
          flag, prefix);
    } else if (prefix.rfind(options.folder, 0) == 0) {
      std::cerr << "twitter: " << flag << " " << prefix << " is inside --folder " << options.folder
                << ": what the function writes there would trigger it again; choose a prefix "
                   "outside the folder"
                << std::endl;
      return 2;
    }
  }
  options.max_inline_wait = std::chrono::milliseconds(inline_wait_ms);
  auto parsed_gravity = image::ParseGravity(gravity);
  if (!parsed_gravity.ok()) {
    std::cerr << "twitter: --gravity: " << parsed_gravity.status().message() << std::endl;
    return 2;
  }
  options.watermark.gravity = *parsed_gravity;
  std::string logo;  // outlives the function, which borrows it
  if (!logo_file.empty()) {
    std::ifstream in(logo_file, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    logo = ss.str();
    options.watermark.logo_png = logo;
  }

  twitter::TwitterFunction fn(options, http::DefaultHttpClient());
  return function::RunFunction(*server_options,
                               [&fn](const function::Context& ctx, const nlohmann::json& payload) {
                                 return fn.Handle(ctx, payload);
                               });
}
