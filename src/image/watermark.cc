#include "image/watermark.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>

#include "image/exif.h"
#include "image/jpeg_entropy.h"
#include "image/jpeg_libjpeg.h"
#include "image/jpeg_parse.h"
#include "image/logo.h"
#include "image/pixels.h"
#include "image/png_codec.h"

namespace image {
namespace {

using internal::PlacedLogo;

common::Status Unrecognised(std::string_view data) {
  if (data.empty()) return common::InvalidArgument("empty input: zero bytes");
  static constexpr struct {
    std::string_view magic;
    const char* name;
  } kOthers[] = {{"GIF8", "GIF"},
                 {"RIFF", "RIFF (not WebP)"},
                 {std::string_view("\0\0\0", 3), "ISO-BMFF (not HEIF or AVIF)"}};
  for (const auto& other : kOthers) {
    if (data.substr(0, other.magic.size()) == other.magic) {
      return common::InvalidArgument(std::string("unsupported image format: ") + other.name +
                                     " (JPEG, PNG, WebP, GIF, HEIF/AVIF, BMP and TIFF are)");
    }
  }
  return common::InvalidArgument(
      "not an image: unrecognised format (expected JPEG, PNG, WebP, GIF, HEIF/AVIF, BMP or TIFF)");
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
    case WatermarkPath::kPng:
      return "png";
    default:
      return "pixels";
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
  const ImageFormat format = SniffFormat(input);
  if (format == ImageFormat::kUnknown) return Unrecognised(input);
  if (options.output_format != ImageFormat::kUnknown && !PostableFormat(options.output_format)) {
    return common::InvalidArgument(std::string("cannot write ") +
                                   ImageFormatName(options.output_format) +
                                   " (JPEG, PNG, WebP or GIF)");
  }
  if (format != ImageFormat::kJpeg || (options.output_format != ImageFormat::kUnknown &&
                                       options.output_format != ImageFormat::kJpeg)) {
    return internal::WatermarkPixels(input, format, options, sink);
  }
  // A JPEG stays a JPEG, edited in the DCT domain; only the location bytes of its metadata
  // change (a copy is made only when there are some).
  std::optional<std::string> located;
  if (!options.keep_metadata) located = internal::StripJpegLocation(input);
  auto result = WatermarkJpeg(located ? std::string_view(*located) : input, options, sink);
  if (result.ok()) {
    result->input_format = ImageFormat::kJpeg;
    result->location_removed = located.has_value();
  }
  return result;
}

common::Result<WatermarkResult> Watermark(std::string_view input, const WatermarkOptions& options) {
  std::string data;
  if (SniffFormat(input) == ImageFormat::kJpeg) {
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
  info.format = SniffFormat(input);
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
  if (info.format != ImageFormat::kUnknown) return internal::ProbeOther(input, info.format);
  return Unrecognised(input);
}

common::Result<std::string> DownscaleJpeg(std::string_view jpeg, int scale_denom, int quality,
                                          uint64_t max_pixels) {
  if (SniffFormat(jpeg) != ImageFormat::kJpeg) return Unrecognised(jpeg);
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
