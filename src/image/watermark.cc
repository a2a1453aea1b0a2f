#include "image/watermark.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "image/jpeg_entropy.h"
#include "image/jpeg_libjpeg.h"
#include "image/jpeg_parse.h"
#include "image/logo.h"
#include "image/png_codec.h"

namespace image {
namespace {

using internal::PlacedLogo;

ImageFormat Sniff(std::string_view data) {
  if (data.size() >= 3 && static_cast<unsigned char>(data[0]) == 0xFF &&
      static_cast<unsigned char>(data[1]) == 0xD8 && static_cast<unsigned char>(data[2]) == 0xFF) {
    return ImageFormat::kJpeg;
  }
  if (data.size() >= 8 && data.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8)) {
    return ImageFormat::kPng;
  }
  return ImageFormat::kUnknown;
}

common::Status Unrecognised(std::string_view data) {
  if (data.empty()) return common::InvalidArgument("empty input: zero bytes");
  static constexpr struct {
    std::string_view magic;
    const char* name;
  } kOthers[] = {{"GIF8", "GIF"},
                 {"RIFF", "WebP/RIFF"},
                 {"BM", "BMP"},
                 {std::string_view("II*\0", 4), "TIFF"},
                 {std::string_view("MM\0*", 4), "TIFF"},
                 {std::string_view("\0\0\0", 3), "HEIF/AVIF/MP4"}};
  for (const auto& other : kOthers) {
    if (data.substr(0, other.magic.size()) == other.magic) {
      return common::InvalidArgument(std::string("unsupported image format: ") + other.name +
                                     " (only JPEG and PNG are supported)");
    }
  }
  return common::InvalidArgument("not an image: unrecognised format (expected JPEG or PNG)");
}

// Composites premultiplied logo pixels "over" straight-alpha RGBA samples with maximum `max`.
template <typename T>
void CompositeOver(T* pixels, int width, const PlacedLogo& logo, float max) {
  for (int y = 0; y < logo.box.height; ++y) {
    T* row = pixels + (static_cast<size_t>(logo.box.y + y) * width + logo.box.x) * 4;
    for (int x = 0; x < logo.box.width; ++x) {
      const float* l = logo.raster.at(x, y);
      const float a = l[3];
      if (a <= 0) continue;
      T* px = row + x * 4;
      const float ba = px[3] / max;
      const float out_a = a + ba * (1 - a);
      for (int c = 0; c < 3; ++c) {
        const float v = (l[c] + px[c] / max * ba * (1 - a)) / out_a;
        px[c] = static_cast<T>(std::lround(std::clamp(v, 0.0f, 1.0f) * max));
      }
      px[3] = static_cast<T>(std::lround(out_a * max));
    }
  }
}

common::Result<WatermarkResult> WatermarkPng(std::string_view input,
                                             const WatermarkOptions& options) {
  DAT_ASSIGN_OR_RETURN(internal::PngPixels pixels, internal::DecodePng(input, options.max_pixels));
  const int w = pixels.header.width, h = pixels.header.height;
  DAT_ASSIGN_OR_RETURN(PlacedLogo logo, internal::PrepareLogo(w, h, 1, options));
  if (!logo.box.empty()) {
    if (pixels.sixteen()) {
      CompositeOver(pixels.pixels16.data(), w, logo, 65535.0f);
    } else {
      CompositeOver(pixels.pixels8.data(), w, logo, 255.0f);
    }
  }
  WatermarkResult result;
  result.format = ImageFormat::kPng;
  result.path = WatermarkPath::kPng;
  result.width = w;
  result.height = h;
  result.logo_box = logo.box;
  result.changed_box = logo.box;
  DAT_ASSIGN_OR_RETURN(result.data, internal::EncodePng(pixels, pixels.has_alpha ? 4 : 3,
                                                        internal::PortableChunks(input)));
  return result;
}

// Writes a finished result to the sink (the paths that build the whole file in memory).
common::Result<WatermarkResult> SendTo(common::Result<WatermarkResult> result, OutputSink* sink) {
  if (!result.ok()) return result;
  DAT_RETURN_IF_ERROR(sink->Write(result->data));
  result->data.clear();
  return result;
}

common::Result<WatermarkResult> WatermarkJpeg(std::string_view input,
                                              const WatermarkOptions& options, OutputSink* sink) {
  DAT_ASSIGN_OR_RETURN(internal::JpegHeader header, internal::ParseJpegHeader(input));
  if (header.height == 0) {
    return common::InvalidArgument("unsupported JPEG: height defined by a DNL marker");
  }
  const uint64_t pixels = static_cast<uint64_t>(header.width) * header.height;
  if (pixels > options.max_pixels) {
    return common::ResourceExhausted("JPEG declares " + std::to_string(header.width) + "x" +
                                     std::to_string(header.height) + " pixels, over the limit of " +
                                     std::to_string(options.max_pixels));
  }
  internal::EntropyFallback fallback;
  if (options.allow_entropy_path) {
    WatermarkResult result;
    DAT_ASSIGN_OR_RETURN(bool done, internal::WatermarkJpegEntropy(input, header, options, sink,
                                                                   &result, &fallback));
    if (done) return result;
  } else {
    fallback.reason = "entropy path disabled by the caller";
  }
  auto result = internal::WatermarkJpegCoefficients(input, options, fallback.need_new_tables);
  if (result.ok()) result->fallback_reason = fallback.reason;
  return SendTo(std::move(result), sink);
}

// Collects the output in a string.
class StringSink : public OutputSink {
 public:
  explicit StringSink(std::string* out) : out_(out) {}
  common::Status Write(std::string_view bytes) override {
    if (out_->empty() && out_->capacity() < bytes.size()) {
      out_->reserve(bytes.size());  // a whole file in one piece: no slack
    }
    out_->append(bytes);
    return common::Status::Ok();
  }

 private:
  std::string* out_;
};

}  // namespace

const char* ImageFormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "jpeg";
    case ImageFormat::kPng:
      return "png";
    default:
      return "unknown";
  }
}

const char* GravityName(Gravity gravity) {
  switch (gravity) {
    case Gravity::kSouthEast:
      return "southeast";
    case Gravity::kSouthWest:
      return "southwest";
    case Gravity::kNorthEast:
      return "northeast";
    case Gravity::kNorthWest:
      return "northwest";
    default:
      return "center";
  }
}

const char* WatermarkPathName(WatermarkPath path) {
  switch (path) {
    case WatermarkPath::kEntropy:
      return "entropy";
    case WatermarkPath::kCoefficient:
      return "coefficient";
    default:
      return "png";
  }
}

common::Result<Gravity> ParseGravity(std::string_view name) {
  std::string s;
  for (char ch : name) {
    if (ch != '-' && ch != '_')
      s += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  if (s == "southeast" || s == "se") return Gravity::kSouthEast;
  if (s == "southwest" || s == "sw") return Gravity::kSouthWest;
  if (s == "northeast" || s == "ne") return Gravity::kNorthEast;
  if (s == "northwest" || s == "nw") return Gravity::kNorthWest;
  if (s == "center" || s == "centre" || s == "c") return Gravity::kCenter;
  return common::InvalidArgument("unknown gravity '" + std::string(name) +
                                 "' (southeast, southwest, northeast, northwest, center)");
}

common::Result<WatermarkResult> WatermarkTo(std::string_view input, const WatermarkOptions& options,
                                            OutputSink* sink) {
  switch (Sniff(input)) {
    case ImageFormat::kJpeg:
      return WatermarkJpeg(input, options, sink);
    case ImageFormat::kPng:
      return SendTo(WatermarkPng(input, options), sink);
    default:
      return Unrecognised(input);
  }
}

common::Result<WatermarkResult> Watermark(std::string_view input, const WatermarkOptions& options) {
  if (Sniff(input) == ImageFormat::kPng) return WatermarkPng(input, options);
  std::string data;
  if (Sniff(input) == ImageFormat::kJpeg) {
    // The entropy path writes the input again with a little more in pieces.
    data.reserve(input.size() + input.size() / 16 + 4096);
  }
  StringSink sink(&data);
  DAT_ASSIGN_OR_RETURN(WatermarkResult result, WatermarkTo(input, options, &sink));
  result.data = std::move(data);
  return result;
}

common::Result<ProbeInfo> Probe(std::string_view input) {
  ProbeInfo info;
  info.format = Sniff(input);
  if (info.format == ImageFormat::kJpeg) {
    DAT_ASSIGN_OR_RETURN(internal::JpegHeader h, internal::ParseJpegHeader(input));
    info.width = h.width;
    info.height = h.height;
    info.orientation = h.orientation;
    info.components = h.num_components;
    info.progressive = h.sof == 0xC2 || h.sof == 0xC6 || h.sof == 0xCA || h.sof == 0xCE;
    return info;
  }
  if (info.format == ImageFormat::kPng) {
    DAT_ASSIGN_OR_RETURN(internal::PngHeader h, internal::ReadPngHeader(input));
    static constexpr int kChannels[7] = {1, 0, 3, 1, 2, 0, 4};
    info.width = h.width;
    info.height = h.height;
    info.components = h.color_type <= 6 ? kChannels[h.color_type] : 0;
    info.progressive = h.interlaced;
    return info;
  }
  return Unrecognised(input);
}

common::Result<std::string> DownscaleJpeg(std::string_view jpeg, int scale_denom, int quality,
                                          uint64_t max_pixels) {
  if (Sniff(jpeg) != ImageFormat::kJpeg) return Unrecognised(jpeg);
  return internal::DownscaleJpegImpl(jpeg, scale_denom, quality, max_pixels);
}

common::Result<std::string> ShrinkJpegToFit(std::string_view jpeg, size_t max_bytes,
                                            uint64_t max_pixels) {
  if (jpeg.size() <= max_bytes) return std::string(jpeg);
  for (int denom : {2, 4, 8}) {
    DAT_ASSIGN_OR_RETURN(std::string smaller, DownscaleJpeg(jpeg, denom, 90, max_pixels));
    if (smaller.size() <= max_bytes) return smaller;
  }
  return common::ResourceExhausted("JPEG does not fit in " + std::to_string(max_bytes) +
                                   " bytes even at 1/8 scale");
}

}  // namespace image
