#include "dispatch/api_json.h"

#include <gtest/gtest.h>

namespace dispatch {
namespace {

TEST(ApiJsonTest, HttpStatusForCodes) {
  EXPECT_EQ(HttpStatusFor(common::InvalidArgument("x")), 400);
  EXPECT_EQ(HttpStatusFor(common::NotFound("x")), 404);
  EXPECT_EQ(HttpStatusFor(common::AlreadyExists("x")), 409);
  EXPECT_EQ(HttpStatusFor(common::Unauthenticated("x")), 401);
}

}  // namespace
}  // namespace dispatch
