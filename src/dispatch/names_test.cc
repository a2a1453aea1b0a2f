#include "dispatch/names.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace dispatch {
namespace {

TEST(NamesTest, NamesAreValidatedAndRandomNamesReadable) {
  EXPECT_TRUE(IsValidName("twitter"));
  EXPECT_TRUE(IsValidName("python3-base.v1_x"));
  EXPECT_FALSE(IsValidName(""));
  EXPECT_FALSE(IsValidName("-x"));
  EXPECT_FALSE(IsValidName("a/b"));
  EXPECT_FALSE(IsValidName("a b"));
  EXPECT_FALSE(IsValidName(std::string(64, 'a')));
  std::string n = RandomName();
  EXPECT_TRUE(IsValidName(n)) << n;
  // adjective-noun-NNNNNN
  ASSERT_GE(n.size(), 9u);
  EXPECT_EQ(n[n.size() - 7], '-');
  EXPECT_EQ(std::count(n.begin(), n.end(), '-'), 2);
}

}  // namespace
}  // namespace dispatch
