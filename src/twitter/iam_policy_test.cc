// The function's IAM policy allows exactly the S3 calls the function makes.
#include "twitter/iam_policy.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/strings.h"

namespace twitter {
namespace {

using nlohmann::json;

// Whether `policy` allows `action` on `arn` (Allow statements, trailing-'*' resources).
bool Allows(const json& policy, const std::string& action, const std::string& arn) {
  for (const auto& st : policy["Statement"]) {
    json actions = st["Action"].is_array() ? st["Action"] : json::array({st["Action"]});
    json resources = st["Resource"].is_array() ? st["Resource"] : json::array({st["Resource"]});
    bool action_ok = std::find(actions.begin(), actions.end(), action) != actions.end();
    for (const auto& r : resources) {
      std::string prefix = r.get<std::string>();
      if (action_ok && common::EndsWith(prefix, "*") &&
          common::StartsWith(arn, prefix.substr(0, prefix.size() - 1))) {
        return true;
      }
    }
  }
  return false;
}

TEST(FunctionIamPolicyTest, LeastPrivilegeForTheWatchedAndOwnPrefixes) {
  Options o;
  o.folder = "images/";
  o.posted_prefix = ".dispatch-posted/";
  o.write_back_prefix = "watermarked/";
  json policy = json::parse(FunctionIamPolicy(o, "photos"));
  EXPECT_EQ(policy["Version"], "2012-10-17");
  const std::string b = "arn:aws:s3:::photos/";
  EXPECT_TRUE(Allows(policy, "s3:GetObject", b + "images/cat.jpg"));
  EXPECT_FALSE(Allows(policy, "s3:PutObject", b + "images/cat.jpg"));
  EXPECT_FALSE(Allows(policy, "s3:GetObject", b + "private/cat.jpg"));
  EXPECT_TRUE(Allows(policy, "s3:PutObject", b + ".dispatch-posted/ab.json"));
  EXPECT_TRUE(Allows(policy, "s3:GetObject", b + ".dispatch-posted/ab.json"));
  EXPECT_TRUE(Allows(policy, "s3:PutObject", b + "watermarked/images/cat.jpg"));
  EXPECT_FALSE(Allows(policy, "s3:DeleteObject", b + "images/cat.jpg"));
  EXPECT_FALSE(Allows(policy, "s3:GetObject", "arn:aws:s3:::other/images/cat.jpg"));
  // Without write-back, nothing outside the record prefix is writable.
  o.write_back_prefix.clear();
  policy = json::parse(FunctionIamPolicy(o, "photos"));
  EXPECT_FALSE(Allows(policy, "s3:PutObject", b + "watermarked/images/cat.jpg"));
  // No folder: the whole bucket is read.
  o.folder.clear();
  policy = json::parse(FunctionIamPolicy(o, "photos"));
  EXPECT_TRUE(Allows(policy, "s3:GetObject", b + "anything.jpg"));
}

}  // namespace
}  // namespace twitter
