#include "dispatch/util.h"

#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <thread>
#include <vector>

#include "dispatch/server.h"

namespace dispatch {
namespace {

TEST(UtilTest, NamesAreValidatedAndRandomNamesReadable) {
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

TEST(UtilTest, ParseListen) {
  auto a = ParseListen("127.0.0.1:8080");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->first, "127.0.0.1");
  EXPECT_EQ(a->second, 8080);
  auto b = ParseListen(":0");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->first, "127.0.0.1");
  auto c = ParseListen("[::1]:9");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->first, "::1");
  EXPECT_FALSE(ParseListen("host:port").ok());
  EXPECT_FALSE(ParseListen("h:99999").ok());
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_FALSE(IsLoopbackHost("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1"));
}

TEST(UtilTest, HttpStatusForCodes) {
  EXPECT_EQ(HttpStatusFor(common::InvalidArgument("x")), 400);
  EXPECT_EQ(HttpStatusFor(common::NotFound("x")), 404);
  EXPECT_EQ(HttpStatusFor(common::AlreadyExists("x")), 409);
  EXPECT_EQ(HttpStatusFor(common::Unauthenticated("x")), 401);
}

TEST(UtilTest, RunIdsAreVersion7UuidsInCreationOrder) {
  std::string a = NewRunId();
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  std::string b = NewRunId();
  EXPECT_TRUE(std::regex_match(
      a, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << a;
  EXPECT_LT(a, b);
  EXPECT_NE(NewRunId(), NewRunId());
}

TEST(UtilTest, DurationsAndTimesForRetriesAndRedrives) {
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
      EXPECT_EQ(r.status().code(), common::Code::kInvalidArgument) << c.text;
    } else {
      ASSERT_TRUE(r.ok()) << c.text << ": " << r.status().ToString();
      EXPECT_EQ(*r, c.seconds) << c.text;
    }
  }
  EXPECT_EQ(*ParseTimeMs("2h", 10'000'000), 10'000'000 - 7'200'000);
  EXPECT_EQ(*ParseTimeMs("2026-12-03T10:00:00Z", 0), 1796292000000);
  EXPECT_FALSE(ParseTimeMs("yesterday", 0).ok());
}

}  // namespace
}  // namespace dispatch
