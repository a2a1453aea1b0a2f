#include "localcloud/eventbridge/schedule.h"

#include <gtest/gtest.h>

namespace localcloud::eventbridge {
namespace {

common::SystemTime At(const char* iso) { return *common::ParseIso8601(iso); }

TEST(Schedule, RateExpressions) {
  auto s = ParseSchedule("rate(5 minutes)");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->is_rate);
  EXPECT_EQ(s->rate, std::chrono::minutes(5));
  EXPECT_EQ(ParseSchedule("rate(1 hour)")->rate, std::chrono::minutes(60));
  EXPECT_EQ(ParseSchedule("rate(2 days)")->rate, std::chrono::minutes(2880));
  EXPECT_EQ(*NextFire(*s, At("2024-01-01T00:00:30Z")), At("2024-01-01T00:05:30Z"));
  for (const char* bad : {"rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)", "rate(x minutes)",
                          "rate(5 weeks)", "rate()", "every 5 minutes"}) {
    EXPECT_FALSE(ParseSchedule(bad).ok()) << bad;
  }
}

TEST(Schedule, CronNextFire) {
  auto every15 = ParseSchedule("cron(0/15 * * * ? *)");
  ASSERT_TRUE(every15.ok()) << every15.status().ToString();
  EXPECT_EQ(*NextFire(*every15, At("2024-01-01T10:07:00Z")), At("2024-01-01T10:15:00Z"));
  EXPECT_EQ(*NextFire(*every15, At("2024-01-01T10:45:00Z")), At("2024-01-01T11:00:00Z"));

  // 10:00 UTC on weekdays: 2024-01-06 is a Saturday, so Monday the 8th.
  auto weekdays = ParseSchedule("cron(0 10 ? * MON-FRI *)");
  ASSERT_TRUE(weekdays.ok());
  EXPECT_EQ(*NextFire(*weekdays, At("2024-01-05T10:00:00Z")), At("2024-01-08T10:00:00Z"));

  auto first_of_month = ParseSchedule("cron(30 2 1 * ? *)");
  ASSERT_TRUE(first_of_month.ok());
  EXPECT_EQ(*NextFire(*first_of_month, At("2024-02-10T00:00:00Z")), At("2024-03-01T02:30:00Z"));

  auto past = ParseSchedule("cron(0 0 1 1 ? 2020)");
  ASSERT_TRUE(past.ok());
  EXPECT_FALSE(NextFire(*past, At("2024-01-01T00:00:00Z")).has_value());

  for (const char* bad : {"cron(* * * * * *)", "cron(0 10 * * ?)", "cron(61 * * * ? *)",
                          "cron(0 25 * * ? *)", "cron(0 0 ? * FOO *)"}) {
    EXPECT_FALSE(ParseSchedule(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace localcloud::eventbridge
