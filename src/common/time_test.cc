#include "common/time.h"

#include <gtest/gtest.h>

namespace common {
namespace {

TEST(Time, FormatsAndParses) {
  auto t = ParseAmzDate("20150830T123600Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(FormatAmzDate(*t), "20150830T123600Z");
  EXPECT_EQ(FormatDateStamp(*t), "20150830");
  EXPECT_EQ(FormatIso8601(*t), "2015-08-30T12:36:00Z");
  EXPECT_EQ(FormatHttpDate(*t), "Sun, 30 Aug 2015 12:36:00 GMT");
  auto u = ParseIso8601("2015-08-30T14:36:00.250+02:00");
  ASSERT_TRUE(u);
  EXPECT_EQ(ToUnixMillis(*u), ToUnixMillis(*t) + 250);
  EXPECT_EQ(FormatIso8601Millis(*u), "2015-08-30T12:36:00.250Z");
  EXPECT_FALSE(ParseAmzDate("2015-08-30"));
  EXPECT_FALSE(ParseIso8601("2015-13-30T12:00:00Z"));
  EXPECT_FALSE(ParseIso8601("2015-08-30T12:00:00"));
}

TEST(Time, FakeClockMovesOnlyWhenTold) {
  FakeClock c(FromUnixMillis(1000));
  EXPECT_EQ(ToUnixMillis(c.Now()), 1000);
  c.Advance(std::chrono::milliseconds(500));
  EXPECT_EQ(ToUnixMillis(c.Now()), 1500);
}

}  // namespace
}  // namespace common
