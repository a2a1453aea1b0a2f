// The formats people upload, generated at test time with the real encoders (ImageMagick,
// heif-enc, cwebp, gifsicle, Pillow) and read back with a stock decoder (Pillow): every output
// decodes, has the right size, and shows the logo in the corner a viewer sees. Plus one
// regression test per hostile input, and location privacy.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/subprocess.h"
#include "common/testing/test_data.h"
#include "image/watermark.h"

namespace image {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Reads an image with Pillow; prints its format, size, frame count, and per frame the RGBA of
// the points given as x y pairs.
constexpr const char* kInspect = R"(
import json, sys
from PIL import Image, ImageSequence
im = Image.open(sys.argv[1])
pts = [(int(sys.argv[i]), int(sys.argv[i + 1])) for i in range(2, len(sys.argv), 2)]
frames, durations = [], []
for f in ImageSequence.Iterator(im):
    rgba = f.convert('RGBA')
    frames.append([list(rgba.getpixel(p)) for p in pts])
    durations.append(f.info.get('duration', 0))
print(json.dumps({'format': im.format, 'width': im.size[0], 'height': im.size[1],
                  'frames': len(frames), 'px': frames, 'durations': durations,
                  'animated': getattr(im, 'is_animated', False), 'loop': im.info.get('loop')}))
)";

// A 320x240 picture in Pillow, a flat colour (200, 60, 60) so the logo stands out, saved in
// `fmt` with extra Pillow arguments.
constexpr const char* kMake = R"(
import sys
from PIL import Image
mode = sys.argv[3] if len(sys.argv) > 3 else 'RGB'
fill = (200, 60, 60, 255) if mode == 'RGBA' else (200, 60, 60)
im = Image.new(mode, (int(sys.argv[2].split('x')[0]), int(sys.argv[2].split('x')[1])), fill)
im.save(sys.argv[1])
)";

class Formats : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("image_formats_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // Runs a command; its failure fails the test.
  std::string Run(std::vector<std::string> argv) {
    common::SpawnOptions options;
    options.argv = std::move(argv);
    auto result = common::RunCommand(options, std::chrono::seconds(60), "");
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    if (!result.ok()) return "";
    EXPECT_EQ(result->exit_code, 0) << options.argv[0] << ": " << result->err;
    return result->out;
  }
  void MakeBase(const std::string& name, const std::string& size = "320x240",
                const std::string& mode = "RGB") {
    Run({"/usr/bin/python3", "-c", kMake, Path(name), size, mode});
  }
  std::string Slurp(const std::string& name) {
    std::ifstream in(Path(name), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  void Write(const std::string& name, const std::string& data) {
    std::ofstream(Path(name), std::ios::binary) << data;
  }
  json Inspect(const std::string& name, const std::vector<std::pair<int, int>>& points) {
    std::vector<std::string> argv = {"/usr/bin/python3", "-c", kInspect, Path(name)};
    for (auto [x, y] : points) {
      argv.push_back(std::to_string(x));
      argv.push_back(std::to_string(y));
    }
    return json::parse(Run(argv));
  }

  // Watermarks `name`, writes the output, and checks with Pillow: `format`, the input's size,
  // the logo at the south-east (its centre differs from the flat colour) and the north-west
  // corner still the flat colour (within `tolerance`, for lossy formats).
  WatermarkResult CheckWatermarked(const std::string& name, ImageFormat want_format,
                                   const char* pil_format, int tolerance,
                                   WatermarkOptions options = {}) {
    auto result = Watermark(Slurp(name), options);
    EXPECT_TRUE(result.ok()) << name << ": " << result.status().ToString();
    if (!result.ok()) return {};
    EXPECT_EQ(result->format, want_format) << name;
    Write("out_" + name, result->data);
    const Box& box = result->logo_box;
    EXPECT_FALSE(box.empty());
    // South-east, as the picture is shown (these formats carry no orientation of their own).
    EXPECT_GT(box.x, result->width / 2);
    EXPECT_GT(box.y, result->height / 2);
    json info = Inspect("out_" + name, {{box.x + box.width / 2, box.y + box.height / 2},
                                        {box.x + box.width / 4, box.y + box.height / 2},
                                        {8, 8}});
    EXPECT_EQ(info["format"], pil_format) << name;
    EXPECT_EQ(info["width"], result->width);
    EXPECT_EQ(info["height"], result->height);
    for (const json& frame : info["px"]) {
      auto far = [](const json& px) {
        return std::abs(px[0].get<int>() - 200) + std::abs(px[1].get<int>() - 60) +
               std::abs(px[2].get<int>() - 60);
      };
      EXPECT_GT(far(frame[0]) + far(frame[1]), 120) << name << ": no logo at " << frame.dump();
      EXPECT_LE(far(frame[2]), tolerance) << name << ": corner changed: " << frame.dump();
    }
    return *result;
  }

  fs::path dir_;
};

TEST(FormatSniffing, DecidesFromContentNotExtension) {
  EXPECT_EQ(SniffFormat("\xFF\xD8\xFF\xE0"), ImageFormat::kJpeg);
  EXPECT_EQ(SniffFormat(std::string("\x89PNG\r\n\x1a\n", 8)), ImageFormat::kPng);
  EXPECT_EQ(SniffFormat("GIF89a......"), ImageFormat::kGif);
  EXPECT_EQ(SniffFormat(std::string("RIFF\x10\0\0\0WEBPVP8 ", 16)), ImageFormat::kWebp);
  EXPECT_EQ(SniffFormat(std::string("RIFF\x10\0\0\0WAVEfmt ", 16)), ImageFormat::kUnknown);
  EXPECT_EQ(SniffFormat(std::string("\0\0\0\x18"
                                    "ftypheic\0\0\0\0mif1heic",
                                    24)),
            ImageFormat::kHeif);
  EXPECT_EQ(SniffFormat(std::string("\0\0\0\x1c"
                                    "ftypavif\0\0\0\0avifmif1miaf",
                                    28)),
            ImageFormat::kAvif);
  EXPECT_EQ(SniffFormat(std::string("\0\0\0\x18"
                                    "ftypmif1\0\0\0\0mif1avif",
                                    24)),
            ImageFormat::kAvif);
  EXPECT_EQ(SniffFormat(std::string("\0\0\0\x18"
                                    "ftypisom\0\0\0\0isomiso2",
                                    24)),
            ImageFormat::kUnknown);  // an MP4 video
  EXPECT_EQ(SniffFormat(std::string("II*\0\x08\0\0\0", 8)), ImageFormat::kTiff);
  EXPECT_EQ(SniffFormat(std::string("MM\0*\0\0\0\x08", 8)), ImageFormat::kTiff);
  EXPECT_EQ(SniffFormat("BM" + std::string(40, '\0')), ImageFormat::kBmp);
  EXPECT_EQ(FormatFromExtension("dir.png/photo.JPG"), ImageFormat::kJpeg);
  EXPECT_EQ(FormatFromExtension("x.heic"), ImageFormat::kHeif);
  EXPECT_EQ(FormatFromExtension("noext"), ImageFormat::kUnknown);
  EXPECT_STREQ(ImageMimeType(ImageFormat::kWebp), "image/webp");
  EXPECT_TRUE(PostableFormat(ImageFormat::kGif));
  EXPECT_FALSE(PostableFormat(ImageFormat::kHeif));
}

TEST_F(Formats, HeicBecomesJpeg) {
  MakeBase("base.png");
  Run({"heif-enc", "-q", "60", Path("base.png"), "-o", Path("in.heic")});
  auto result = CheckWatermarked("in.heic", ImageFormat::kJpeg, "JPEG", 30);
  EXPECT_EQ(result.input_format, ImageFormat::kHeif);
  EXPECT_EQ(result.width, 320);
  EXPECT_EQ(result.height, 240);
  auto probe = Probe(Slurp("in.heic"));
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_EQ(probe->format, ImageFormat::kHeif);
  EXPECT_EQ(probe->width, 320);
}

TEST_F(Formats, AvifBecomesJpeg) {
  MakeBase("base.png");
  Run({"heif-enc", "-A", "-q", "60", Path("base.png"), "-o", Path("in.avif")});
  auto result = CheckWatermarked("in.avif", ImageFormat::kJpeg, "JPEG", 30);
  EXPECT_EQ(result.input_format, ImageFormat::kAvif);
}

TEST_F(Formats, HeicWithAlphaAsPngWhenAsked) {
  MakeBase("base.png", "320x240", "RGBA");
  Run({"heif-enc", "-q", "60", Path("base.png"), "-o", Path("in.heic")});
  WatermarkOptions options;
  options.output_format = ImageFormat::kPng;
  CheckWatermarked("in.heic", ImageFormat::kPng, "PNG", 30, options);
}

TEST_F(Formats, LossyWebpStaysWebpOrSmallerJpeg) {
  MakeBase("base.png");
  Run({"cwebp", "-quiet", "-q", "80", Path("base.png"), "-o", Path("in.webp")});
  auto result = Watermark(Slurp("in.webp"), {});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  const ImageFormat chosen = result->format;
  EXPECT_TRUE(chosen == ImageFormat::kWebp || chosen == ImageFormat::kJpeg);
  CheckWatermarked("in.webp", chosen, chosen == ImageFormat::kWebp ? "WEBP" : "JPEG", 30);
  WatermarkOptions webp_only;
  webp_only.output_format = ImageFormat::kWebp;
  CheckWatermarked("in.webp", ImageFormat::kWebp, "WEBP", 30, webp_only);
}

TEST_F(Formats, LosslessWebpWithAlphaStaysLosslessWebp) {
  MakeBase("base.png", "320x240", "RGBA");
  Run({"cwebp", "-quiet", "-lossless", Path("base.png"), "-o", Path("in.webp")});
  auto result = CheckWatermarked("in.webp", ImageFormat::kWebp, "WEBP", 0);
  EXPECT_EQ(result.changed_box, result.logo_box);  // lossless: nothing else changed
}

TEST_F(Formats, AnimatedGifKeepsEveryFrameWithTheLogo) {
  Run({"convert", "-delay", "20", "-size", "200x150", "xc:#C83C3C", "xc:#C83C3C", "xc:#C83C3C",
       "-loop", "0", Path("in.gif")});
  auto result = CheckWatermarked("in.gif", ImageFormat::kGif, "GIF", 0);
  EXPECT_EQ(result.frames, 3);
  json info = Inspect("out_in.gif", {{0, 0}});
  EXPECT_EQ(info["frames"], 3);
  for (const json& d : info["durations"]) EXPECT_EQ(d, 200);
}

TEST_F(Formats, GifFramesWithTransparencyAndDisposalAreRenderedLikeABrowser) {
  // gifsicle -O3 stores frames 2 and 3 as sub-rectangles with transparency: only the green
  // square that appears, then disappears.
  Run({"convert", "-size", "200x150", "xc:#C83C3C", Path("f0.gif")});
  Run({"convert", "-size", "200x150", "xc:#C83C3C", "-fill", "#3CC83C", "-draw",
       "rectangle 80,60 120,90", Path("f1.gif")});
  Run({"gifsicle", "-O3", "--delay", "10", "--loopcount=forever", Path("f0.gif"), Path("f1.gif"),
       Path("f0.gif"), "-o", Path("in.gif")});
  auto result = Watermark(Slurp("in.gif"), {});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->frames, 3);
  Write("out.gif", result->data);
  json info = Inspect("out.gif", {{100, 75}, {8, 8}});
  ASSERT_EQ(info["frames"], 3);
  const json red = json::array({200, 60, 60, 255}), green = json::array({60, 200, 60, 255});
  EXPECT_EQ(info["px"][0][0], red);
  EXPECT_EQ(info["px"][1][0], green);
  EXPECT_EQ(info["px"][1][1], red);
  EXPECT_EQ(info["px"][2][0], red);
}

TEST_F(Formats, GifOverTheSizeLimitBecomesAJpegOfTheFirstFrame) {
  Run({"convert", "-delay", "20", "-size", "200x150", "xc:#C83C3C", "plasma:", "-loop", "0",
       Path("in.gif")});
  WatermarkOptions options;
  options.max_gif_bytes = 2000;
  auto result = CheckWatermarked("in.gif", ImageFormat::kJpeg, "JPEG", 30, options);
  EXPECT_NE(result.fallback_reason.find("first frame"), std::string::npos);
}

TEST_F(Formats, BmpAndTiffAreConverted) {
  MakeBase("base.png");
  Run({"convert", Path("base.png"), Path("in24.bmp")});
  Run({"convert", Path("base.png"), "-type", "palette", "bmp3:" + Path("in8.bmp")});
  Run({"convert", Path("base.png"), "-compress", "lzw", Path("in.tiff")});
  CheckWatermarked("in24.bmp", ImageFormat::kJpeg, "JPEG", 30);
  CheckWatermarked("in8.bmp", ImageFormat::kJpeg, "JPEG", 30);
  CheckWatermarked("in.tiff", ImageFormat::kJpeg, "JPEG", 30);
  MakeBase("alpha.png", "320x240", "RGBA");
  Run({"convert", Path("alpha.png"), Path("alpha.bmp")});
  Run({"convert", Path("alpha.png"), Path("alpha.tiff")});
  CheckWatermarked("alpha.bmp", ImageFormat::kPng, "PNG", 0);
  CheckWatermarked("alpha.tiff", ImageFormat::kPng, "PNG", 0);
}

TEST_F(Formats, ConversionsFollowTheRequestedFormat) {
  MakeBase("base.png");
  WatermarkOptions options;
  options.output_format = ImageFormat::kJpeg;
  CheckWatermarked("base.png", ImageFormat::kJpeg, "JPEG", 30, options);
  options.output_format = ImageFormat::kWebp;
  CheckWatermarked("base.png", ImageFormat::kWebp, "WEBP", 30, options);
  Run({"convert", Path("base.png"), "-quality", "95", Path("in.jpg")});
  options.output_format = ImageFormat::kPng;
  CheckWatermarked("in.jpg", ImageFormat::kPng, "PNG", 30, options);
  options.output_format = ImageFormat::kGif;
  auto gif = Watermark(Slurp("in.jpg"), options);
  ASSERT_FALSE(gif.ok());
  EXPECT_NE(gif.status().message().find("GIF output needs a GIF input"), std::string::npos);
}

// --- location privacy ---------------------------------------------------------------------

// A JPEG (Pillow) with EXIF Make, Orientation and a GPS IFD, and an XMP packet with exif:GPS*
// and photoshop:City.
constexpr const char* kGpsJpeg = R"(
import sys
from PIL import Image
im = Image.new('RGB', (320, 240), (200, 60, 60))
exif = Image.Exif()
exif[0x010F] = 'TestCam'
exif[0x0112] = 1
exif[0x8825] = {1: 'N', 2: (48.0, 51.0, 29.0), 3: 'E', 4: (2.0, 17.0, 40.0)}
xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"'
       b' exif:GPSLatitude="48,51.48N" photoshop:Headline="kept">'
       b'<exif:GPSLongitude>2,17.67E</exif:GPSLongitude><photoshop:City>Paris</photoshop:City>'
       b'</rdf:Description></rdf:RDF></x:xmpmeta>')
im.save(sys.argv[1], exif=exif.tobytes(), quality=90)
data = open(sys.argv[1], 'rb').read()
seg = b'http://ns.adobe.com/xap/1.0/\0' + xmp
data = data[:2] + b'\xff\xe1' + (len(seg) + 2).to_bytes(2, 'big') + seg + data[2:]
open(sys.argv[1], 'wb').write(data)
)";

constexpr const char* kReadGps = R"(
import sys
from PIL import Image
im = Image.open(sys.argv[1])
exif = im.getexif()
print(len(exif.get_ifd(0x8825)), exif.get(0x010F), exif.get(0x0112))
)";

TEST_F(Formats, GpsIsRemovedFromJpegByDefaultAndEverythingElseKept) {
  Run({"/usr/bin/python3", "-c", kGpsJpeg, Path("gps.jpg")});
  const std::string input = Slurp("gps.jpg");
  auto stripped = Watermark(input, {});
  ASSERT_TRUE(stripped.ok()) << stripped.status().ToString();
  EXPECT_TRUE(stripped->location_removed);
  WatermarkOptions keep;
  keep.keep_metadata = true;
  auto kept = Watermark(input, keep);
  ASSERT_TRUE(kept.ok());
  EXPECT_FALSE(kept->location_removed);
  Write("stripped.jpg", stripped->data);
  Write("kept.jpg", kept->data);
  EXPECT_EQ(Run({"/usr/bin/python3", "-c", kReadGps, Path("stripped.jpg")}), "0 TestCam 1\n");
  EXPECT_EQ(Run({"/usr/bin/python3", "-c", kReadGps, Path("kept.jpg")}), "4 TestCam 1\n");
  // Same length, and every differing byte is inside the metadata (before the scan), never in
  // the XMP outside its location properties.
  ASSERT_EQ(stripped->data.size(), kept->data.size());
  const size_t sos = kept->data.find("\xFF\xDA");
  for (size_t i = 0; i < kept->data.size(); ++i) {
    if (stripped->data[i] != kept->data[i]) {
      ASSERT_LT(i, sos) << "byte " << i;
    }
  }
  EXPECT_EQ(stripped->data.find("48,51.48N"), std::string::npos);
  EXPECT_EQ(stripped->data.find("Paris"), std::string::npos);
  EXPECT_EQ(stripped->data.find("2,17.67E"), std::string::npos);
  EXPECT_NE(stripped->data.find("photoshop:Headline=\"kept\""), std::string::npos);
  EXPECT_NE(kept->data.find("Paris"), std::string::npos);
  // The XMP still parses as XML.
  const size_t xmp = stripped->data.find("<x:xmpmeta");
  const size_t end = stripped->data.find("</x:xmpmeta>") + 12;
  Write("xmp.xml", stripped->data.substr(xmp, end - xmp));
  Run({"/usr/bin/python3", "-c", "import sys, xml.dom.minidom as m; m.parse(sys.argv[1])",
       Path("xmp.xml")});
}

TEST_F(Formats, GpsIsRemovedFromPngExif) {
  Run({"/usr/bin/python3", "-c",
       "import sys\nfrom PIL import Image\nim = Image.new('RGB', (320, 240), (200, 60, 60))\n"
       "e = Image.Exif(); e[0x010F] = 'TestCam'; e[0x8825] = {1: 'N', 2: (48.0, 51.0, 29.0)}\n"
       "im.save(sys.argv[1], exif=e.tobytes())",
       Path("gps.png")});
  auto stripped = Watermark(Slurp("gps.png"), {});
  ASSERT_TRUE(stripped.ok()) << stripped.status().ToString();
  EXPECT_TRUE(stripped->location_removed);
  Write("stripped.png", stripped->data);
  EXPECT_EQ(Run({"/usr/bin/python3", "-c", kReadGps, Path("stripped.png")}), "0 TestCam None\n");
}

// --- hostile input ------------------------------------------------------------------------

struct Hostile {
  std::string name;
  std::string data;
  common::Code code;
  std::string message;
};

void ExpectRefused(const Hostile& tc, WatermarkOptions options = {}) {
  SCOPED_TRACE(tc.name);
  const auto start = std::chrono::steady_clock::now();
  auto result = Watermark(tc.data, options);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  ASSERT_FALSE(result.ok()) << "accepted";
  EXPECT_EQ(result.status().code(), tc.code) << result.status().ToString();
  EXPECT_NE(result.status().message().find(tc.message), std::string::npos)
      << result.status().ToString();
  if (tc.code == common::Code::kResourceExhausted) {
    EXPECT_LT(ms, 1000) << "a declared bomb must be refused from its header";
  }
}

std::string Be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

// A PNG of width x height, bit depth `depth`, colour type `type`, whose rows are all zero,
// deflated as they are made (a bomb is small on disk).
std::string BombPng(uint32_t width, uint32_t height, int depth, int type, uint32_t rows) {
  auto chunk = [](const std::string& type, const std::string& data) {
    std::string body = type + data;
    const uint32_t crc = crc32(0, reinterpret_cast<const Bytef*>(body.data()), body.size());
    return Be32(static_cast<uint32_t>(data.size())) + body + Be32(crc);
  };
  std::string ihdr = Be32(width) + Be32(height);
  ihdr += {static_cast<char>(depth), static_cast<char>(type), 0, 0, 0};
  const int channels = type == 6 ? 4 : type == 2 ? 3 : type == 4 ? 2 : 1;
  const size_t row = (static_cast<size_t>(width) * channels * depth + 7) / 8 + 1;
  std::string raw(row * rows, '\0');
  uLongf size = compressBound(raw.size());
  std::string z(size, '\0');
  compress2(reinterpret_cast<Bytef*>(z.data()), &size, reinterpret_cast<const Bytef*>(raw.data()),
            raw.size(), 9);
  z.resize(size);
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", z) +
         chunk("IEND", "");
}

TEST_F(Formats, HostileFilesAreRefusedWithAClearError) {
  MakeBase("base.png");
  Run({"heif-enc", "-q", "60", Path("base.png"), "-o", Path("in.heic")});
  Run({"cwebp", "-quiet", Path("base.png"), "-o", Path("in.webp")});
  Run({"convert", "-delay", "20", Path("base.png"), "plasma:", "-loop", "0", Path("in.gif")});
  Run({"convert", Path("base.png"), Path("in.bmp")});
  Run({"convert", Path("base.png"), Path("in.tiff")});
  const std::string heic = Slurp("in.heic"), webp = Slurp("in.webp"), gif = Slurp("in.gif"),
                    bmp = Slurp("in.bmp"), tiff = Slurp("in.tiff"), png = Slurp("base.png");
  const auto invalid = common::Code::kInvalidArgument;
  const auto bomb = common::Code::kResourceExhausted;
  std::string gif_bomb = gif;
  gif_bomb[6] = gif_bomb[7] = gif_bomb[8] = gif_bomb[9] = '\xFF';  // 65535x65535 screen
  std::string bmp_bomb = bmp;
  bmp_bomb.replace(18, 8, std::string("\x50\xC3\0\0\x50\xC3\0\0", 8));  // 50000x50000
  std::string bmp_short = bmp.substr(0, bmp.size() / 2);
  std::string webp_bomb = webp;  // VP8 frame header: 14-bit width and height, 16383x16383
  const size_t vp8 = webp.find("VP8 ");
  ASSERT_NE(vp8, std::string::npos);
  webp_bomb[vp8 + 14] = webp_bomb[vp8 + 16] = '\xFF';
  webp_bomb[vp8 + 15] = webp_bomb[vp8 + 17] = '\x3F';
  std::string png_bad_crc = png;  // flip a byte of the IDAT data: its CRC no longer matches
  png_bad_crc[png.find("IDAT") + 8] ^= 0x55;
  std::string gif_corrupt = gif;
  for (size_t i = gif.size() / 2; i < gif.size() / 2 + 200 && i < gif.size(); ++i) {
    gif_corrupt[i] = static_cast<char>(i * 37);
  }
  const std::vector<Hostile> cases = {
      {"heic_truncated", heic.substr(0, heic.size() / 2), invalid, "HEIF"},
      {"heic_header_only", heic.substr(0, 40), invalid, "HEIF"},
      {"webp_truncated", webp.substr(0, webp.size() / 2), invalid, "WebP"},
      {"webp_bomb", webp_bomb, bomb, "over the limit"},
      {"gif_truncated", gif.substr(0, gif.size() / 2), invalid, "GIF"},
      {"gif_bomb", gif_bomb, bomb, "GIF"},
      {"gif_corrupt_frames", gif_corrupt, invalid, "GIF"},
      {"bmp_truncated", bmp_short, invalid, "truncated BMP"},
      {"bmp_bomb", bmp_bomb, bomb, "over the limit"},
      {"bmp_header_only", bmp.substr(0, 30), invalid, "BMP"},
      {"tiff_truncated", tiff.substr(0, 100), invalid, "TIFF"},
      {"png_bad_idat_crc", png_bad_crc, invalid, "PNG"},
      {"png_bomb_1bit", BombPng(50000, 50000, 1, 0, 1), bomb, "over the limit"},
      {"png_rows_missing", BombPng(1000, 1000, 8, 2, 10), invalid, "PNG"},
  };
  for (const Hostile& tc : cases) ExpectRefused(tc);
  // The byte limit: a 4000x4000 WebP decodes to 64 MB; with a 32 MB limit it is refused from
  // the header; the same for a GIF screen and an interlaced 16-bit PNG.
  WatermarkOptions tight;
  tight.max_decoded_bytes = 32u << 20;
  Run({"convert", "-size", "4000x4000", "xc:red", Path("big.webp")});
  ExpectRefused({"webp_bytes", Slurp("big.webp"), bomb, "bytes, over the limit"}, tight);
  Run({"convert", "-size", "3000x3000", "xc:red", Path("big.gif")});
  ExpectRefused({"gif_bytes", Slurp("big.gif"), bomb, "bytes, over the limit"}, tight);
}

// A fuzz finding: a 603-byte HEIC whose grid declares 26725x27000 while its ispe says 53x32
// made libheif allocate 8 GB; it is refused from the container, in milliseconds.
TEST_F(Formats, HeifGridBombIsRefusedBeforeLibheifDecodes) {
  std::ifstream in(common::testing::TestDataDir().parent_path() /
                       "src/image/fuzz/regressions/heif_ispe_mismatch_oom.heic",
                   std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(in)), {});
  ASSERT_EQ(data.size(), 603u);
  ExpectRefused({"heif_grid_bomb", data, common::Code::kResourceExhausted, "HEIF grid declares"});
}

TEST_F(Formats, PngAncillaryCrcErrorsAreDroppedNotFatal) {
  MakeBase("base.png");
  std::string png = Slurp("base.png");
  // Insert a tEXt chunk with a wrong CRC after IHDR (8 + 25 bytes).
  const std::string text = "tEXtComment\0hello";
  png.insert(33, Be32(static_cast<uint32_t>(text.size() - 4)) + text + "XXXX");
  auto result = Watermark(png, {});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->data.find("hello"), std::string::npos);
}

// Animated WebP: three frames on a 200x150 canvas, the flat colour with a square in the middle
// (flat, green, blue) so that no two frames are alike (the encoder merges identical ones).
class AnimatedWebp : public Formats {
 protected:
  void MakeFrames() {
    Run({"convert", "-size", "200x150", "xc:#C83C3C", Path("a.png")});
    Run({"convert", "-size", "200x150", "xc:#C83C3C", "-fill", "#3CC83C", "-draw",
         "rectangle 80,60 120,90", Path("b.png")});
    Run({"convert", "-size", "200x150", "xc:#C83C3C", "-fill", "#3C3CC8", "-draw",
         "rectangle 80,60 120,90", Path("c.png")});
  }
  // img2webp (libwebp's own tool): frames of 100, 250 and 400 ms, looping `loop` times.
  void MakeImg2webp(const std::string& name, bool lossy, int loop) {
    MakeFrames();
    std::vector<std::string> argv = {"img2webp", "-loop", std::to_string(loop)};
    if (lossy) argv.insert(argv.end(), {"-lossy", "-q", "80"});
    argv.insert(argv.end(), {"-d", "100", Path("a.png"), "-d", "250", Path("b.png"), "-d", "400",
                             Path("c.png"), "-o", Path(name)});
    Run(argv);
  }
  // Checks the output with Pillow: an animated WebP of three frames with the logo on each, the
  // durations and loop count of the input, the middle square of each frame still there.
  void CheckAnimation(const std::string& name, const std::vector<int>& durations, int loop,
                      int tolerance) {
    auto result = CheckWatermarked(name, ImageFormat::kWebp, "WEBP", tolerance);
    EXPECT_EQ(result.frames, 3);
    json info = Inspect("out_" + name, {{100, 75}});
    EXPECT_TRUE(info["animated"].get<bool>());
    ASSERT_EQ(info["frames"], 3);
    EXPECT_EQ(info["durations"], json(durations));
    EXPECT_EQ(info["loop"], loop);
    const int want[3][3] = {{200, 60, 60}, {60, 200, 60}, {60, 60, 200}};
    for (int f = 0; f < 3; ++f) {
      for (int c = 0; c < 3; ++c) {
        EXPECT_NEAR(info["px"][f][0][c].get<int>(), want[f][c], tolerance) << "frame " << f;
      }
    }
  }
};

TEST_F(AnimatedWebp, LossyAnimationKeepsFramesTimingsLoopAndLossiness) {
  MakeImg2webp("in.webp", /*lossy=*/true, 3);
  CheckAnimation("in.webp", {100, 250, 400}, 3, 30);
  const std::string out = Slurp("out_in.webp");
  EXPECT_NE(out.find("VP8 "), std::string::npos);
  EXPECT_EQ(out.find("VP8L"), std::string::npos) << "a lossy animation came out lossless";
}

TEST_F(AnimatedWebp, LosslessAnimationStaysLosslessOutsideTheLogo) {
  MakeImg2webp("in.webp", /*lossy=*/false, 2);
  CheckAnimation("in.webp", {100, 250, 400}, 2, 0);
  const std::string out = Slurp("out_in.webp");
  EXPECT_EQ(out.find("VP8 "), std::string::npos) << "a lossless animation came out lossy";
}

TEST_F(AnimatedWebp, ImageMagickAndPillowAnimationsAreWatermarked) {
  MakeFrames();
  // ImageMagick 6 writes a still copy of the last frame after the RIFF: ignored, as by libwebp.
  Run({"convert", "-delay", "20", Path("a.png"), Path("b.png"), Path("c.png"), "-loop", "0",
       Path("im.webp")});
  CheckAnimation("im.webp", {200, 200, 200}, 0, 30);
  Run({"/usr/bin/python3", "-c",
       "import sys\nfrom PIL import Image\nf = [Image.open(p) for p in sys.argv[2:]]\n"
       "f[0].save(sys.argv[1], save_all=True, append_images=f[1:], duration=[50, 60, 70], "
       "loop=5, lossless=True)",
       Path("pil.webp"), Path("a.png"), Path("b.png"), Path("c.png")});
  CheckAnimation("pil.webp", {50, 60, 70}, 5, 0);
}

TEST_F(AnimatedWebp, OverTheSizeLimitBecomesAJpegOfTheFirstFrame) {
  MakeImg2webp("in.webp", /*lossy=*/true, 0);
  WatermarkOptions options;
  options.max_animated_webp_bytes = 300;
  auto result = CheckWatermarked("in.webp", ImageFormat::kJpeg, "JPEG", 30, options);
  EXPECT_NE(result.fallback_reason.find("first frame"), std::string::npos);
  options.output_format = ImageFormat::kWebp;  // asked for WebP: no silent fallback
  auto refused = Watermark(Slurp("in.webp"), options);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), common::Code::kResourceExhausted);
  // A canvas too large to encode within the byte limit, but small enough to render a frame.
  WatermarkOptions tight;
  tight.max_decoded_bytes = 200 * 150 * 20;
  result = CheckWatermarked("in.webp", ImageFormat::kJpeg, "JPEG", 30, tight);
  EXPECT_NE(result.fallback_reason.find("first frame"), std::string::npos);
}

TEST_F(AnimatedWebp, ConversionsTakeTheFirstFrame) {
  MakeImg2webp("in.webp", /*lossy=*/false, 0);
  WatermarkOptions options;
  options.output_format = ImageFormat::kPng;
  CheckWatermarked("in.webp", ImageFormat::kPng, "PNG", 0, options);
  options.output_format = ImageFormat::kJpeg;
  CheckWatermarked("in.webp", ImageFormat::kJpeg, "JPEG", 30, options);
  auto probe = Probe(Slurp("in.webp"));
  ASSERT_TRUE(probe.ok());
  EXPECT_EQ(probe->width, 200);
  EXPECT_EQ(probe->height, 150);
}

uint32_t Le32At(const std::string& s, size_t at) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data() + at);
  return p[0] | (p[1] << 8) | (p[2] << 16) | (uint32_t{p[3]} << 24);
}
void PutLe(std::string* s, size_t at, uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) (*s)[at + i] = static_cast<char>(v >> (8 * i));
}

// Hostile animations, made from a real one by editing its chunks: each is refused with a clear
// error, bombs within a second (from the chunk headers, before any frame is decoded).
TEST_F(AnimatedWebp, HostileAnimationsAreRefusedFast) {
  MakeImg2webp("in.webp", /*lossy=*/true, 0);
  const std::string webp = Slurp("in.webp");
  const size_t first = webp.find("ANMF");
  ASSERT_NE(first, std::string::npos);
  const size_t first_size = 8 + Le32At(webp, first + 4);
  const std::string head = webp.substr(0, first), frame = webp.substr(first, first_size);
  // `n` copies of the first frame after the headers, with a RIFF size that matches.
  auto with_frames = [&](int n) {
    std::string out = head;
    for (int i = 0; i < n; ++i) out += frame;
    PutLe(&out, 4, static_cast<uint32_t>(out.size() - 8), 4);
    return out;
  };
  std::string many = with_frames(5001);  // more than the 5000 frames allowed
  std::string huge_canvas = webp;        // VP8X canvas 16777216 x 16777216
  PutLe(&huge_canvas, 24, 0xFFFFFF, 3);
  PutLe(&huge_canvas, 27, 0xFFFFFF, 3);
  std::string long_anim = with_frames(400);  // 400 frames on a 2000x1500 canvas: 1.2 G pixels
  PutLe(&long_anim, 24, 1999, 3);
  PutLe(&long_anim, 27, 1499, 3);
  const size_t second = first + first_size;
  std::string cut = webp.substr(0, second + 20);  // inside the second ANMF, RIFF size fixed
  PutLe(&cut, 4, static_cast<uint32_t>(cut.size() - 8), 4);
  std::string outside = webp;  // the first frame moved off the canvas
  PutLe(&outside, first + 8, 100, 3);
  std::string huge_chunk = webp;
  PutLe(&huge_chunk, first + 4, 0xFFFFFFF0u, 4);
  std::string corrupt = webp;  // the frames' VP8 data overwritten
  for (size_t at = webp.find("VP8 "); at != std::string::npos; at = webp.find("VP8 ", at + 4)) {
    for (size_t i = at + 18; i < at + 40 && i < webp.size(); ++i) corrupt[i] = '\x5A';
  }
  const auto invalid = common::Code::kInvalidArgument;
  const auto bomb = common::Code::kResourceExhausted;
  const std::vector<Hostile> cases = {
      {"too_many_frames", many, bomb, "frames"},
      {"canvas_too_large", huge_canvas, bomb, "over the limit"},
      {"total_pixels", long_anim, bomb, "canvas pixels in all"},
      {"truncated_file", webp.substr(0, second + 20), invalid, "truncated"},
      {"truncated_anmf", cut, invalid, "truncated"},
      {"anmf_header_only", webp.substr(0, first + 12), invalid, "truncated"},
      {"frame_outside_canvas", outside, invalid, "outside the canvas"},
      {"chunk_size_past_end", huge_chunk, invalid, "truncated"},
  };
  for (const Hostile& tc : cases) ExpectRefused(tc);
  // VP8 cannot always tell corrupt data from a picture: an error or a file, never a crash.
  auto corrupted = Watermark(corrupt, {});
  if (!corrupted.ok()) {
    EXPECT_EQ(corrupted.status().code(), invalid) << corrupted.status().ToString();
  }
  // The same refusals when the first frame alone is asked for (conversions, the fallback).
  WatermarkOptions as_jpeg;
  as_jpeg.output_format = ImageFormat::kJpeg;
  ExpectRefused({"too_many_frames_as_jpeg", many, bomb, "frames"}, as_jpeg);
  ExpectRefused({"truncated_anmf_as_jpeg", cut, invalid, "truncated"}, as_jpeg);
}

// Peak memory of the real binary on a large 16-bit RGBA PNG: rows, never the frame.
TEST_F(Formats, SixteenBitPngIsWatermarkedInBoundedMemory) {
  // 3000x3000 16-bit RGBA: 72 MB as a decoded frame, 1 KB on disk.
  Write("big16.png", BombPng(3000, 3000, 16, 6, 3000));
  common::SpawnOptions options;
  options.argv = {"/usr/bin/time",   "-f",
                  "peak_kb=%M",      std::string(DAT_BIN_DIR) + "/watermark",
                  Path("big16.png"), Path("out.png")};
  auto run = common::RunCommand(options, std::chrono::seconds(60), "");
  ASSERT_TRUE(run.ok());
  ASSERT_EQ(run->exit_code, 0) << run->err;
  const size_t at = run->err.rfind("peak_kb=");
  ASSERT_NE(at, std::string::npos) << run->err;
  const long peak_kb = std::stol(run->err.substr(at + 8));
  EXPECT_LT(peak_kb, 40 * 1024) << "peak RSS " << peak_kb << " kB";
  json info = Inspect("out.png", {{0, 0}});
  EXPECT_EQ(info["width"], 3000);
}

// libheif and libtiff are opened on the first file that needs them, not at start-up: the
// dynamic loader's log (LD_DEBUG=files) of the real binary shows neither (nor what they pull
// in, nor libcrypto, which the CLI does not use) for a JPEG, and each for its own format.
TEST_F(Formats, TheCliLoadsLibheifAndLibtiffOnlyForTheirFiles) {
  MakeBase("base.png");
  Run({"convert", Path("base.png"), "-quality", "90", Path("in.jpg")});
  Run({"convert", Path("base.png"), Path("in.tiff")});
  Run({"heif-enc", "-q", "60", Path("base.png"), "-o", Path("in.heic")});
  auto loaded = [&](const std::string& input) {
    common::SpawnOptions options;
    options.argv = {std::string(DAT_BIN_DIR) + "/watermark", Path(input), Path("out.jpg")};
    options.env = {"LD_DEBUG=files"};
    auto run = common::RunCommand(options, std::chrono::seconds(60), "");
    EXPECT_TRUE(run.ok()) << run.status().ToString();
    if (!run.ok()) return std::string();
    EXPECT_EQ(run->exit_code, 0) << input << ": " << run->err;
    return run->err;
  };
  const std::string jpeg = loaded("in.jpg");
  for (const char* library : {"libheif", "libde265", "libx265", "libaom", "libdav1d", "libtiff",
                              "libLerc", "libjbig", "libcrypto"}) {
    EXPECT_EQ(jpeg.find(library), std::string::npos) << library << " loaded for a JPEG";
  }
  EXPECT_NE(jpeg.find("libjpeg"), std::string::npos) << "no loader log: " << jpeg;
  const std::string tiff = loaded("in.tiff");
  EXPECT_NE(tiff.find("libtiff"), std::string::npos);
  EXPECT_EQ(tiff.find("libheif"), std::string::npos);
  const std::string heic = loaded("in.heic");
  EXPECT_NE(heic.find("libheif"), std::string::npos);
  EXPECT_EQ(heic.find("libtiff"), std::string::npos);
}

}  // namespace
}  // namespace image
