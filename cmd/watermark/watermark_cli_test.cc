// Runs the real build/bin/watermark binary.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/subprocess.h"
#include "image/test_images.h"
#include "image/watermark.h"

namespace {

namespace fs = std::filesystem;

common::RunResult RunCli(std::vector<std::string> args, const std::string& input = "") {
  common::SpawnOptions options;
  options.argv = {std::string(DAT_BIN_DIR) + "/watermark"};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.pipe_stdin = !input.empty();
  auto result = common::RunCommand(options, std::chrono::seconds(30), input);
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  return result.ok() ? *result : common::RunResult{};
}

class WatermarkCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("watermark_cli_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    image::testing::JpegSpec spec;
    spec.width = 320;
    spec.height = 240;
    jpeg_ = image::testing::MakeJpeg(spec);
    std::ofstream(dir_ / "in.jpg", std::ios::binary) << jpeg_;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  fs::path dir_;
  std::string jpeg_;
};

TEST_F(WatermarkCli, FileToFileWithJsonSummary) {
  auto r = RunCli({(dir_ / "in.jpg").string(), (dir_ / "out.jpg").string(), "--json", "--gravity",
                   "northwest", "--scale", "0.25"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"path\":\"entropy\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"logo_box\":{\"height\":80,\"width\":80,\"x\":16,\"y\":16}"),
            std::string::npos)
      << r.out;
  const std::string written = Slurp(dir_ / "out.jpg");
  auto probe = image::Probe(written);
  ASSERT_TRUE(probe.ok());
  EXPECT_EQ(probe->width, 320);
  // Streamed piece by piece, the file is byte for byte what the library returns in memory.
  image::WatermarkOptions options;
  options.gravity = image::Gravity::kNorthWest;
  options.scale = 0.25;
  EXPECT_EQ(written, image::Watermark(jpeg_, options).value().data);
  EXPECT_NE(r.out.find("\"output_bytes\":" + std::to_string(written.size())), std::string::npos)
      << r.out;
}

TEST_F(WatermarkCli, StdinToStdout) {
  auto r = RunCli({"-", "-", "--json"}, jpeg_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto probe = image::Probe(r.out);
  ASSERT_TRUE(probe.ok()) << "stdout is the JPEG";
  EXPECT_EQ(probe->height, 240);
  EXPECT_NE(r.err.find("\"format\":\"jpeg\""), std::string::npos) << "JSON went to stderr";
}

TEST_F(WatermarkCli, ErrorsExitNonZeroWithAMessage) {
  std::ofstream(dir_ / "empty.jpg");
  auto empty = RunCli({(dir_ / "empty.jpg").string(), (dir_ / "out.jpg").string()});
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_NE(empty.err.find("empty input"), std::string::npos) << empty.err;
  auto missing = RunCli({(dir_ / "nope.jpg").string(), (dir_ / "out.jpg").string()});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("cannot open"), std::string::npos) << missing.err;
  auto gravity =
      RunCli({(dir_ / "in.jpg").string(), (dir_ / "out.jpg").string(), "--gravity", "up"});
  EXPECT_NE(gravity.exit_code, 0);
  EXPECT_NE(gravity.err.find("unknown gravity"), std::string::npos) << gravity.err;
  auto opacity =
      RunCli({(dir_ / "in.jpg").string(), (dir_ / "out.jpg").string(), "--opacity", "2"});
  EXPECT_NE(opacity.exit_code, 0);
  auto logo = RunCli({(dir_ / "in.jpg").string(), (dir_ / "out.jpg").string(), "--logo",
                      (dir_ / "in.jpg").string()});
  EXPECT_EQ(logo.exit_code, 1);
  EXPECT_NE(logo.err.find("logo"), std::string::npos) << logo.err;
  auto bomb =
      RunCli({(dir_ / "in.jpg").string(), (dir_ / "out.jpg").string(), "--max-pixels", "1000"});
  EXPECT_EQ(bomb.exit_code, 1);
  EXPECT_NE(bomb.err.find("over the limit"), std::string::npos) << bomb.err;
  // The output is created on the first write: rejected inputs leave no empty file behind.
  EXPECT_FALSE(fs::exists(dir_ / "out.jpg"));
  auto unwritable =
      RunCli({(dir_ / "in.jpg").string(), (dir_ / "no" / "such" / "dir" / "out.jpg").string()});
  EXPECT_EQ(unwritable.exit_code, 1);
  EXPECT_NE(unwritable.err.find("cannot create"), std::string::npos) << unwritable.err;
}

TEST_F(WatermarkCli, HelpDocumentsEveryFlag) {
  auto r = RunCli({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag : {"--logo", "--gravity", "--margin", "--scale", "--opacity",
                           "--max-pixels", "--json", "INPUT", "OUTPUT"}) {
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
  }
}

TEST_F(WatermarkCli, OutputFormatComesFromTheExtensionOrTheFlag) {
  const std::string in = (dir_ / "in.jpg").string();
  // A JPEG named .png is still read as a JPEG; out.png asks for PNG.
  fs::copy_file(in, dir_ / "named.png");
  auto r = RunCli({(dir_ / "named.png").string(), (dir_ / "out.png").string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["input_format"], "jpeg");
  EXPECT_EQ(j["format"], "png");
  EXPECT_EQ(Slurp(dir_ / "out.png").substr(1, 3), "PNG");
  // No extension: the input's format; --format overrides.
  r = RunCli({in, (dir_ / "out").string(), "--json"});
  EXPECT_EQ(nlohmann::json::parse(r.out)["format"], "jpeg");
  r = RunCli({in, (dir_ / "out").string(), "--format", "webp", "--json"});
  EXPECT_EQ(nlohmann::json::parse(r.out)["format"], "webp");
  EXPECT_EQ(Slurp(dir_ / "out").substr(8, 4), "WEBP");
  // Formats X does not take cannot be written.
  r = RunCli({in, (dir_ / "out.heic").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("cannot write heif"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "out.heic"));
  r = RunCli({in, (dir_ / "out.jpg").string(), "--keep-metadata", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["location_removed"], false);
}

}  // namespace
