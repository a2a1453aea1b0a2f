#include "dispatch/driver_supervisor.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>

#include "common/crypto.h"
#include "common/files.h"
#include "common/strings.h"
#include "common/time.h"

namespace dispatch {

namespace fs = std::filesystem;
using common::FileSize;
using common::NowMs;
using common::ReadFileFrom;
using common::Result;
using common::Status;
using common::TailFile;
using nlohmann::json;

DriverSupervisor::DriverSupervisor(store::Store& store, SupervisorOptions options)
    : store_(store), options_(std::move(options)) {}

DriverSupervisor::~DriverSupervisor() { Stop(); }

std::string DriverSupervisor::LogPath(const std::string& name) const {
  return options_.data_dir + "/logs/eventdriver-" + name + ".log";
}

Result<std::string> DriverSupervisor::ResolveImage(const std::string& image) const {
  if (image.empty()) return common::InvalidArgument("driver type has no image");
  if (image.find('/') != std::string::npos &&
      (image[0] == '/' || common::StartsWith(image, "./") || common::StartsWith(image, "../"))) {
    auto exe = common::FindExecutable(image);
    if (!exe) return common::NotFound("driver executable " + image + " not found");
    return *exe;
  }
  // Container-style reference: drop the registry/repository path and the tag.
  std::string name = image;
  size_t slash = name.rfind('/');
  if (slash != std::string::npos) name = name.substr(slash + 1);
  size_t colon = name.find(':');
  if (colon != std::string::npos) name = name.substr(0, colon);
  size_t at = name.find('@');
  if (at != std::string::npos) name = name.substr(0, at);
  if (name.empty()) return common::InvalidArgument("bad driver image " + image);
  std::string local = options_.exe_dir + "/" + name;
  if (!options_.exe_dir.empty() && ::access(local.c_str(), X_OK) == 0) return local;
  auto exe = common::FindExecutable(name);
  if (!exe) {
    return common::NotFound("driver executable " + name + " (from image " + image +
                            ") not found next to dispatch or on PATH");
  }
  return *exe;
}

Status DriverSupervisor::Start(int api_port) {
  api_port_ = api_port;
  std::error_code ec;
  fs::create_directories(options_.data_dir + "/logs", ec);
  DAT_ASSIGN_OR_RETURN(auto drivers, store_.ListEntities(store::Kind::kEventDriver));
  {
    common::MutexLock l(mu_);
    for (const auto& d : drivers) {
      if (d.status == store::kDeleting) {
        // The server died while deleting it: finish the delete.
        (void)store_.DeleteEntity(store::Kind::kEventDriver, d.name);
        continue;
      }
      drivers_[d.name] = Driver{};
    }
  }
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void DriverSupervisor::Stop() {
  std::vector<std::future<void>> stoppers;
  {
    common::MutexLock l(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.NotifyAll();
  if (thread_.joinable()) thread_.join();
  {
    common::MutexLock l(mu_);
    for (auto& [name, d] : drivers_) {
      if (!d.running) continue;
      spdlog::info("stopping event driver {}", name);
      stoppers_.push_back(std::async(
          std::launch::async,
          [p = std::move(d.process), grace = options_.grace]() mutable { p.Terminate(grace); }));
    }
    drivers_.clear();
    stoppers.swap(stoppers_);
  }
  for (auto& f : stoppers) f.wait();
}

void DriverSupervisor::Add(const std::string& name) {
  {
    common::MutexLock l(mu_);
    if (stopping_) return;
    drivers_.emplace(name, Driver{});
  }
  cv_.NotifyAll();
}

void DriverSupervisor::Remove(const std::string& name) {
  common::MutexLock l(mu_);
  SetStatus(name, store::kDeleting, "");
  auto it = drivers_.find(name);
  common::Process process;
  bool running = false;
  if (it != drivers_.end()) {
    running = it->second.running;
    process = std::move(it->second.process);
    drivers_.erase(it);
  }
  stoppers_.push_back(std::async(std::launch::async, [this, name, running, p = std::move(process),
                                                      grace = options_.grace]() mutable {
    if (running) {
      spdlog::info("stopping event driver {}", name);
      int code = p.Terminate(grace);
      spdlog::info("event driver {} stopped (status {})", name, code);
    }
    (void)store_.DeleteEntity(store::Kind::kEventDriver, name);
  }));
}

Status DriverSupervisor::Report(const std::string& name, const std::string& status,
                                const std::string& reason) {
  {
    common::MutexLock l(mu_);
    if (!drivers_.count(name)) return common::NotFound("eventdriver " + name + " not found");
  }
  if (status != store::kReady && status != store::kError) {
    return common::InvalidArgument("status must be READY or ERROR");
  }
  spdlog::info("event driver {} reported {}", name, status);
  SetStatus(name, status, status == store::kError ? reason : "");
  return Status::Ok();
}

std::string DriverSupervisor::Logs(const std::string& name, size_t max_bytes) const {
  return TailFile(LogPath(name), max_bytes);
}

void DriverSupervisor::SetStatus(const std::string& name, const std::string& status,
                                 const std::string& reason) {
  auto e = store_.GetEntity(store::Kind::kEventDriver, name);
  if (!e.ok()) return;
  if (e->status == store::kDeleting && status != store::kDeleting) return;
  e->status = status;
  e->reason = reason;
  e->modified_ms = NowMs();
  if (Status st = store_.UpdateEntity(*e); !st.ok()) {
    spdlog::error("event driver {}: cannot record status: {}", name, st.message());
  }
}

void DriverSupervisor::StartDriver(const std::string& name, Driver& d) {
  auto fail = [&](const std::string& reason) {
    SetStatus(name, store::kError, reason);
    d.backoff_ms = d.backoff_ms == 0 ? options_.backoff_initial.count()
                                     : std::min(d.backoff_ms * 2, options_.backoff_max.count());
    d.next_start_ms = NowMs() + d.backoff_ms;
  };
  auto entity = store_.GetEntity(store::Kind::kEventDriver, name);
  if (!entity.ok()) {
    fail(entity.status().message());
    return;
  }
  std::string type = entity->spec.value("type", "");
  auto type_entity = store_.GetEntity(store::Kind::kEventDriverType, type);
  if (!type_entity.ok()) {
    fail("eventdrivertype " + type + " not found");
    return;
  }
  auto exe = ResolveImage(type_entity->spec.value("image", ""));
  if (!exe.ok()) {
    fail(exe.status().message());
    return;
  }
  common::SpawnOptions so;
  so.argv = {*exe};
  for (const json& kv : entity->spec.value("config", json::array())) {
    std::string key = kv.value("key", "");
    std::string value = kv.value("value", "");
    if (key.empty()) continue;
    so.argv.push_back(value.empty() ? "--" + key : "--" + key + "=" + value);
  }
  // A stable source id across restarts of the server: the driver names its queue and rules
  // after it, so a restarted driver picks up the same queue and nothing queued is lost.
  bool has_source_id = false;
  for (const json& kv : entity->spec.value("config", json::array())) {
    if (kv.value("key", "") == "source-id") has_source_id = true;
  }
  if (!has_source_id) {
    std::string h = common::HexEncode(
        common::Sha256(name + ":" + std::to_string(entity->created_ms)).substr(0, 16));
    so.argv.push_back("--source-id=" + h.substr(0, 8) + "-" + h.substr(8, 4) + "-" +
                      h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20, 12));
  }
  std::string endpoint = "127.0.0.1:" + std::to_string(api_port_);
  so.argv.push_back("--dispatch-api-endpoint=" + endpoint);
  for (const json& secret_name : entity->spec.value("secrets", json::array())) {
    if (!secret_name.is_string()) continue;
    auto secret = store_.GetEntity(store::Kind::kSecret, secret_name.get<std::string>());
    if (!secret.ok()) {
      fail("secret " + secret_name.get<std::string>() + " not found");
      return;
    }
    const json values = secret->spec.value("secrets", json::object());
    for (auto& [k, v] : values.items()) {
      if (!v.is_string()) continue;
      // DESIGN.md: keys upper-cased (aws_access_key_id → AWS_ACCESS_KEY_ID), and keys an AWS
      // SDK reads with an AWS_ prefix get it too (endpoint_url → AWS_ENDPOINT_URL,
      // region → AWS_REGION).
      std::string key = common::ToUpper(k);
      so.env.push_back(key + "=" + v.get<std::string>());
      if (key.rfind("AWS_", 0) != 0) so.env.push_back("AWS_" + key + "=" + v.get<std::string>());
    }
  }
  so.env.push_back("DISPATCH_API_ENDPOINT=" + endpoint);
  so.env.push_back("DISPATCH_TOKEN=" + options_.token);
  so.env.push_back("DISPATCH_EVENT_DRIVER_NAME=" + name);
  so.env.push_back("DISPATCH_DRIVER_READY_URL=http://" + endpoint + "/v1/eventdrivers/" + name +
                   "/ready");
  so.stdout_to = LogPath(name);
  so.stderr_to = LogPath(name);
  // A server killed with -9 takes its drivers with it (they are restarted with it), instead
  // of leaving orphans relaying to a dead endpoint. Spawned from the supervisor's own
  // long-lived thread, as the parent-death signal requires.
  so.parent_death_signal = SIGKILL;
  d.log_offset = FileSize(LogPath(name));
  auto process = common::Process::Spawn(so);
  if (!process.ok()) {
    fail(process.status().message());
    return;
  }
  d.process = std::move(process).value();
  d.running = true;
  d.started_ms = NowMs();
  spdlog::info("event driver {} started: {} (pid {})", name, *exe, d.process.pid());
  // After a crash the status stays ERROR (with the reason) until the restarted driver reports
  // READY again.
}

void DriverSupervisor::Loop() {
  common::MutexLock l(mu_);
  while (!stopping_) {
    int64_t now = NowMs();
    for (auto& [name, d] : drivers_) {
      if (d.running) {
        if (d.process.Running()) continue;
        d.running = false;
        auto code = d.process.Wait(std::chrono::milliseconds(0));
        std::string tail(common::Trim(ReadFileFrom(LogPath(name), d.log_offset, 1 << 20)));
        if (tail.size() > 1000) tail = tail.substr(tail.size() - 1000);
        std::string reason = "driver exited with status " + std::to_string(code.ok() ? *code : -1) +
                             (tail.empty() ? "" : ": " + tail);
        bool ran_long = now - d.started_ms > 60'000;
        d.backoff_ms = (ran_long || d.backoff_ms == 0)
                           ? options_.backoff_initial.count()
                           : std::min(d.backoff_ms * 2, options_.backoff_max.count());
        d.next_start_ms = now + d.backoff_ms;
        ++d.restarts;
        spdlog::warn("event driver {} exited (status {}); restarting in {} ms", name,
                     code.ok() ? *code : -1, d.backoff_ms);
        SetStatus(name, store::kError, reason);
      } else if (now >= d.next_start_ms) {
        StartDriver(name, d);
      }
    }
    // Forget finished stops.
    std::erase_if(stoppers_, [](std::future<void>& f) {
      return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
    });
    cv_.WaitFor(mu_, std::chrono::milliseconds(100));
  }
}

}  // namespace dispatch
