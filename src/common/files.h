// Whole-file reads and writes, and reading the growing end of a log file. Plain file I/O on
// paths; thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace common {

// Reads a whole file. NotFound naming the path when it cannot be opened.
Result<std::string> ReadFile(const std::string& path);
// Writes a file atomically: into `path`.tmp with the given mode, fsync, rename over `path`.
// Internal naming the path on failure (the temporary file may then be left behind).
Status WriteFile(const std::string& path, std::string_view data, int mode = 0600);
// The last `max_bytes` of a file ("" when absent), starting at a line boundary when it can.
std::string TailFile(const std::string& path, size_t max_bytes);
// Bytes of the file from `offset` to its end, at most `max_bytes` ("" when absent).
std::string ReadFileFrom(const std::string& path, int64_t offset, size_t max_bytes);
// The file's size, 0 when absent.
int64_t FileSize(const std::string& path);

}  // namespace common
