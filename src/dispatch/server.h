// `dispatch server`: the single-node runtime. Owns the store, the REST API (entities, runs,
// events, logs), the event ingest endpoint, the function runner, the image builder and the
// event-driver supervisor, and wires them together.
//
// REST API (JSON; every /v1 call needs `Authorization: Bearer <token>`):
//   POST /v1/event, /v1/event/            ingest (EventManager)
//   GET|POST /v1/<kinds>                  list / create; kinds: secrets, eventdrivertypes,
//                                         eventdrivers, baseimages, images, functions,
//                                         subscriptions
//   GET|PUT|DELETE /v1/<kinds>/<name>     get (secrets: ?showValues=true) / update / delete
//   POST /v1/eventdrivers/<name>/ready    a driver reports READY (or {"status":"ERROR"})
//   GET /v1/eventdrivers/<name>/logs, /v1/functions/<name>/logs   text/plain
//   GET|POST /v1/runs (?function=F&limit=N), GET /v1/runs/<id>    runs; POST runs a function
//                                         ({"function","input","wait"}); GET also takes
//                                         status=failed (the dead-letter list), since, until
//   POST /v1/runs/redrive                 failed runs queued again: {"id"}, {"function"},
//                                         {"since","until"} or {"all":true}
//   GET /v1/runs/stats (?function=F)     run counts by state
//   GET /v1/events (?limit=N), /v1/events/<seq>
//   GET /healthz                          no token needed
#pragma once

#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "dispatch/driver_supervisor.h"
#include "dispatch/event_manager.h"
#include "dispatch/function_runner.h"
#include "dispatch/image_builder.h"
#include "dispatch/pid_files.h"
#include "http/server.h"
#include "store/group_commit.h"
#include "store/store.h"

namespace dispatch {

struct ServerConfig {
  std::string data_dir;                   // required; created with mode 0700
  std::string listen = "127.0.0.1:8080";  // host:port; port 0 picks a free port
  bool insecure_listen = false;           // allow a non-loopback address without TLS
  // HTTPS for the API: PEM certificate chain and key. With them the API is served over TLS
  // on `listen` (any address), and supervised drivers post to a plain loopback listener.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string exe_dir;  // where driver executables are looked up first
  int http_threads = 2;
  // Acknowledged events survive a crash of the machine (fsync per group commit); false: a
  // crash of the process only (kill -9), not of the machine. See README.md.
  bool fsync_events = true;
  // Housekeeping, every `prune_interval`: events older than the duplicate window go (unless a
  // run still waits for them), and finished runs older than `run_retention` or beyond the
  // newest `runs_kept` of their function.
  std::chrono::milliseconds prune_interval{600'000};
  std::chrono::milliseconds run_retention{7LL * 24 * 3600 * 1000};
  int runs_kept = 10'000;
  RunnerOptions runner;          // data_dir is filled in from data_dir
  SupervisorOptions supervisor;  // data_dir, exe_dir, token filled in
  BuilderOptions builder;        // data_dir filled in
  EventManagerOptions events;
};

// Splits "host:port" (or "[v6]:port", ":port", "port"). InvalidArgument on a bad port.
common::Result<std::pair<std::string, uint16_t>> ParseListen(const std::string& listen);
// True for 127.0.0.0/8, ::1 and "localhost".
bool IsLoopbackHost(const std::string& host);
// The directory of the running executable.
std::string ExecutableDir();
// Where the function runtimes (runtimes/python3, runtimes/nodejs) are: DISPATCH_RUNTIMES_DIR,
// next to the binary (../share/dispatch/runtimes, ../../runtimes) or the source tree this was
// built from.
std::string DefaultRuntimesDir();

// Thread-safe after Start. Start once, Stop once.
class DispatchServer {
 public:
  explicit DispatchServer(ServerConfig config);
  ~DispatchServer();
  DispatchServer(const DispatchServer&) = delete;
  DispatchServer& operator=(const DispatchServer&) = delete;

  // Creates the data dir and token, locks the data dir (FailedPrecondition when another
  // server holds it), opens and migrates the store, stops function processes a crashed
  // predecessor left, resumes pending runs, starts every part and binds the listener. Error
  // (nothing left running) on failure, including a non-loopback listen address without
  // --insecure-listen.
  common::Status Start();
  // Stops drivers (grace period), then the listener, ingest, builder and runner.
  void Stop();

  uint16_t port() const;
  const std::string& token() const { return token_; }

 private:
  void HandleApi(http::Request&& request, http::Respond respond);
  // Decides on an API request from its head, before its body is read: 401 without the bearer
  // token, and the body limit of its route (see README.md, "Limits").
  http::Admission AdmitApi(const http::Request& head) const;
  http::Response HandleEntities(store::Kind kind, const std::string& method,
                                const std::vector<std::string>& parts,
                                const http::Request& request);
  http::Response CreateEntity(store::Kind kind, const nlohmann::json& body);
  http::Response UpdateEntity(store::Kind kind, const std::string& name,
                              const nlohmann::json& body);
  http::Response DeleteEntity(store::Kind kind, const std::string& name);
  void HandleRuns(const std::string& method, const std::vector<std::string>& parts,
                  const http::Request& request, http::Respond respond);
  // POST /v1/runs/redrive: failed runs back to the queue.
  http::Response RedriveRuns(const http::Request& request);
  // The status, since and until parameters of GET /v1/runs.
  static common::Result<store::RunQuery> RunQueryFrom(std::string_view query_string, int limit);
  http::Response HandleEvents(const std::vector<std::string>& parts, const http::Request& request);
  common::Status WriteFunctionCode(const std::string& name, nlohmann::json* spec,
                                   const nlohmann::json& body);
  // Runs slow clean-up (stopping processes, removing files) off the I/O threads.
  void Background(std::function<void()> task);
  // The housekeeping thread: prunes the store every prune_interval until Stop.
  void PruneLoop();

  ServerConfig config_;
  DataDirLock lock_;  // held from Start to Stop
  std::string token_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::GroupCommitter> committer_;
  std::unique_ptr<FunctionRunner> runner_;
  std::unique_ptr<EventManager> events_;
  std::unique_ptr<ImageBuilder> builder_;
  std::unique_ptr<DriverSupervisor> drivers_;
  std::unique_ptr<http::HttpServer> http_;
  std::unique_ptr<http::HttpServer> local_http_;  // with TLS: loopback, plain, for the drivers
  common::Mutex background_mu_;
  std::vector<std::future<void>> background_ GUARDED_BY(background_mu_);
  common::Mutex prune_mu_;
  common::CondVar prune_cv_;
  bool prune_stop_ GUARDED_BY(prune_mu_) = false;
  std::thread pruner_;
  bool started_ = false;
};

// The JSON the API returns for an entity; secret values only when `show_values`.
nlohmann::json EntityView(const store::Entity& entity, bool show_values);
nlohmann::json RunView(const store::Run& run);

// Runs `dispatch server` in the foreground until SIGTERM or SIGINT. Prints
// "listening on http://HOST:PORT" once serving. Returns the process exit code.
int RunServer(ServerConfig config);

}  // namespace dispatch
