// Internal: the decoders (and encoders) of the formats other than JPEG and PNG. Each one checks
// DecodeLimits from the header, before it decodes anything, and turns every library error into
// InvalidArgument (corrupt, truncated, unsupported) or ResourceExhausted (over the limits).
// Inputs are borrowed for the call; a returned RowSource keeps what it needs alive.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "image/logo.h"
#include "image/rows.h"

namespace image::internal {

// What a header declares.
struct ImageInfo {
  int width = 0;
  int height = 0;
  bool has_alpha = false;
  int frames = 1;
};

// HEIF (HEVC) and AVIF (AV1), via libheif: the primary image, with its rotation and mirroring
// applied (so the rows are upright), HDR reduced to 8 bits.
common::Result<ImageInfo> ReadHeifInfo(std::string_view data);
// InvalidArgument when an HEVC-coded item's size (ispe) exceeds the picture its SPS declares
// (libheif 1.15 would allocate gigabytes cropping it); Ok otherwise, or when the container
// cannot be parsed (libheif then refuses it).
common::Status CheckHeifCodedSizes(std::string_view data);
// Checks the output size of every grid item (a tiled picture: phones write these) against the
// limits; libheif 1.15 allocates the grid's canvas from it without checking it against ispe.
common::Status CheckHeifGrids(std::string_view data, const DecodeLimits& limits,
                              uint64_t bytes_per_pixel);
common::Result<std::unique_ptr<RowSource>> OpenHeifRows(std::string_view data,
                                                        const DecodeLimits& limits);

// A decoded WebP picture (RGBA8, writable: the logo is composited in place).
struct WebpPicture {
  int width = 0;
  int height = 0;
  bool has_alpha = false;
  bool lossless = false;
  std::shared_ptr<uint8_t> rgba;  // width * height * 4
};
// The canvas size of an animated WebP (frames > 1 then).
common::Result<ImageInfo> ReadWebpInfo(std::string_view data);
// Still WebP only: an animated WebP is InvalidArgument (see the animated WebP functions below).
common::Result<WebpPicture> DecodeWebp(std::string_view data, const DecodeLimits& limits);
// Encodes RGBA8 rows (stride width*4): lossless, or lossy at `quality`; with or without alpha.
common::Result<std::string> EncodeWebp(const uint8_t* rgba, int width, int height, bool alpha,
                                       bool lossless, int quality);

// BMP: uncompressed 1/4/8/16/24/32-bit (BI_RGB, BI_BITFIELDS), bottom-up or top-down, via a
// bounded parser of this project. RLE and embedded JPEG/PNG are InvalidArgument.
common::Result<ImageInfo> ReadBmpInfo(std::string_view data);
common::Result<std::unique_ptr<RowSource>> OpenBmpRows(std::string_view data,
                                                       const DecodeLimits& limits);

// Little-endian integers of a container's headers (BMP, RIFF/WebP); p has the bytes.
inline uint32_t Le16(const uint8_t* p) { return p[0] | (uint32_t{p[1]} << 8); }
inline uint32_t Le24(const uint8_t* p) { return Le16(p) | (uint32_t{p[2]} << 16); }
inline uint32_t Le32(const uint8_t* p) { return Le24(p) | (uint32_t{p[3]} << 24); }

// TIFF via libtiff (TIFFReadRGBAImageOriented): the first directory, top-left orientation.
common::Result<ImageInfo> ReadTiffInfo(std::string_view data);
common::Result<std::unique_ptr<RowSource>> OpenTiffRows(std::string_view data,
                                                        const DecodeLimits& limits);

}  // namespace image::internal

namespace image::internal {

// More frames than any animation X takes (GIF, animated WebP): refused before decoding.
constexpr int kMaxAnimationFrames = 5000;

// Stamps a placed logo into frames rendered one after the other on the same RGBA8 canvas:
// Apply composites it and keeps the pixels it covered, Undo puts them back, so that the logo
// never builds up on a canvas the next frame is drawn over. Not thread-safe; `logo` is borrowed.
class LogoStamp {
 public:
  explicit LogoStamp(const LogoPlacement* logo);
  // `canvas` has the logo placement's size, `stride` bytes a row.
  void Apply(uint8_t* canvas, size_t stride);
  void Undo(uint8_t* canvas, size_t stride) const;

 private:
  const LogoPlacement* logo_;
  std::vector<float> line_;
  std::vector<uint8_t> saved_;
  LogoPlacement::SampleCache cache_;
};

// GIF via giflib, frame by frame: each frame is rendered on the logical screen (disposal
// methods applied, as browsers show it), so memory is a few screens, never the whole file's
// frames. Limits: the screen against max_pixels, and the rendering buffers (9 bytes a pixel)
// against max_decoded_bytes, from the header; all frames together against 10 * max_pixels.
common::Result<ImageInfo> ReadGifInfo(std::string_view data);

// The result of WatermarkGif.
struct GifOutput {
  std::string data;
  int frames = 0;
  bool too_large = false;  // the output would exceed max_output_bytes (data is empty)
};

// Composites `logo` (placed on the screen size) into every frame and writes a GIF of full-screen
// frames with their delays and the loop count. Each frame keeps its own colours exactly
// (palette slots left free take the logo's colours; other logo pixels take the nearest colour).
// too_large when the output would exceed max_output_bytes (checked while writing).
common::Result<GifOutput> WatermarkGif(std::string_view data, const DecodeLimits& limits,
                                       const LogoPlacement& logo, uint64_t max_output_bytes);

// The first frame, rendered, as rows (for the JPEG fallback and conversions).
common::Result<std::unique_ptr<RowSource>> OpenGifFirstFrame(std::string_view data,
                                                             const DecodeLimits& limits);

// Animated WebP (libwebpdemux's WebPAnimDecoder, libwebpmux's WebPAnimEncoder), frame by frame:
// the decoder hands out full canvases one at a time, so memory is a few canvases, never the
// whole file's frames.

// Bytes per canvas pixel held while frames are rendered: the decoder's canvas and its disposed
// copy (4 + 4) and the frame being decoded (lossless: its ARGB and transforms).
constexpr uint64_t kWebpAnimationDecodeBytesPerPixel = 16;
// ... while they are also encoded: the encoder's imported picture and its three canvases, and
// the sub-frame candidates it tries (lossy and lossless, each with its encoder's work memory).
// Measured peak: see src/image/README.md (Formats).
constexpr uint64_t kWebpAnimationBytesPerPixel = 80;

// What the chunks of an animated WebP declare (read without decoding anything).
struct WebpAnimationInfo {
  int width = 0;  // the canvas
  int height = 0;
  bool has_alpha = false;
  int frames = 0;
  int loop_count = 0;  // 0: forever
  bool any_lossy = false;
  bool any_lossless = false;
};

// True when `data` is a WebP whose VP8X header has the animation flag.
bool IsAnimatedWebp(std::string_view data);

// Walks the RIFF chunks (VP8X, ANIM, every ANMF header; no pixel is decoded) and checks them
// against the limits, so that a bomb is refused in microseconds: InvalidArgument for a
// malformed or truncated file (a chunk running past the end, a frame outside the canvas, no
// frame), ResourceExhausted for a canvas over max_pixels or over max_decoded_bytes at
// kWebpAnimationDecodeBytesPerPixel, more than kMaxAnimationFrames frames, or more than
// 10 * max_pixels canvas pixels over all frames (each frame is rendered on the whole canvas).
common::Result<WebpAnimationInfo> ReadWebpAnimation(std::string_view data,
                                                    const DecodeLimits& limits);

// The result of WatermarkWebpAnimation.
struct WebpAnimationOutput {
  std::string data;
  int frames = 0;          // frames encoded (identical consecutive frames are merged)
  bool too_large = false;  // the output would exceed max_output_bytes (data is empty)
};

// Composites `logo` (placed on the canvas) into every frame and writes an animated WebP with the
// frames' timings, the loop count and background colour; lossless when every input frame is,
// lossy at `quality` when every frame is lossy, and the smaller of the two per frame when the
// input mixes them. Checks ReadWebpAnimation's limits, and the canvas against max_decoded_bytes
// at kWebpAnimationBytesPerPixel. too_large when the output exceeds max_output_bytes; without
// encoding anything when the input itself is over 3 * max_output_bytes (its frames, re-encoded
// with the same tools, would not fit either).
common::Result<WebpAnimationOutput> WatermarkWebpAnimation(std::string_view data,
                                                           const DecodeLimits& limits,
                                                           const LogoPlacement& logo, int quality,
                                                           uint64_t max_output_bytes);

// The first frame of an animated WebP, rendered on its canvas, as rows (for the JPEG fallback
// and conversions). Checks ReadWebpAnimation's limits.
common::Result<std::unique_ptr<RowSource>> OpenWebpAnimationFirstFrame(std::string_view data,
                                                                       const DecodeLimits& limits);

}  // namespace image::internal
