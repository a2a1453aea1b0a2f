#include "dispatch/server.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "common/crypto.h"
#include "common/files.h"
#include "common/strings.h"
#include "common/time.h"
#include "common/version.h"
#include "dispatch/api_json.h"
#include "store/sqlite_store.h"

namespace dispatch {

namespace fs = std::filesystem;
using common::NowMs;
using common::ReadFile;
using common::Result;
using common::Status;
using common::WriteFile;
using nlohmann::json;

Result<std::pair<std::string, uint16_t>> ParseListen(const std::string& listen) {
  std::string host = "127.0.0.1";
  std::string port_text = listen;
  if (!listen.empty() && listen[0] == '[') {
    size_t close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return common::InvalidArgument("bad listen address " + listen);
    }
    host = listen.substr(1, close - 1);
    port_text = listen.substr(close + 2);
  } else if (size_t colon = listen.rfind(':'); colon != std::string::npos) {
    if (colon > 0) host = listen.substr(0, colon);
    port_text = listen.substr(colon + 1);
  }
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port_text) > 65535) {
    return common::InvalidArgument("bad port in listen address " + listen);
  }
  return std::make_pair(host, static_cast<uint16_t>(std::stoi(port_text)));
}

bool IsLoopbackHost(const std::string& host) {
  return host == "localhost" || host == "::1" || common::StartsWith(host, "127.");
}

std::string ExecutableDir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : exe.parent_path().string();
}

std::string DefaultRuntimesDir() {
  if (const char* env = std::getenv("DISPATCH_RUNTIMES_DIR"); env && *env) return env;
  std::string exe_dir = ExecutableDir();
  for (const std::string& candidate :
       {exe_dir + "/../share/dispatch/runtimes", exe_dir + "/../../runtimes"}) {
    std::error_code ec;
    if (fs::exists(candidate + "/python3/function_server.py", ec)) {
      return fs::weakly_canonical(candidate, ec).string();
    }
  }
#ifdef DISPATCH_SOURCE_RUNTIMES_DIR
  return DISPATCH_SOURCE_RUNTIMES_DIR;
#else
  return exe_dir + "/../../runtimes";
#endif
}

json EntityView(const store::Entity& e, bool show_values) {
  json j = {{"name", e.name},
            {"kind", store::KindName(e.kind)},
            {"status", e.status},
            {"reason", e.reason},
            {"createdTime", FormatMs(e.created_ms)},
            {"modifiedTime", FormatMs(e.modified_ms)},
            {"tags", e.tags}};
  for (auto& [key, value] : e.spec.items()) {
    if (e.kind == store::Kind::kSecret && key == "secrets") {
      json keys = json::array();
      for (auto& [k, v] : value.items()) keys.push_back(k);
      j["keys"] = keys;
      if (show_values) j["secrets"] = value;
      continue;
    }
    // Internal fields of the runtime.
    if (key == "python") continue;
    j[key] = value;
  }
  return j;
}

json RunView(const store::Run& r) {
  json j = {{"id", r.id},
            {"name", r.id},
            {"function", r.function},
            {"subscription", r.subscription},
            {"status", store::RunStatusName(r.status)},
            {"attempts", r.attempts},
            {"maxAttempts", r.max_attempts},
            {"redrives", r.redrives},
            {"input", r.input},
            {"output", r.output},
            {"error", r.error},
            {"logs", r.logs},
            {"createdTime", FormatMs(r.created_ms)},
            {"startedTime", FormatMs(r.started_ms)},
            {"finishedTime", FormatMs(r.finished_ms)}};
  if (r.event_seq > 0) j["eventSeq"] = r.event_seq;
  if (r.finished_ms > 0 && r.started_ms > 0) j["durationMs"] = r.finished_ms - r.started_ms;
  if (r.status == store::RunStatus::kQueued && r.next_attempt_ms > 0) {
    j["nextAttemptTime"] = FormatMs(r.next_attempt_ms);
  }
  return j;
}

DispatchServer::DispatchServer(ServerConfig config) : config_(std::move(config)) {}

DispatchServer::~DispatchServer() { Stop(); }

uint16_t DispatchServer::port() const { return http_ ? http_->port() : 0; }

Status DispatchServer::Start() {
  DAT_ASSIGN_OR_RETURN(auto listen, ParseListen(config_.listen));
  const bool tls = !config_.tls_cert_file.empty() || !config_.tls_key_file.empty();
  if (tls && (config_.tls_cert_file.empty() || config_.tls_key_file.empty())) {
    return common::InvalidArgument("TLS needs both --tls-cert and --tls-key");
  }
  if (!IsLoopbackHost(listen.first) && !tls && !config_.insecure_listen) {
    return common::InvalidArgument(
        "refusing to listen on non-loopback address " + listen.first +
        " without TLS: the API token would travel in clear; pass --tls-cert and --tls-key "
        "(or --insecure-listen to do it anyway)");
  }
  if (config_.data_dir.empty()) return common::InvalidArgument("no data dir");
  std::error_code ec;
  fs::create_directories(config_.data_dir, ec);
  if (ec) return common::Unavailable("cannot create data dir " + config_.data_dir);
  ::chmod(config_.data_dir.c_str(), 0700);
  fs::create_directories(config_.data_dir + "/logs", ec);
  fs::create_directories(config_.data_dir + "/functions", ec);

  // The API token: generated once, kept owner-only.
  std::string token_path = config_.data_dir + "/token";
  auto existing = ReadFile(token_path);
  if (existing.ok() && !common::Trim(*existing).empty()) {
    token_ = std::string(common::Trim(*existing));
  } else {
    token_ = common::HexEncode(common::RandomBytes(32));
    DAT_RETURN_IF_ERROR(WriteFile(token_path, token_ + "\n", 0600));
  }
  ::chmod(token_path.c_str(), 0600);

  // One server per data dir: the runner reaps what a crashed predecessor left, which must
  // never be the processes of a live server.
  DAT_ASSIGN_OR_RETURN(lock_, DataDirLock::Acquire(config_.data_dir));

  DAT_ASSIGN_OR_RETURN(auto opened, store::SqliteStore::Open(config_.data_dir + "/dispatch.db",
                                                             config_.fsync_events));
  store_ = std::move(opened);

  if (config_.exe_dir.empty()) config_.exe_dir = ExecutableDir();
  config_.runner.data_dir = config_.data_dir;
  if (config_.runner.runtimes_dir.empty()) config_.runner.runtimes_dir = DefaultRuntimesDir();
  config_.supervisor.data_dir = config_.data_dir;
  config_.supervisor.exe_dir = config_.exe_dir;
  config_.supervisor.token = token_;
  config_.builder.data_dir = config_.data_dir;

  committer_ = std::make_unique<store::GroupCommitter>(*store_);
  runner_ = std::make_unique<FunctionRunner>(*store_, *committer_, config_.runner);
  events_ = std::make_unique<EventManager>(*store_, *committer_, *runner_, config_.events);
  builder_ = std::make_unique<ImageBuilder>(*store_, config_.builder);
  drivers_ = std::make_unique<DriverSupervisor>(*store_, config_.supervisor);

  committer_->Start();
  DAT_RETURN_IF_ERROR(runner_->Start());
  DAT_RETURN_IF_ERROR(events_->Start());
  builder_->Start();

  http::Router router;
  router.Handle("GET", "/healthz", [](http::Request&&, http::Respond respond) {
    respond(JsonResponse(200, {{"status", "ok"}, {"version", common::kVersion}}));
  });
  router.Handle("*", "/v1/*", [this](http::Request&& request, http::Respond respond) {
    HandleApi(std::move(request), std::move(respond));
  });
  router.Handle("*", "/v1", [this](http::Request&& request, http::Respond respond) {
    HandleApi(std::move(request), std::move(respond));
  });
  http::ServerOptions ho;
  ho.host = listen.first;
  ho.port = listen.second;
  ho.threads = config_.http_threads;
  ho.max_body_bytes = 256ull << 20;  // function code uploads; events are limited to 1 MiB
  ho.server_name = "dispatch";
  ho.admit = [this](const http::Request& head) { return AdmitApi(head); };
  ho.tls_cert_file = config_.tls_cert_file;
  ho.tls_key_file = config_.tls_key_file;
  http_ = std::make_unique<http::HttpServer>(ho, router.AsHandler());
  Status st = http_->Start();
  if (st.ok() && tls) {
    // Supervised drivers run on this machine: they post events to a plain loopback listener
    // (allowed without TLS, like the default configuration) rather than needing the CA.
    http::ServerOptions local = ho;
    local.host = "127.0.0.1";
    local.port = 0;
    local.tls_cert_file.clear();
    local.tls_key_file.clear();
    local_http_ = std::make_unique<http::HttpServer>(local, router.AsHandler());
    st = local_http_->Start();
    if (!st.ok()) http_->Stop();
  }
  if (!st.ok()) {
    events_->Stop();
    builder_->Stop();
    runner_->Stop();
    committer_->Stop();
    return st;
  }
  DAT_RETURN_IF_ERROR(drivers_->Start(local_http_ ? local_http_->port() : http_->port()));
  {
    common::MutexLock l(prune_mu_);
    prune_stop_ = false;
  }
  pruner_ = std::thread([this] { PruneLoop(); });
  started_ = true;
  spdlog::info("dispatch server on {}://{}:{} (data dir {})", tls ? "https" : "http", listen.first,
               http_->port(), config_.data_dir);
  return Status::Ok();
}

void DispatchServer::Stop() {
  if (!started_) return;
  started_ = false;
  {
    common::MutexLock l(prune_mu_);
    prune_stop_ = true;
  }
  prune_cv_.NotifyAll();
  if (pruner_.joinable()) pruner_.join();
  // Drivers first, while the event API still accepts what they deliver during shutdown.
  drivers_->Stop();
  http_->Stop(std::chrono::milliseconds(2000));
  if (local_http_) local_http_->Stop(std::chrono::milliseconds(2000));
  events_->Stop();
  builder_->Stop();
  runner_->Stop();
  // Last: it commits what ingest and the runner handed it (and answers those requests).
  committer_->Stop();
  std::vector<std::future<void>> tasks;
  {
    common::MutexLock l(background_mu_);
    tasks.swap(background_);
  }
  for (auto& t : tasks) t.wait();
  lock_ = DataDirLock();
}

void DispatchServer::PruneLoop() {
  common::MutexLock l(prune_mu_);
  while (!prune_cv_.WaitFor(prune_mu_, config_.prune_interval,
                            [&]() REQUIRES(prune_mu_) { return prune_stop_; })) {
    l.Unlock();
    int64_t now = NowMs();
    auto events = store_->PruneEvents(now - config_.events.dedup_window.count());
    auto runs = store_->PruneRuns(now - config_.run_retention.count(), config_.runs_kept);
    if (!events.ok() || !runs.ok()) {
      spdlog::warn("pruning the store failed: {}",
                   (events.ok() ? runs.status() : events.status()).message());
    } else if (*events > 0 || *runs > 0) {
      spdlog::info("pruned {} old events and {} finished runs", *events, *runs);
    }
    l.Lock();
  }
}

void DispatchServer::Background(std::function<void()> task) {
  common::MutexLock l(background_mu_);
  std::erase_if(background_, [](std::future<void>& f) {
    return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  });
  background_.push_back(std::async(std::launch::async, std::move(task)));
}

int RunServer(ServerConfig config) {
  // Signals are taken synchronously by this thread; every other thread inherits the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  std::string host = "127.0.0.1";
  if (auto listen = ParseListen(config.listen);
      listen.ok() && listen->first != "0.0.0.0" && listen->first != "::") {
    host = listen->first.find(':') != std::string::npos ? "[" + listen->first + "]" : listen->first;
  }
  const char* scheme = config.tls_cert_file.empty() ? "http" : "https";
  DispatchServer server(std::move(config));
  if (Status st = server.Start(); !st.ok()) {
    std::cerr << "dispatch server: " << st.message() << std::endl;
    return 1;
  }
  std::printf("listening on %s://%s:%u\n", scheme, host.c_str(),
              static_cast<unsigned>(server.port()));
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("signal {}: shutting down", sig);
  server.Stop();
  return 0;
}

}  // namespace dispatch
