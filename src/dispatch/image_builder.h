// Brings base images, images and functions from CREATING to READY (or ERROR) in the
// background, as Dispatch did: a base image is ready when its language runtime is present; an
// image when its runtime dependencies are installed (python3: a per-image virtual environment
// built with the machine's pip; nodejs: `npm install` of a package.json into the image's
// directory); a function when its image is ready.
#pragma once

#include <chrono>
#include <string>
#include <thread>

#include "common/mutex.h"
#include "common/status.h"
#include "store/store.h"

namespace dispatch {

struct BuilderOptions {
  std::string data_dir;                            // images/<name>/venv live here
  std::string python = "python3";                  // interpreter for venvs and functions
  std::string node = "node";                       // nodejs functions' interpreter
  std::string npm = "npm";                         // installs nodejs images' dependencies
  std::chrono::milliseconds pip_timeout{600'000};  // per image build (pip or npm)
};

// Thread-safe. One background thread; builds run one at a time.
class ImageBuilder {
 public:
  ImageBuilder(store::Store& store, BuilderOptions options);
  ~ImageBuilder();
  ImageBuilder(const ImageBuilder&) = delete;
  ImageBuilder& operator=(const ImageBuilder&) = delete;

  void Start();
  void Stop();
  // Something was created: look for work now rather than at the next tick.
  void Poke();

  // Directory holding an image's files (its venv, or package.json and node_modules).
  std::string ImageDir(const std::string& name) const;

 private:
  void Loop();
  void Reconcile();
  void CheckBaseImage(store::Entity e);
  void BuildImage(store::Entity e);
  void BuildNodeImage(store::Entity e, const std::string& package_json);
  void CheckFunction(store::Entity e);
  void Save(store::Entity& e, const std::string& status, const std::string& reason);

  store::Store& store_;
  BuilderOptions options_;
  common::Mutex mu_;
  common::CondVar cv_;
  bool poked_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// Languages this build can run functions in.
bool IsSupportedLanguage(const std::string& language);

}  // namespace dispatch
