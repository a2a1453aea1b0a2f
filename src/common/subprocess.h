// Child processes: spawn, read their output, signal, wait. Used by the dispatch server to
// supervise drivers and functions, and by tests to run real binaries (localcloud, awscli).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace common {

struct SpawnOptions {
  // argv[0] is the program: a path, or a name looked up in PATH.
  std::vector<std::string> argv;
  // "KEY=VALUE" entries added to (or overriding) the parent's environment.
  std::vector<std::string> env;
  // Start from an empty environment instead of the parent's (env still applies).
  bool clear_env = false;
  std::string cwd;  // empty: inherit
  // Where stdout / stderr go: empty = inherited from the parent, "pipe" = captured and
  // readable through Process::ReadLine / ReadAll, "/dev/null" or a file path (appended).
  std::string stdout_to;
  std::string stderr_to;
  // When true, stdin is a pipe written with Process::WriteStdin; otherwise /dev/null.
  bool pipe_stdin = false;
  // Put the child in its own process group (so a signal reaches its children too).
  bool new_process_group = true;
  // When non-zero, the child receives this signal when its parent dies (prctl
  // PR_SET_PDEATHSIG), so a supervisor killed with -9 leaves no orphans. Linux sends it when
  // the *thread* that spawned the child exits: spawn from a long-lived thread.
  int parent_death_signal = 0;
};

// A running (or finished) child. Move-only; the destructor kills (SIGKILL) and reaps a
// child that is still running, so no process outlives its owner by accident.
// Not thread-safe: one owner thread at a time.
class Process {
 public:
  // Starts the child. Error when the program cannot be found or executed.
  static Result<Process> Spawn(const SpawnOptions& options);

  Process() = default;
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  pid_t pid() const { return pid_; }
  // True while the child has not exited (reaps it if it has).
  bool Running();
  // Sends a signal to the child (to its group when it has its own).
  void Signal(int signo);
  // Waits for exit up to `timeout`. Returns the exit code, or 128+signal when killed by
  // a signal; DeadlineExceeded when still running.
  Result<int> Wait(std::chrono::milliseconds timeout);
  // SIGTERM, wait up to `grace`, then SIGKILL. Returns the exit status as Wait does.
  int Terminate(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));

  // Reads one line (without the newline) from captured stdout, waiting up to `timeout`.
  // NotFound at end of output; DeadlineExceeded on timeout.
  Result<std::string> ReadLine(std::chrono::milliseconds timeout);
  // Everything captured on stdout / stderr so far plus until EOF (call after exit).
  std::string ReadAllStdout();
  std::string ReadAllStderr();
  // Reads both captured streams until both reach EOF, appending to *out / *err.
  // DeadlineExceeded when `timeout` passes first (what was read is kept).
  Status ReadUntilEof(std::chrono::milliseconds timeout, std::string* out, std::string* err);
  // Writes to the child's stdin (pipe_stdin); CloseStdin sends EOF.
  Status WriteStdin(const std::string& data);
  void CloseStdin();

 private:
  void Reset();
  pid_t pid_ = -1;
  bool own_group_ = false;
  std::optional<int> exit_status_;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
  std::string stdout_buf_;  // read but not yet returned by ReadLine
};

struct RunResult {
  int exit_code = -1;  // 128+signal when killed
  std::string out;
  std::string err;
};

// Runs a command to completion with stdout and stderr captured and `input` on stdin.
// DeadlineExceeded (after killing it) when it runs longer than `timeout`.
Result<RunResult> RunCommand(SpawnOptions options, std::chrono::milliseconds timeout,
                             const std::string& input = "");

// Looks `name` up in PATH (or returns it when it contains '/'); nullopt when not found.
std::optional<std::string> FindExecutable(const std::string& name);

// Waits until `process` prints "listening on http://HOST:PORT" on its captured stdout and
// returns "http://HOST:PORT". Other lines before it are skipped.
Result<std::string> WaitForListening(Process& process, std::chrono::milliseconds timeout);

}  // namespace common
