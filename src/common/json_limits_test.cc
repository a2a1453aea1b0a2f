#include "common/json_limits.h"

#include <gtest/gtest.h>

#include <string>

namespace common {
namespace {

std::string Nested(int depth, char open = '[', char close = ']') {
  return std::string(depth, open) + std::string(depth, close);
}

TEST(JsonLimits, CountsArraysAndObjects) {
  EXPECT_TRUE(CheckJsonDepth("1", 0).ok());
  EXPECT_TRUE(CheckJsonDepth("[]", 1).ok());
  EXPECT_FALSE(CheckJsonDepth("[]", 0).ok());
  EXPECT_TRUE(CheckJsonDepth(R"({"a":[{"b":1}],"c":{}})", 3).ok());
  EXPECT_FALSE(CheckJsonDepth(R"({"a":[{"b":1}],"c":{}})", 2).ok());
  EXPECT_TRUE(CheckJsonDepth(Nested(128), 128).ok());
  Status deep = CheckJsonDepth(Nested(129), 128);
  EXPECT_EQ(deep.code(), Code::kInvalidArgument);
  EXPECT_NE(deep.message().find("nested deeper than 128"), std::string::npos);
}

TEST(JsonLimits, SkipsBracketsInStringsAndHonoursEscapes) {
  EXPECT_TRUE(CheckJsonDepth(R"(["[[[[", "\"[[[[", "\\", "{{"])", 1).ok());
  // An escaped quote does not end the string; the bracket after the real end counts.
  EXPECT_FALSE(CheckJsonDepth(R"(["a\"b", [1]])", 1).ok());
}

TEST(JsonLimits, ParseJsonBoundedRefusesDeepInputWithoutRecursing) {
  // 1,000,000 levels would overflow the stack of any recursive walk.
  auto deep = ParseJsonBounded(Nested(1'000'000), kMaxJsonDepth);
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.status().code(), Code::kInvalidArgument);
  auto objects = ParseJsonBounded(std::string(500'000, '{'), kMaxJsonDepth);
  EXPECT_FALSE(objects.ok());
  auto ok = ParseJsonBounded(R"({"a":[1,2,{"b":null}]})");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)["a"][2]["b"], nullptr);
  auto bad = ParseJsonBounded("{\"a\":");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("malformed JSON"), std::string::npos);
}

}  // namespace
}  // namespace common
