// Format names, MIME types and the content sniffer (watermark.h).
#include <cctype>
#include <string>

#include "image/watermark.h"

namespace image {
namespace {

bool IsHeifBrand(std::string_view brand) {
  for (std::string_view b :
       {"heic", "heix", "hevc", "hevx", "heim", "heis", "hevm", "hevs", "mif1", "msf1", "mif2"}) {
    if (brand == b) return true;
  }
  return false;
}

// ISO-BMFF: an "ftyp" box whose major or compatible brands name AVIF or HEIF.
ImageFormat SniffIsoBmff(std::string_view data) {
  if (data.size() < 16 || data.substr(4, 4) != "ftyp") return ImageFormat::kUnknown;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t box = (size_t{p[0]} << 24) | (size_t{p[1]} << 16) | (size_t{p[2]} << 8) | p[3];
  if (box < 16 || box > data.size() || box > 4096) box = std::min<size_t>(data.size(), 64);
  bool heif = false;
  for (size_t at = 8; at + 4 <= box; at += 4) {
    if (at == 12) continue;  // the minor version
    std::string_view brand = data.substr(at, 4);
    if (brand == "avif" || brand == "avis") return ImageFormat::kAvif;
    heif = heif || IsHeifBrand(brand);
  }
  return heif ? ImageFormat::kHeif : ImageFormat::kUnknown;
}

}  // namespace

ImageFormat SniffFormat(std::string_view data) {
  auto starts = [&](std::string_view magic) { return data.substr(0, magic.size()) == magic; };
  if (starts("\xFF\xD8\xFF")) return ImageFormat::kJpeg;
  if (starts(std::string_view("\x89PNG\r\n\x1a\n", 8))) return ImageFormat::kPng;
  if (starts("GIF87a") || starts("GIF89a")) return ImageFormat::kGif;
  if (data.size() >= 12 && starts("RIFF") && data.substr(8, 4) == "WEBP") {
    return ImageFormat::kWebp;
  }
  if (starts(std::string_view("II*\0", 4)) || starts(std::string_view("MM\0*", 4))) {
    return ImageFormat::kTiff;
  }
  if (data.size() >= 26 && starts("BM")) return ImageFormat::kBmp;
  return SniffIsoBmff(data);
}

const char* ImageFormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "jpeg";
    case ImageFormat::kPng:
      return "png";
    case ImageFormat::kWebp:
      return "webp";
    case ImageFormat::kGif:
      return "gif";
    case ImageFormat::kHeif:
      return "heif";
    case ImageFormat::kAvif:
      return "avif";
    case ImageFormat::kBmp:
      return "bmp";
    case ImageFormat::kTiff:
      return "tiff";
    default:
      return "unknown";
  }
}

const char* ImageMimeType(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "image/jpeg";
    case ImageFormat::kPng:
      return "image/png";
    case ImageFormat::kWebp:
      return "image/webp";
    case ImageFormat::kGif:
      return "image/gif";
    case ImageFormat::kHeif:
      return "image/heif";
    case ImageFormat::kAvif:
      return "image/avif";
    case ImageFormat::kBmp:
      return "image/bmp";
    case ImageFormat::kTiff:
      return "image/tiff";
    default:
      return "application/octet-stream";
  }
}

ImageFormat FormatFromExtension(std::string_view path) {
  const size_t slash = path.find_last_of('/');
  if (slash != std::string_view::npos) path.remove_prefix(slash + 1);
  const size_t dot = path.rfind('.');
  if (dot == std::string_view::npos) return ImageFormat::kUnknown;
  std::string ext;
  for (char c : path.substr(dot + 1))
    ext += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == "jpg" || ext == "jpeg" || ext == "jpe" || ext == "jfif") return ImageFormat::kJpeg;
  if (ext == "png") return ImageFormat::kPng;
  if (ext == "webp") return ImageFormat::kWebp;
  if (ext == "gif") return ImageFormat::kGif;
  if (ext == "heic" || ext == "heif") return ImageFormat::kHeif;
  if (ext == "avif") return ImageFormat::kAvif;
  if (ext == "bmp") return ImageFormat::kBmp;
  if (ext == "tif" || ext == "tiff") return ImageFormat::kTiff;
  return ImageFormat::kUnknown;
}

bool PostableFormat(ImageFormat format) {
  return format == ImageFormat::kJpeg || format == ImageFormat::kPng ||
         format == ImageFormat::kWebp || format == ImageFormat::kGif;
}

}  // namespace image
