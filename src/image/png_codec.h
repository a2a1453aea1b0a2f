// Internal: PNG decoding (libspng) and fast encoding (libdeflate).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "image/rows.h"
#include "image/watermark.h"

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

// The rows of a PNG, for the pixel pipeline. Non-interlaced PNGs are decoded as the rows are
// read (libspng progressive decoding): one row is held, never the frame. Interlaced PNGs are
// decoded whole first, so they must fit in limits.max_decoded_bytes. The limits are checked
// from IHDR before anything is decoded (ResourceExhausted); a critical chunk (IHDR, PLTE,
// IDAT, IEND) with a bad CRC is refused (InvalidArgument), as libpng does; ancillary chunks
// with a bad CRC are dropped. `data` is borrowed and must outlive the source.
common::Result<std::unique_ptr<RowSource>> OpenPngRows(std::string_view data,
                                                       const DecodeLimits& limits);

// Encodes every row of `source` as a non-interlaced PNG with `channels` (3: RGB, 4: RGBA) and
// the source's bit depth (filter Up, zlib level 1), writing to `sink` as IDAT chunks of
// 1 MiB fill: only one row and one chunk are held. `extra_chunks` (complete raw chunks) go
// before IDAT. Returns the sink's error as is.
common::Status EncodePngRows(RowSource* source, int channels,
                             const std::vector<std::string_view>& extra_chunks, OutputSink* sink);

// A complete raw chunk (length, type, data, CRC).
std::string MakePngChunk(std::string_view type, std::string_view data);

// The raw ancillary chunks of `data` that stay valid after recolouring (iCCP, sRGB, gAMA,
// cHRM, pHYs, eXIf, text, tIME). Views into `data`.
std::vector<std::string_view> PortableChunks(std::string_view data);

}  // namespace image::internal
