#include "dispatch/server.h"

#include <gtest/gtest.h>

namespace dispatch {
namespace {

TEST(ServerTest, ParseListen) {
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

}  // namespace
}  // namespace dispatch
