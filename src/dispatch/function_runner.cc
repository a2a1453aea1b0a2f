#include "dispatch/function_runner.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <set>

#include "common/files.h"
#include "common/strings.h"
#include "common/time.h"
#include "dispatch/pid_files.h"

namespace dispatch {

namespace fs = std::filesystem;
using common::FileSize;
using common::NowMs;
using common::ReadFileFrom;
using common::Result;
using common::Status;
using common::TailFile;
using nlohmann::json;
using store::Run;
using store::RunStatus;

struct FunctionRunner::Instance {
  // Kills the process (if still running) before its pid file goes.
  ~Instance() {
    process = common::Process();
    if (!pid_file.empty()) ::unlink(pid_file.c_str());
  }
  common::Process process;
  std::string pid_file;  // lets a server started after a crash of this one reap it
  int port = 0;
  int slot = 0;
  std::string log_path;
  int64_t last_used_ms = 0;
  int64_t generation = 0;
  bool busy = false;
};

// The warm processes of one function. Instances are owned here; a busy instance is used by
// exactly one worker, an idle one only under mu.
struct FunctionRunner::Pool {
  common::Mutex mu;
  common::CondVar cv;
  std::vector<std::unique_ptr<Instance>> instances GUARDED_BY(mu);
  std::set<int> starting_slots GUARDED_BY(mu);
  int64_t generation GUARDED_BY(mu) = 0;
};

namespace {

// The port in a "listening on http://HOST:PORT" line of `text`; 0 when there is none yet.
int ListeningPort(std::string_view text) {
  constexpr std::string_view kPrefix = "listening on http://";
  for (size_t at = text.find(kPrefix); at != std::string_view::npos;
       at = text.find(kPrefix, at + 1)) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) return 0;  // the line is not complete yet
    std::string_view url = text.substr(at + kPrefix.size(), end - at - kPrefix.size());
    size_t colon = url.rfind(':');
    if (colon == std::string_view::npos) continue;
    int port = 0;
    std::string_view digits = common::Trim(url.substr(colon + 1));
    while (!digits.empty() && digits.back() == '/') digits.remove_suffix(1);
    if (digits.empty() || digits.size() > 5) continue;
    for (char c : digits) {
      if (c < '0' || c > '9') {
        port = -1;
        break;
      }
      port = port * 10 + (c - '0');
    }
    if (port > 0 && port < 65536) return port;
  }
  return 0;
}

json SystemError(const std::string& message) {
  return {{"type", "SystemError"}, {"message", message}, {"stacktrace", json::array()}};
}

// Exponential backoff with "equal jitter": a random point in [d/2, d], d = base * 2^(n-1)
// capped at `max`, so runs failing together do not come back together.
int64_t Backoff(std::chrono::milliseconds base, std::chrono::milliseconds max, int attempts) {
  int64_t cap = std::max<int64_t>(1, max.count());
  int64_t delay = std::max<int64_t>(1, base.count());
  for (int i = 1; i < attempts && delay < cap; ++i) delay *= 2;
  delay = std::min(delay, cap);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return delay / 2 + std::uniform_int_distribution<int64_t>(0, delay - delay / 2)(rng);
}

std::string FormatSeconds(int64_t seconds) {
  if (seconds % 3600 == 0) return std::to_string(seconds / 3600) + "h";
  if (seconds % 60 == 0) return std::to_string(seconds / 60) + "m";
  return std::to_string(seconds) + "s";
}

int SpecInt(const store::Entity& e, const char* key, int fallback) {
  auto it = e.spec.find(key);
  if (it != e.spec.end() && it->is_number_integer() && it->get<int64_t>() > 0) {
    return static_cast<int>(std::min<int64_t>(it->get<int64_t>(), 1'000'000'000));
  }
  return fallback;
}

}  // namespace

FunctionRunner::FunctionRunner(store::Store& store, store::GroupCommitter& committer,
                               RunnerOptions options)
    : store_(store), committer_(committer), options_(std::move(options)) {}

FunctionRunner::~FunctionRunner() { Stop(); }

std::string FunctionRunner::FunctionDir(const std::string& name) const {
  return options_.data_dir + "/functions/" + name;
}

std::string FunctionRunner::LogPath(const std::string& function, int slot) const {
  return options_.data_dir + "/logs/function-" + function + "." + std::to_string(slot) + ".log";
}

std::string FunctionRunner::PidDir() const { return options_.data_dir + "/run"; }

Status FunctionRunner::Start() {
  std::error_code ec;
  fs::create_directories(options_.data_dir + "/logs", ec);
  // Function processes of a predecessor that died without stopping them (they normally die
  // with it: parent-death signal).
  if (int reaped = ReapPidFiles(PidDir(), std::chrono::milliseconds(5000)); reaped > 0) {
    spdlog::warn("stopped {} function process(es) left by a previous server", reaped);
  }
  DAT_ASSIGN_OR_RETURN(std::vector<Run> pending,
                       store_.RunsWithStatus({RunStatus::kQueued, RunStatus::kRunning}));
  std::vector<Run> resumed;
  for (Run& run : pending) {
    if (run.status == RunStatus::kRunning) {
      // The server died during this attempt: run it again, and let it have one more try.
      run.status = RunStatus::kQueued;
      if (run.max_attempts > 0 && run.attempts >= run.max_attempts) {
        run.max_attempts = run.attempts + 1;
      }
      resumed.push_back(run);
    }
  }
  if (!resumed.empty()) DAT_RETURN_IF_ERROR(store_.PutRuns(resumed));
  if (!pending.empty()) spdlog::info("resuming {} queued or interrupted runs", pending.size());
  {
    common::MutexLock l(mu_);
    for (Run& run : pending) {
      int64_t at = run.next_attempt_ms;
      queue_.emplace(at, Pending{std::move(run), json(), nullptr});
    }
  }
  started_ = true;
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    threads_.emplace_back([this] { WorkerLoop(); });
  }
  threads_.emplace_back([this] { ReaperLoop(); });
  return Status::Ok();
}

void FunctionRunner::Stop() {
  {
    common::MutexLock l(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.NotifyAll();
  reaper_cv_.NotifyAll();
  // Kill every function process so workers blocked in a call return at once.
  std::vector<std::unique_ptr<Instance>> idle;
  {
    common::MutexLock l(mu_);
    for (auto& [name, pool] : pools_) {
      common::MutexLock pl(pool->mu);
      for (auto& inst : pool->instances) {
        if (inst->busy) inst->process.Signal(SIGKILL);
      }
      for (auto& inst : pool->instances) {
        if (!inst->busy) idle.push_back(std::move(inst));
      }
      std::erase(pool->instances, nullptr);
      pool->cv.NotifyAll();
    }
  }
  for (auto& inst : idle) inst->process.Terminate(std::chrono::milliseconds(2000));
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void FunctionRunner::Enqueue(const std::vector<Run>& runs, const std::map<int64_t, json>& events) {
  {
    common::MutexLock l(mu_);
    for (const Run& run : runs) {
      auto it = events.find(run.event_seq);
      queue_.emplace(run.next_attempt_ms,
                     Pending{run, it == events.end() ? json() : it->second, nullptr});
    }
  }
  // One worker per run: waking them all for one run only makes them fight over it.
  if (runs.size() == 1) {
    cv_.NotifyOne();
  } else {
    cv_.NotifyAll();
  }
}

Status FunctionRunner::Submit(const Run& run, RunCallback done) {
  DAT_RETURN_IF_ERROR(store_.PutRuns({run}));
  {
    common::MutexLock l(mu_);
    queue_.emplace(run.next_attempt_ms, Pending{run, json(), std::move(done)});
  }
  cv_.NotifyOne();
  return Status::Ok();
}

void FunctionRunner::WorkerLoop() {
  common::MutexLock l(mu_);
  while (!stopping_) {
    if (queue_.empty()) {
      cv_.Wait(mu_);
      continue;
    }
    auto first = queue_.begin();
    int64_t now = NowMs();
    if (first->first > now) {
      cv_.WaitFor(mu_, std::chrono::milliseconds(std::min<int64_t>(first->first - now, 1000)));
      continue;
    }
    Pending p = std::move(first->second);
    queue_.erase(first);
    l.Unlock();
    Execute(std::move(p));
    l.Lock();
  }
}

void FunctionRunner::ReaperLoop() {
  common::MutexLock l(mu_);
  while (!stopping_) {
    reaper_cv_.WaitFor(mu_, std::chrono::seconds(1));
    if (stopping_) break;
    int64_t cutoff = NowMs() - options_.idle_timeout.count();
    std::vector<std::unique_ptr<Instance>> expired;
    for (auto& [name, pool] : pools_) {
      common::MutexLock pl(pool->mu);
      for (auto& inst : pool->instances) {
        if (!inst->busy && inst->last_used_ms < cutoff) expired.push_back(std::move(inst));
      }
      std::erase(pool->instances, nullptr);
    }
    if (expired.empty()) continue;
    l.Unlock();
    for (auto& inst : expired) {
      spdlog::info("stopping idle function process (port {})", inst->port);
      inst->process.Terminate(std::chrono::milliseconds(2000));
    }
    l.Lock();
  }
}

FunctionRunner::Pool* FunctionRunner::PoolFor(const std::string& name) {
  common::MutexLock l(mu_);
  auto& pool = pools_[name];
  if (!pool) pool = std::make_unique<Pool>();
  return pool.get();
}

json FunctionRunner::SecretsFor(const store::Entity& function) {
  json secrets = json::object();
  auto it = function.spec.find("secrets");
  if (it == function.spec.end() || !it->is_array()) return secrets;
  for (const json& name : *it) {
    if (!name.is_string()) continue;
    auto secret = store_.GetEntity(store::Kind::kSecret, name.get<std::string>());
    if (!secret.ok()) {
      spdlog::warn("function {}: secret {} not found", function.name, name.get<std::string>());
      continue;
    }
    secrets[name.get<std::string>()] = secret->spec.value("secrets", json::object());
  }
  return secrets;
}

Result<std::shared_ptr<const FunctionRunner::FunctionInfo>> FunctionRunner::Function(
    const std::string& name) {
  // The generation is read before the entities: a change committed meanwhile bumps it after
  // the commit, so the next call reads again.
  int64_t generation = store_.EntityGeneration();
  {
    common::MutexLock l(cache_mu_);
    if (generation != cache_generation_) {
      cache_.clear();
      cache_generation_ = generation;
    }
    auto it = cache_.find(name);
    if (it != cache_.end()) return it->second;
  }
  DAT_ASSIGN_OR_RETURN(store::Entity entity, store_.GetEntity(store::Kind::kFunction, name));
  auto info = std::make_shared<FunctionInfo>();
  info->secrets = SecretsFor(entity);
  info->entity = std::move(entity);
  common::MutexLock l(cache_mu_);
  if (generation == cache_generation_) cache_[name] = info;
  return std::shared_ptr<const FunctionInfo>(std::move(info));
}

void FunctionRunner::Record(const Run& run, std::function<void()> done) {
  store::WriteBatch batch;
  batch.runs.push_back(run);
  committer_.Submit(std::move(batch), [id = run.id, status = run.status, done = std::move(done)](
                                          const Status& st, store::WriteBatch&) {
    if (!st.ok()) {
      spdlog::error("run {}: cannot record state {}: {}", id, store::RunStatusName(status),
                    st.message());
    }
    if (done) done();
  });
}

Result<std::unique_ptr<FunctionRunner::Instance>> FunctionRunner::StartInstance(
    const store::Entity& function, int slot) {
  std::string language = function.spec.value("language", "native");
  std::string code = function.spec.value(
      "path", FunctionDir(function.name) + "/" + function.spec.value("file", "function"));
  common::SpawnOptions so;
  if (language == "native") {
    so.argv = {code};
  } else if (language == "python3") {
    so.argv = {function.spec.value("python", "python3"),
               options_.runtimes_dir + "/python3/function_server.py", code,
               function.spec.value("handler", "handle")};
  } else if (language == "nodejs") {
    so.argv = {function.spec.value("node", "node"),
               options_.runtimes_dir + "/nodejs/function_server.js", code,
               function.spec.value("handler", "handle")};
    std::string modules = function.spec.value("nodeModules", "");
    if (!modules.empty()) so.env.push_back("NODE_PATH=" + modules);
  } else {
    return common::Unimplemented("language " + language + " has no runtime in this build");
  }
  // Port 0: the process binds a free port itself and says which (see the class comment).
  so.env.push_back("PORT=0");
  so.env.push_back("FUNCTION_NAME=" + function.name);
  so.env.push_back("PYTHONUNBUFFERED=1");
  const std::string token = NewProcessToken();
  so.env.push_back(std::string(kProcessTokenEnv) + "=" + token);
  // Stopped with the server even when the server is killed -9 (workers, which spawn, live
  // as long as the runner). SIGTERM rather than SIGKILL: the function server finishes the
  // call in flight (a post made is recorded, so the re-run does not post again); one that
  // does not exit is killed by the next server (pid file).
  so.parent_death_signal = SIGTERM;
  const json env = function.spec.value("env", json::object());
  for (const auto& [key, value] : env.items()) {
    if (value.is_string()) so.env.push_back(key + "=" + value.get<std::string>());
  }
  so.cwd = FunctionDir(function.name);
  auto inst = std::make_unique<Instance>();
  inst->slot = slot;
  inst->log_path = LogPath(function.name, slot);
  so.stdout_to = inst->log_path;
  so.stderr_to = inst->log_path;
  int64_t log_start = FileSize(inst->log_path);
  DAT_ASSIGN_OR_RETURN(inst->process, common::Process::Spawn(so));
  inst->pid_file = WritePidFile(PidDir(), inst->process.pid(), token);

  // Ready once it has printed its listening line (read from its log) and answers /healthz.
  auto deadline = std::chrono::steady_clock::now() + options_.startup_timeout;
  int delay_ms = 1;
  while (true) {
    std::string out = ReadFileFrom(inst->log_path, log_start, 64 * 1024);
    inst->port = ListeningPort(out);
    if (inst->port > 0) break;
    if (!inst->process.Running()) {
      auto code_or = inst->process.Wait(std::chrono::milliseconds(0));
      return common::Unavailable(
          "function process exited with status " + std::to_string(code_or.ok() ? *code_or : -1) +
          ": " + std::string(common::Trim(ReadFileFrom(inst->log_path, log_start, 2000))));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      inst->process.Terminate(std::chrono::milliseconds(1000));
      return common::DeadlineExceeded(
          "function process did not print \"listening on http://127.0.0.1:PORT\" within " +
          std::to_string(options_.startup_timeout.count()) + " ms");
    }
    if (stopping_) return common::Unavailable("server stopping");
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    delay_ms = std::min(delay_ms * 2, 20);
  }
  http::ClientRequest health;
  health.url = "http://127.0.0.1:" + std::to_string(inst->port) + "/healthz";
  health.connect_timeout = std::chrono::milliseconds(1000);
  health.timeout = std::chrono::milliseconds(5000);
  auto resp = client_.Send(health);
  if (!resp.ok() || resp->status != 200) {
    inst->process.Terminate(std::chrono::milliseconds(1000));
    return common::Unavailable(
        "function process does not answer GET /healthz on port " + std::to_string(inst->port) +
        ": " + (resp.ok() ? "HTTP " + std::to_string(resp->status) : resp.status().message()));
  }
  spdlog::info("function {} process started (pid {}, port {})", function.name, inst->process.pid(),
               inst->port);
  return inst;
}

Result<FunctionRunner::Instance*> FunctionRunner::Acquire(const store::Entity& function,
                                                          Pool** pool_out) {
  Pool* pool = PoolFor(function.name);
  *pool_out = pool;
  int max_instances = SpecInt(function, "instances", options_.default_instances);
  common::MutexLock l(pool->mu);
  while (true) {
    // No mu_ here: the lock order is mu_ → pool->mu.
    if (stopping_) return common::Unavailable("server stopping");
    for (auto& inst : pool->instances) {
      if (inst->busy) continue;
      if (!inst->process.Running()) {
        spdlog::warn("function {} process (pid {}) died; replacing it", function.name,
                     inst->process.pid());
        inst.reset();
        continue;
      }
      inst->busy = true;
      Instance* out = inst.get();
      std::erase(pool->instances, nullptr);
      return out;
    }
    std::erase(pool->instances, nullptr);
    int count = static_cast<int>(pool->instances.size() + pool->starting_slots.size());
    if (count < max_instances) {
      std::set<int> used(pool->starting_slots);
      for (auto& inst : pool->instances) used.insert(inst->slot);
      int slot = 0;
      while (used.count(slot)) ++slot;
      pool->starting_slots.insert(slot);
      int64_t generation = pool->generation;
      l.Unlock();
      auto started = StartInstance(function, slot);
      l.Lock();
      pool->starting_slots.erase(slot);
      pool->cv.NotifyAll();
      if (!started.ok()) return started.status();
      std::unique_ptr<Instance> inst = std::move(started).value();
      inst->busy = true;
      inst->generation = generation;
      Instance* out = inst.get();
      pool->instances.push_back(std::move(inst));
      return out;
    }
    pool->cv.WaitFor(pool->mu, std::chrono::milliseconds(200));
  }
}

void FunctionRunner::Release(Pool* pool, Instance* instance, bool broken) {
  std::unique_ptr<Instance> dropped;
  {
    common::MutexLock l(pool->mu);
    instance->busy = false;
    instance->last_used_ms = NowMs();
    if (broken || instance->generation != pool->generation) {
      for (auto& inst : pool->instances) {
        if (inst.get() == instance) dropped = std::move(inst);
      }
      std::erase(pool->instances, nullptr);
    }
  }
  pool->cv.NotifyAll();
  if (dropped) dropped->process.Terminate(std::chrono::milliseconds(1000));
}

void FunctionRunner::StopFunction(const std::string& name) {
  Pool* pool = PoolFor(name);
  std::vector<std::unique_ptr<Instance>> idle;
  {
    common::MutexLock l(pool->mu);
    ++pool->generation;
    for (auto& inst : pool->instances) {
      if (!inst->busy) idle.push_back(std::move(inst));
    }
    std::erase(pool->instances, nullptr);
  }
  for (auto& inst : idle) inst->process.Terminate(std::chrono::milliseconds(2000));
}

std::string FunctionRunner::Logs(const std::string& name, size_t max_bytes) const {
  std::string out;
  std::error_code ec;
  std::vector<std::string> files;
  std::string prefix = "function-" + name + ".";
  for (const auto& entry : fs::directory_iterator(options_.data_dir + "/logs", ec)) {
    std::string file = entry.path().filename().string();
    if (common::StartsWith(file, prefix) && common::EndsWith(file, ".log")) {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  for (const std::string& f : files)
    out += TailFile(f, max_bytes / std::max<size_t>(1, files.size()));
  return out;
}

void FunctionRunner::Execute(Pending p) {
  Run& run = p.run;
  auto info = Function(run.function);
  if (!info.ok()) {
    Finish(std::move(p), false, json(), SystemError("function " + run.function + " not found"),
           false, "");
    return;
  }
  const store::Entity* function = &(*info)->entity;
  if (function->status == store::kCreating) {
    // Not ready yet (its image is still building): try again shortly, without using an attempt.
    common::MutexLock l(mu_);
    if (!stopping_) queue_.emplace(NowMs() + 500, std::move(p));
    return;
  }
  if (function->status != store::kReady) {
    Finish(std::move(p), false, json(),
           SystemError("function " + run.function + " is " + function->status +
                       (function->reason.empty() ? "" : ": " + function->reason)),
           false, "");
    return;
  }
  if (run.max_attempts <= 0) {
    run.max_attempts = SpecInt(*function, "maxAttempts", options_.default_max_attempts);
  }
  run.attempts++;
  run.status = RunStatus::kRunning;
  run.started_ms = NowMs();
  Record(run);  // not waited for: if it is lost, the run is queued and runs again anyway
  if (p.event.is_null() && run.event_seq > 0) {
    auto ev = store_.GetEvent(run.event_seq);
    if (ev.ok()) p.event = ev->cloud_event;
  }

  json context = {{"secrets", (*info)->secrets}, {"function", run.function}, {"runId", run.id}};
  if (!p.event.is_null()) context["event"] = p.event;
  json body = {{"context", std::move(context)}, {"payload", run.input}};

  Pool* pool = nullptr;
  auto acquired = Acquire(*function, &pool);
  if (!acquired.ok()) {
    Finish(std::move(p), false, json(), SystemError(acquired.status().message()), true, "");
    return;
  }
  Instance* inst = *acquired;
  int64_t log_offset = FileSize(inst->log_path);

  http::ClientRequest req;
  req.method = "POST";
  req.url = "http://127.0.0.1:" + std::to_string(inst->port) + "/";
  req.headers.Set("Content-Type", "application/json");
  req.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  req.timeout = std::chrono::milliseconds(
      SpecInt(*function, "timeout", static_cast<int>(options_.default_timeout.count())));
  auto resp = client_.Send(req);

  bool broken = false;
  bool ok = false;
  bool retryable = true;
  json output;
  json error;
  if (!resp.ok()) {
    broken = true;
    if (resp.status().code() == common::Code::kDeadlineExceeded) {
      error =
          SystemError("function timed out after " + std::to_string(req.timeout.count()) + " ms");
    } else {
      error = SystemError("function process failed: " + resp.status().message());
    }
  } else if (resp->status == 200) {
    ok = true;
    auto parsed = json::parse(resp->body, nullptr, false);
    output = parsed.is_discarded() ? json(resp->body) : parsed;
  } else {
    auto parsed = json::parse(resp->body, nullptr, false);
    if (parsed.is_object() && parsed.contains("type") && parsed["type"].is_string()) {
      error = parsed;
    } else {
      error = {
          {"type", resp->status >= 500 ? "SystemError" : "InputError"},
          {"message", "HTTP " + std::to_string(resp->status) + ": " + resp->body.substr(0, 2000)},
          {"stacktrace", json::array()}};
    }
    if (!error.contains("stacktrace")) error["stacktrace"] = json::array();
    if (error.value("type", "") == "InputError") retryable = false;
    if (error.contains("retryable") && error["retryable"].is_boolean() &&
        !error["retryable"].get<bool>()) {
      retryable = false;
    }
  }
  std::string logs;
  if (FileSize(inst->log_path) > log_offset) {
    logs = ReadFileFrom(inst->log_path, log_offset, 64 * 1024);
  }
  Release(pool, inst, broken);
  Finish(std::move(p), ok, std::move(output), std::move(error), retryable, std::move(logs));
}

void FunctionRunner::Finish(Pending p, bool ok, json output, json error, bool retryable,
                            std::string logs) {
  // Shutting down: leave the run as the store has it so the next start runs it again.
  if (stopping_ && !ok) return;
  Run& run = p.run;
  int64_t now = NowMs();
  run.finished_ms = now;
  run.logs = std::move(logs);
  if (ok) {
    run.status = RunStatus::kSucceeded;
    run.output = std::move(output);
    run.error = json();
  } else {
    run.error = std::move(error);
    run.output = json();
    auto info = Function(run.function);
    std::string why;
    std::optional<int64_t> next =
        NextAttempt(&run, info.ok() ? &(*info)->entity : nullptr, retryable, now, &why);
    if (next) {
      run.status = RunStatus::kQueued;
      run.next_attempt_ms = *next;
      spdlog::info("run {} of {} failed (attempt {}/{}), retrying in {} ms", run.id, run.function,
                   run.attempts, run.max_attempts, *next - now);
      Record(run);
      common::MutexLock l(mu_);
      queue_.emplace(run.next_attempt_ms, std::move(p));
      cv_.NotifyOne();
      return;
    }
    run.status = RunStatus::kFailed;
    if (run.error.is_object()) run.error["deadLetterReason"] = why;
    spdlog::warn("run {} of {} failed after {} attempt(s) ({}): {}", run.id, run.function,
                 run.attempts, why, run.error.value("message", ""));
  }
  // The caller hears of the result once it is stored, so it can read it back at once.
  RunCallback done = std::move(p.done);
  if (done) {
    Record(run, [done = std::move(done), run]() { done(run); });
  } else {
    Record(run);
  }
}

std::optional<int64_t> FunctionRunner::NextAttempt(Run* run_out, const store::Entity* function,
                                                   bool retryable, int64_t now, std::string* why) {
  Run& run = *run_out;
  if (!retryable) {
    *why = "not retryable";
    return std::nullopt;
  }
  const bool flagged = run.error.is_object() && run.error.value("retryable", json()) == json(true);
  const bool function_says = function != nullptr && SpecInt(*function, "maxAttempts", 0) > 0;
  if (flagged && !function_says) {
    run.max_attempts = std::max(run.max_attempts, options_.default_max_attempts_retryable);
  }
  if (run.attempts >= run.max_attempts) {
    *why = "max attempts (" + std::to_string(run.max_attempts) + ") reached";
    return std::nullopt;
  }
  int64_t delay = Backoff(options_.retry_backoff, options_.retry_backoff_max, run.attempts);
  if (run.error.contains("retry_after_ms") && run.error["retry_after_ms"].is_number()) {
    delay = std::max<int64_t>(delay, run.error["retry_after_ms"].get<int64_t>());
  }
  int64_t max_age_s = static_cast<int64_t>(options_.default_max_event_age.count());
  if (function != nullptr) max_age_s = SpecInt(*function, "maxEventAgeSeconds", max_age_s);
  int64_t age_from = run.age_from_ms > 0 ? run.age_from_ms : run.created_ms;
  if (now + delay - age_from > max_age_s * 1000) {
    *why = "max event age (" + FormatSeconds(max_age_s) + ") exceeded";
    return std::nullopt;
  }
  return now + delay;
}

common::Result<std::vector<Run>> FunctionRunner::Redrive(const store::RunQuery& query) {
  DAT_ASSIGN_OR_RETURN(std::vector<Run> runs, store_.RedriveRuns(query, NowMs()));
  if (!runs.empty()) {
    spdlog::info("redriving {} failed run(s)", runs.size());
    Enqueue(runs);
  }
  return runs;
}

}  // namespace dispatch
