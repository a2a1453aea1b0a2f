// A bounded BMP parser (codecs.h): every offset and size is checked against the file before
// it is read.
#include <bit>
#include <cstring>

#include "image/codecs.h"

namespace image::internal {
namespace {

struct BmpHeader {
  ImageInfo info;
  bool top_down = false;
  int bpp = 0;
  uint32_t masks[4] = {0, 0, 0, 0};  // R, G, B, A for 16/32-bit
  std::vector<uint8_t> palette;      // RGB triplets
  size_t pixels_at = 0;
  size_t stride = 0;
};

common::Result<BmpHeader> ParseBmp(std::string_view data) {
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  const size_t n = data.size();
  if (n < 26 || p[0] != 'B' || p[1] != 'M') return common::InvalidArgument("not a BMP file");
  BmpHeader h;
  const uint32_t dib = Le32(p + 14);
  int64_t w, hh;
  uint32_t compression = 0, colors = 0;
  size_t palette_entry = 4;
  if (dib == 12) {  // OS/2 BITMAPCOREHEADER
    w = Le16(p + 18);
    hh = Le16(p + 20);
    h.bpp = static_cast<int>(Le16(p + 24));
    palette_entry = 3;
  } else if (dib >= 40 && dib <= 124 && n >= 14 + size_t{40}) {
    w = static_cast<int32_t>(Le32(p + 18));
    hh = static_cast<int32_t>(Le32(p + 22));
    h.bpp = static_cast<int>(Le16(p + 28));
    compression = Le32(p + 30);
    colors = Le32(p + 46);
  } else {
    return common::InvalidArgument("bad BMP: unknown or truncated header");
  }
  h.top_down = hh < 0;
  if (hh < 0) hh = -hh;
  h.info.width = w > 0x7fffffff ? -1 : static_cast<int>(w);
  h.info.height = hh > 0x7fffffff ? -1 : static_cast<int>(hh);
  size_t at = 14 + dib;
  if (compression == 3 || compression == 6) {  // BI_BITFIELDS, BI_ALPHABITFIELDS
    const size_t mask_count = compression == 6 ? 4 : 3;
    // The masks follow a 40-byte header, or are part of a larger one.
    const size_t masks_at = 14 + 40;
    if (n < masks_at + 4 * mask_count) return common::InvalidArgument("truncated BMP header");
    for (size_t i = 0; i < mask_count; ++i) h.masks[i] = Le32(p + masks_at + 4 * i);
    if (dib >= 56 && n >= masks_at + 16) h.masks[3] = Le32(p + masks_at + 12);
    if (dib == 40) at += 4 * mask_count;
  } else if (compression != 0) {
    return common::InvalidArgument("unsupported BMP: compressed (RLE, JPEG or PNG) bitmaps");
  }
  if (h.bpp == 16 && compression == 0) {
    h.masks[0] = 0x7C00, h.masks[1] = 0x03E0, h.masks[2] = 0x001F;
  }
  if (h.bpp == 32 && compression == 0) {
    h.masks[0] = 0xFF0000, h.masks[1] = 0xFF00, h.masks[2] = 0xFF;  // the 4th byte is unused
  }
  if (h.bpp != 1 && h.bpp != 4 && h.bpp != 8 && h.bpp != 16 && h.bpp != 24 && h.bpp != 32) {
    return common::InvalidArgument("unsupported BMP: " + std::to_string(h.bpp) + " bits a pixel");
  }
  if ((h.bpp == 16 || h.bpp == 32) && (h.masks[0] == 0 || h.masks[1] == 0 || h.masks[2] == 0)) {
    return common::InvalidArgument("bad BMP: empty colour masks");
  }
  h.info.has_alpha = h.masks[3] != 0;
  if (h.bpp <= 8) {
    const uint32_t count = colors == 0 || colors > (1u << h.bpp) ? (1u << h.bpp) : colors;
    if (at > n || (n - at) / palette_entry < count)
      return common::InvalidArgument("truncated BMP palette");
    h.palette.assign(size_t{3} << h.bpp, 0);
    for (uint32_t i = 0; i < count; ++i) {
      const uint8_t* e = p + at + i * palette_entry;
      h.palette[i * 3] = e[2], h.palette[i * 3 + 1] = e[1], h.palette[i * 3 + 2] = e[0];
    }
  }
  h.pixels_at = Le32(p + 10);
  return h;
}

// Scales a masked field to 8 bits.
uint8_t Field(uint32_t v, uint32_t mask) {
  if (mask == 0) return 255;
  const int shift = std::countr_zero(mask);
  const uint32_t max = mask >> shift;
  return static_cast<uint8_t>(((v & mask) >> shift) * 255u / max);
}

class BmpRows : public RowSource {
 public:
  BmpRows(std::string_view data, BmpHeader header) : data_(data), h_(std::move(header)) {
    width_ = h_.info.width;
    height_ = h_.info.height;
    has_alpha_ = h_.info.has_alpha;
  }
  common::Status ReadRow(void* out) override {
    if (next_ >= height_) return common::Internal("read past the last row");
    const int y = h_.top_down ? next_ : height_ - 1 - next_;
    ++next_;
    const auto* row = reinterpret_cast<const uint8_t*>(data_.data()) + h_.pixels_at +
                      h_.stride * static_cast<size_t>(y);
    auto* dst = static_cast<uint8_t*>(out);
    for (int x = 0; x < width_; ++x, dst += 4) {
      dst[3] = 255;
      if (h_.bpp <= 8) {
        const size_t bit = static_cast<size_t>(x) * h_.bpp;
        const uint32_t index = (row[bit / 8] >> (8 - h_.bpp - bit % 8)) & ((1u << h_.bpp) - 1);
        std::memcpy(dst, &h_.palette[index * 3], 3);
      } else if (h_.bpp == 24) {
        const uint8_t* s = row + x * 3;
        dst[0] = s[2], dst[1] = s[1], dst[2] = s[0];
      } else {
        const uint32_t v = h_.bpp == 16 ? Le16(row + x * 2) : Le32(row + x * 4);
        for (int c = 0; c < 3; ++c) dst[c] = Field(v, h_.masks[c]);
        if (has_alpha_) dst[3] = Field(v, h_.masks[3]);
      }
    }
    return common::Status::Ok();
  }

 private:
  std::string_view data_;
  BmpHeader h_;
  int next_ = 0;
};

}  // namespace

common::Result<ImageInfo> ReadBmpInfo(std::string_view data) {
  DAT_ASSIGN_OR_RETURN(BmpHeader h, ParseBmp(data));
  return h.info;
}

common::Result<std::unique_ptr<RowSource>> OpenBmpRows(std::string_view data,
                                                       const DecodeLimits& limits) {
  DAT_ASSIGN_OR_RETURN(BmpHeader h, ParseBmp(data));
  // Rows are read straight from the file: nothing is held but one row.
  DAT_RETURN_IF_ERROR(CheckLimits("BMP", h.info.width, h.info.height, 0, limits));
  h.stride = (static_cast<size_t>(h.info.width) * h.bpp + 31) / 32 * 4;
  if (h.pixels_at > data.size() ||
      (data.size() - h.pixels_at) / h.stride < static_cast<size_t>(h.info.height)) {
    return common::InvalidArgument("truncated BMP: the pixel data is shorter than the header says");
  }
  return std::unique_ptr<RowSource>(std::make_unique<BmpRows>(data, std::move(h)));
}

}  // namespace image::internal
