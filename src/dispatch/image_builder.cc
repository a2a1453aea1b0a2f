#include "dispatch/image_builder.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "common/files.h"
#include "common/strings.h"
#include "common/subprocess.h"
#include "common/time.h"

namespace dispatch {

namespace fs = std::filesystem;
using common::NowMs;
using common::WriteFile;
using nlohmann::json;
using store::Entity;
using store::Kind;

namespace {

// Empties `dir` and writes the image's dependency list into it as `file`.
common::Status FreshImageDir(const std::string& dir, const std::string& file,
                             const std::string& content) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  return WriteFile(dir + "/" + file, content, 0644);
}

// Why an installer failed: its stderr (else stdout), at most ~1500 characters; the start of it
// when `head` (npm says what failed first), else the end (pip says it last).
std::string InstallFailure(const common::Result<common::RunResult>& run, bool head) {
  if (!run.ok()) return run.status().message();
  std::string why(common::Trim(run->err));
  if (why.empty()) why = std::string(common::Trim(run->out));
  if (why.size() > 1500) {
    why = head ? why.substr(0, 1500) + "…" : "…" + why.substr(why.size() - 1500);
  }
  return why;
}

}  // namespace

bool IsSupportedLanguage(const std::string& language) {
  return language == "python3" || language == "native" || language == "nodejs";
}

ImageBuilder::ImageBuilder(store::Store& store, BuilderOptions options)
    : store_(store), options_(std::move(options)) {}

ImageBuilder::~ImageBuilder() { Stop(); }

std::string ImageBuilder::ImageDir(const std::string& name) const {
  return options_.data_dir + "/images/" + name;
}

void ImageBuilder::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void ImageBuilder::Stop() {
  {
    common::MutexLock l(mu_);
    stopping_ = true;
  }
  cv_.NotifyAll();
  if (thread_.joinable()) thread_.join();
}

void ImageBuilder::Poke() {
  {
    common::MutexLock l(mu_);
    poked_ = true;
  }
  cv_.NotifyAll();
}

void ImageBuilder::Loop() {
  common::MutexLock l(mu_);
  while (!stopping_) {
    poked_ = false;
    l.Unlock();
    Reconcile();
    l.Lock();
    if (!poked_)
      cv_.WaitFor(mu_, std::chrono::milliseconds(500),
                  [&]() REQUIRES(mu_) { return poked_ || stopping_; });
  }
}

void ImageBuilder::Save(Entity& e, const std::string& status, const std::string& reason) {
  auto current = store_.GetEntity(e.kind, e.name);
  // Deleted or deleting meanwhile: leave it alone.
  if (!current.ok() || current->status == store::kDeleting) return;
  e.status = status;
  e.reason = reason;
  e.modified_ms = NowMs();
  if (auto st = store_.UpdateEntity(e); !st.ok()) {
    spdlog::error("{} {}: cannot record status: {}", store::KindName(e.kind), e.name, st.message());
  }
}

void ImageBuilder::Reconcile() {
  for (Kind kind : {Kind::kBaseImage, Kind::kImage, Kind::kFunction}) {
    auto list = store_.ListEntities(kind);
    if (!list.ok()) continue;
    for (Entity& e : *list) {
      if (e.status != store::kCreating) continue;
      {
        common::MutexLock l(mu_);
        if (stopping_) return;
      }
      if (kind == Kind::kBaseImage) CheckBaseImage(std::move(e));
      if (kind == Kind::kImage) BuildImage(std::move(e));
      if (kind == Kind::kFunction) CheckFunction(std::move(e));
    }
  }
}

void ImageBuilder::CheckBaseImage(Entity e) {
  std::string language = e.spec.value("language", "");
  if (language == "python3") {
    if (!common::FindExecutable(options_.python)) {
      Save(e, store::kError, "python3 runtime not found (" + options_.python + ")");
      return;
    }
  } else if (language == "nodejs") {
    if (!common::FindExecutable(options_.node)) {
      Save(e, store::kError, "nodejs runtime not found (" + options_.node + " is not on PATH)");
      return;
    }
  } else if (language != "native") {
    Save(e, store::kError, "unsupported language " + language);
    return;
  }
  Save(e, store::kReady, "");
}

void ImageBuilder::BuildImage(Entity e) {
  std::string base_name = e.spec.value("baseImage", "");
  auto base = store_.GetEntity(Kind::kBaseImage, base_name);
  if (!base.ok()) {
    Save(e, store::kError, "base image " + base_name + " not found");
    return;
  }
  if (base->status == store::kCreating) return;  // after the base image is ready
  if (base->status != store::kReady) {
    Save(e, store::kError, "base image " + base_name + " is " + base->status);
    return;
  }
  std::string language = base->spec.value("language", "");
  e.spec["language"] = language;
  std::string deps(common::Trim(e.spec.value("runtimeDependencies", "")));
  if (deps.empty()) {
    if (language == "python3") e.spec["python"] = options_.python;
    Save(e, store::kReady, "");
    return;
  }
  if (language == "nodejs") {
    BuildNodeImage(std::move(e), deps);
    return;
  }
  if (language != "python3") {
    Save(e, store::kError, "runtime dependencies are supported for python3 and nodejs images only");
    return;
  }
  std::string dir = ImageDir(e.name);
  if (auto st = FreshImageDir(dir, "requirements.txt", deps); !st.ok()) {
    Save(e, store::kError, st.message());
    return;
  }
  spdlog::info("image {}: creating virtual environment and installing dependencies", e.name);
  // The venv gets no pip of its own (ensurepip is slow); the machine's pip installs into it.
  common::SpawnOptions venv;
  venv.argv = {options_.python, "-m", "venv", "--without-pip", dir + "/venv"};
  auto made = common::RunCommand(venv, std::chrono::minutes(2));
  if (!made.ok() || made->exit_code != 0) {
    std::string why =
        made.ok() ? std::string(common::Trim(made->err + made->out)) : made.status().message();
    Save(e, store::kError, "python3 -m venv failed: " + why.substr(0, 1000));
    return;
  }
  common::SpawnOptions pip;
  pip.argv = {options_.python,
              "-m",
              "pip",
              "--python",
              dir + "/venv/bin/python",
              "install",
              "--disable-pip-version-check",
              "--no-input",
              "-r",
              dir + "/requirements.txt"};
  auto installed = common::RunCommand(pip, options_.pip_timeout);
  if (!installed.ok() || installed->exit_code != 0) {
    spdlog::warn("image {}: pip install failed", e.name);
    Save(e, store::kError, "pip install failed: " + InstallFailure(installed, false));
    return;
  }
  e.spec["python"] = dir + "/venv/bin/python";
  Save(e, store::kReady, "");
  spdlog::info("image {} ready", e.name);
}

void ImageBuilder::BuildNodeImage(Entity e, const std::string& package_json) {
  std::string dir = ImageDir(e.name);
  if (auto st = FreshImageDir(dir, "package.json", package_json); !st.ok()) {
    Save(e, store::kError, st.message());
    return;
  }
  spdlog::info("image {}: installing node dependencies", e.name);
  common::SpawnOptions npm;
  npm.argv = {options_.npm, "install", "--no-audit", "--no-fund", "--omit=dev", "--no-save"};
  npm.cwd = dir;
  auto installed = common::RunCommand(npm, options_.pip_timeout);
  if (!installed.ok() || installed->exit_code != 0) {
    spdlog::warn("image {}: npm install failed", e.name);
    Save(e, store::kError, "npm install failed: " + InstallFailure(installed, true));
    return;
  }
  e.spec["nodeModules"] = dir + "/node_modules";
  Save(e, store::kReady, "");
  spdlog::info("image {} ready", e.name);
}

void ImageBuilder::CheckFunction(Entity e) {
  std::string image_name = e.spec.value("image", "");
  auto image = store_.GetEntity(Kind::kImage, image_name);
  if (!image.ok()) {
    Save(e, store::kError, "image " + image_name + " not found");
    return;
  }
  if (image->status == store::kCreating) return;
  if (image->status != store::kReady) {
    Save(e, store::kError, "image " + image_name + " is " + image->status);
    return;
  }
  std::string language = image->spec.value("language", "");
  e.spec["language"] = language;
  if (language == "python3") e.spec["python"] = image->spec.value("python", options_.python);
  if (language == "nodejs") {
    e.spec["node"] = options_.node;
    std::string modules = image->spec.value("nodeModules", "");
    if (modules.empty()) {
      e.spec.erase("nodeModules");
    } else {
      e.spec["nodeModules"] = modules;
    }
  }
  Save(e, store::kReady, "");
}

}  // namespace dispatch
