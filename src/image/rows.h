// Internal: decode limits and pictures delivered row by row (the pixel pipeline's currency).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"

namespace image::internal {

// How much a decoder may take on (WatermarkOptions::max_pixels / max_decoded_bytes).
struct DecodeLimits {
  uint64_t max_pixels = 100'000'000;
  uint64_t max_decoded_bytes = 192ull << 20;
};

// Checks a declared size before anything is decoded: InvalidArgument for a zero or negative
// size, ResourceExhausted (naming `format` and the size) when width*height exceeds max_pixels
// or width*height*held_bytes_per_pixel (what the decoder holds at once) exceeds
// max_decoded_bytes. Never overflows.
common::Status CheckLimits(const char* format, int64_t width, int64_t height,
                           uint64_t held_bytes_per_pixel, const DecodeLimits& limits);

// A picture delivered row by row, top to bottom, as RGBA: 8 bits per sample, or 16 bits in
// host order when sixteen(). Alpha is straight (not premultiplied). Not thread-safe.
class RowSource {
 public:
  virtual ~RowSource() = default;
  int width() const { return width_; }
  int height() const { return height_; }
  bool sixteen() const { return sixteen_; }
  bool has_alpha() const { return has_alpha_; }
  size_t row_bytes() const { return static_cast<size_t>(width_) * 4 * (sixteen_ ? 2 : 1); }
  // Writes the next row (row_bytes() bytes) to `rgba`. InvalidArgument for corrupt data;
  // must not be called more than height() times.
  virtual common::Status ReadRow(void* rgba) = 0;

 protected:
  int width_ = 0;
  int height_ = 0;
  bool sixteen_ = false;
  bool has_alpha_ = false;
};

// Rows of an interleaved 8-bit buffer with 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA)
// channels. `base` is borrowed and must outlive the source; `owner` (optional) keeps it alive.
class InterleavedRows : public RowSource {
 public:
  InterleavedRows(const uint8_t* base, size_t stride, int channels, int width, int height,
                  bool has_alpha, std::shared_ptr<void> owner = nullptr);
  common::Status ReadRow(void* rgba) override;

 private:
  const uint8_t* base_;
  size_t stride_;
  int channels_;
  int next_ = 0;
  std::shared_ptr<void> owner_;
};

}  // namespace image::internal
