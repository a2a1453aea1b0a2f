#include "x/multipart.h"

#include <gtest/gtest.h>

namespace x {
namespace {

TEST(Multipart, RoundTrip) {
  std::string binary("\x00\xff\r\n--\r\nabc", 12);
  MultipartBody body = BuildMultipart(
      {{"media", "a.jpg", "image/jpeg", binary}, {"media_category", "", "", "tweet_image"}});
  auto parts = ParseMultipart(body.content_type, body.body);
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].name, "media");
  EXPECT_EQ((*parts)[0].filename, "a.jpg");
  EXPECT_EQ((*parts)[0].content_type, "image/jpeg");
  EXPECT_EQ((*parts)[0].data, binary);
  EXPECT_EQ((*parts)[1].name, "media_category");
  EXPECT_EQ((*parts)[1].data, "tweet_image");
}

TEST(Multipart, ParsesCurlStyleBody) {
  std::string body =
      "------X\r\nContent-Disposition: form-data; name=\"command\"\r\n\r\nINIT\r\n"
      "------X\r\nContent-Disposition: form-data; name=\"total_bytes\"\r\n\r\n10\r\n------X--\r\n";
  auto parts = ParseMultipart("multipart/form-data; boundary=\"----X\"", body);
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[1].data, "10");
}

TEST(Multipart, RejectsMalformed) {
  EXPECT_FALSE(ParseMultipart("application/json", "{}").ok());
  EXPECT_FALSE(ParseMultipart("multipart/form-data", "x").ok());
  EXPECT_FALSE(
      ParseMultipart("multipart/form-data; boundary=b",
                     "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated")
          .ok());
}

}  // namespace
}  // namespace x
