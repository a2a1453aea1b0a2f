// localcloud: AWS (S3, SQS, STS, EventBridge, CloudTrail) and the X API on this machine,
// speaking their wire protocols. Parse flags, wire the services, serve until SIGINT/SIGTERM.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>

#include "common/log.h"
#include "common/time.h"
#include "common/version.h"
#include "http/server.h"
#include "localcloud/core/cloud.h"
#include "localcloud/core/dispatcher.h"
#include "localcloud/models/model_checker.h"
#include "localcloud/tls/test_ca.h"
#ifdef DAT_HAVE_EVENT_SERVICES
#include "event_services.h"
#endif
#include "localcloud/s3/s3_service.h"
#include "localcloud/sqs/sqs_service.h"
#include "localcloud/sts/imds_service.h"
#include "localcloud/sts/sts_service.h"

int main(int argc, char** argv) {
  CLI::App app{"localcloud: S3, SQS, STS, EventBridge, CloudTrail and X on loopback"};
  std::string host = "127.0.0.1";
  int port = 4566;
  std::string access_key = "test";
  std::string secret_key = "test";
  bool no_auth = false;
  std::string log_level = "info";
  std::string log_format = "text";
  int max_body_mb = 1024;
  int imds_credential_seconds = 21600;
  localcloud::CloudConfig config;
  app.add_option("--host", host, "address to bind")->capture_default_str();
  app.add_option("--port", port, "port to bind (0: any free port)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  app.add_option("--data-dir", config.data_dir,
                 "keep S3 objects and SQS queues here across restarts (default: memory only)");
  app.add_option("--region", config.region, "the region in ARNs and URLs")->capture_default_str();
  app.add_option("--account-id", config.account_id, "the account id in ARNs and queue URLs")
      ->capture_default_str();
  app.add_option("--access-key", access_key, "access key id accepted")->capture_default_str();
  app.add_option("--secret-key", secret_key, "secret access key of --access-key");
  app.add_flag("--no-auth", no_auth, "accept requests without checking signatures");
  app.add_option("--max-body-mb", max_body_mb, "largest request body accepted, MiB")
      ->capture_default_str()
      ->check(CLI::Range(1, 5 * 1024));
  app.add_option("--imds-credential-seconds", imds_credential_seconds,
                 "lifetime of the instance-role credentials the metadata endpoint "
                 "(/latest/…, IMDSv2) hands out; short values let tests watch them refresh")
      ->capture_default_str()
      ->check(CLI::Range(1, 43200));
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  app.set_version_flag("--version", std::string("localcloud ") + common::kVersion);
  app.add_option("--log-format", log_format, "text|json")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
#ifdef DAT_HAVE_EVENT_SERVICES
  // X sandbox keys, CloudTrail delay, schedule speed.
  localcloud::EventServicesFlags event_flags;
  localcloud::AddEventServicesFlags(app, &event_flags);
#endif
  std::string strict_models;
  app.add_option("--strict-models", strict_models,
                 "check every AWS request against the service models in this directory "
                 "(botocore's data/, e.g. /usr/lib/python3/dist-packages/botocore/data) and "
                 "refuse violations with 400 ModelViolation");
  std::string tls_cert, tls_key, tls_test_ca;
  app.add_option("--tls-cert", tls_cert, "serve HTTPS with this PEM certificate chain");
  app.add_option("--tls-key", tls_key, "the PEM private key of --tls-cert");
  app.add_option("--tls-test-ca", tls_test_ca,
                 "tests only: create a throwaway CA in this directory (ca.pem) and serve HTTPS "
                 "for localhost and the real AWS/X host names of --region with a certificate it "
                 "signed; clients trust it with AWS_CA_BUNDLE=DIR/ca.pem");
  CLI11_PARSE(app, argc, argv);

  if (!common::InitLogging({"localcloud", log_level, log_format == "json"})) {
    std::fprintf(stderr, "localcloud: unknown --log-level %s\n", log_level.c_str());
    return 2;
  }
  config.auth = !no_auth;

  // Block the stop signals before any thread starts, so only sigwait below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  localcloud::CloudContext context(config, common::SystemClock::Instance());
  localcloud::Principal root = context.RootPrincipal();
  root.access_key_id = access_key;
  root.secret_access_key = secret_key;
  context.credentials().Add(root);

  auto sqs = std::make_shared<localcloud::sqs::SqsService>(context);
  auto sts = std::make_shared<localcloud::sts::StsService>(context);
  auto imds = std::make_shared<localcloud::sts::ImdsService>(
      context, std::chrono::seconds(imds_credential_seconds));
  auto s3 = std::make_shared<localcloud::s3::S3Service>(context);
  if (auto status = sqs->Load(); !status.ok()) {
    std::fprintf(stderr, "localcloud: %s\n", status.ToString().c_str());
    return 1;
  }
  if (auto status = s3->Load(); !status.ok()) {
    std::fprintf(stderr, "localcloud: %s\n", status.ToString().c_str());
    return 1;
  }

  localcloud::Dispatcher dispatcher(context);
  // Order matters: the first service that accepts a request gets it; S3 (which takes any
  // REST path) goes last, after the X sandbox, EventBridge and CloudTrail:
#ifdef DAT_HAVE_EVENT_SERVICES
  // X sandbox (/x/…), EventBridge, CloudTrail; S3 notifications and CloudTrail observe S3.
  localcloud::EventServices event_services(context, *sqs, event_flags);
  event_services.Register(dispatcher, [&](localcloud::S3Observer* o) { s3->AddObserver(o); });
#endif
  dispatcher.AddService(sts);
  dispatcher.AddService(imds);
  dispatcher.AddService(sqs);
  dispatcher.AddService(s3);

  http::ServerOptions options;
  if (!tls_test_ca.empty()) {
    auto files = localcloud::tls::GenerateTestCa(tls_test_ca,
                                                 localcloud::tls::TestServerNames(config.region));
    if (!files.ok()) {
      std::fprintf(stderr, "localcloud: --tls-test-ca: %s\n", files.status().ToString().c_str());
      return 2;
    }
    tls_cert = files->server_cert;
    tls_key = files->server_key;
  }
  options.tls_cert_file = tls_cert;
  options.tls_key_file = tls_key;
  options.host = host;
  options.port = static_cast<uint16_t>(port);
  options.threads = 2;
  // Whole bodies are buffered in memory: S3 PutObject and UploadPart up to this size.
  options.max_body_bytes = static_cast<size_t>(max_body_mb) * 1024 * 1024;
  // SQS long polls last up to 20 s; keep-alive connections of pollers must outlive them.
  options.idle_timeout = std::chrono::seconds(120);
  options.server_name = "localcloud";
  options.admit = dispatcher.AsAdmit();  // authenticate and limit before reading bodies
  std::unique_ptr<localcloud::models::ModelChecker> checker;
  http::Handler handler = dispatcher.AsHandler();
  if (!strict_models.empty()) {
    auto loaded = localcloud::models::ModelChecker::Load(strict_models);
    if (!loaded.ok()) {
      std::fprintf(stderr, "localcloud: --strict-models: %s\n", loaded.status().ToString().c_str());
      return 2;
    }
    checker = std::move(*loaded);
    handler = checker->Wrap(std::move(handler));
  }
  http::HttpServer server(options, std::move(handler));
  if (auto status = server.Start(); !status.ok()) {
    std::fprintf(stderr, "localcloud: cannot listen on %s:%d: %s\n", host.c_str(), port,
                 status.ToString().c_str());
    return 1;
  }
  std::string display_host = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  context.mutable_config().endpoint = std::string(tls_cert.empty() ? "http://" : "https://") +
                                      display_host + ":" + std::to_string(server.port());
  std::printf("listening on %s\n", context.config().endpoint.c_str());
  std::fflush(stdout);

  int signo = 0;
  sigwait(&stop_signals, &signo);
  spdlog::info("stopping on signal {}", signo);
  server.Stop(std::chrono::milliseconds(1000));
  context.timers().Stop();
  dispatcher.Shutdown();
  return 0;
}
