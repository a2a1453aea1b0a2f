// The project's version, printed by `--version` on every binary and `dispatch version`.
// Kept equal to project(VERSION) in the top-level CMakeLists.txt (a test compares them); a
// header constant rather than a compile definition, so a release bump recompiles only its users.
#pragma once

namespace common {

inline constexpr const char* kVersion = "0.1.0";

}  // namespace common
