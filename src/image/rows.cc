#include "image/rows.h"

#include <cstring>

namespace image::internal {

common::Status CheckLimits(const char* format, int64_t width, int64_t height,
                           uint64_t held_bytes_per_pixel, const DecodeLimits& limits) {
  if (width <= 0 || height <= 0) {
    return common::InvalidArgument(std::string(format) + " declares an invalid size");
  }
  const std::string size = std::to_string(width) + "x" + std::to_string(height);
  // Both at most 2^32, so the product fits in 64 bits; the byte count is checked by division.
  if (width > (int64_t{1} << 32) || height > (int64_t{1} << 32) ||
      static_cast<uint64_t>(width) * static_cast<uint64_t>(height) > limits.max_pixels) {
    return common::ResourceExhausted(std::string(format) + " declares " + size +
                                     " pixels, over the limit of " +
                                     std::to_string(limits.max_pixels));
  }
  const uint64_t pixels = static_cast<uint64_t>(width) * static_cast<uint64_t>(height);
  if (held_bytes_per_pixel > 0 && pixels > limits.max_decoded_bytes / held_bytes_per_pixel) {
    return common::ResourceExhausted(std::string(format) + " of " + size + " would decode to " +
                                     std::to_string(pixels * held_bytes_per_pixel) +
                                     " bytes, over the limit of " +
                                     std::to_string(limits.max_decoded_bytes));
  }
  return common::Status::Ok();
}

InterleavedRows::InterleavedRows(const uint8_t* base, size_t stride, int channels, int width,
                                 int height, bool has_alpha, std::shared_ptr<void> owner)
    : base_(base), stride_(stride), channels_(channels), owner_(std::move(owner)) {
  width_ = width;
  height_ = height;
  has_alpha_ = has_alpha;
}

common::Status InterleavedRows::ReadRow(void* rgba) {
  if (next_ >= height_) return common::Internal("read past the last row");
  const uint8_t* src = base_ + stride_ * static_cast<size_t>(next_++);
  auto* dst = static_cast<uint8_t*>(rgba);
  if (channels_ == 4) {
    std::memcpy(dst, src, static_cast<size_t>(width_) * 4);
    return common::Status::Ok();
  }
  for (int x = 0; x < width_; ++x, dst += 4, src += channels_) {
    const bool gray = channels_ <= 2;
    dst[0] = src[0];
    dst[1] = gray ? src[0] : src[1];
    dst[2] = gray ? src[0] : src[2];
    dst[3] = channels_ == 2 ? src[1] : 255;
  }
  return common::Status::Ok();
}

}  // namespace image::internal
