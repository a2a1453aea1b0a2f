#include "twitter/twitter_function.h"

#include <gtest/gtest.h>

#include "common/crypto.h"
#include "common/strings.h"

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
