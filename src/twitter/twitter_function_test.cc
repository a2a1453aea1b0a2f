#include "twitter/twitter_function.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/crypto.h"
#include "common/strings.h"
#include "common/testing/test_data.h"
#include "x/oauth1.h"

namespace twitter {
namespace {

TEST(PostedRecordKeyTest, HashOfBucketKeyEtagAndVersion) {
  EXPECT_EQ(PostedRecordKey(".dispatch-posted/", "b", "images/a.jpg", "e1", ""),
            ".dispatch-posted/" + common::Sha256Hex("b/images/a.jpg/e1") + ".json");
  EXPECT_EQ(PostedRecordKey("p/", "b", "k", "e1", "v9"),
            "p/" + common::Sha256Hex("b/k/e1/v9") + ".json");
  // Another version of the same key is another record.
  EXPECT_NE(PostedRecordKey("p/", "b", "k", "e1", ""), PostedRecordKey("p/", "b", "k", "e2", ""));
}

TEST(RenderTextTest, Placeholders) {
  EXPECT_EQ(RenderText("{filename}", "b", "images/red flower.jpg"), "red flower.jpg");
  EXPECT_EQ(RenderText("New in {bucket}: {key}!", "b", "images/x.png"), "New in b: images/x.png!");
  EXPECT_EQ(RenderText("{filename}", "b", "images/{key}.jpg"), "{key}.jpg");
  EXPECT_EQ(RenderText("no placeholders", "b", "k"), "no placeholders");
}

TEST(RenderTextTest, CutAt280CodePointsWithoutSplittingUtf8) {
  std::string key;
  for (int i = 0; i < 300; ++i) key += "é";  // 2 bytes each
  std::string text = RenderText("{filename}", "b", key);
  EXPECT_EQ(text.size(), 560u);
  EXPECT_TRUE(common::IsValidUtf8(text));
}

TEST(LooksLikeImageTest, ExtensionOrContentType) {
  EXPECT_TRUE(LooksLikeImage("images/a.JPG", ""));
  EXPECT_TRUE(LooksLikeImage("images/a.png", "binary/octet-stream"));
  EXPECT_TRUE(LooksLikeImage("images/noext", "image/jpeg"));
  EXPECT_FALSE(LooksLikeImage("images/notes.txt", "text/plain"));
  EXPECT_FALSE(LooksLikeImage("images/jpg", ""));
}

}  // namespace
}  // namespace twitter

// The function signs every X call through src/x; this pins that signer to the worked example
// of Twitter's documentation, which the posts in the e2e test depend on.
namespace twitter {
namespace {

TEST(OAuthExampleTest, TwitterDocsSignature) {
  nlohmann::json ex =
      nlohmann::json::parse(common::testing::ReadTestData("oauth1/twitter-docs-example.json"));
  x::OAuthCredentials creds;
  creds.consumer_key = ex["oauth"]["oauth_consumer_key"];
  creds.consumer_secret = ex["consumer_secret"];
  creds.token = ex["oauth"]["oauth_token"];
  creds.token_secret = ex["token_secret"];
  std::string url = ex["url"].get<std::string>() + "?include_entities=true";
  x::OAuthParams form = {{"status", ex["params"]["status"]}};
  x::OAuthParams used;
  std::string header = x::SignRequest(creds, "POST", url, form, ex["oauth"]["oauth_nonce"],
                                      ex["oauth"]["oauth_timestamp"], &used);
  std::string signature;
  for (const auto& [name, value] : used) {
    if (name == "oauth_signature") signature = value;
  }
  EXPECT_EQ(signature, ex["expected_signature"].get<std::string>()) << header;
}

}  // namespace
}  // namespace twitter

namespace twitter {
namespace {

TEST(MediaCategory, AnimatedGifsAreTweetGifEverythingElseTweetImage) {
  EXPECT_STREQ(MediaCategory(image::ImageFormat::kGif, 3), "tweet_gif");
  EXPECT_STREQ(MediaCategory(image::ImageFormat::kGif, 1), "tweet_image");
  EXPECT_STREQ(MediaCategory(image::ImageFormat::kWebp, 1), "tweet_image");
  EXPECT_STREQ(MediaCategory(image::ImageFormat::kJpeg, 1), "tweet_image");
}

TEST(OptionsEnvironment, KeepMetadataIsABoolean) {
  Options options;
  setenv("TWITTER_KEEP_METADATA", "true", 1);
  ASSERT_TRUE(options.ApplyEnvironment().ok());
  EXPECT_TRUE(options.watermark.keep_metadata);
  setenv("TWITTER_KEEP_METADATA", "maybe", 1);
  EXPECT_FALSE(options.ApplyEnvironment().ok());
  unsetenv("TWITTER_KEEP_METADATA");
}

}  // namespace
}  // namespace twitter
