// Runs every case of testdata/eventbridge-patterns (recorded against real AWS):
// plain = match, _NEG = no match, _EXC = rejected, with AWS's message where recorded.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include "eventpattern/pattern.h"

namespace eventpattern {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kCaseDir = fs::path(DAT_TESTDATA_DIR) / "eventbridge-patterns";

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open test data file " + path.string());
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// JSON5 as the cases use it: // and /* */ comments and trailing commas, removed outside
// strings.
std::string StripJson5(const std::string& text) {
  std::string out;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      out.push_back(c);
      if (c == '\\' && i + 1 < text.size()) {
        out.push_back(text[++i]);
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      out.push_back(c);
    } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '/') {
      while (i < text.size() && text[i] != '\n') ++i;
      out.push_back('\n');
    } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
      i = text.find("*/", i + 2);
      if (i == std::string::npos) break;
      ++i;
    } else if (c == ']' || c == '}') {
      // Drop a trailing comma before the closing bracket.
      size_t j = out.size();
      while (j > 0 && isspace(static_cast<unsigned char>(out[j - 1]))) --j;
      if (j > 0 && out[j - 1] == ',') out.erase(j - 1, 1);
      out.push_back(c);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// The AWS messages recorded for the _EXC cases, keyed by case name.
std::map<std::string, std::string> RecordedMessages() {
  std::map<std::string, std::string> messages;
  json snapshot = json::parse(ReadFile(kCaseDir / "aws-validated-results.snapshot.json"));
  for (const auto& [key, entry] : snapshot.items()) {
    for (const auto& [name, content] : entry["recorded-content"].items()) {
      if (content.is_object() && content.contains("exception_message")) {
        messages[name] = content["exception_message"]["Error"]["Message"].get<std::string>();
      }
    }
  }
  return messages;
}

TEST(ConformanceTest, EveryRecordedCase) {
  ASSERT_TRUE(fs::is_directory(kCaseDir)) << kCaseDir;
  auto messages = RecordedMessages();
  int total = 0, passed = 0, messages_checked = 0;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(kCaseDir)) {
    if (entry.path().extension() == ".json5") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    std::string name = path.stem().string();
    ++total;
    json test_case;
    try {
      test_case = json::parse(StripJson5(ReadFile(path)));
    } catch (const json::exception& e) {
      ADD_FAILURE() << name << ": test file does not parse: " << e.what();
      continue;
    }
    std::string pattern_text = test_case["EventPattern"].dump();
    const json& event = test_case["Event"];
    EXPECT_TRUE(IsValidTestEvent(event)) << name;  // AWS accepted every recorded event
    auto pattern = Pattern::Parse(pattern_text);
    bool ok = false;
    if (name.size() > 4 && name.substr(name.size() - 4) == "_EXC") {
      if (pattern.ok()) {
        ADD_FAILURE() << name << ": accepted an invalid pattern " << pattern_text;
      } else if (auto it = messages.find(name); it != messages.end()) {
        ++messages_checked;
        EXPECT_EQ(pattern.status().message(), it->second) << name;
        ok = pattern.status().message() == it->second;
      } else {
        ok = true;
      }
    } else {
      bool expected = !(name.size() > 4 && name.substr(name.size() - 4) == "_NEG");
      if (!pattern.ok()) {
        ADD_FAILURE() << name << ": rejected a valid pattern: " << pattern.status().message();
      } else {
        bool matched = pattern->Matches(event);
        EXPECT_EQ(matched, expected)
            << name << "\npattern: " << pattern_text << "\nevent: " << event.dump();
        // The text overload and a one-pattern set must agree with the JSON overload.
        EXPECT_EQ(pattern->Matches(std::string_view(event.dump())), matched) << name;
        PatternSet set;
        set.Add(*pattern);
        EXPECT_EQ(set.CountMatches(event), matched ? 1u : 0u) << name;
        ok = matched == expected;
      }
    }
    passed += ok;
  }
  std::cout << "event patterns: " << passed << "/" << total << " cases (" << messages_checked
            << " AWS error messages compared)" << std::endl;
  EXPECT_EQ(passed, total);
  EXPECT_GE(total, 150);  // the folder holds 157; guards against reading the wrong place
}

}  // namespace
}  // namespace eventpattern
