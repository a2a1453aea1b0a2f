// JPEGs written by the encoders people's files come from (ImageMagick, cjpeg -optimize,
// Pillow optimize=True), generated at test time, through both JPEG paths and the CLI.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/files.h"
#include "common/subprocess.h"
#include "image/jpeg_parse.h"
#include "image/test_images.h"
#include "image/watermark.h"

namespace image {
namespace {

namespace fs = std::filesystem;
using testing::Decoded;

common::RunResult RunTool(std::vector<std::string> argv) {
  common::SpawnOptions options;
  options.argv = std::move(argv);
  options.stdout_to = "pipe";
  options.stderr_to = "pipe";
  auto result = common::RunCommand(options, std::chrono::seconds(60));
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  return result.ok() ? *result : common::RunResult{};
}

std::string Slurp(const fs::path& path) {
  auto data = common::ReadFile(path.string());
  EXPECT_TRUE(data.ok()) << data.status().ToString();
  return data.ok() ? std::move(data).value() : std::string();
}

void WriteFile(const fs::path& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

// Pillow through the system interpreter (python3-pil), as `python3 -c SCRIPT ARGS...`.
const char kPillowSave[] = R"(import sys
from PIL import Image
src, out, mode, progressive = sys.argv[1:5]
im = Image.open(src)
if mode != "RGB":
    im = im.convert(mode)
im.save(out, quality=90, optimize=True, progressive=progressive == "1"))";

const char kPillowLoad[] = R"(import sys
from PIL import Image
im = Image.open(sys.argv[1])
im.load()
print(im.size[0], im.size[1], 1 if im.info.get("progressive") else 0))";

struct EncoderCase {
  const char* name;
  int width, height;
  // The command writing OUT from IN (a PPM); "IN" and "OUT" are replaced.
  std::vector<std::string> command;
  WatermarkPath path;
  bool tables_full;  // the input's luma AC table has no free code: the rewrite is exercised
};

void PrintTo(const EncoderCase& tc, std::ostream* os) { *os << tc.name; }

std::vector<EncoderCase> Cases() {
  const std::string py = "/usr/bin/python3";
  return {
      {"magick_q90",
       640,
       480,
       {"convert", "IN", "-quality", "90", "OUT"},
       WatermarkPath::kEntropy,
       true},
      {"magick_q75_odd",
       637,
       479,
       {"convert", "IN", "-quality", "75", "OUT"},
       WatermarkPath::kEntropy,
       false},
      {"cjpeg_optimize",
       640,
       480,
       {"cjpeg", "-optimize", "-quality", "90", "-outfile", "OUT", "IN"},
       WatermarkPath::kEntropy,
       true},
      {"cjpeg_optimize_restart",
       640,
       480,
       {"cjpeg", "-optimize", "-quality", "90", "-restart", "1", "-outfile", "OUT", "IN"},
       WatermarkPath::kEntropy,
       true},
      {"pillow_optimize",
       640,
       480,
       {py, "-c", kPillowSave, "IN", "OUT", "RGB", "0"},
       WatermarkPath::kEntropy,
       true},
      {"pillow_optimize_gray",
       640,
       480,
       {py, "-c", kPillowSave, "IN", "OUT", "L", "0"},
       WatermarkPath::kEntropy,
       false},
      // Progressive files: their scans are spliced (jpeg_progressive.cc).
      {"cjpeg_progressive",
       640,
       480,
       {"cjpeg", "-progressive", "-quality", "90", "-outfile", "OUT", "IN"},
       WatermarkPath::kEntropy,
       false},
      {"pillow_progressive",
       640,
       480,
       {py, "-c", kPillowSave, "IN", "OUT", "RGB", "1"},
       WatermarkPath::kEntropy,
       false},
      {"magick_progressive_420",
       640,
       480,
       {"convert", "IN", "-interlace", "Plane", "-quality", "90", "-sampling-factor", "2x2", "OUT"},
       WatermarkPath::kEntropy,
       false},
      {"magick_progressive_444",
       640,
       480,
       {"convert", "IN", "-interlace", "Plane", "-quality", "90", "-sampling-factor", "1x1", "OUT"},
       WatermarkPath::kEntropy,
       false},
      {"magick_progressive_444_odd",
       637,
       479,
       {"convert", "IN", "-interlace", "Plane", "-quality", "85", "-sampling-factor", "1x1", "OUT"},
       WatermarkPath::kEntropy,
       false},
      {"magick_progressive_gray_odd",
       333,
       251,
       {"convert", "IN", "-colorspace", "Gray", "-interlace", "Plane", "-quality", "90", "OUT"},
       WatermarkPath::kEntropy,
       false},
      {"cjpeg_progressive_restart",
       640,
       480,
       {"cjpeg", "-progressive", "-restart", "1", "-quality", "90", "-outfile", "OUT", "IN"},
       WatermarkPath::kEntropy,
       false},
      {"cjpeg_progressive_restart_5_blocks_odd",
       637,
       479,
       {"cjpeg", "-progressive", "-restart", "5B", "-quality", "90", "-outfile", "OUT", "IN"},
       WatermarkPath::kEntropy,
       false},
      {"jpegtran_progressive",
       640,
       480,
       {"sh", "-c", "cjpeg -quality 90 \"$0\" | jpegtran -progressive -outfile \"$1\"", "IN",
        "OUT"},
       WatermarkPath::kEntropy,
       false},
      {"pillow_progressive_gray_odd",
       501,
       377,
       {py, "-c", kPillowSave, "IN", "OUT", "L", "1"},
       WatermarkPath::kEntropy,
       false},
  };
}

bool IsProgressive(const EncoderCase& tc) {
  return std::string(tc.name).find("progressive") != std::string::npos;
}

std::vector<EncoderCase> ProgressiveCases() {
  std::vector<EncoderCase> cases;
  for (const EncoderCase& tc : Cases()) {
    if (IsProgressive(tc)) cases.push_back(tc);
  }
  return cases;
}

// The number of scans of a JPEG: SOS markers (0xFF 0xDA cannot occur inside entropy-coded
// data, where every 0xFF is followed by 0x00 or a restart marker).
int CountScans(const std::string& jpeg) {
  int n = 0;
  for (size_t at = jpeg.find("\xFF\xDA"); at != std::string::npos;
       at = jpeg.find("\xFF\xDA", at + 2)) {
    ++n;
  }
  return n;
}

uint32_t CodeUnits(const internal::HuffmanSpec& spec) {
  uint32_t units = 0;
  for (int l = 1; l <= 16; ++l) units += spec.counts[l] << (16 - l);
  return units;
}

bool Inside(const Box& b, int x, int y) {
  return x >= b.x && x < b.x + b.width && y >= b.y && y < b.y + b.height;
}

int DiffersOutside(const Decoded& a, const Decoded& b, const Box& box) {
  int n = 0;
  for (int y = 0; y < a.height; ++y) {
    for (int x = 0; x < a.width; ++x) {
      if (Inside(box, x, y)) continue;
      const size_t i = (static_cast<size_t>(y) * a.width + x) * a.channels;
      for (int c = 0; c < a.channels; ++c) n += a.pixels[i + c] != b.pixels[i + c];
    }
  }
  return n;
}

class RealEncoders : public ::testing::TestWithParam<EncoderCase> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("jpeg_encoders_" + std::to_string(getpid()) + "_" + GetParam().name);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes the photo-like picture as a PPM and runs the case's encoder on it.
  std::string Encode() {
    const EncoderCase& tc = GetParam();
    const auto pixels = testing::MakePixels(tc.width, tc.height, 3, testing::Pattern::kPhoto, 14);
    std::string ppm =
        "P6\n" + std::to_string(tc.width) + " " + std::to_string(tc.height) + "\n255\n";
    ppm.append(reinterpret_cast<const char*>(pixels.data()), pixels.size());
    WriteFile(dir_ / "in.ppm", ppm);
    std::vector<std::string> argv = tc.command;
    for (std::string& arg : argv) {
      if (arg == "IN") arg = (dir_ / "in.ppm").string();
      if (arg == "OUT") arg = (dir_ / "in.jpg").string();
    }
    const common::RunResult r = RunTool(argv);
    EXPECT_EQ(r.exit_code, 0) << argv[0] << " failed (scripts/install-deps installs it): " << r.err;
    return Slurp(dir_ / "in.jpg");
  }

  fs::path dir_;
};

TEST_P(RealEncoders, LogoInTheCornerAndEveryOtherPixelKept) {
  const EncoderCase& tc = GetParam();
  const std::string input = Encode();
  ASSERT_FALSE(input.empty());
  auto in_header = internal::ParseJpegHeader(input);
  ASSERT_TRUE(in_header.ok()) << in_header.status().ToString();
  if (tc.tables_full) {
    ASSERT_EQ(CodeUnits(in_header->ac[0]), 65535u) << "expected a table with no free code";
  }

  auto result = Watermark(input, WatermarkOptions{});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->path, tc.path) << result->fallback_reason;
  if (tc.path == WatermarkPath::kEntropy) {
    EXPECT_EQ(result->fallback_reason, "");
  }
  EXPECT_EQ(result->width, tc.width);
  EXPECT_EQ(result->height, tc.height);
  EXPECT_EQ(result->logo_box.x + result->logo_box.width, tc.width - 16);
  EXPECT_EQ(result->logo_box.y + result->logo_box.height, tc.height - 16);

  // Same coefficients as the libjpeg coefficient path (itself checked against a full-decode
  // composite in image_test): the splice changed nothing else and composited the same.
  WatermarkOptions slow_options;
  slow_options.allow_entropy_path = false;
  auto slow = Watermark(input, slow_options);
  ASSERT_TRUE(slow.ok()) << slow.status().ToString();
  EXPECT_EQ(testing::ReadCoefficients(result->data).blocks,
            testing::ReadCoefficients(slow->data).blocks);

  const Decoded before = testing::DecodeJpeg(input), after = testing::DecodeJpeg(result->data);
  ASSERT_FALSE(after.pixels.empty());
  EXPECT_EQ(after.warnings, 0);
  ASSERT_EQ(after.pixels.size(), before.pixels.size());
  EXPECT_EQ(DiffersOutside(before, after, result->changed_box), 0);
  const Box& b = result->logo_box;
  EXPECT_LT(testing::Psnr(before, after, b.x, b.y, b.width, b.height), 25.0) << "no logo";

  if (tc.tables_full && tc.path == WatermarkPath::kEntropy) {
    // The luma AC table was rewritten (a DHT before the scan), and still has no all-ones code.
    auto out_header = internal::ParseJpegHeader(result->data);
    ASSERT_TRUE(out_header.ok());
    EXPECT_NE(std::vector<uint8_t>(out_header->ac[0].counts, out_header->ac[0].counts + 17),
              std::vector<uint8_t>(in_header->ac[0].counts, in_header->ac[0].counts + 17));
    EXPECT_LT(CodeUnits(out_header->ac[0]), 65536u);
  }

  // Stock decoders read it without a warning, at the right size.
  WriteFile(dir_ / "out.jpg", result->data);
  const common::RunResult djpeg =
      RunTool({"djpeg", "-outfile", (dir_ / "out.ppm").string(), (dir_ / "out.jpg").string()});
  EXPECT_EQ(djpeg.exit_code, 0);
  EXPECT_EQ(djpeg.err, "");
  const common::RunResult pillow =
      RunTool({"/usr/bin/python3", "-c", kPillowLoad, (dir_ / "out.jpg").string()});
  EXPECT_EQ(pillow.exit_code, 0) << pillow.err;
  EXPECT_EQ(pillow.out, std::to_string(tc.width) + " " + std::to_string(tc.height) + " " +
                            (IsProgressive(tc) ? "1" : "0") + "\n");

  // A progressive file stays progressive, with the same scans.
  auto out_header = internal::ParseJpegHeader(result->data);
  ASSERT_TRUE(out_header.ok());
  EXPECT_EQ(out_header->sof, in_header->sof);
  EXPECT_EQ(CountScans(result->data), CountScans(input));

  // The CLI reports the path taken.
  const common::RunResult cli = RunTool({std::string(DAT_BIN_DIR) + "/watermark", "--json",
                                         (dir_ / "in.jpg").string(), (dir_ / "cli.jpg").string()});
  EXPECT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_NE(cli.out.find(std::string("\"path\":\"") + WatermarkPathName(tc.path) + "\""),
            std::string::npos)
      << cli.out;
  EXPECT_EQ(Slurp(dir_ / "cli.jpg"), result->data);
}

INSTANTIATE_TEST_SUITE_P(All, RealEncoders, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return std::string(info.param.name); });

// Files whose tables are rewritten: bad input on the new code (each case a clear error or a
// valid output, never a crash), and the logo at every place.
class OptimizedTables : public RealEncoders {};

TEST_P(OptimizedTables, TruncatedOrCorruptTablesAndScans) {
  const std::string input = Encode();
  ASSERT_FALSE(input.empty());
  const size_t dht = input.find("\xFF\xC4");
  const size_t sos = input.find("\xFF\xDA");
  ASSERT_NE(dht, std::string::npos);
  ASSERT_NE(sos, std::string::npos);

  // Cut inside the DHT: refused as malformed.
  for (size_t cut : {dht + 3, dht + 10, dht + 25}) {
    auto result = Watermark(input.substr(0, cut), WatermarkOptions{});
    ASSERT_FALSE(result.ok()) << cut;
    EXPECT_EQ(result.status().code(), common::Code::kInvalidArgument);
  }
  // A DHT whose counts claim more symbols than it holds.
  std::string lying = input;
  lying[dht + 5 + 15] = static_cast<char>(200);  // 200 codes of 16 bits
  EXPECT_FALSE(Watermark(lying, WatermarkOptions{}).ok());

  // A full table listing one symbol twice (the rewrite refuses it; libjpeg may accept it).
  auto header = internal::ParseJpegHeader(input);
  ASSERT_TRUE(header.ok());
  std::string twice = input;
  {
    // The luma AC table (its own DHT, as libjpeg writes them): its symbols follow the counts.
    size_t ac = dht;
    while (ac < sos && !(input.compare(ac, 2, "\xFF\xC4") == 0 && input[ac + 4] == 0x10)) ++ac;
    ASSERT_LT(ac, sos);
    const size_t symbols = ac + 5 + 16;
    twice[symbols + 1] = twice[symbols];
    auto result = Watermark(twice, WatermarkOptions{});
    if (result.ok()) {
      EXPECT_FALSE(testing::DecodeJpeg(result->data).pixels.empty());
    }
  }

  // The scan truncated, or with bytes flipped, at several places: an error or a JPEG that
  // decodes; the rewrite never reads or writes out of bounds (ASan builds check the rest).
  const size_t scan =
      sos + 2 +
      ((static_cast<uint8_t>(input[sos + 2]) << 8) | static_cast<uint8_t>(input[sos + 3]));
  for (int i = 1; i <= 7; ++i) {
    const size_t at = scan + (input.size() - scan) * i / 8;
    auto cut = Watermark(input.substr(0, at), WatermarkOptions{});
    if (cut.ok()) {
      EXPECT_FALSE(testing::DecodeJpeg(cut->data).pixels.empty());
    }
    std::string flipped = input;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x5A);
    flipped[at + 1] = static_cast<char>(flipped[at + 1] ^ 0xC3);
    auto result = Watermark(flipped, WatermarkOptions{});
    if (result.ok()) {
      EXPECT_FALSE(testing::DecodeJpeg(result->data).pixels.empty());
    }
  }
}

// The logo at all five places: the same coefficients as the coefficient path, no pixel
// changed outside the box.
void ExpectEveryGravityMatchesTheCoefficientPath(const std::string& input) {
  const Decoded before = testing::DecodeJpeg(input);
  for (Gravity gravity : {Gravity::kNorthWest, Gravity::kNorthEast, Gravity::kCenter,
                          Gravity::kSouthWest, Gravity::kSouthEast}) {
    SCOPED_TRACE(GravityName(gravity));
    WatermarkOptions options;
    options.gravity = gravity;
    auto fast = Watermark(input, options);
    ASSERT_TRUE(fast.ok()) << fast.status().ToString();
    EXPECT_EQ(fast->path, WatermarkPath::kEntropy) << fast->fallback_reason;
    options.allow_entropy_path = false;
    auto slow = Watermark(input, options);
    ASSERT_TRUE(slow.ok()) << slow.status().ToString();
    EXPECT_EQ(testing::ReadCoefficients(fast->data).blocks,
              testing::ReadCoefficients(slow->data).blocks);
    const Decoded after = testing::DecodeJpeg(fast->data);
    ASSERT_FALSE(after.pixels.empty());
    EXPECT_EQ(after.warnings, 0);
    EXPECT_EQ(DiffersOutside(before, after, fast->changed_box), 0);
  }
}

TEST_P(OptimizedTables, EveryGravityMatchesTheCoefficientPath) {
  const std::string input = Encode();
  ASSERT_FALSE(input.empty());
  ExpectEveryGravityMatchesTheCoefficientPath(input);
}

INSTANTIATE_TEST_SUITE_P(Optimized, OptimizedTables,
                         ::testing::Values(Cases()[2], Cases()[3], Cases()[4]),
                         [](const auto& info) { return std::string(info.param.name); });

// Progressive files from every encoder: their scans are spliced (jpeg_progressive.cc).
class ProgressiveSplice : public RealEncoders {};

TEST_P(ProgressiveSplice, EveryGravityMatchesTheCoefficientPath) {
  const std::string input = Encode();
  ASSERT_FALSE(input.empty());
  ExpectEveryGravityMatchesTheCoefficientPath(input);
  // A logo as wide as the picture: its rows join into one run of blocks per scan.
  WatermarkOptions options;
  options.gravity = Gravity::kCenter;
  options.scale = 1.0;
  options.margin = 0;
  auto fast = Watermark(input, options);
  ASSERT_TRUE(fast.ok()) << fast.status().ToString();
  EXPECT_EQ(fast->path, WatermarkPath::kEntropy) << fast->fallback_reason;
  options.allow_entropy_path = false;
  auto slow = Watermark(input, options);
  ASSERT_TRUE(slow.ok()) << slow.status().ToString();
  EXPECT_EQ(testing::ReadCoefficients(fast->data).blocks,
            testing::ReadCoefficients(slow->data).blocks);
}

// Truncated or corrupted scans (every scan, several places): a clear InvalidArgument or a file
// that decodes, never a crash (ASan/UBSan builds and the fuzz target check the rest).
TEST_P(ProgressiveSplice, TruncatedOrCorruptScans) {
  const std::string input = Encode();
  ASSERT_FALSE(input.empty());
  std::vector<size_t> places;
  for (size_t at = input.find("\xFF\xDA"); at != std::string::npos;
       at = input.find("\xFF\xDA", at + 2)) {
    places.push_back(at + 12);  // inside the SOS or just after it
  }
  const size_t first = places.front();
  for (int i = 1; i <= 7; ++i) places.push_back(first + (input.size() - first) * i / 8);
  for (size_t at : places) {
    SCOPED_TRACE(at);
    if (at + 2 >= input.size()) continue;
    auto cut = Watermark(input.substr(0, at), WatermarkOptions{});
    if (cut.ok()) {
      EXPECT_FALSE(testing::DecodeJpeg(cut->data).pixels.empty());
    } else {
      EXPECT_EQ(cut.status().code(), common::Code::kInvalidArgument);
    }
    for (uint8_t flip : {0x5A, 0xFF, 0x01}) {
      std::string flipped = input;
      flipped[at] = static_cast<char>(flipped[at] ^ flip);
      flipped[at + 1] = static_cast<char>(flipped[at + 1] ^ 0xC3);
      auto result = Watermark(flipped, WatermarkOptions{});
      if (result.ok()) {
        EXPECT_FALSE(testing::DecodeJpeg(result->data).pixels.empty());
      } else {
        EXPECT_EQ(result.status().code(), common::Code::kInvalidArgument);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Progressive, ProgressiveSplice, ::testing::ValuesIn(ProgressiveCases()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ProgressiveSplice, EveryOrientationMatchesTheCoefficientPath) {
  for (int orientation = 1; orientation <= 8; ++orientation) {
    SCOPED_TRACE(orientation);
    testing::JpegSpec spec;
    spec.width = 333;
    spec.height = 251;
    spec.progressive = true;
    spec.orientation = orientation;
    const std::string input = testing::MakeJpeg(spec);
    auto fast = Watermark(input, WatermarkOptions{});
    ASSERT_TRUE(fast.ok()) << fast.status().ToString();
    EXPECT_EQ(fast->path, WatermarkPath::kEntropy) << fast->fallback_reason;
    EXPECT_EQ(fast->orientation, orientation);
    WatermarkOptions slow_options;
    slow_options.allow_entropy_path = false;
    auto slow = Watermark(input, slow_options);
    ASSERT_TRUE(slow.ok()) << slow.status().ToString();
    EXPECT_EQ(fast->logo_box, slow->logo_box);
    EXPECT_EQ(testing::ReadCoefficients(fast->data).blocks,
              testing::ReadCoefficients(slow->data).blocks);
    const Decoded before = testing::DecodeJpeg(input), after = testing::DecodeJpeg(fast->data);
    ASSERT_EQ(after.pixels.size(), before.pixels.size());
    EXPECT_EQ(DiffersOutside(before, after, fast->changed_box), 0);
  }
}

// An EOB run longer than the blocks left in its scan (libjpeg ignores the rest): the splice
// reads it like libjpeg and writes a file that decodes to the coefficient path's coefficients.
TEST(ProgressiveSplice, EobRunOverflowingTheScan) {
  // A flat 32x32 gray picture: every AC scan is one EOB run of its 16 blocks, with libjpeg's
  // optimized table holding that one symbol (0x40, code "0"): the bits 0 0000 then 111 padding.
  testing::JpegSpec spec;
  spec.width = 32;
  spec.height = 32;
  spec.components = 1;
  spec.progressive = true;
  std::string input = testing::MakeJpegFromPixels(spec, std::vector<uint8_t>(32 * 32, 128));
  size_t sos = input.find("\xFF\xDA");
  while (sos != std::string::npos &&
         !(input[sos + 7] == 1 && (static_cast<uint8_t>(input[sos + 9]) >> 4) == 0)) {
    sos = input.find("\xFF\xDA", sos + 2);  // the first AC first scan: Ss = 1, Ah = 0
  }
  ASSERT_NE(sos, std::string::npos);
  const size_t data = sos + 2 + static_cast<uint8_t>(input[sos + 3]);
  ASSERT_EQ(static_cast<uint8_t>(input[data]), 0x07);
  ASSERT_EQ(static_cast<uint8_t>(input[data + 1]), 0xFF);
  input[data] = 0x7F;  // the run's extra bits 1111: 31 blocks
  auto fast = Watermark(input, WatermarkOptions{});
  ASSERT_TRUE(fast.ok()) << fast.status().ToString();
  EXPECT_EQ(fast->path, WatermarkPath::kEntropy) << fast->fallback_reason;
  WatermarkOptions slow_options;
  slow_options.allow_entropy_path = false;
  auto slow = Watermark(input, slow_options);
  ASSERT_TRUE(slow.ok()) << slow.status().ToString();
  EXPECT_EQ(testing::ReadCoefficients(fast->data).blocks,
            testing::ReadCoefficients(slow->data).blocks);
  const Decoded after = testing::DecodeJpeg(fast->data);
  ASSERT_FALSE(after.pixels.empty());
  EXPECT_EQ(after.warnings, 0);
}

// What the splice does not handle goes to the coefficient path, which says why.
TEST(ProgressiveSplice, UnhandledFilesFallBackWithAReason) {
  const fs::path dir =
      fs::temp_directory_path() / ("jpeg_prog_fallback_" + std::to_string(getpid()));
  fs::create_directories(dir);
  testing::JpegSpec spec;
  WriteFile(dir / "base.jpg", testing::MakeJpeg(spec));
  // A scan script that never sends the last bit of the AC coefficients (valid, but the logo's
  // blocks could not be written exactly), and arithmetic coding.
  WriteFile(dir / "script.txt", "0 1 2: 0 0 0 1;\n0: 1 63 0 1;\n1: 1 63 0 0;\n2: 1 63 0 0;\n");
  const struct {
    std::vector<std::string> jpegtran;
    std::string reason;
  } cases[] = {
      {{"-scans", (dir / "script.txt").string()},
       "progressive JPEG: the scans leave coefficients incomplete"},
      {{"-arithmetic", "-progressive"}, "not a baseline Huffman JPEG"},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.reason);
    std::vector<std::string> argv = {"jpegtran"};
    argv.insert(argv.end(), tc.jpegtran.begin(), tc.jpegtran.end());
    argv.insert(argv.end(), {"-outfile", (dir / "in.jpg").string(), (dir / "base.jpg").string()});
    ASSERT_EQ(RunTool(argv).exit_code, 0);
    const std::string input = Slurp(dir / "in.jpg");
    auto result = Watermark(input, WatermarkOptions{});
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_EQ(result->path, WatermarkPath::kCoefficient);
    EXPECT_EQ(result->fallback_reason, tc.reason);
    // (Pixels are not compared: libjpeg smooths the blocks of an incomplete progressive file
    // when decoding it, not once they are complete.)
    const Decoded before = testing::DecodeJpeg(input), after = testing::DecodeJpeg(result->data);
    EXPECT_EQ(after.pixels.size(), before.pixels.size());
    EXPECT_EQ(after.warnings, 0);
  }
  fs::remove_all(dir);
}

TEST(ProgressiveInput, CountedTablesAreAsSmallAsLibjpegOptimized) {
  // Progressive input is written sequentially with tables from one count of the coefficients;
  // jpegtran -optimize re-encodes the very same coefficients with libjpeg's two-pass tables.
  testing::JpegSpec spec;
  spec.progressive = true;
  const std::string input = testing::MakeJpeg(spec);
  WatermarkOptions options;
  options.allow_entropy_path = false;  // the entropy path keeps the file's own scans
  auto result = Watermark(input, options);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->path, WatermarkPath::kCoefficient);
  const fs::path dir = fs::temp_directory_path() / ("jpeg_progressive_" + std::to_string(getpid()));
  fs::create_directories(dir);
  WriteFile(dir / "out.jpg", result->data);
  const common::RunResult r = RunTool({"jpegtran", "-optimize", "-copy", "all", "-outfile",
                                       (dir / "ref.jpg").string(), (dir / "out.jpg").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const std::string reference = Slurp(dir / "ref.jpg");
  fs::remove_all(dir);
  ASSERT_FALSE(reference.empty());
  EXPECT_EQ(testing::ReadCoefficients(reference).blocks,
            testing::ReadCoefficients(result->data).blocks);
  EXPECT_LE(result->data.size(), reference.size() + reference.size() / 200);  // within 0.5 %
}

}  // namespace
}  // namespace image
