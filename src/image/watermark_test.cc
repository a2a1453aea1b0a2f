#include "image/watermark.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <thread>

#include "image/jpeg_huffman.h"
#include "image/jpeg_parse.h"
#include "image/logo.h"
#include "image/png_codec.h"
#include "image/test_images.h"

namespace image {
namespace {

using testing::Decoded;
using testing::JpegSpec;
using testing::Pattern;
using testing::Spec;

// The full-decode reference: decode the input, composite the logo in RGB (or gray), compare.
Decoded ReferenceComposite(const Decoded& input, const internal::PlacedLogo& logo) {
  Decoded out = input;
  for (int y = 0; y < logo.box.height; ++y) {
    for (int x = 0; x < logo.box.width; ++x) {
      const float* l = logo.raster.at(x, y);
      uint8_t* px =
          &out.pixels[((static_cast<size_t>(logo.box.y + y) * out.width) + logo.box.x + x) *
                      out.channels];
      if (out.channels == 1) {
        const float lum = 0.299f * l[0] + 0.587f * l[1] + 0.114f * l[2];
        px[0] = static_cast<uint8_t>(
            std::lround(std::clamp(lum * 255 + (1 - l[3]) * px[0], 0.f, 255.f)));
        continue;
      }
      for (int c = 0; c < 3; ++c) {
        px[c] = static_cast<uint8_t>(
            std::lround(std::clamp(l[c] * 255 + (1 - l[3]) * px[c], 0.f, 255.f)));
      }
    }
  }
  return out;
}

// PSNR of a decoded output (DecodeJpegYcc) against a reference RGB (or gray) composite, on the
// JPEG's own sampling grid: luma per pixel, chroma per stored chroma sample (the reference
// averaged over the hs x vs pixels the sample covers). A 4:2:0 file cannot hold full-resolution
// chroma whoever writes it, so this is the fair measure of the compositing itself.
double SampledPsnr(const Decoded& ref, const Decoded& out, const Box& b, int hs, int vs) {
  double se = 0;
  size_t n = 0;
  auto ycc = [&](int x, int y, float* o) {
    const uint8_t* p = &ref.pixels[(static_cast<size_t>(y) * ref.width + x) * ref.channels];
    if (ref.channels == 1) {
      o[0] = p[0];
      return;
    }
    o[0] = 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
    o[1] = -0.168736f * p[0] - 0.331264f * p[1] + 0.5f * p[2] + 128;
    o[2] = 0.5f * p[0] - 0.418688f * p[1] - 0.081312f * p[2] + 128;
  };
  const int x0 = b.x / hs * hs, y0 = b.y / vs * vs;
  for (int cy = y0; cy < b.y + b.height; cy += vs) {
    for (int cx = x0; cx < b.x + b.width; cx += hs) {
      double chroma[2] = {0, 0};
      int count = 0;
      for (int y = cy; y < std::min(cy + vs, ref.height); ++y) {
        for (int x = cx; x < std::min(cx + hs, ref.width); ++x) {
          float r[3];
          ycc(x, y, r);
          const uint8_t* o = &out.pixels[(static_cast<size_t>(y) * out.width + x) * out.channels];
          se += (r[0] - o[0]) * (r[0] - o[0]);
          ++n;
          if (ref.channels == 3) chroma[0] += r[1], chroma[1] += r[2];
          ++count;
        }
      }
      if (ref.channels == 3 && count > 0) {
        const uint8_t* o = &out.pixels[(static_cast<size_t>(cy) * out.width + cx) * 3];
        for (int c = 0; c < 2; ++c) {
          const double d = chroma[c] / count - o[1 + c];
          se += d * d;
          ++n;
        }
      }
    }
  }
  return se == 0 ? 99 : 10 * std::log10(255.0 * 255.0 / (se / n));
}

bool Inside(const Box& b, int x, int y) {
  return x >= b.x && x < b.x + b.width && y >= b.y && y < b.y + b.height;
}

// Counts pixels outside `box` that differ between two decodes.
int DiffersOutside(const Decoded& a, const Decoded& b, const Box& box) {
  int n = 0;
  for (int y = 0; y < a.height; ++y) {
    for (int x = 0; x < a.width; ++x) {
      if (Inside(box, x, y)) continue;
      const size_t i = (static_cast<size_t>(y) * a.width + x) * a.channels;
      if (std::memcmp(&a.pixels[i], &b.pixels[i], a.channels) != 0) ++n;
    }
  }
  return n;
}

// Counts blocks outside the MCU box whose coefficients changed, over all components.
int BlocksChangedOutside(const std::string& in, const std::string& out, const Box& changed,
                         int max_h, int max_v, const std::vector<int>& h,
                         const std::vector<int>& v) {
  testing::Coefficients a = testing::ReadCoefficients(in), b = testing::ReadCoefficients(out);
  EXPECT_EQ(a.blocks.size(), b.blocks.size());
  int n = 0;
  for (size_t c = 0; c < a.blocks.size() && c < b.blocks.size(); ++c) {
    const int w = a.width_in_blocks[c];
    for (int by = 0; by < a.height_in_blocks[c]; ++by) {
      for (int bx = 0; bx < w; ++bx) {
        // Block centre in full-resolution pixels.
        const int px = (bx * 8 + 4) * max_h / h[c], py = (by * 8 + 4) * max_v / v[c];
        if (Inside(changed, px, py)) continue;
        const size_t i = (static_cast<size_t>(by) * w + bx) * 64;
        if (std::memcmp(&a.blocks[c][i], &b.blocks[c][i], 64 * sizeof(int16_t)) != 0) ++n;
      }
    }
  }
  return n;
}

struct JpegCase {
  const char* name;
  JpegSpec spec;
  WatermarkPath expected_path;
  int quality = 95;
  double min_psnr = 40;  // JPEG's own quantization bounds this below q95
};

// Baseline Huffman files take the entropy path.
constexpr WatermarkPath kFast = WatermarkPath::kEntropy;

std::vector<JpegCase> JpegCases() {
  std::vector<JpegCase> cases;
  cases.push_back({"420", Spec(640, 480, 3, 2, 2), kFast});
  cases.push_back({"422", Spec(640, 480, 3, 2, 1), kFast});
  cases.push_back({"444", Spec(640, 480, 3, 1, 1), kFast});
  cases.push_back({"gray", Spec(640, 480, 1, 1, 1), kFast});
  cases.push_back({"odd_size_420", Spec(637, 479, 3, 2, 2), kFast});
  cases.push_back({"odd_size_gray", Spec(333, 251, 1, 1, 1), kFast});
  JpegSpec s = Spec(640, 480, 3, 2, 2);
  s.progressive = true;
  cases.push_back({"progressive_420", s, kFast});
  s = Spec(501, 377, 1, 1, 1);
  s.progressive = true;
  cases.push_back({"progressive_gray", s, kFast});
  s = Spec(640, 480, 3, 2, 2);
  s.restart_rows = 1;
  cases.push_back({"restart_rows", s, kFast});
  s = Spec(637, 479, 3, 2, 1);
  s.restart_mcus = 7;
  cases.push_back({"restart_7_mcus_odd", s, kFast});
  s = Spec(640, 480, 3, 2, 2);
  s.optimize = true;
  s.pattern = Pattern::kGradient;  // short optimized tables: extended with the logo's symbols
  cases.push_back({"optimized_tables_extended", s, kFast, 85, 36});
  s.pattern = Pattern::kNoise;  // full optimized tables lacking the logo's codes: rewritten
  cases.push_back({"optimized_noise", s, kFast});
  s = Spec(640, 480, 3, 2, 2);
  s.pattern = Pattern::kText;
  cases.push_back({"text", s, kFast});
  s = Spec(640, 480, 3, 2, 2);
  s.arithmetic = true;
  cases.push_back({"arithmetic", s, WatermarkPath::kCoefficient});
  return cases;
}

class JpegVariants : public ::testing::TestWithParam<JpegCase> {};

TEST_P(JpegVariants, IdenticalOutsideBoxAndCloseInside) {
  const JpegCase& tc = GetParam();
  JpegSpec spec = tc.spec;
  spec.quality = tc.quality;
  const std::string input = testing::MakeJpeg(spec);
  const Decoded before = testing::DecodeJpeg(input);
  ASSERT_FALSE(before.pixels.empty());

  for (bool allow_entropy : {true, false}) {
    SCOPED_TRACE(allow_entropy ? "entropy allowed" : "coefficient forced");
    WatermarkOptions options;
    options.allow_entropy_path = allow_entropy;
    auto result = Watermark(input, options);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_EQ(result->path, allow_entropy ? tc.expected_path : WatermarkPath::kCoefficient)
        << result->fallback_reason;
    EXPECT_EQ(result->format, ImageFormat::kJpeg);
    EXPECT_EQ(result->width, spec.width);
    EXPECT_FALSE(result->logo_box.empty());
    // The logo lands in the bottom-right corner, 16 px from the edges.
    EXPECT_EQ(result->logo_box.x + result->logo_box.width, spec.width - 16);
    EXPECT_EQ(result->logo_box.y + result->logo_box.height, spec.height - 16);

    const Decoded after = testing::DecodeJpeg(result->data);
    ASSERT_EQ(after.pixels.size(), before.pixels.size());
    EXPECT_EQ(DiffersOutside(before, after, result->changed_box), 0);

    const int hs = spec.components == 1 ? 1 : spec.h_samp,
              vs = spec.components == 1 ? 1 : spec.v_samp;
    std::vector<int> h(spec.components, 1), v(spec.components, 1);
    h[0] = hs;
    v[0] = vs;
    EXPECT_EQ(BlocksChangedOutside(input, result->data, result->changed_box, hs, vs, h, v), 0);

    auto logo = internal::PrepareLogo(spec.width, spec.height, 1, options);
    ASSERT_TRUE(logo.ok());
    EXPECT_EQ(logo->box, result->logo_box);
    const Decoded reference = ReferenceComposite(testing::DecodeJpegBlocky(input), *logo);
    const Box& b = result->changed_box;
    const double psnr = SampledPsnr(reference, testing::DecodeJpegYcc(result->data), b, hs, vs);
    EXPECT_GE(psnr, tc.min_psnr) << "inside the changed box";
    // And the logo is really there: the box changed visibly.
    EXPECT_LT(testing::Psnr(before, after, b.x, b.y, b.width, b.height), 30.0);
  }
}

TEST_P(JpegVariants, EntropyAndCoefficientPathsAgreeOnEveryCoefficient) {
  const JpegCase& tc = GetParam();
  if (tc.expected_path != WatermarkPath::kEntropy) GTEST_SKIP() << "coefficient path only";
  JpegSpec spec = tc.spec;
  spec.quality = tc.quality;
  const std::string input = testing::MakeJpeg(spec);
  WatermarkOptions fast, slow;
  slow.allow_entropy_path = false;
  auto a = Watermark(input, fast);
  auto b = Watermark(input, slow);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->path, WatermarkPath::kEntropy) << a->fallback_reason;
  testing::Coefficients ca = testing::ReadCoefficients(a->data);
  testing::Coefficients cb = testing::ReadCoefficients(b->data);
  ASSERT_FALSE(ca.blocks.empty());
  EXPECT_EQ(ca.blocks, cb.blocks);
  // The entropy path keeps the input's entropy-coded bytes up to the first touched MCU (a DHT
  // may have been added before the scan).
  auto in_header = internal::ParseJpegHeader(input);
  auto out_header = internal::ParseJpegHeader(a->data);
  ASSERT_TRUE(in_header.ok() && out_header.ok());
  size_t same = 0;
  while (in_header->scan_data + same < input.size() &&
         out_header->scan_data + same < a->data.size() &&
         input[in_header->scan_data + same] == a->data[out_header->scan_data + same]) {
    ++same;
  }
  // Unless a table was rewritten with codes changed: then the first changed code is early.
  bool recoded = false;
  for (int t = 0; t < 8; ++t) {
    const auto& a_spec = t < 4 ? in_header->dc[t] : in_header->ac[t - 4];
    const auto& b_spec = t < 4 ? out_header->dc[t] : out_header->ac[t - 4];
    uint16_t ca_code[256], cb_code[256];
    uint8_t ca_size[256], cb_size[256];
    internal::CanonicalCodes(a_spec, ca_code, ca_size);
    internal::CanonicalCodes(b_spec, cb_code, cb_size);
    for (int i = 0; i < a_spec.num_symbols; ++i) {
      const uint8_t sym = a_spec.symbols[i];
      recoded = recoded || ca_code[sym] != cb_code[sym] || ca_size[sym] != cb_size[sym];
    }
  }
  if (!recoded && in_header->sof != 0xC2) {  // (a progressive file's first scan is short)
    EXPECT_GT(same, (input.size() - in_header->scan_data) / 2);
  }
}

INSTANTIATE_TEST_SUITE_P(All, JpegVariants, ::testing::ValuesIn(JpegCases()),
                         [](const auto& info) { return std::string(info.param.name); });

// The entropy path against the coefficient path, logo in every place, over layouts that
// exercise the bit copies: the prefix ends mid-row (or at once, northwest), untouched MCUs
// between the logo's rows and after it are copied bit-shifted (with 0xFF stuffing redone),
// restart intervals cut the logo's rows, the MCU grid overhangs odd sizes, the logo spans the
// full width or covers the whole picture.
struct SpliceCase {
  const char* name;
  JpegSpec spec;
  double scale = 0.3;
  int margin = 16;
};

std::vector<SpliceCase> SpliceCases() {
  std::vector<SpliceCase> cases;
  cases.push_back({"420_odd", Spec(637, 479, 3, 2, 2)});
  cases.push_back({"422", Spec(640, 480, 3, 2, 1)});
  cases.push_back({"444_odd", Spec(333, 251, 3, 1, 1)});
  cases.push_back({"gray_odd", Spec(333, 251, 1, 1, 1)});
  JpegSpec s = Spec(637, 479, 3, 2, 2);
  s.pattern = Pattern::kNoise;  // dense 0xFF stuffing
  cases.push_back({"420_noise", s});
  s = Spec(640, 480, 3, 2, 2);
  s.restart_rows = 1;
  cases.push_back({"420_restart_rows", s});
  s = Spec(637, 479, 3, 2, 1);
  s.restart_mcus = 5;
  cases.push_back({"422_restart_5_mcus", s});
  s = Spec(333, 251, 1, 1, 1);
  s.restart_mcus = 3;
  cases.push_back({"gray_restart_3_mcus", s});
  cases.push_back({"420_full_width", Spec(640, 480, 3, 2, 2), 1.0, 0});
  cases.push_back({"444_whole_picture", Spec(256, 256, 3, 1, 1), 1.0, 0});
  return cases;
}

TEST(EntropySplice, EveryPlaceAndLayoutMatchesTheCoefficientPath) {
  for (const SpliceCase& tc : SpliceCases()) {
    JpegSpec spec = tc.spec;
    spec.quality = 95;
    const std::string input = testing::MakeJpeg(spec);
    const Decoded before = testing::DecodeJpeg(input);
    ASSERT_FALSE(before.pixels.empty());
    for (Gravity gravity : {Gravity::kSouthEast, Gravity::kSouthWest, Gravity::kNorthEast,
                            Gravity::kNorthWest, Gravity::kCenter}) {
      SCOPED_TRACE(std::string(tc.name) + " " + GravityName(gravity));
      WatermarkOptions fast;
      fast.gravity = gravity;
      fast.scale = tc.scale;
      fast.margin = tc.margin;
      WatermarkOptions slow = fast;
      slow.allow_entropy_path = false;
      auto a = Watermark(input, fast);
      auto b = Watermark(input, slow);
      ASSERT_TRUE(a.ok() && b.ok());
      ASSERT_EQ(a->path, WatermarkPath::kEntropy) << a->fallback_reason;
      EXPECT_EQ(a->changed_box, b->changed_box);
      EXPECT_EQ(testing::ReadCoefficients(a->data).blocks,
                testing::ReadCoefficients(b->data).blocks);
      const Decoded after = testing::DecodeJpeg(a->data);
      ASSERT_EQ(after.pixels.size(), before.pixels.size());
      EXPECT_EQ(after.warnings, 0) << "libjpeg found corrupt data";
      EXPECT_EQ(DiffersOutside(before, after, a->changed_box), 0);
      EXPECT_LT(testing::Psnr(before, after, a->logo_box.x, a->logo_box.y, a->logo_box.width,
                              a->logo_box.height),
                30.0);
    }
  }
}

TEST(EntropySplice, StreamsUnchangedStretchesAsSlicesOfTheInput) {
  // A sink that records the pieces: the bytes before the logo and after the last restart
  // interval it touches arrive as slices of the input, not copies.
  class Recorder : public OutputSink {
   public:
    explicit Recorder(std::string_view input) : input_(input) {}
    common::Status Write(std::string_view bytes) override {
      if (!bytes.empty() && bytes.data() >= input_.data() &&
          bytes.data() + bytes.size() <= input_.data() + input_.size()) {
        sliced += bytes.size();
      }
      out.append(bytes);
      return common::Status::Ok();
    }
    std::string out;
    size_t sliced = 0;

   private:
    std::string_view input_;
  };
  JpegSpec spec = Spec(640, 480, 3, 2, 2);
  spec.restart_rows = 1;
  const std::string input = testing::MakeJpeg(spec);
  Recorder sink(input);
  auto streamed = WatermarkTo(input, WatermarkOptions{}, &sink);
  ASSERT_TRUE(streamed.ok()) << streamed.status().ToString();
  EXPECT_TRUE(streamed->data.empty());
  EXPECT_EQ(sink.out, Watermark(input, WatermarkOptions{}).value().data);
  EXPECT_GT(sink.sliced, input.size() * 3 / 4);

  // A failing sink stops the job and its error comes back.
  class Failing : public OutputSink {
   public:
    common::Status Write(std::string_view) override { return common::Internal("disk full"); }
  } failing;
  auto failed = WatermarkTo(input, WatermarkOptions{}, &failing);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("disk full"), std::string::npos);
}

// A solid opaque red logo, for exact colour checks.
std::string RedLogo() {
  internal::PngPixels px;
  px.header.width = px.header.height = 64;
  px.header.bit_depth = 8;
  px.pixels8.resize(64 * 64 * 4);
  for (size_t i = 0; i < px.pixels8.size(); i += 4) {
    px.pixels8[i] = 255;
    px.pixels8[i + 3] = 255;
  }
  return internal::EncodePng(px, 4, {}).value();
}

TEST(WatermarkJpeg, CmykAndYcckColoursArePreservedNotInverted) {
  for (bool ycck : {false, true}) {
    SCOPED_TRACE(ycck ? "YCCK" : "CMYK");
    JpegSpec spec = Spec(320, 240, 4, 1, 1);
    spec.ycck = ycck;
    spec.quality = 95;
    spec.pattern = Pattern::kGradient;
    const std::string input = testing::MakeJpeg(spec);
    const std::string logo = RedLogo();
    WatermarkOptions options;
    options.logo_png = logo;
    options.scale = 0.25;
    auto result = Watermark(input, options);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    const Decoded before = testing::DecodeJpeg(input), after = testing::DecodeJpeg(result->data);
    ASSERT_EQ(after.channels, 4);
    EXPECT_EQ(DiffersOutside(before, after, result->changed_box), 0);
    // Adobe CMYK is stored inverted: red = no cyan, full magenta and yellow, no black,
    // i.e. (255, 0, 0, 255). An inverted-colour bug would give (0, 255, 255, 0).
    const Box& b = result->logo_box;
    const uint8_t* px =
        &after
             .pixels[((static_cast<size_t>(b.y + b.height / 2) * after.width) + b.x + b.width / 2) *
                     4];
    EXPECT_NEAR(px[0], 255, 6);
    EXPECT_NEAR(px[1], 0, 6);
    EXPECT_NEAR(px[2], 0, 6);
    EXPECT_NEAR(px[3], 255, 6);
  }
}

TEST(WatermarkJpeg, ProgressiveIsWrittenSequentiallyUnlessAskedToKeepIt) {
  JpegSpec spec = Spec(400, 300, 3, 2, 2);
  spec.progressive = true;
  const std::string input = testing::MakeJpeg(spec);
  WatermarkOptions options;
  options.allow_entropy_path = false;  // the entropy path keeps the file's own scans
  auto sequential = Watermark(input, options);
  options.keep_progressive = true;
  auto progressive = Watermark(input, options);
  ASSERT_TRUE(sequential.ok() && progressive.ok());
  EXPECT_FALSE(Probe(sequential->data)->progressive);
  EXPECT_TRUE(Probe(progressive->data)->progressive);
  EXPECT_EQ(testing::ReadCoefficients(sequential->data).blocks,
            testing::ReadCoefficients(progressive->data).blocks);
}

TEST(WatermarkJpeg, MarkersAreKept) {
  JpegSpec spec = Spec(400, 300, 3, 2, 2);
  spec.orientation = 1;
  spec.icc = true;
  spec.comment = "shot on a test";
  const std::string input = testing::MakeJpeg(spec);
  const auto in_markers = testing::ReadCoefficients(input).markers;
  ASSERT_EQ(in_markers.size(), 4u);  // JFIF, EXIF, ICC, COM
  for (bool allow_entropy : {true, false}) {
    WatermarkOptions options;
    options.allow_entropy_path = allow_entropy;
    auto result = Watermark(input, options);
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(testing::ReadCoefficients(result->data).markers, in_markers);
  }
}

// Applies EXIF orientation to a decoded image: what a viewer sees.
Decoded Orient(const Decoded& s, int orientation) {
  Decoded v;
  v.channels = s.channels;
  v.width = orientation >= 5 ? s.height : s.width;
  v.height = orientation >= 5 ? s.width : s.height;
  v.pixels.resize(s.pixels.size());
  for (int y = 0; y < s.height; ++y) {
    for (int x = 0; x < s.width; ++x) {
      int u, w;
      internal::StoredToVisual(orientation, s.width, s.height, x, y, &u, &w);
      std::memcpy(&v.pixels[(static_cast<size_t>(w) * v.width + u) * v.channels],
                  &s.pixels[(static_cast<size_t>(y) * s.width + x) * s.channels], s.channels);
    }
  }
  return v;
}

// The inverse of Orient: from what a viewer sees back to the stored frame.
Decoded Unorient(const Decoded& v, int orientation) {
  Decoded s;
  s.channels = v.channels;
  s.width = orientation >= 5 ? v.height : v.width;
  s.height = orientation >= 5 ? v.width : v.height;
  s.pixels.resize(v.pixels.size());
  for (int y = 0; y < s.height; ++y) {
    for (int x = 0; x < s.width; ++x) {
      int u, w;
      internal::StoredToVisual(orientation, s.width, s.height, x, y, &u, &w);
      std::memcpy(&s.pixels[(static_cast<size_t>(y) * s.width + x) * s.channels],
                  &v.pixels[(static_cast<size_t>(w) * v.width + u) * v.channels], s.channels);
    }
  }
  return s;
}

Box Grow(const Box& b, int by) { return {b.x - by, b.y - by, b.width + 2 * by, b.height + 2 * by}; }

TEST(WatermarkJpeg, EveryOrientationPutsAnUprightLogoInTheVisualCorner) {
  for (Gravity gravity : {Gravity::kSouthEast, Gravity::kNorthWest}) {
    for (int orientation = 1; orientation <= 8; ++orientation) {
      SCOPED_TRACE("orientation " + std::to_string(orientation) + " " + GravityName(gravity));
      JpegSpec spec = Spec(480, 320, 3, 2, 2);
      spec.orientation = orientation;
      spec.quality = 95;
      spec.pattern = Pattern::kGradient;
      const std::string input = testing::MakeJpeg(spec);
      WatermarkOptions options;
      options.gravity = gravity;
      options.scale = 0.3;
      auto result = Watermark(input, options);
      ASSERT_TRUE(result.ok()) << result.status().ToString();
      EXPECT_EQ(result->orientation, orientation);
      // What the viewer sees, against the upright logo composited in the visual frame.
      const Decoded stored_before = testing::DecodeJpeg(input);
      const Decoded before = Orient(stored_before, orientation);
      const Decoded after = Orient(testing::DecodeJpeg(result->data), orientation);
      EXPECT_EQ(after.width, before.width);
      auto logo = internal::PrepareLogo(before.width, before.height, 1, options);
      ASSERT_TRUE(logo.ok());
      const Box& lb = logo->box;
      if (gravity == Gravity::kSouthEast) {
        EXPECT_EQ(lb.x + lb.width, before.width - 16);
        EXPECT_EQ(lb.y + lb.height, before.height - 16);
      } else {
        EXPECT_EQ(lb.x, 16);
        EXPECT_EQ(lb.y, 16);
      }
      // Only the logo's box changed, seen from the viewer's side.
      EXPECT_EQ(DiffersOutside(before, after, Grow(lb, 17)), 0);
      // The upright reference, taken back to the stored frame, matches the stored output.
      const Decoded reference =
          Unorient(ReferenceComposite(Orient(testing::DecodeJpegBlocky(input), orientation), *logo),
                   orientation);
      EXPECT_GE(
          SampledPsnr(reference, testing::DecodeJpegYcc(result->data), result->changed_box, 2, 2),
          40.0);
    }
  }
}

TEST(WatermarkJpeg, OptimizedTablesWithRoomAreExtendedInPlace) {
  // A flat grey picture with optimized tables has codes for almost no AC symbols; the logo's
  // codes are appended after the existing ones, so the prefix bytes stay valid.
  JpegSpec spec = Spec(320, 240, 3, 2, 2);
  spec.optimize = true;
  const std::string input =
      testing::MakeJpegFromPixels(spec, std::vector<uint8_t>(320 * 240 * 3, 128));
  auto fast = Watermark(input, WatermarkOptions{});
  ASSERT_TRUE(fast.ok()) << fast.status().ToString();
  EXPECT_EQ(fast->path, WatermarkPath::kEntropy) << fast->fallback_reason;
  WatermarkOptions slow_options;
  slow_options.allow_entropy_path = false;
  auto slow = Watermark(input, slow_options);
  ASSERT_TRUE(slow.ok());
  EXPECT_EQ(testing::ReadCoefficients(fast->data).blocks,
            testing::ReadCoefficients(slow->data).blocks);
}

TEST(WatermarkJpeg, FullHuffmanTablesAreRewrittenAndKeepTheEntropyPath) {
  // libjpeg's optimized tables for a detailed photo use every code up to 16 bits: the rarest
  // codes are lengthened to make room (jpeg_huffman.h), and the splice writes their
  // occurrences again. More cases, from real encoders, in jpeg_encoders_test.
  JpegSpec spec = Spec(640, 480, 3, 2, 2);
  spec.optimize = true;
  const std::string input = testing::MakeJpeg(spec);
  auto result = Watermark(input, WatermarkOptions{});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->path, WatermarkPath::kEntropy) << result->fallback_reason;
  WatermarkOptions slow_options;
  slow_options.allow_entropy_path = false;
  auto slow = Watermark(input, slow_options);
  ASSERT_TRUE(slow.ok());
  EXPECT_EQ(testing::ReadCoefficients(result->data).blocks,
            testing::ReadCoefficients(slow->data).blocks);
  const Decoded before = testing::DecodeJpeg(input), after = testing::DecodeJpeg(result->data);
  ASSERT_FALSE(after.pixels.empty());
  EXPECT_EQ(after.warnings, 0);
  EXPECT_EQ(DiffersOutside(before, after, result->changed_box), 0);
}

TEST(WatermarkJpeg, ConcurrentCallsGiveIdenticalResults) {
  const std::string input = testing::MakeJpeg(Spec(640, 480, 3, 2, 2));
  const std::string expected = Watermark(input, {}).value().data;
  std::vector<std::string> outputs(4);
  std::vector<std::thread> threads;
  for (auto& out : outputs) {
    threads.emplace_back([&input, &out] {
      for (int i = 0; i < 3; ++i) out = Watermark(input, {}).value().data;
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& out : outputs) EXPECT_EQ(out, expected);
}

struct BadInput {
  const char* name;
  std::string data;
  common::Code code;
  const char* message;
};

std::string WithSize(std::string jpeg, int w, int h) {
  // Patch the SOF0 frame size.
  for (size_t i = 2; i + 9 < jpeg.size(); ++i) {
    if (static_cast<unsigned char>(jpeg[i]) == 0xFF &&
        static_cast<unsigned char>(jpeg[i + 1]) == 0xC0) {
      jpeg[i + 5] = static_cast<char>(h >> 8);
      jpeg[i + 6] = static_cast<char>(h);
      jpeg[i + 7] = static_cast<char>(w >> 8);
      jpeg[i + 8] = static_cast<char>(w);
      break;
    }
  }
  return jpeg;
}

TEST(WatermarkErrors, BadInputIsRejectedWithAClearMessage) {
  const std::string jpeg = testing::MakeJpeg(Spec(320, 240, 3, 2, 2));
  const std::string png = testing::MakePng(320, 240, 2, 8, false);
  std::string png_bomb = png;
  png_bomb[16] = 0x00, png_bomb[17] = 0x01, png_bomb[18] = 0, png_bomb[19] = 0;  // width 65536
  png_bomb[20] = 0x00, png_bomb[21] = 0x01, png_bomb[22] = 0, png_bomb[23] = 0;  // height 65536
  std::string corrupt = jpeg;
  for (size_t i = jpeg.size() / 2; i < jpeg.size() / 2 + 64; ++i)
    corrupt[i] = static_cast<char>(0xFF);
  const std::vector<BadInput> cases = {
      {"empty", "", common::Code::kInvalidArgument, "empty input"},
      {"text", "hello, world", common::Code::kInvalidArgument, "not an image"},
      {"gif_truncated", "GIF89a\x01\x00\x01\x00", common::Code::kInvalidArgument, "bad GIF"},
      {"jpeg_header_only", jpeg.substr(0, 100), common::Code::kInvalidArgument, "JPEG"},
      {"jpeg_truncated", jpeg.substr(0, jpeg.size() / 2), common::Code::kInvalidArgument, "JPEG"},
      {"jpeg_corrupt", corrupt, common::Code::kInvalidArgument, "JPEG"},
      {"jpeg_bomb", WithSize(jpeg, 60000, 60000), common::Code::kResourceExhausted,
       "over the limit"},
      {"png_truncated", png.substr(0, png.size() / 2), common::Code::kInvalidArgument, "PNG"},
      {"png_signature_only", png.substr(0, 8), common::Code::kInvalidArgument, "PNG"},
      {"png_bomb", png_bomb, common::Code::kResourceExhausted, "over the limit"},
  };
  for (const BadInput& tc : cases) {
    SCOPED_TRACE(tc.name);
    auto result = Watermark(tc.data, {});
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), tc.code) << result.status().ToString();
    EXPECT_NE(result.status().message().find(tc.message), std::string::npos)
        << result.status().ToString();
  }
}

TEST(WatermarkErrors, OverSubscribedHuffmanTableIsRejected) {
  // Three 1-bit codes cannot exist: the table is refused before anything is built from it
  // (found by the fuzzer: the look-up tables were filled past their end).
  std::string jpeg = testing::MakeJpeg(Spec(320, 240, 3, 2, 2));
  const size_t dht = jpeg.find("\xFF\xC4");
  ASSERT_NE(dht, std::string::npos);
  const size_t counts = dht + 5;  // marker, length, class/id, then counts[1..16]
  ASSERT_EQ(jpeg[counts], 0);
  ASSERT_GE(jpeg[counts + 2], 3);
  jpeg[counts] = 3;                                            // three codes of length 1 ...
  jpeg[counts + 2] = static_cast<char>(jpeg[counts + 2] - 3);  // ... as many symbols in all
  for (bool allow_entropy : {true, false}) {
    WatermarkOptions options;
    options.allow_entropy_path = allow_entropy;
    auto result = Watermark(jpeg, options);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), common::Code::kInvalidArgument);
  }
}

TEST(WatermarkErrors, MaxPixelsIsConfigurable) {
  const std::string jpeg = testing::MakeJpeg(Spec(320, 240, 3, 2, 2));
  WatermarkOptions options;
  options.max_pixels = 320 * 240 - 1;
  auto result = Watermark(jpeg, options);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), common::Code::kResourceExhausted);
  options.max_pixels = 320 * 240;
  EXPECT_TRUE(Watermark(jpeg, options).ok());
}

TEST(WatermarkErrors, BadOptionsAndLogos) {
  const std::string jpeg = testing::MakeJpeg(Spec(320, 240, 3, 2, 2));
  WatermarkOptions options;
  options.scale = 0;
  EXPECT_EQ(Watermark(jpeg, options).status().code(), common::Code::kInvalidArgument);
  options = {};
  options.opacity = 1.5;
  EXPECT_EQ(Watermark(jpeg, options).status().code(), common::Code::kInvalidArgument);
  options = {};
  options.logo_png = "not a png";
  auto bad_logo = Watermark(jpeg, options);
  ASSERT_FALSE(bad_logo.ok());
  EXPECT_NE(bad_logo.status().message().find("logo"), std::string::npos);
  EXPECT_TRUE(ParseGravity("north-west").ok());
  EXPECT_FALSE(ParseGravity("up").ok());
}

struct PngCase {
  const char* name;
  int color_type;
  int bit_depth;
  bool interlaced;
  bool trns;
  int expected_color_type;
  int expected_depth;
};

class PngVariants : public ::testing::TestWithParam<PngCase> {};

TEST_P(PngVariants, CompositesAndKeepsTheRest) {
  const PngCase& tc = GetParam();
  const std::string input =
      testing::MakePng(300, 200, tc.color_type, tc.bit_depth, tc.interlaced, tc.trns);
  auto result = Watermark(input, {});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->path, WatermarkPath::kPng);
  auto header = internal::ReadPngHeader(result->data);
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->color_type, tc.expected_color_type);
  EXPECT_EQ(header->bit_depth, tc.expected_depth);
  EXPECT_NE(result->data.find("made by a test"), std::string::npos) << "text chunk kept";
  const Decoded before = testing::DecodePngRgba(input),
                after = testing::DecodePngRgba(result->data);
  ASSERT_FALSE(after.pixels.empty());
  EXPECT_EQ(DiffersOutside(before, after, result->logo_box), 0);
  const Box& b = result->logo_box;
  EXPECT_LT(testing::Psnr(before, after, b.x, b.y, b.width, b.height), 30.0);
  if (tc.expected_color_type == 2) {  // opaque: compare with the RGB reference composite
    Decoded rgb_before = before, rgb_after = after;
    auto logo = internal::PrepareLogo(300, 200, 1, WatermarkOptions{});
    ASSERT_TRUE(logo.ok());
    const Decoded reference = ReferenceComposite(rgb_before, *logo);
    EXPECT_GE(testing::Psnr(reference, rgb_after, b.x, b.y, b.width, b.height), 40.0);
  }
}

INSTANTIATE_TEST_SUITE_P(All, PngVariants,
                         ::testing::Values(PngCase{"gray8", 0, 8, false, false, 2, 8},
                                           PngCase{"gray16", 0, 16, false, false, 2, 16},
                                           PngCase{"rgb8", 2, 8, false, false, 2, 8},
                                           PngCase{"rgb8_interlaced", 2, 8, true, false, 2, 8},
                                           PngCase{"rgb16", 2, 16, false, false, 2, 16},
                                           PngCase{"rgba8", 6, 8, false, false, 6, 8},
                                           PngCase{"rgba16_interlaced", 6, 16, true, false, 6, 16},
                                           PngCase{"gray_alpha8", 4, 8, false, false, 6, 8},
                                           PngCase{"palette", 3, 8, false, false, 2, 8},
                                           PngCase{"palette_trns", 3, 8, true, true, 6, 8}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Probe, ReadsHeadersOnly) {
  JpegSpec spec = Spec(400, 300, 3, 2, 2);
  spec.orientation = 6;
  spec.progressive = true;
  auto jpeg = Probe(testing::MakeJpeg(spec));
  ASSERT_TRUE(jpeg.ok());
  EXPECT_EQ(jpeg->format, ImageFormat::kJpeg);
  EXPECT_EQ(jpeg->width, 400);
  EXPECT_EQ(jpeg->height, 300);
  EXPECT_EQ(jpeg->orientation, 6);
  EXPECT_TRUE(jpeg->progressive);
  auto png = Probe(testing::MakePng(30, 20, 6, 8, true));
  ASSERT_TRUE(png.ok());
  EXPECT_EQ(png->format, ImageFormat::kPng);
  EXPECT_EQ(png->width, 30);
  EXPECT_EQ(png->components, 4);
  EXPECT_TRUE(png->progressive);
  EXPECT_FALSE(Probe("nope").ok());
}

TEST(Downscale, HalvesAndShrinksToFit) {
  JpegSpec spec = Spec(640, 480, 3, 2, 2);
  spec.pattern = Pattern::kNoise;
  spec.quality = 95;
  spec.comment = "keep me";
  const std::string input = testing::MakeJpeg(spec);
  auto half = DownscaleJpeg(input, 2);
  ASSERT_TRUE(half.ok()) << half.status().ToString();
  auto p = Probe(*half);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->width, 320);
  EXPECT_EQ(p->height, 240);
  EXPECT_NE(half->find("keep me"), std::string::npos);
  EXPECT_FALSE(DownscaleJpeg(input, 3).ok());
  auto fit = ShrinkJpegToFit(input, input.size() / 3);
  ASSERT_TRUE(fit.ok());
  EXPECT_LE(fit->size(), input.size() / 3);
  EXPECT_EQ(ShrinkJpegToFit(input, input.size()).value(), input);
  EXPECT_EQ(ShrinkJpegToFit(input, 10).status().code(), common::Code::kResourceExhausted);
}

TEST(BuiltinLogo, IsAPngWithAlpha) {
  auto header = internal::ReadPngHeader(BuiltinLogoPng());
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->color_type, 6);
  auto logo = internal::DecodeLogo(BuiltinLogoPng());
  ASSERT_TRUE(logo.ok());
  EXPECT_EQ(logo->at(0, 0)[3], 0.0f) << "transparent corner";
  EXPECT_GT(logo->at(logo->width / 2, logo->height / 2)[3], 0.9f) << "opaque middle";
  // The pixels compiled in beside the PNG are exactly its decode.
  auto png = internal::DecodePng(BuiltinLogoPng(), 1u << 24);
  ASSERT_TRUE(png.ok());
  const internal::RawLogo raw = internal::BuiltinLogoPixels();
  ASSERT_EQ(raw.width, png->header.width);
  ASSERT_EQ(raw.height, png->header.height);
  EXPECT_EQ(std::memcmp(raw.rgba, png->pixels8.data(), png->pixels8.size()), 0);
}

}  // namespace
}  // namespace image
