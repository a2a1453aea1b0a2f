// Pid files of the processes a dispatch server starts, so that a server started after a crash
// of its predecessor (kill -9, OOM) can stop what that one left running. Processes are never
// found by name: each pid file names one process, and it is killed only when it is still that
// process (the same start time in /proc/PID/stat) and was started by a dispatch server with
// the file's token (DISPATCH_PROCESS_TOKEN=<token> in /proc/PID/environ).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"

namespace dispatch {

// The environment variable carrying a child's identity token.
inline constexpr const char* kProcessTokenEnv = "DISPATCH_PROCESS_TOKEN";

// The start time of `pid` (clock ticks since boot, /proc/PID/stat field 22); nullopt when
// there is no such process.
std::optional<uint64_t> ProcessStartTime(pid_t pid);

// A random token for a child about to be spawned: pass "DISPATCH_PROCESS_TOKEN=" + token in
// its environment, then Write its pid file.
std::string NewProcessToken();

// Writes `dir`/<pid>.pid ("<pid> <start time> <token>\n", mode 0600) and returns its path;
// empty when it cannot (the process then merely loses the protection; logged).
std::string WritePidFile(const std::string& dir, pid_t pid, const std::string& token);

// Stops every process a pid file in `dir` names that still is the process the file was
// written for (SIGTERM to it and its process group, SIGKILL after `grace` if it is still
// there), and removes every pid file there. Returns how many processes it stopped. Blocks up
// to `grace`. Call only while no other server uses `dir` (see DataDirLock).
int ReapPidFiles(const std::string& dir, std::chrono::milliseconds grace);

// An exclusive lock on a data dir (flock on <data dir>/server.pid, which holds the owner's
// pid), held for the lifetime of the object and released by the kernel if the process dies.
// Not thread-safe; move-only.
class DataDirLock {
 public:
  // FailedPrecondition naming the owner's pid when another live process holds the lock;
  // Unavailable when the file cannot be opened.
  static common::Result<DataDirLock> Acquire(const std::string& data_dir);
  DataDirLock() = default;
  DataDirLock(DataDirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  DataDirLock& operator=(DataDirLock&& other) noexcept;
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;
  ~DataDirLock();

 private:
  int fd_ = -1;
};

}  // namespace dispatch
