#include "image/exif.h"

#include <cstdint>

namespace image::internal {

int ExifOrientation(std::string_view app1) {
  if (app1.size() < 6 + 8 || app1.substr(0, 6) != std::string_view("Exif\0\0", 6)) return 1;
  std::string_view tiff = app1.substr(6);
  const auto* p = reinterpret_cast<const unsigned char*>(tiff.data());
  const bool little = tiff[0] == 'I' && tiff[1] == 'I';
  if (!little && !(tiff[0] == 'M' && tiff[1] == 'M')) return 1;
  auto u16 = [&](size_t at) -> uint32_t {
    return little ? p[at] | (p[at + 1] << 8) : (p[at] << 8) | p[at + 1];
  };
  auto u32 = [&](size_t at) -> uint32_t {
    return little ? u16(at) | (u16(at + 2) << 16) : (u16(at) << 16) | u16(at + 2);
  };
  if (u16(2) != 42) return 1;
  const uint32_t ifd = u32(4);
  if (ifd > tiff.size() || tiff.size() - ifd < 2) return 1;
  const uint32_t count = u16(ifd);
  for (uint32_t i = 0; i < count; ++i) {
    const size_t entry = ifd + 2 + static_cast<size_t>(i) * 12;
    if (entry + 12 > tiff.size()) return 1;
    if (u16(entry) == 0x0112) {
      const uint32_t type = u16(entry + 2);
      const uint32_t value = type == 3 ? u16(entry + 8) : type == 4 ? u32(entry + 8) : 0;
      return value >= 1 && value <= 8 ? static_cast<int>(value) : 1;
    }
  }
  return 1;
}

}  // namespace image::internal
