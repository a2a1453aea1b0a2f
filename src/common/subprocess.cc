#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "common/strings.h"

extern char** environ;

namespace common {
namespace {

using SteadyClock = std::chrono::steady_clock;

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Reads what is available from fd into out without blocking. Returns false at EOF.
bool DrainFd(int fd, std::string* out) {
  char buf[65536];
  while (true) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      out->append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return true;  // EAGAIN
  }
}

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

}  // namespace

std::optional<std::string> FindExecutable(const std::string& name) {
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string::npos) {
    if (access(name.c_str(), X_OK) == 0) return name;
    return std::nullopt;
  }
  const char* path = getenv("PATH");
  for (const std::string& dir : Split(path ? path : "/usr/local/bin:/usr/bin:/bin", ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return std::nullopt;
}

Result<Process> Process::Spawn(const SpawnOptions& options) {
  if (options.argv.empty()) return InvalidArgument("spawn: empty argv");
  auto exe = FindExecutable(options.argv[0]);
  if (!exe) return NotFound("spawn: program not found: " + options.argv[0]);

  // Environment: parent's (unless cleared) with overrides applied.
  std::vector<std::string> env;
  if (!options.clear_env) {
    for (char** e = environ; *e; ++e) env.emplace_back(*e);
  }
  for (const std::string& kv : options.env) {
    std::string key = kv.substr(0, kv.find('='));
    std::erase_if(
        env, [&](const std::string& e) { return e.compare(0, key.size() + 1, key + "=") == 0; });
    env.push_back(kv);
  }
  std::vector<char*> envp, argv;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = options.argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1}, exec_pipe[2];
  if (options.pipe_stdin && pipe2(in_pipe, O_CLOEXEC) != 0) return Internal("pipe failed");
  if (options.stdout_to == "pipe" && pipe2(out_pipe, O_CLOEXEC) != 0)
    return Internal("pipe failed");
  if (options.stderr_to == "pipe" && pipe2(err_pipe, O_CLOEXEC) != 0)
    return Internal("pipe failed");
  if (pipe2(exec_pipe, O_CLOEXEC) != 0) return Internal("pipe failed");

  auto open_target = [](const std::string& target) {
    return open(target.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  };
  int out_file = -1, err_file = -1;
  if (!options.stdout_to.empty() && options.stdout_to != "pipe") {
    out_file = open_target(options.stdout_to);
    if (out_file < 0)
      return Internal("spawn: cannot open " + options.stdout_to + ": " + strerror(errno));
  }
  if (!options.stderr_to.empty() && options.stderr_to != "pipe") {
    err_file = open_target(options.stderr_to);
    if (err_file < 0)
      return Internal("spawn: cannot open " + options.stderr_to + ": " + strerror(errno));
  }

  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return Internal(std::string("fork failed: ") + strerror(errno));
  if (pid == 0) {
    // Child: only async-signal-safe calls from here on.
    if (options.new_process_group) setpgid(0, 0);
    if (options.parent_death_signal != 0) {
      prctl(PR_SET_PDEATHSIG, options.parent_death_signal);
      // The parent is already gone (re-parented to init or to a subreaper).
      if (getppid() != parent) _exit(127);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    int devnull = open("/dev/null", O_RDWR);
    dup2(options.pipe_stdin ? in_pipe[0] : devnull, 0);
    if (out_pipe[1] >= 0)
      dup2(out_pipe[1], 1);
    else if (out_file >= 0)
      dup2(out_file, 1);
    if (err_pipe[1] >= 0)
      dup2(err_pipe[1], 2);
    else if (err_file >= 0)
      dup2(err_file, 2);
    if (!options.cwd.empty() && chdir(options.cwd.c_str()) != 0) {
      int e = errno;
      (void)!write(exec_pipe[1], &e, sizeof e);
      _exit(127);
    }
    execve(exe->c_str(), argv.data(), envp.data());
    int e = errno;
    (void)!write(exec_pipe[1], &e, sizeof e);
    _exit(127);
  }
  // Parent.
  close(exec_pipe[1]);
  for (int fd : {in_pipe[0], out_pipe[1], err_pipe[1], out_file, err_file}) {
    if (fd >= 0) close(fd);
  }
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(exec_pipe[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  close(exec_pipe[0]);
  if (n == sizeof child_errno) {
    waitpid(pid, nullptr, 0);
    for (int fd : {in_pipe[1], out_pipe[0], err_pipe[0]}) {
      if (fd >= 0) close(fd);
    }
    return Internal("spawn: cannot execute " + *exe + ": " + strerror(child_errno));
  }
  Process p;
  p.pid_ = pid;
  p.own_group_ = options.new_process_group;
  p.stdin_fd_ = in_pipe[1];
  p.stdout_fd_ = out_pipe[0];
  p.stderr_fd_ = err_pipe[0];
  if (p.stdout_fd_ >= 0) fcntl(p.stdout_fd_, F_SETFL, O_NONBLOCK);
  if (p.stderr_fd_ >= 0) fcntl(p.stderr_fd_, F_SETFL, O_NONBLOCK);
  return p;
}

Process::Process(Process&& o) noexcept { *this = std::move(o); }

Process& Process::operator=(Process&& o) noexcept {
  if (this != &o) {
    Reset();
    pid_ = o.pid_;
    own_group_ = o.own_group_;
    exit_status_ = o.exit_status_;
    stdin_fd_ = o.stdin_fd_;
    stdout_fd_ = o.stdout_fd_;
    stderr_fd_ = o.stderr_fd_;
    stdout_buf_ = std::move(o.stdout_buf_);
    o.pid_ = -1;
    o.stdin_fd_ = o.stdout_fd_ = o.stderr_fd_ = -1;
    o.exit_status_.reset();
  }
  return *this;
}

Process::~Process() { Reset(); }

void Process::Reset() {
  if (pid_ > 0 && !exit_status_) {
    Signal(SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
  }
  CloseFd(stdin_fd_);
  CloseFd(stdout_fd_);
  CloseFd(stderr_fd_);
  pid_ = -1;
}

bool Process::Running() {
  if (pid_ <= 0 || exit_status_) return false;
  int status;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_status_ = DecodeWaitStatus(status);
    return false;
  }
  return r == 0;
}

void Process::Signal(int signo) {
  if (pid_ <= 0 || exit_status_) return;
  if (own_group_) {
    kill(-pid_, signo);
  } else {
    kill(pid_, signo);
  }
}

Result<int> Process::Wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return FailedPrecondition("no process");
  auto deadline = SteadyClock::now() + timeout;
  auto sleep = std::chrono::milliseconds(1);
  while (true) {
    if (!Running()) {
      if (exit_status_) return *exit_status_;
      return Internal("waitpid failed");
    }
    if (SteadyClock::now() >= deadline) return DeadlineExceeded("process still running");
    std::this_thread::sleep_for(sleep);
    sleep = std::min(sleep * 2, std::chrono::milliseconds(20));
  }
}

int Process::Terminate(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return -1;
  if (exit_status_) return *exit_status_;
  Signal(SIGTERM);
  auto r = Wait(grace);
  if (r.ok()) return *r;
  Signal(SIGKILL);
  auto k = Wait(std::chrono::milliseconds(10'000));
  return k.ok() ? *k : -1;
}

Result<std::string> Process::ReadLine(std::chrono::milliseconds timeout) {
  if (stdout_fd_ < 0 && stdout_buf_.empty()) return NotFound("stdout not captured or at end");
  auto deadline = SteadyClock::now() + timeout;
  while (true) {
    size_t nl = stdout_buf_.find('\n');
    if (nl != std::string::npos) {
      std::string line = stdout_buf_.substr(0, nl);
      stdout_buf_.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
    if (stdout_fd_ < 0) {
      if (stdout_buf_.empty()) return NotFound("end of output");
      std::string line = std::move(stdout_buf_);
      stdout_buf_.clear();
      return line;
    }
    auto now = SteadyClock::now();
    if (now >= deadline) return DeadlineExceeded("no line within the timeout");
    pollfd pfd{stdout_fd_, POLLIN, 0};
    int ms = static_cast<int>(
                 std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count()) +
             1;
    int r = poll(&pfd, 1, ms);
    if (r < 0 && errno != EINTR) return Internal("poll failed");
    if (r > 0 && !DrainFd(stdout_fd_, &stdout_buf_)) CloseFd(stdout_fd_);
  }
}

std::string Process::ReadAllStdout() {
  std::string out = std::move(stdout_buf_);
  stdout_buf_.clear();
  if (stdout_fd_ >= 0) {
    fcntl(stdout_fd_, F_SETFL, 0);
    DrainFd(stdout_fd_, &out);
    CloseFd(stdout_fd_);
  }
  return out;
}

std::string Process::ReadAllStderr() {
  std::string out;
  if (stderr_fd_ >= 0) {
    fcntl(stderr_fd_, F_SETFL, 0);
    DrainFd(stderr_fd_, &out);
    CloseFd(stderr_fd_);
  }
  return out;
}

Status Process::WriteStdin(const std::string& data) {
  if (stdin_fd_ < 0) return FailedPrecondition("stdin is not a pipe");
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(stdin_fd_, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Unavailable(std::string("write to child stdin: ") + strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  return Status::Ok();
}

void Process::CloseStdin() { CloseFd(stdin_fd_); }

Status Process::ReadUntilEof(std::chrono::milliseconds timeout, std::string* out,
                             std::string* err) {
  out->append(stdout_buf_);
  stdout_buf_.clear();
  auto deadline = SteadyClock::now() + timeout;
  while (stdout_fd_ >= 0 || stderr_fd_ >= 0) {
    auto now = SteadyClock::now();
    if (now >= deadline) return DeadlineExceeded("output not finished within the timeout");
    pollfd pfds[2];
    int n = 0;
    if (stdout_fd_ >= 0) pfds[n++] = {stdout_fd_, POLLIN, 0};
    if (stderr_fd_ >= 0) pfds[n++] = {stderr_fd_, POLLIN, 0};
    int ms = static_cast<int>(
                 std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count()) +
             1;
    int r = poll(pfds, static_cast<nfds_t>(n), ms);
    if (r < 0 && errno != EINTR) return Internal("poll failed");
    if (r <= 0) continue;
    for (int i = 0; i < n; ++i) {
      if (!(pfds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      if (pfds[i].fd == stdout_fd_) {
        if (!DrainFd(stdout_fd_, out)) CloseFd(stdout_fd_);
      } else if (pfds[i].fd == stderr_fd_) {
        if (!DrainFd(stderr_fd_, err)) CloseFd(stderr_fd_);
      }
    }
  }
  return Status::Ok();
}

Result<RunResult> RunCommand(SpawnOptions options, std::chrono::milliseconds timeout,
                             const std::string& input) {
  options.stdout_to = "pipe";
  options.stderr_to = "pipe";
  options.pipe_stdin = !input.empty();
  DAT_ASSIGN_OR_RETURN(Process p, Process::Spawn(options));
  Status write_status;
  if (!input.empty()) {
    // Inputs to our commands are small (well under a pipe's 64 KiB), so writing before
    // reading cannot deadlock.
    write_status = p.WriteStdin(input);
    p.CloseStdin();
  }
  auto start = SteadyClock::now();
  RunResult result;
  Status read = p.ReadUntilEof(timeout, &result.out, &result.err);
  auto left =
      timeout - std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start);
  auto code = p.Wait(std::max(left, std::chrono::milliseconds(1)));
  if (!read.ok() || !code.ok()) {
    p.Signal(SIGKILL);
    (void)p.Wait(std::chrono::milliseconds(5000));
    return DeadlineExceeded("command timed out after " + std::to_string(timeout.count()) +
                            " ms: " + options.argv[0]);
  }
  result.exit_code = *code;
  return result;
}

Result<std::string> WaitForListening(Process& process, std::chrono::milliseconds timeout) {
  auto deadline = SteadyClock::now() + timeout;
  static const std::string kPrefix = "listening on ";
  while (true) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0) return DeadlineExceeded("server did not report listening in time");
    auto line = process.ReadLine(left);
    if (!line.ok()) {
      return Unavailable("server exited or closed stdout before listening: " +
                         line.status().message());
    }
    size_t pos = line->find(kPrefix);
    if (pos != std::string::npos) return std::string(Trim(line->substr(pos + kPrefix.size())));
  }
}

}  // namespace common
