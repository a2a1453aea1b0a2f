#include "common/time.h"

#include <gtest/gtest.h>

#include <vector>

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

TEST(Time, DurationsAndTimesForRetriesAndRedrives) {
  struct Case {
    const char* text;
    int64_t seconds;  // 0: refused
  };
  for (const Case& c : std::vector<Case>{{"90s", 90},
                                         {"30m", 1800},
                                         {"6h", 21600},
                                         {"2d", 172800},
                                         {"45", 45},
                                         {" 6h ", 21600},
                                         {"0s", 0},
                                         {"-1h", 0},
                                         {"h", 0},
                                         {"6x", 0},
                                         {"1.5h", 0},
                                         {"", 0},
                                         {"9999999999h", 0}}) {
    auto r = ParseDurationSeconds(c.text);
    if (c.seconds == 0) {
      EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << c.text;
    } else {
      ASSERT_TRUE(r.ok()) << c.text << ": " << r.status().ToString();
      EXPECT_EQ(*r, c.seconds) << c.text;
    }
  }
  EXPECT_EQ(*ParseTimeMs("2h", 10'000'000), 10'000'000 - 7'200'000);
  EXPECT_EQ(*ParseTimeMs("2026-12-03T10:00:00Z", 0), 1796292000000);
  EXPECT_FALSE(ParseTimeMs("yesterday", 0).ok());
}

TEST(Time, NowMsIsTheSystemClock) {
  int64_t before = ToUnixMillis(std::chrono::system_clock::now());
  int64_t now = NowMs();
  EXPECT_LE(before, now);
  EXPECT_LE(now, ToUnixMillis(std::chrono::system_clock::now()));
}

}  // namespace
}  // namespace common
