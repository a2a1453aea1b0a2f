// Test helpers: synthetic images written and read with libjpeg/libpng (tests only).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace image::testing {

enum class Pattern { kGradient, kNoise, kText, kPhoto };

// Interleaved 8-bit samples (1, 3 or 4 channels) of a synthetic picture.
std::vector<uint8_t> MakePixels(int width, int height, int channels, Pattern pattern,
                                uint32_t seed = 1);

struct JpegSpec {
  int width = 640;
  int height = 480;
  int components = 3;          // 1 gray, 3 YCbCr, 4 CMYK (Adobe, inverted like Photoshop)
  bool ycck = false;           // with components == 4: store as YCCK
  int h_samp = 2, v_samp = 2;  // luma sampling factors (chroma is 1x1)
  int quality = 90;
  bool progressive = false;
  bool optimize = false;  // optimized Huffman tables
  bool arithmetic = false;
  int restart_rows = 0;  // restart interval in MCU rows
  int restart_mcus = 0;  // restart interval in MCUs
  int orientation = 0;   // EXIF APP1 with this orientation when non-zero
  bool icc = false;      // an APP2 ICC_PROFILE marker
  std::string comment;   // a COM marker when non-empty
  Pattern pattern = Pattern::kPhoto;
};

// A JpegSpec of this size, component count and luma sampling, the rest as defaulted.
inline JpegSpec Spec(int width, int height, int components, int h_samp, int v_samp) {
  JpegSpec s;
  s.width = width;
  s.height = height;
  s.components = components;
  s.h_samp = h_samp;
  s.v_samp = v_samp;
  return s;
}

std::string MakeJpeg(const JpegSpec& spec);
std::string MakeJpegFromPixels(const JpegSpec& spec, const std::vector<uint8_t>& pixels);

struct Decoded {
  int width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;
  int warnings = 0;  // libjpeg's corrupt-data warnings while decoding (JPEG only)
};

// Full libjpeg decode; RGB for colour, gray for gray, CMYK (as stored) for CMYK/YCCK.
// Empty `pixels` on error.
Decoded DecodeJpeg(const std::string& jpeg);
// Decode to YCbCr (gray stays gray) without fancy upsampling: each chroma sample is replicated
// over the pixels it covers, so the stored chroma grid can be read back exactly.
Decoded DecodeJpegYcc(const std::string& jpeg);
// RGB decode without fancy upsampling (the reference for SampledPsnr comparisons).
Decoded DecodeJpegBlocky(const std::string& jpeg);

// All quantized coefficients of component c, block-row-major (libjpeg's block arrays).
struct Coefficients {
  std::vector<int> width_in_blocks, height_in_blocks;
  std::vector<std::vector<int16_t>> blocks;  // per component, 64 per block
  std::vector<std::string> markers;          // APPn/COM payloads, "<marker>:<bytes>"
};
Coefficients ReadCoefficients(const std::string& jpeg);

// PNG writer via libpng: color_type 0/2/3/4/6, bit_depth 8 or 16 (palette: 8), interlace.
std::string MakePng(int width, int height, int color_type, int bit_depth, bool interlaced,
                    bool trns = false);
// PNG reader via libpng to 8-bit RGBA (16-bit scaled down); empty on error.
Decoded DecodePngRgba(const std::string& png);

// Peak signal-to-noise ratio of two equally sized sample arrays over a box.
double Psnr(const Decoded& a, const Decoded& b, int x, int y, int w, int h);

}  // namespace image::testing
