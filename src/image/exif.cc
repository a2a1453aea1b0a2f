#include "image/exif.h"

#include <algorithm>
#include <cctype>
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

namespace image::internal {
namespace {

// Reads a TIFF block's integers in its own byte order; every access is bounds-checked by the
// caller through fits().
struct TiffView {
  std::string* bytes;
  bool little;
  bool fits(size_t at, size_t n) const { return at <= bytes->size() && bytes->size() - at >= n; }
  uint32_t u8(size_t at) const { return static_cast<unsigned char>((*bytes)[at]); }
  uint32_t u16(size_t at) const {
    return little ? u8(at) | (u8(at + 1) << 8) : (u8(at) << 8) | u8(at + 1);
  }
  uint32_t u32(size_t at) const {
    return little ? u16(at) | (u16(at + 2) << 16) : (u16(at) << 16) | u16(at + 2);
  }
  void Zero(size_t at, size_t n) { bytes->replace(at, n, n, '\0'); }
};

size_t TypeSize(uint32_t type) {
  static constexpr size_t kSizes[13] = {0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8};
  return type < 13 ? kSizes[type] : 0;
}

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
         c == ':';
}

// Blanks the property whose qualified name starts at `at` (an element after '<', or an
// attribute). Returns the position to continue from.
size_t BlankProperty(std::string* xmp, size_t at) {
  std::string& s = *xmp;
  size_t end = at;
  while (end < s.size() && IsNameChar(s[end])) ++end;
  const std::string name = s.substr(at, end - at);
  if (at > 0 && s[at - 1] == '<') {
    const size_t open_end = s.find('>', end);
    if (open_end == std::string::npos) return end;
    size_t stop = open_end + 1;
    if (s[open_end - 1] != '/') {
      const size_t close = s.find("</" + name + ">", open_end);
      if (close == std::string::npos) return end;
      stop = close + name.size() + 3;
    }
    s.replace(at - 1, stop - (at - 1), stop - (at - 1), ' ');
    return stop;
  }
  size_t q = end;
  while (q < s.size() && std::isspace(static_cast<unsigned char>(s[q]))) ++q;
  if (q >= s.size() || s[q] != '=') return end;
  ++q;
  while (q < s.size() && std::isspace(static_cast<unsigned char>(s[q]))) ++q;
  if (q >= s.size() || (s[q] != '"' && s[q] != '\'')) return end;
  const size_t close = s.find(s[q], q + 1);
  if (close == std::string::npos) return end;
  s.replace(at, close + 1 - at, close + 1 - at, ' ');
  return close + 1;
}

}  // namespace

bool BlankExifGps(std::string* tiff) {
  if (tiff->size() < 8) return false;
  TiffView t{tiff, (*tiff)[0] == 'I'};
  if (!((*tiff)[0] == 'I' && (*tiff)[1] == 'I') && !((*tiff)[0] == 'M' && (*tiff)[1] == 'M')) {
    return false;
  }
  if (t.u16(2) != 42) return false;
  const uint32_t ifd0 = t.u32(4);
  if (!t.fits(ifd0, 2)) return false;
  const uint32_t count = t.u16(ifd0);
  uint32_t gps = 0;
  for (uint32_t i = 0; i < count; ++i) {
    const size_t entry = ifd0 + 2 + static_cast<size_t>(i) * 12;
    if (!t.fits(entry, 12)) return false;
    if (t.u16(entry) == 0x8825) gps = t.u32(entry + 8);
  }
  if (gps == 0 || gps == ifd0 || !t.fits(gps, 2)) return false;
  const uint32_t n = t.u16(gps);
  if (n == 0 || !t.fits(gps + 2, static_cast<size_t>(n) * 12)) return false;
  for (uint32_t i = 0; i < n; ++i) {
    const size_t entry = gps + 2 + static_cast<size_t>(i) * 12;
    const uint64_t bytes = static_cast<uint64_t>(TypeSize(t.u16(entry + 2))) * t.u32(entry + 4);
    const uint32_t value_at = t.u32(entry + 8);
    if (bytes > 4 && t.fits(value_at, bytes)) t.Zero(value_at, bytes);
  }
  t.Zero(gps + 2, static_cast<size_t>(n) * 12);
  // An empty IFD: count 0, and its "next IFD" pointer (now at gps + 2) is zero, "none".
  t.Zero(gps, 2);
  if (t.fits(gps + 2, 4)) t.Zero(gps + 2, 4);
  return true;
}

bool BlankXmpLocation(std::string* xmp) {
  static constexpr std::string_view kNames[] = {"exif:GPS",
                                                "photoshop:City",
                                                "photoshop:State",
                                                "photoshop:Country",
                                                "Iptc4xmpCore:Location",
                                                "Iptc4xmpCore:CountryCode",
                                                "Iptc4xmpExt:LocationShown",
                                                "Iptc4xmpExt:LocationCreated"};
  bool changed = false;
  for (std::string_view name : kNames) {
    size_t at = 0;
    while ((at = xmp->find(name, at)) != std::string::npos) {
      const char before = at > 0 ? (*xmp)[at - 1] : ' ';
      // A closing tag, or the name inside a longer name or a value: not a property here.
      if (before == '/' || (before != '<' && !std::isspace(static_cast<unsigned char>(before)))) {
        at += name.size();
        continue;
      }
      const size_t next = BlankProperty(xmp, at);
      changed = changed || next > at + name.size();
      at = std::max(next, at + name.size());
    }
  }
  return changed;
}

std::optional<std::string> StripJpegLocation(std::string_view jpeg) {
  static constexpr std::string_view kExif("Exif\0\0", 6);
  static constexpr std::string_view kXmp("http://ns.adobe.com/xap/1.0/\0", 29);
  std::optional<std::string> out;
  size_t at = 2;
  while (at + 4 <= jpeg.size()) {
    if (static_cast<unsigned char>(jpeg[at]) != 0xFF) break;
    const unsigned char marker = static_cast<unsigned char>(jpeg[at + 1]);
    if (marker == 0xFF) {
      ++at;  // fill byte
      continue;
    }
    if (marker == 0xDA || marker == 0xD9) break;
    const size_t length =
        (static_cast<unsigned char>(jpeg[at + 2]) << 8) | static_cast<unsigned char>(jpeg[at + 3]);
    if (length < 2 || at + 2 + length > jpeg.size()) break;
    const size_t payload_at = at + 4;
    std::string_view payload = jpeg.substr(payload_at, length - 2);
    if (marker == 0xE1 && (payload.starts_with(kExif) || payload.starts_with(kXmp))) {
      const bool exif = payload.starts_with(kExif);
      const size_t skip = exif ? kExif.size() : kXmp.size();
      std::string block(payload.substr(skip));
      if (exif ? BlankExifGps(&block) : BlankXmpLocation(&block)) {
        if (!out) out.emplace(jpeg);
        out->replace(payload_at + skip, block.size(), block);
      }
    }
    at += 2 + length;
  }
  return out;
}

}  // namespace image::internal
