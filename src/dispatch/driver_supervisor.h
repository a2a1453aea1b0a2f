// Supervises event drivers as child processes: starts each with its `--set` options as flags,
// its secrets as environment and the event API endpoint and token; keeps its stdout/stderr as
// its log; restarts it with backoff when it dies; stops it (SIGTERM, then SIGKILL after a
// grace period) on delete or shutdown. Status: CREATING until the driver POSTs to its ready
// URL (READY), ERROR with the tail of its log when it exits.
#pragma once

#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "common/subprocess.h"
#include "store/store.h"

namespace dispatch {

struct SupervisorOptions {
  std::string data_dir;                              // logs/eventdriver-<name>.log
  std::string exe_dir;                               // drivers are looked up here, then PATH
  std::string token;                                 // the API token given to drivers
  std::chrono::milliseconds grace{30'000};           // SIGTERM → SIGKILL
  std::chrono::milliseconds backoff_initial{1'000};  // first restart delay; doubles
  std::chrono::milliseconds backoff_max{30'000};
};

// Thread-safe. One supervision thread; stops run on their own threads (joined in Stop).
class DriverSupervisor {
 public:
  DriverSupervisor(store::Store& store, SupervisorOptions options);
  ~DriverSupervisor();
  DriverSupervisor(const DriverSupervisor&) = delete;
  DriverSupervisor& operator=(const DriverSupervisor&) = delete;

  // Starts supervising every driver in the store. `api_port` is the server's bound port.
  common::Status Start(int api_port);
  // Stops every driver (in parallel, each with the grace period) and the thread.
  void Stop();

  // Starts supervising a newly created driver entity.
  void Add(const std::string& name);
  // Stops the driver (SIGTERM, grace, SIGKILL) in the background, then deletes its entity.
  void Remove(const std::string& name);
  // The driver reported itself provisioned (or failed: status ERROR with `reason`).
  common::Status Report(const std::string& name, const std::string& status,
                        const std::string& reason);
  // The driver's log, the last `max_bytes`.
  std::string Logs(const std::string& name, size_t max_bytes) const;

  // The executable for a driver type image: "dispatch-events-aws:latest" →
  // "<exe_dir>/dispatch-events-aws" or the PATH entry; a path is used as it is.
  common::Result<std::string> ResolveImage(const std::string& image) const;

 private:
  struct Driver {
    common::Process process;
    bool running = false;
    int64_t started_ms = 0;
    int64_t next_start_ms = 0;
    int64_t backoff_ms = 0;
    int64_t log_offset = 0;  // log size when the current process started
    int restarts = 0;
  };

  void Loop();
  void StartDriver(const std::string& name, Driver& d) REQUIRES(mu_);
  void SetStatus(const std::string& name, const std::string& status, const std::string& reason);
  std::string LogPath(const std::string& name) const;

  store::Store& store_;
  SupervisorOptions options_;
  int api_port_ = 0;

  mutable common::Mutex mu_;
  common::CondVar cv_;
  std::map<std::string, Driver> drivers_ GUARDED_BY(mu_);  // processes owned by Loop
  std::vector<std::future<void>> stoppers_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace dispatch
