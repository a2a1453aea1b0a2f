// The CLI's output helpers: YAML that reads back as the same data, suggestions, run columns.
#include "dispatch/cli_output.h"

#include <gtest/gtest.h>

namespace dispatch {
namespace {

using nlohmann::json;

TEST(CliOutputTest, YamlQuotesWhatYamlWouldReadAsSomethingElse) {
  json value = {{"plain", "images"},
                {"number", "0.1.0"},
                {"bool", "yes"},
                {"empty", ""},
                {"colon", "a: b"},
                {"list", json::array({1, "two", json::object(), json::array()})},
                {"nested", {{"k", {{"deep", true}}}}}};
  EXPECT_EQ(ToYaml(value),
            "bool: \"yes\"\n"
            "colon: \"a: b\"\n"
            "empty: \"\"\n"
            "list:\n"
            "  - 1\n"
            "  - two\n"
            "  - {}\n"
            "  - []\n"
            "nested:\n"
            "  k:\n"
            "    deep: true\n"
            "number: \"0.1.0\"\n"
            "plain: images\n");
  EXPECT_EQ(ToYaml(json::array()), "[]\n");
  EXPECT_EQ(ToYaml(json::array({{{"a", 1}, {"b", 2}}})), "- a: 1\n  b: 2\n");
}

TEST(CliOutputTest, SuggestsTheClosestWordOrNothing) {
  std::vector<std::string> commands = {"create", "update", "get", "delete", "logs"};
  EXPECT_EQ(Suggest("creat", commands), "create");
  EXPECT_EQ(Suggest("delet", commands), "delete");
  EXPECT_EQ(Suggest("lgos", commands), "logs");
  EXPECT_EQ(Suggest("frobnicate", commands), "");
  EXPECT_EQ(EditDistance("functons", "functions"), 1u);
}

TEST(CliOutputTest, RunSubjectAndOutcome) {
  json eventbridge = {{"status", "succeeded"},
                      {"input", {{"detail", {{"object", {{"key", "images/a b.jpg"}}}}}}},
                      {"output", {{"status", "posted"}, {"tweet_id", "123"}}}};
  EXPECT_EQ(RunSubject(eventbridge), "images/a b.jpg");
  EXPECT_EQ(RunOutcome(eventbridge), "posted 123");
  json skipped = {{"status", "succeeded"},
                  {"input", {{"Records", {{{"s3", {{"object", {{"key", "x.jpg"}}}}}}}}}},
                  {"output", {{"status", "skipped"}, {"reason", "already posted"}}}};
  EXPECT_EQ(RunSubject(skipped), "x.jpg");
  EXPECT_EQ(RunOutcome(skipped), "skipped (already posted)");
  json failed = {{"status", "failed"}, {"error", {{"message", "X said 503"}}}};
  EXPECT_EQ(RunSubject(failed), "");
  EXPECT_EQ(RunOutcome(failed), "failed: X said 503");
  EXPECT_EQ(RunOutcome({{"status", "queued"}}), "queued");
  EXPECT_EQ(ReadableTime("2026-12-03T13:40:01.123Z"), "2026-12-03 13:40:01");
}

}  // namespace
}  // namespace dispatch
