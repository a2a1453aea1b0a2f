#include "dispatch/pid_files.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "common/crypto.h"
#include "common/files.h"
#include "common/strings.h"

namespace dispatch {

namespace fs = std::filesystem;
using common::ReadFile;
using common::WriteFile;

std::optional<uint64_t> ProcessStartTime(pid_t pid) {
  auto stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat.ok()) return std::nullopt;
  // "pid (comm) state ppid …": comm may hold spaces and parentheses, so fields are counted
  // from the last ')'. The start time is field 22, the 20th after it.
  size_t close = stat->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat->substr(close + 1));
  std::string field;
  for (int i = 3; i <= 22; ++i) {
    if (!(fields >> field)) return std::nullopt;
  }
  if (field.empty() || field.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return std::stoull(field);
}

std::string NewProcessToken() { return common::HexEncode(common::RandomBytes(16)); }

std::string WritePidFile(const std::string& dir, pid_t pid, const std::string& token) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  auto started = ProcessStartTime(pid);
  if (!started) return "";  // it already exited: nothing to reap later
  std::string path = dir + "/" + std::to_string(pid) + ".pid";
  std::string line = std::to_string(pid) + " " + std::to_string(*started) + " " + token + "\n";
  if (common::Status st = WriteFile(path, line, 0600); !st.ok()) {
    spdlog::warn("cannot write pid file {}: {}", path, st.message());
    return "";
  }
  return path;
}

namespace {

// The state letter and start time of `pid` from /proc/PID/stat; nullopt when gone.
std::optional<std::pair<char, uint64_t>> StateAndStart(pid_t pid) {
  auto stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat.ok()) return std::nullopt;
  size_t close = stat->rfind(')');
  if (close == std::string::npos || close + 2 >= stat->size()) return std::nullopt;
  char state = (*stat)[close + 2];
  auto start = ProcessStartTime(pid);
  if (!start) return std::nullopt;
  return std::make_pair(state, *start);
}

// True while `pid` is still the process started at `start_time` and has not exited.
bool StillRunning(pid_t pid, uint64_t start_time) {
  auto s = StateAndStart(pid);
  return s && s->second == start_time && s->first != 'Z' && s->first != 'X';
}

// True when `pid` is the process the pid file was written for: same start time, and the
// token in its environment.
bool SameProcess(pid_t pid, uint64_t start_time, const std::string& token) {
  if (!StillRunning(pid, start_time)) return false;
  auto environ = ReadFile("/proc/" + std::to_string(pid) + "/environ");
  if (!environ.ok()) return false;
  std::string want = std::string(kProcessTokenEnv) + "=" + token;
  for (const std::string& entry : common::Split(*environ, '\0')) {
    if (entry == want) return true;
  }
  return false;
}

// Sends `signo` to the process's group (the runner starts each in its own) and to it.
void SignalTree(pid_t pid, int signo) {
  ::kill(-pid, signo);
  ::kill(pid, signo);
}

}  // namespace

int ReapPidFiles(const std::string& dir, std::chrono::milliseconds grace) {
  std::vector<std::pair<pid_t, uint64_t>> leftovers;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".pid") continue;
    auto text = ReadFile(entry.path().string());
    std::istringstream in(text.ok() ? *text : "");
    long long pid = 0;
    uint64_t start_time = 0;
    std::string token;
    if (in >> pid >> start_time >> token && pid > 1 && pid < (1LL << 31) && token.size() >= 16 &&
        SameProcess(static_cast<pid_t>(pid), start_time, token)) {
      spdlog::warn("stopping process {} left running by a previous server (pid file {})", pid,
                   entry.path().filename().string());
      SignalTree(static_cast<pid_t>(pid), SIGTERM);
      leftovers.emplace_back(static_cast<pid_t>(pid), start_time);
    }
    fs::remove(entry.path(), ec);
  }
  // SIGTERM first, so a function can finish the call it was making (e.g. record a post it
  // made), then SIGKILL what is still the same process after the grace period.
  auto deadline = std::chrono::steady_clock::now() + grace;
  auto any_running = [&] {
    for (auto& [pid, start] : leftovers) {
      if (StillRunning(pid, start)) return true;
    }
    return false;
  };
  while (any_running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (auto& [pid, start] : leftovers) {
    if (StillRunning(pid, start)) SignalTree(pid, SIGKILL);
  }
  return static_cast<int>(leftovers.size());
}

common::Result<DataDirLock> DataDirLock::Acquire(const std::string& data_dir) {
  std::string path = data_dir + "/server.pid";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return common::Unavailable("cannot open " + path + ": " + std::strerror(errno));
  DataDirLock lock;
  lock.fd_ = fd;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    auto owner = ReadFile(path);
    return common::FailedPrecondition(
        "another dispatch server (pid " +
        std::string(common::Trim(owner.ok() ? *owner : std::string("?"))) +
        ") is using the data dir " + data_dir);
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    spdlog::warn("cannot write {}", path);
  }
  return lock;
}

DataDirLock& DataDirLock::operator=(DataDirLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

}  // namespace dispatch
