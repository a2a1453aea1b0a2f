// Runs functions: keeps warm function processes (started on first use, restarted when they
// crash, stopped when idle), schedules queued runs on a pool of worker threads, calls the
// function over the function protocol (DESIGN.md) with a per-run timeout, and retries failed
// attempts with exponential backoff before keeping the run as failed.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "common/subprocess.h"
#include "http/client.h"
#include "http/plain_client.h"
#include "store/group_commit.h"
#include "store/store.h"

namespace dispatch {

struct RunnerOptions {
  std::string data_dir;       // functions/<name>/ (code) and logs/ live here
  std::string runtimes_dir;   // runtimes/{python3,nodejs}/function_server.*
  int workers = 8;            // runs executing at once, across functions
  int default_instances = 2;  // warm processes per function, unless the function says
  // Retries, as Lambda's asynchronous invocations: a retryable failure is tried again after
  // an exponential backoff with jitter (at least the function's retry_after_ms) until the run
  // has made max attempts or its next attempt would start after max event age (counted from
  // the run's creation or its last redrive); then it is kept as failed, the dead-letter list
  // (`dispatch get runs --failed`, `dispatch redrive`). InputError and "retryable": false are
  // never retried. As Lambda retries its function errors twice but throttling and service
  // errors for hours, an error the function flags "retryable": true (a dependency is down or
  // throttling) may use default_max_attempts_retryable attempts, others default_max_attempts.
  // A function's maxAttempts / maxEventAgeSeconds override these for every error.
  int default_max_attempts = 3;
  int default_max_attempts_retryable = 1000;  // in practice bounded by the max event age
  std::chrono::seconds default_max_event_age{6 * 3600};
  std::chrono::milliseconds default_timeout{60'000};  // per attempt
  // Delay before retry n (n >= 1): a random point in [d/2, d], d = min(retry_backoff *
  // 2^(n-1), retry_backoff_max).
  std::chrono::milliseconds retry_backoff{500};
  std::chrono::milliseconds retry_backoff_max{300'000};
  std::chrono::milliseconds idle_timeout{300'000};    // warm process stopped after this idle
  std::chrono::milliseconds startup_timeout{20'000};  // must print its listening line by then
};

// Called once when a run reaches a terminal state (succeeded or failed). Any thread.
using RunCallback = std::function<void(const store::Run&)>;

// Run state changes go through the group committer (batched with other writes, not waited
// for); a finished run's callback is called once its final state is committed.
//
// A function process is started with PORT=0, binds a free port itself and reports it with
// the line "listening on http://127.0.0.1:PORT" on its stdout, which the runner reads from
// the process's log (so no port is ever picked by one process and bound by another).
//
// Thread-safe. Start once, Stop once (Stop is also called by the destructor).
class FunctionRunner {
 public:
  // `committer` must outlive the runner and keep running until Stop returns.
  FunctionRunner(store::Store& store, store::GroupCommitter& committer, RunnerOptions options);
  ~FunctionRunner();
  FunctionRunner(const FunctionRunner&) = delete;
  FunctionRunner& operator=(const FunctionRunner&) = delete;

  // Starts the workers and the idle reaper, and resumes every run the store holds as queued
  // or running (a run that was running when the server died is attempted again). First kills
  // the function processes a previous runner on this data dir left running (by their pid
  // files): the caller must hold the data dir's lock (DataDirLock).
  common::Status Start();
  // Stops taking runs, stops every function process, joins the threads. Runs in flight are
  // left in the store as they were (running) so the next start re-runs them.
  void Stop();

  // Schedules runs that are already stored as queued. `events` (optional, by event seq) are
  // the CloudEvents they came from, to spare a store read.
  void Enqueue(const std::vector<store::Run>& runs,
               const std::map<int64_t, nlohmann::json>& events = {});
  // Stores a new queued run and schedules it; `done` is called when it finishes, once its
  // final state is committed (so a read of the run then sees it).
  common::Status Submit(const store::Run& run, RunCallback done);

  // Takes the failed runs matching `query` from the dead-letter list and queues them again
  // (see store::Store::RedriveRuns): they get a fresh attempt count and age clock and run as
  // soon as a worker is free. Returns the runs redriven; an error when the store failed
  // (nothing redriven).
  common::Result<std::vector<store::Run>> Redrive(const store::RunQuery& query);

  // Stops the function's processes (after a delete or an update); runs keep working and
  // start fresh processes. Blocks until they are stopped.
  void StopFunction(const std::string& name);
  // The function's processes' output (stdout and stderr), the last `max_bytes`.
  std::string Logs(const std::string& name, size_t max_bytes) const;

  // Path of a function's code directory.
  std::string FunctionDir(const std::string& name) const;

 private:
  struct Pending {
    store::Run run;
    nlohmann::json event;  // null when unknown (loaded from the store at run time)
    RunCallback done;
  };
  struct Instance;
  struct Pool;
  // A function as the runner needs it, cached until the store's entities change.
  struct FunctionInfo {
    store::Entity entity;
    nlohmann::json secrets;  // {secret name: {key: value}}
  };

  void WorkerLoop();
  void ReaperLoop();
  void Execute(Pending pending);
  // Finishes an attempt: succeeded, retried later, or failed for good.
  void Finish(Pending pending, bool ok, nlohmann::json output, nlohmann::json error, bool retryable,
              std::string logs);
  // When a failed attempt of `run` should be retried (ms since the epoch), or nullopt when it
  // must not: not retryable, out of attempts, or past the function's maximum event age (then
  // *why says which, for the run's error).
  // May raise run->max_attempts (an error flagged retryable, see RunnerOptions).
  std::optional<int64_t> NextAttempt(store::Run* run, const store::Entity* function, bool retryable,
                                     int64_t now, std::string* why);
  common::Result<Instance*> Acquire(const store::Entity& function, Pool** pool_out);
  void Release(Pool* pool, Instance* instance, bool broken);
  common::Result<std::unique_ptr<Instance>> StartInstance(const store::Entity& function, int slot);
  Pool* PoolFor(const std::string& name);
  nlohmann::json SecretsFor(const store::Entity& function);
  // The function and its secrets, from the cache while no entity changed. NotFound when the
  // function does not exist.
  common::Result<std::shared_ptr<const FunctionInfo>> Function(const std::string& name);
  // Stores the run's state through the committer; `done` (may be empty) after the commit.
  void Record(const store::Run& run, std::function<void()> done = nullptr);
  std::string LogPath(const std::string& function, int slot) const;
  // Where the function processes' pid files are (see pid_files.h).
  std::string PidDir() const;

  store::Store& store_;
  store::GroupCommitter& committer_;
  const RunnerOptions options_;
  http::CurlHttpClient curl_;
  // Function calls: keep-alive connections per worker thread and process, a fraction of
  // curl's CPU per call.
  http::PlainHttpClient client_{curl_};

  common::Mutex cache_mu_;
  int64_t cache_generation_ GUARDED_BY(cache_mu_) = -1;
  std::map<std::string, std::shared_ptr<const FunctionInfo>> cache_ GUARDED_BY(cache_mu_);

  common::Mutex mu_;
  common::CondVar cv_;                                     // workers wait here for runs
  common::CondVar reaper_cv_;                              // the idle reaper waits here
  std::multimap<int64_t, Pending> queue_ GUARDED_BY(mu_);  // by next_attempt_ms
  std::atomic<bool> stopping_{false};                      // written under mu_, read anywhere
  std::map<std::string, std::unique_ptr<Pool>> pools_ GUARDED_BY(mu_);  // pools never freed
  std::vector<std::thread> threads_;
  bool started_ = false;
};

}  // namespace dispatch
