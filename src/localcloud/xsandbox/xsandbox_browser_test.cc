// The timeline page in a real browser: headless Chromium screenshots GET /x/ before and after
// an image is posted, and the image's pixels must be on screen only after. Skipped (with a
// message) when chromium is not installed: `scripts/install-deps --browser` installs it.
#include <gtest/gtest.h>
#include <png.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/subprocess.h"
#include "http/client.h"
#include "http/server.h"
#include "localcloud/xsandbox/xsandbox_service.h"
#include "x/client.h"

namespace localcloud::xsandbox {
namespace {

// A solid image of one colour as PNG bytes (the colour the screenshot is searched for).
std::string SolidPng(int width, int height, uint8_t r, uint8_t g, uint8_t b) {
  std::vector<uint8_t> pixels(static_cast<size_t>(width) * height * 3);
  for (size_t i = 0; i < pixels.size(); i += 3) {
    pixels[i] = r;
    pixels[i + 1] = g;
    pixels[i + 2] = b;
  }
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = width;
  image.height = height;
  image.format = PNG_FORMAT_RGB;
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&image, nullptr, &size, 0, pixels.data(), 0, nullptr)) return "";
  std::string out(size, '\0');
  if (!png_image_write_to_memory(&image, out.data(), &size, 0, pixels.data(), 0, nullptr))
    return "";
  out.resize(size);
  return out;
}

// Pixels of the PNG file within `tolerance` of the colour; -1 when the file is unreadable.
long CountPixels(const std::string& path, uint8_t r, uint8_t g, uint8_t b, int tolerance = 12) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&image, path.c_str())) return -1;
  image.format = PNG_FORMAT_RGB;
  std::vector<uint8_t> pixels(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, pixels.data(), 0, nullptr)) return -1;
  long count = 0;
  for (size_t i = 0; i + 2 < pixels.size(); i += 3) {
    if (std::abs(pixels[i] - r) <= tolerance && std::abs(pixels[i + 1] - g) <= tolerance &&
        std::abs(pixels[i + 2] - b) <= tolerance) {
      ++count;
    }
  }
  return count;
}

class XSandboxBrowserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    chromium_ = common::FindExecutable("chromium").value_or("");
    if (chromium_.empty())
      GTEST_SKIP() << "chromium not installed (scripts/install-deps --browser)";
    char tmpl[] = "/tmp/xsandbox-browser-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    service_ = std::make_shared<XSandboxService>(context_, XSandboxOptions{});
    server_ = std::make_unique<http::HttpServer>(
        http::ServerOptions{}, [this](http::Request&& request, http::Respond respond) {
          Call call;
          call.request = std::move(request);
          call.request_id = "browser";
          service_->Handle(std::move(call), std::move(respond));
        });
    ASSERT_TRUE(server_->Start().ok());
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    if (server_) server_->Stop(std::chrono::milliseconds(100));
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Screenshots the timeline; returns the PNG path.
  std::string Screenshot(const std::string& name) {
    std::string shot = dir_ + "/" + name + ".png";
    common::SpawnOptions options;
    options.argv = {chromium_,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--hide-scrollbars",
                    "--user-data-dir=" + dir_ + "/profile",
                    "--window-size=800,900",
                    "--screenshot=" + shot,
                    base_ + "/x/"};
    auto result = common::RunCommand(options, std::chrono::seconds(90));
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_TRUE(std::filesystem::exists(shot)) << (result.ok() ? result->err : "");
    return shot;
  }

  std::string chromium_;
  std::string dir_;
  CloudContext context_{CloudConfig{}, common::SystemClock::Instance()};
  std::shared_ptr<XSandboxService> service_;
  std::unique_ptr<http::HttpServer> server_;
  std::string base_;
};

TEST_F(XSandboxBrowserTest, PostedImageIsShownOnTheTimeline) {
  const uint8_t r = 220, g = 30, b = 160;  // a magenta nothing else on the page uses
  std::string png = SolidPng(240, 180, r, g, b);
  ASSERT_FALSE(png.empty());

  long before = CountPixels(Screenshot("before"), r, g, b);
  ASSERT_GE(before, 0) << "unreadable screenshot";
  EXPECT_EQ(before, 0);

  http::CurlHttpClient http;
  x::XClientOptions options;
  options.api_base = base_ + "/x";
  options.credentials = {"test", "test", "test", "test"};
  x::XClient client(options, http);
  auto media = client.UploadMedia(png, "image/png");
  ASSERT_TRUE(media.ok()) << media.status().ToString();
  ASSERT_TRUE(client.CreatePost("A magenta square", {*media}).ok());

  long after = CountPixels(Screenshot("after"), r, g, b);
  std::printf("magenta pixels on screen: before %ld, after %ld (image has %d)\n", before, after,
              240 * 180);
  // The whole image is on screen (at device scale 1; allow for a little edge blending).
  EXPECT_GE(after, 240L * 180 * 9 / 10);
}

}  // namespace
}  // namespace localcloud::xsandbox
