// Test helpers (tests only): start the localcloud binary on a free port and run stock AWS
// clients (awscli from Debian, boto3 under /usr/bin/python3) against it.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "common/subprocess.h"
#include "localcloud/models/model_checker.h"

namespace localcloud::testing {

// A temporary directory removed on destruction.
class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("localcloud-test-" + common::NewUuid().substr(0, 8));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& content) const {
    std::filesystem::path p = path_ / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }

 private:
  std::filesystem::path path_;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// A localcloud process on 127.0.0.1 and a free port. Killed on destruction.
class LocalcloudProcess {
 public:
  // Starts build/bin/localcloud with `extra` flags; asserts it comes up within 10 s.
  void Start(std::vector<std::string> extra = {}) {
    common::SpawnOptions options;
    options.argv = {std::string(DAT_BIN_DIR) + "/localcloud", "--port", "0"};
    // Every request of every test is judged by AWS's models when they are installed.
    for (auto& f : models::StrictModelsFlags()) options.argv.push_back(f);
    for (auto& e : extra) options.argv.push_back(e);
    options.stdout_to = "pipe";
    options.stderr_to = "/dev/null";
    auto p = common::Process::Spawn(options);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    process_ = std::move(p.value());
    auto url = common::WaitForListening(process_, std::chrono::seconds(10));
    ASSERT_TRUE(url.ok()) << url.status().ToString();
    endpoint_ = url.value();
  }
  // SIGTERM and wait (state is saved on a clean stop).
  int Stop() { return process_.Terminate(std::chrono::seconds(5)); }
  const std::string& endpoint() const { return endpoint_; }
  common::Process& process() { return process_; }

 private:
  common::Process process_;
  std::string endpoint_;
};

// The environment for AWS clients: fixed credentials, no user config, no IMDS, no pager.
inline std::vector<std::string> ClientEnv(const std::string& home,
                                          const std::string& secret = "test") {
  return {"HOME=" + home,
          "AWS_ACCESS_KEY_ID=test",
          "AWS_SECRET_ACCESS_KEY=" + secret,
          "AWS_DEFAULT_REGION=us-west-2",
          "AWS_REGION=us-west-2",
          "AWS_CONFIG_FILE=" + home + "/none",
          "AWS_SHARED_CREDENTIALS_FILE=" + home + "/none",
          "AWS_EC2_METADATA_DISABLED=true",
          "AWS_PAGER=",
          "AWS_CLI_AUTO_PROMPT=off",
          "PYTHONDONTWRITEBYTECODE=1"};
}

// Runs a command with the client environment; returns the result (asserting it ran).
inline common::RunResult RunClient(std::vector<std::string> argv,
                                   const std::vector<std::string>& env,
                                   std::chrono::seconds timeout = std::chrono::seconds(60),
                                   const std::string& cwd = "") {
  common::SpawnOptions options;
  options.argv = std::move(argv);
  options.env = env;
  options.cwd = cwd;
  auto r = common::RunCommand(options, timeout);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r.value() : common::RunResult{};
}

}  // namespace localcloud::testing
