// Process-wide logging setup over spdlog. Libraries log with spdlog::info/warn/…;
// binaries call InitLogging once in main. Never log a secret value: log its name.
#pragma once

#include <string>
#include <string_view>

namespace common {

struct LogOptions {
  std::string program;         // appears in every line
  std::string level = "info";  // trace|debug|info|warn|error|off
  bool json = false;           // one JSON object per line instead of text
};

// Configures the default spdlog logger to write to stderr. Call before starting threads.
// Returns false (and keeps "info") when the level name is unknown.
bool InitLogging(const LogOptions& options);

}  // namespace common
