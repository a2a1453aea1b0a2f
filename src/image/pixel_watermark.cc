// The pixel path of the watermark engine (pixels.h): decode (rows where the format allows),
// composite the logo, encode in the output format.
#include <cstring>

#include "image/codecs.h"
#include "image/exif.h"
#include "image/pixels.h"
#include "image/png_codec.h"

namespace image::internal {
namespace {

// The output format when the caller lets the engine choose.
ImageFormat DefaultOutput(ImageFormat in, bool has_alpha) {
  switch (in) {
    case ImageFormat::kJpeg:
    case ImageFormat::kPng:
    case ImageFormat::kWebp:
    case ImageFormat::kGif:
      return in;
    case ImageFormat::kBmp:
    case ImageFormat::kTiff:
      return has_alpha ? ImageFormat::kPng : ImageFormat::kJpeg;
    default:
      return ImageFormat::kJpeg;
  }
}

// The PNG chunks carried over, with the location blanked (eXIf, XMP in iTXt) unless kept.
// Profiles that cannot be edited in place (compressed XMP, ImageMagick's raw profiles) are
// dropped instead.
std::vector<std::string> CarriedChunks(std::string_view png, bool keep_metadata, bool* removed) {
  std::vector<std::string> out;
  for (std::string_view chunk : PortableChunks(png)) {
    std::string_view type = chunk.substr(4, 4), data = chunk.substr(8, chunk.size() - 12);
    if (keep_metadata) {
      out.emplace_back(chunk);
      continue;
    }
    if (type == "eXIf") {
      std::string tiff(data);
      if (BlankExifGps(&tiff)) {
        *removed = true;
        out.push_back(MakePngChunk(type, tiff));
        continue;
      }
    }
    if (type == "iTXt" && data.starts_with(std::string_view("XML:com.adobe.xmp\0", 18))) {
      const bool compressed = data.size() > 18 && data[18] != 0;
      std::string text(data);
      if (compressed) {
        *removed = true;
        continue;
      }
      if (BlankXmpLocation(&text)) {
        *removed = true;
        out.push_back(MakePngChunk(type, text));
        continue;
      }
    }
    if ((type == "zTXt" || type == "tEXt" || type == "iTXt") &&
        (data.starts_with("Raw profile type exif") || data.starts_with("Raw profile type xmp") ||
         data.starts_with("Raw profile type APP1"))) {
      *removed = true;
      continue;
    }
    out.emplace_back(chunk);
  }
  return out;
}

// Collects the output in a string (for encoders that produce a whole file).
common::Status WriteAll(OutputSink* sink, const std::string& data) { return sink->Write(data); }

// Composites the logo into the rows of `source` and encodes them as `out` to `sink`.
common::Status EncodeRows(RowSource* source, ImageFormat out, const WatermarkOptions& options,
                          const std::vector<std::string>& chunks, WatermarkResult* result,
                          OutputSink* sink) {
  const DecodeLimits limits = LimitsOf(options);
  // Rows of the pipeline (source, logo, encoder), counted as 16 rows of 16-bit RGBA.
  DAT_RETURN_IF_ERROR(
      CheckLimits(ImageFormatName(result->input_format), source->width(), 1, 128, limits));
  DAT_ASSIGN_OR_RETURN(LogoPlacement logo,
                       PlaceLogo(source->width(), source->height(), 1, options));
  LogoRows rows(source, &logo);
  result->format = out;
  result->width = source->width();
  result->height = source->height();
  result->logo_box = logo.box();
  const bool lossless = out == ImageFormat::kPng;
  result->changed_box = lossless ? logo.box() : Box{0, 0, source->width(), source->height()};
  switch (out) {
    case ImageFormat::kPng: {
      std::vector<std::string_view> views(chunks.begin(), chunks.end());
      return EncodePngRows(&rows, source->has_alpha() ? 4 : 3, views, sink);
    }
    case ImageFormat::kJpeg: {
      DAT_ASSIGN_OR_RETURN(std::string jpeg, EncodeJpegRows(&rows, options.quality));
      return WriteAll(sink, jpeg);
    }
    case ImageFormat::kWebp: {
      DAT_RETURN_IF_ERROR(CheckLimits("WebP output", source->width(), source->height(), 8, limits));
      DAT_ASSIGN_OR_RETURN(std::vector<uint8_t> rgba, ReadAllRows8(&rows));
      DAT_ASSIGN_OR_RETURN(std::string webp,
                           EncodeWebp(rgba.data(), source->width(), source->height(),
                                      source->has_alpha(), false, options.quality));
      return WriteAll(sink, webp);
    }
    case ImageFormat::kGif:
      return common::InvalidArgument("GIF output needs a GIF input");
    default:
      return common::InvalidArgument(std::string("cannot write ") + ImageFormatName(out) +
                                     " (JPEG, PNG, WebP or GIF)");
  }
}

common::Result<std::unique_ptr<RowSource>> OpenRows(std::string_view input, ImageFormat format,
                                                    const DecodeLimits& limits) {
  switch (format) {
    case ImageFormat::kJpeg:
      return OpenJpegRows(input, limits);
    case ImageFormat::kPng:
      return OpenPngRows(input, limits);
    case ImageFormat::kHeif:
    case ImageFormat::kAvif:
      return OpenHeifRows(input, limits);
    case ImageFormat::kBmp:
      return OpenBmpRows(input, limits);
    case ImageFormat::kTiff:
      return OpenTiffRows(input, limits);
    case ImageFormat::kGif:
      return OpenGifFirstFrame(input, limits);
    case ImageFormat::kWebp: {
      if (IsAnimatedWebp(input)) return OpenWebpAnimationFirstFrame(input, limits);
      DAT_ASSIGN_OR_RETURN(WebpPicture picture, DecodeWebp(input, limits));
      const uint8_t* base = picture.rgba.get();
      return std::unique_ptr<RowSource>(std::make_unique<InterleavedRows>(
          base, static_cast<size_t>(picture.width) * 4, 4, picture.width, picture.height,
          picture.has_alpha, picture.rgba));
    }
    default:
      return common::InvalidArgument("not an image");
  }
}

// WebP kept as WebP: the logo composited in the decoded picture, which is encoded once, or
// twice when JPEG may be smaller (an opaque lossy picture and a free choice of format).
common::Status WatermarkWebpAsWebp(std::string_view input, const WatermarkOptions& options,
                                   WatermarkResult* result, OutputSink* sink) {
  DAT_ASSIGN_OR_RETURN(WebpPicture picture, DecodeWebp(input, LimitsOf(options)));
  DAT_ASSIGN_OR_RETURN(LogoPlacement logo, PlaceLogo(picture.width, picture.height, 1, options));
  const Box& box = logo.box();
  const size_t stride = static_cast<size_t>(picture.width) * 4;
  LogoStamp(&logo).Apply(picture.rgba.get(), stride);
  DAT_ASSIGN_OR_RETURN(std::string webp,
                       EncodeWebp(picture.rgba.get(), picture.width, picture.height,
                                  picture.has_alpha, picture.lossless, options.quality));
  result->format = ImageFormat::kWebp;
  result->width = picture.width;
  result->height = picture.height;
  result->logo_box = box;
  result->changed_box = picture.lossless ? box : Box{0, 0, picture.width, picture.height};
  if (options.output_format == ImageFormat::kUnknown && !picture.has_alpha && !picture.lossless) {
    InterleavedRows rows(picture.rgba.get(), stride, 4, picture.width, picture.height, false);
    DAT_ASSIGN_OR_RETURN(std::string jpeg, EncodeJpegRows(&rows, options.quality));
    if (jpeg.size() < webp.size()) {
      result->format = ImageFormat::kJpeg;
      return WriteAll(sink, jpeg);
    }
  }
  return WriteAll(sink, webp);
}

// An animated WebP kept as an animated WebP (every frame), or, when the animation cannot be
// kept (its output over max_animated_webp_bytes, or its canvas too large to encode within
// max_decoded_bytes) and the format is free, a JPEG of the first frame.
common::Status WatermarkWebpAnimationAsWebp(std::string_view input, const WatermarkOptions& options,
                                            WatermarkResult* result, OutputSink* sink) {
  const DecodeLimits limits = LimitsOf(options);
  DAT_ASSIGN_OR_RETURN(WebpAnimationInfo info, ReadWebpAnimation(input, limits));
  const bool free_format = options.output_format == ImageFormat::kUnknown;
  std::string reason;
  if (common::Status fits = CheckLimits("animated WebP (decoder and encoder)", info.width,
                                        info.height, kWebpAnimationBytesPerPixel, limits);
      !fits.ok()) {
    if (!free_format) return fits;
    reason = fits.message() + ": first frame as JPEG";
  } else {
    DAT_ASSIGN_OR_RETURN(LogoPlacement logo, PlaceLogo(info.width, info.height, 1, options));
    DAT_ASSIGN_OR_RETURN(WebpAnimationOutput anim,
                         WatermarkWebpAnimation(input, limits, logo, options.quality,
                                                options.max_animated_webp_bytes));
    if (!anim.too_large) {
      result->format = ImageFormat::kWebp;
      result->frames = anim.frames;
      result->width = info.width;
      result->height = info.height;
      result->logo_box = logo.box();
      result->changed_box = info.any_lossy ? Box{0, 0, info.width, info.height} : logo.box();
      return WriteAll(sink, anim.data);
    }
    const std::string over = "the watermarked animated WebP would exceed " +
                             std::to_string(options.max_animated_webp_bytes) + " bytes";
    if (!free_format) return common::ResourceExhausted(over);
    reason = over + ": first frame as JPEG";
  }
  DAT_ASSIGN_OR_RETURN(auto rows, OpenWebpAnimationFirstFrame(input, limits));
  result->fallback_reason = reason;
  return EncodeRows(rows.get(), ImageFormat::kJpeg, options, {}, result, sink);
}

// GIF kept as GIF (every frame), or, when it cannot fit max_gif_bytes and the format is free,
// a JPEG of the first frame.
common::Status WatermarkGifAsGif(std::string_view input, const WatermarkOptions& options,
                                 WatermarkResult* result, OutputSink* sink) {
  DAT_ASSIGN_OR_RETURN(ImageInfo info, ReadGifInfo(input));
  DAT_RETURN_IF_ERROR(CheckLimits("GIF", info.width, info.height, 9, LimitsOf(options)));
  DAT_ASSIGN_OR_RETURN(LogoPlacement logo, PlaceLogo(info.width, info.height, 1, options));
  DAT_ASSIGN_OR_RETURN(GifOutput gif,
                       WatermarkGif(input, LimitsOf(options), logo, options.max_gif_bytes));
  if (gif.too_large) {
    if (options.output_format != ImageFormat::kUnknown) {
      return common::ResourceExhausted("the watermarked GIF would exceed " +
                                       std::to_string(options.max_gif_bytes) + " bytes");
    }
    DAT_ASSIGN_OR_RETURN(auto rows, OpenGifFirstFrame(input, LimitsOf(options)));
    result->fallback_reason = "the watermarked GIF would exceed " +
                              std::to_string(options.max_gif_bytes) + " bytes: first frame as JPEG";
    return EncodeRows(rows.get(), ImageFormat::kJpeg, options, {}, result, sink);
  }
  result->format = ImageFormat::kGif;
  result->frames = gif.frames;
  result->width = info.width;
  result->height = info.height;
  result->logo_box = logo.box();
  result->changed_box = Box{0, 0, info.width, info.height};
  return WriteAll(sink, gif.data);
}

}  // namespace

LogoStamp::LogoStamp(const LogoPlacement* logo)
    : logo_(logo), line_(static_cast<size_t>(std::max(logo->box().width, 0)) * 4) {}

void LogoStamp::Apply(uint8_t* canvas, size_t stride) {
  const Box& box = logo_->box();
  saved_.clear();
  for (int y = box.y; !box.empty() && y < box.y + box.height; ++y) {
    uint8_t* row = canvas + stride * y + static_cast<size_t>(box.x) * 4;
    saved_.insert(saved_.end(), row, row + static_cast<size_t>(box.width) * 4);
    logo_->SampleRow(y, box.x, box.x + box.width, line_.data(), &cache_);
    BlendRow(row, line_.data(), box.width);
  }
}

void LogoStamp::Undo(uint8_t* canvas, size_t stride) const {
  const Box& box = logo_->box();
  const size_t row_bytes = static_cast<size_t>(std::max(box.width, 0)) * 4;
  for (int y = box.y, i = 0; !box.empty() && y < box.y + box.height; ++y, ++i) {
    std::memcpy(canvas + stride * y + static_cast<size_t>(box.x) * 4,
                saved_.data() + static_cast<size_t>(i) * row_bytes, row_bytes);
  }
}

common::Result<WatermarkResult> WatermarkPixels(std::string_view input, ImageFormat format,
                                                const WatermarkOptions& options, OutputSink* sink) {
  WatermarkResult result;
  result.input_format = format;
  result.path = WatermarkPath::kPixels;
  const ImageFormat wanted = options.output_format;
  if (format == ImageFormat::kWebp &&
      (wanted == ImageFormat::kUnknown || wanted == ImageFormat::kWebp)) {
    DAT_RETURN_IF_ERROR(IsAnimatedWebp(input)
                            ? WatermarkWebpAnimationAsWebp(input, options, &result, sink)
                            : WatermarkWebpAsWebp(input, options, &result, sink));
    return result;
  }
  if (format == ImageFormat::kGif &&
      (wanted == ImageFormat::kUnknown || wanted == ImageFormat::kGif)) {
    DAT_RETURN_IF_ERROR(WatermarkGifAsGif(input, options, &result, sink));
    return result;
  }
  DAT_ASSIGN_OR_RETURN(std::unique_ptr<RowSource> rows, OpenRows(input, format, LimitsOf(options)));
  const ImageFormat out =
      wanted != ImageFormat::kUnknown ? wanted : DefaultOutput(format, rows->has_alpha());
  std::vector<std::string> chunks;
  if (format == ImageFormat::kPng && out == ImageFormat::kPng) {
    result.path = WatermarkPath::kPng;
    chunks = CarriedChunks(input, options.keep_metadata, &result.location_removed);
  }
  DAT_RETURN_IF_ERROR(EncodeRows(rows.get(), out, options, chunks, &result, sink));
  return result;
}

common::Result<ProbeInfo> ProbeOther(std::string_view input, ImageFormat format) {
  common::Result<ImageInfo> info = common::InvalidArgument("not an image");
  switch (format) {
    case ImageFormat::kWebp:
      info = ReadWebpInfo(input);
      break;
    case ImageFormat::kGif:
      info = ReadGifInfo(input);
      break;
    case ImageFormat::kHeif:
    case ImageFormat::kAvif:
      info = ReadHeifInfo(input);
      break;
    case ImageFormat::kBmp:
      info = ReadBmpInfo(input);
      break;
    case ImageFormat::kTiff:
      info = ReadTiffInfo(input);
      break;
    default:
      break;
  }
  if (!info.ok()) return info.status();
  ProbeInfo probe;
  probe.format = format;
  probe.width = info->width;
  probe.height = info->height;
  return probe;
}

}  // namespace image::internal
