// Internal: PNG decoding (libspng) and fast encoding (libdeflate).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace image::internal {

// What the IHDR chunk declares.
struct PngHeader {
  int width = 0;
  int height = 0;
  int bit_depth = 0;
  int color_type = 0;  // 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA
  bool interlaced = false;
};

// Parses the signature and IHDR only. InvalidArgument if `data` is not a PNG.
common::Result<PngHeader> ReadPngHeader(std::string_view data);

// Decoded pixels, always 4 channels (RGBA): 8-bit samples in `pixels8`, or 16-bit (host
// order) samples in `pixels16` when the source has 16-bit depth.
struct PngPixels {
  PngHeader header;
  bool has_alpha = false;  // colour type with alpha, or a tRNS chunk
  std::vector<uint8_t> pixels8;
  std::vector<uint16_t> pixels16;
  bool sixteen() const { return header.bit_depth == 16; }
};

// Decodes the whole image. ResourceExhausted if width*height > max_pixels; InvalidArgument
// for corrupt or truncated data.
common::Result<PngPixels> DecodePng(std::string_view data, uint64_t max_pixels);

// Encodes RGBA pixels as a non-interlaced PNG with `channels` (3: RGB, 4: RGBA) and the
// pixels' bit depth, using fast deflate. `extra_chunks` are complete raw chunks (length, type,
// data, CRC) written before IDAT.
common::Result<std::string> EncodePng(const PngPixels& pixels, int channels,
                                      const std::vector<std::string_view>& extra_chunks);

// The raw ancillary chunks of `data` that stay valid after recolouring (iCCP, sRGB, gAMA,
// cHRM, pHYs, eXIf, text, tIME). Views into `data`.
std::vector<std::string_view> PortableChunks(std::string_view data);

}  // namespace image::internal
