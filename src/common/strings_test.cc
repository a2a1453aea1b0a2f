#include "common/strings.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace common {
namespace {

TEST(Strings, HexRoundTrip) {
  std::string out;
  EXPECT_EQ(HexEncode("\x01\xab"), "01ab");
  ASSERT_TRUE(HexDecode("01AB", &out));
  EXPECT_EQ(out, "\x01\xab");
  EXPECT_FALSE(HexDecode("0", &out));
  EXPECT_FALSE(HexDecode("zz", &out));
}

TEST(Strings, JsonStringsRoundTripThroughAParser) {
  std::string out;
  AppendJsonString(&out, "plain");
  EXPECT_EQ(out, "\"plain\"");
  const std::string awkward = std::string("q\"b\\n\nr\rt\tz") + '\0' + "\x1f\x7f é 😀";
  out.clear();
  AppendJsonString(&out, awkward);
  EXPECT_EQ(out, "\"q\\\"b\\\\n\\nr\\rt\\tz\\u0000\\u001f\x7f é 😀\"");
  EXPECT_EQ(nlohmann::json::parse(out).get<std::string>(), awkward);
  out.clear();
  AppendJsonString(&out, "");
  EXPECT_EQ(out, "\"\"");
}

TEST(Strings, Base64) {
  struct Case {
    std::string in, out;
  } cases[] = {{"", ""},        {"f", "Zg=="},          {"fo", "Zm8="},
               {"foo", "Zm9v"}, {"foobar", "Zm9vYmFy"}, {"\xff\xfe\x80", "//6A"}};
  for (const auto& c : cases) {
    EXPECT_EQ(Base64Encode(c.in), c.out);
    std::string back;
    ASSERT_TRUE(Base64Decode(c.out, &back));
    EXPECT_EQ(back, c.in);
  }
  std::string back;
  EXPECT_FALSE(Base64Decode("Zm9v!", &back));
}

TEST(Strings, UriEncoding) {
  EXPECT_EQ(UriEncode("a b/c~"), "a%20b%2Fc~");
  EXPECT_EQ(UriEncode("a b/c", false), "a%20b/c");
  EXPECT_EQ(FormEncode("images/my photo ü.jpg"), "images/my+photo+%C3%BC.jpg");
  std::string out;
  ASSERT_TRUE(UriDecode("images/my+photo+%C3%BC.jpg", &out, true));
  EXPECT_EQ(out, "images/my photo ü.jpg");
  EXPECT_FALSE(UriDecode("%4", &out));
  EXPECT_FALSE(UriDecode("%", &out));
  EXPECT_FALSE(UriDecode("%zz", &out));
}

TEST(Strings, Utf8) {
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("ü 日本 😀"));
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));          // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));      // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));  // surrogate
}

TEST(Strings, SplitTrimCase) {
  EXPECT_EQ(Split("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(Trim("  x \r\n"), "x");
  EXPECT_TRUE(EqualsIgnoreCase("Content-Type", "content-type"));
  EXPECT_EQ(ToLower("AbC"), "abc");
}

}  // namespace
}  // namespace common
