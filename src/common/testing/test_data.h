// Test-only: reads files of the repository's testdata/ folder (see testdata/NOTICE).
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace common::testing {

// The repository's testdata/ folder. DAT_TESTDATA_DIR is set by dat_add_test.
inline std::filesystem::path TestDataDir() { return std::filesystem::path(DAT_TESTDATA_DIR); }

// Returns the whole content of testdata/<relative>. Throws std::runtime_error naming the path
// it tried when the file cannot be opened or read, so a missing file fails the test with the
// path instead of a parse error on empty input.
inline std::string ReadTestData(const std::filesystem::path& relative) {
  const std::filesystem::path path = TestDataDir() / relative;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open test data file " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) throw std::runtime_error("cannot read test data file " + path.string());
  return out.str();
}

}  // namespace common::testing
