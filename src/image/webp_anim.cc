// Animated WebP: the RIFF chunk walk that checks the limits, decoding with libwebpdemux's
// WebPAnimDecoder and encoding with libwebpmux's WebPAnimEncoder, one frame at a time (codecs.h).
#include <webp/demux.h>
#include <webp/encode.h>
#include <webp/mux.h>

#include <algorithm>
#include <cstring>

#include "image/codecs.h"
#include "image/pixels.h"

namespace image::internal {
namespace {

constexpr uint8_t kVp8xAnimation = 0x02;
constexpr uint8_t kVp8xAlpha = 0x10;

common::Status BadAnimation(const std::string& what) {
  return common::InvalidArgument("bad animated WebP: " + what);
}

// The frame bitstream of an ANMF payload (after its 16-byte header): lossy (ALPH and/or VP8)
// or lossless (VP8L), from the first chunk that says which.
common::Status ReadFrameKind(const uint8_t* p, size_t size, WebpAnimationInfo* info) {
  size_t at = 16;
  while (at + 8 <= size) {
    const uint32_t chunk = Le32(p + at + 4);
    if (std::memcmp(p + at, "VP8L", 4) == 0) {
      info->any_lossless = true;
      return common::Status::Ok();
    }
    if (std::memcmp(p + at, "VP8 ", 4) == 0 || std::memcmp(p + at, "ALPH", 4) == 0) {
      info->any_lossy = true;
      return common::Status::Ok();
    }
    if (chunk > size - at - 8) break;
    at += 8 + chunk + (chunk & 1);
  }
  return BadAnimation("a frame holds no image data");
}

struct AnimDecoderCloser {
  void operator()(WebPAnimDecoder* dec) const { WebPAnimDecoderDelete(dec); }
};
struct AnimEncoderCloser {
  void operator()(WebPAnimEncoder* enc) const { WebPAnimEncoderDelete(enc); }
};

// A WebPAnimDecoder over `data` (borrowed; it must outlive the decoder), RGBA output.
common::Result<std::unique_ptr<WebPAnimDecoder, AnimDecoderCloser>> OpenDecoder(
    std::string_view data) {
  WebPAnimDecoderOptions options;
  if (!WebPAnimDecoderOptionsInit(&options)) return common::Internal("libwebp version mismatch");
  options.color_mode = MODE_RGBA;
  options.use_threads = 0;
  WebPData webp{reinterpret_cast<const uint8_t*>(data.data()), data.size()};
  std::unique_ptr<WebPAnimDecoder, AnimDecoderCloser> dec(WebPAnimDecoderNew(&webp, &options));
  if (!dec) return BadAnimation("libwebp cannot parse its frames");
  return dec;
}

// Decodes the next frame into the decoder's canvas; `timestamp_ms` is when the frame ends.
common::Status NextFrame(WebPAnimDecoder* dec, uint8_t** canvas, int* timestamp_ms) {
  if (!WebPAnimDecoderGetNext(dec, canvas, timestamp_ms)) {
    return common::InvalidArgument("corrupt animated WebP: a frame cannot be decoded");
  }
  return common::Status::Ok();
}

// Encodes canvases into an animated WebP. Not thread-safe.
class AnimationWriter {
 public:
  common::Status Open(const WebPAnimInfo& anim, const WebpAnimationInfo& info, int quality) {
    WebPAnimEncoderOptions options;
    if (!WebPAnimEncoderOptionsInit(&options) || !WebPConfigInit(&config_)) {
      return common::Internal("libwebp version mismatch");
    }
    options.anim_params.loop_count = static_cast<int>(anim.loop_count);
    options.anim_params.bgcolor = anim.bgcolor;
    // Mixed input: the encoder tries both per frame and keeps the smaller.
    options.allow_mixed = info.any_lossy && info.any_lossless;
    config_.lossless = info.any_lossless && !info.any_lossy;
    if (config_.lossless) {
      // Effort (method 1, quality 25 means effort for lossless): on a noisy 1600x1200
      // animation, 5.5 times less CPU than libwebp's default (method 4, 75) for a file
      // 0.02 % smaller; method 0 would cost 26 % more bytes.
      config_.method = 1;
      config_.quality = 25;
    } else {
      config_.quality = static_cast<float>(quality);
    }
    enc_.reset(WebPAnimEncoderNew(info.width, info.height, &options));
    if (!enc_) return common::Internal("WebPAnimEncoderNew failed");
    width_ = info.width;
    height_ = info.height;
    return common::Status::Ok();
  }

  // Adds a canvas (RGBA8, width*4 bytes a row) shown from `start_ms`.
  common::Status Add(const uint8_t* rgba, int start_ms) {
    WebPPicture picture;
    if (!WebPPictureInit(&picture)) return common::Internal("libwebp version mismatch");
    picture.width = width_;
    picture.height = height_;
    picture.use_argb = 1;
    bool ok = WebPPictureImportRGBA(&picture, rgba, width_ * 4) &&
              WebPAnimEncoderAdd(enc_.get(), &picture, start_ms, &config_);
    WebPPictureFree(&picture);
    if (!ok) return Error();
    return common::Status::Ok();
  }

  // Ends the last frame at `end_ms` and returns the file.
  common::Result<std::string> Finish(int end_ms) {
    WebPData out;
    WebPDataInit(&out);
    if (!WebPAnimEncoderAdd(enc_.get(), nullptr, end_ms, nullptr) ||
        !WebPAnimEncoderAssemble(enc_.get(), &out)) {
      return Error();
    }
    std::string data(reinterpret_cast<const char*>(out.bytes), out.size);
    WebPDataClear(&out);
    return data;
  }

 private:
  common::Status Error() const {
    const char* text = WebPAnimEncoderGetError(enc_.get());
    return common::Internal(std::string("animated WebP encoding failed: ") +
                            (text != nullptr && *text != '\0' ? text : "libwebp error"));
  }
  std::unique_ptr<WebPAnimEncoder, AnimEncoderCloser> enc_;
  WebPConfig config_;
  int width_ = 0, height_ = 0;
};

// A rendered first frame and the decoder that owns its pixels.
struct FirstFrame {
  std::unique_ptr<WebPAnimDecoder, AnimDecoderCloser> dec;
  uint8_t* rgba = nullptr;
};

}  // namespace

bool IsAnimatedWebp(std::string_view data) {
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  return data.size() >= 21 && data.substr(0, 4) == "RIFF" && data.substr(8, 4) == "WEBP" &&
         data.substr(12, 4) == "VP8X" && (p[20] & kVp8xAnimation) != 0;
}

common::Result<WebpAnimationInfo> ReadWebpAnimation(std::string_view data,
                                                    const DecodeLimits& limits) {
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  if (!IsAnimatedWebp(data)) return common::InvalidArgument("not an animated WebP");
  // RIFF size: the file may carry trailing bytes, but not end before it.
  const uint64_t riff_end = uint64_t{Le32(p + 4)} + 8;
  if (riff_end > data.size()) return BadAnimation("truncated (RIFF size past the end)");
  const uint32_t vp8x_size = Le32(p + 16);
  if (vp8x_size < 10 || 20 + uint64_t{vp8x_size} > riff_end) return BadAnimation("bad VP8X chunk");
  WebpAnimationInfo info;
  info.width = static_cast<int>(Le24(p + 24)) + 1;
  info.height = static_cast<int>(Le24(p + 27)) + 1;
  info.has_alpha = (p[20] & kVp8xAlpha) != 0;
  DAT_RETURN_IF_ERROR(CheckLimits("animated WebP", info.width, info.height,
                                  kWebpAnimationDecodeBytesPerPixel, limits));
  const uint64_t canvas = static_cast<uint64_t>(info.width) * info.height;
  const uint64_t max_total = limits.max_pixels * 10;
  bool anim = false;
  for (uint64_t at = 20 + vp8x_size + (vp8x_size & 1); at < riff_end;) {
    if (at + 8 > riff_end) return BadAnimation("truncated (a chunk header past the end)");
    const uint32_t size = Le32(p + at + 4);
    if (at + 8 + size > riff_end) return BadAnimation("truncated (a chunk runs past the end)");
    const uint8_t* chunk = p + at + 8;
    if (std::memcmp(p + at, "ANIM", 4) == 0 && size >= 6) {
      anim = true;
      info.loop_count = chunk[4] | (chunk[5] << 8);
    } else if (std::memcmp(p + at, "ANMF", 4) == 0) {
      if (size < 16 + 8) return BadAnimation("an ANMF chunk too short for a frame");
      const uint64_t x = uint64_t{Le24(chunk)} * 2, y = uint64_t{Le24(chunk + 3)} * 2;
      const uint64_t w = uint64_t{Le24(chunk + 6)} + 1, h = uint64_t{Le24(chunk + 9)} + 1;
      if (x + w > static_cast<uint64_t>(info.width) || y + h > static_cast<uint64_t>(info.height)) {
        return BadAnimation("a frame lies outside the canvas");
      }
      DAT_RETURN_IF_ERROR(ReadFrameKind(chunk, size, &info));
      if (++info.frames > kMaxAnimationFrames) {
        return common::ResourceExhausted("animated WebP has more than " +
                                         std::to_string(kMaxAnimationFrames) + " frames");
      }
      if (canvas * info.frames > max_total) {
        return common::ResourceExhausted("animated WebP frames hold more than " +
                                         std::to_string(max_total) + " canvas pixels in all");
      }
    }
    at += 8 + uint64_t{size} + (size & 1);
  }
  if (!anim) return BadAnimation("no ANIM chunk");
  if (info.frames == 0) return BadAnimation("no frames");
  return info;
}

common::Result<WebpAnimationOutput> WatermarkWebpAnimation(std::string_view data,
                                                           const DecodeLimits& limits,
                                                           const LogoPlacement& logo, int quality,
                                                           uint64_t max_output_bytes) {
  DAT_ASSIGN_OR_RETURN(WebpAnimationInfo info, ReadWebpAnimation(data, limits));
  DAT_RETURN_IF_ERROR(CheckLimits("animated WebP (decoder and encoder)", info.width, info.height,
                                  kWebpAnimationBytesPerPixel, limits));
  WebpAnimationOutput out;
  if (data.size() / 3 > max_output_bytes) {
    out.too_large = true;
    return out;
  }
  DAT_ASSIGN_OR_RETURN(auto dec, OpenDecoder(data));
  WebPAnimInfo anim;
  if (!WebPAnimDecoderGetInfo(dec.get(), &anim)) return BadAnimation("no animation info");
  if (static_cast<int>(anim.canvas_width) != info.width ||
      static_cast<int>(anim.canvas_height) != info.height ||
      static_cast<int>(anim.frame_count) != info.frames) {
    return BadAnimation("libwebp reads other frames than its chunks declare");
  }
  AnimationWriter writer;
  DAT_RETURN_IF_ERROR(writer.Open(anim, info, quality));
  LogoStamp stamp(&logo);
  const size_t stride = static_cast<size_t>(info.width) * 4;
  int start_ms = 0;
  while (WebPAnimDecoderHasMoreFrames(dec.get())) {
    uint8_t* canvas = nullptr;
    int end_ms = 0;
    DAT_RETURN_IF_ERROR(NextFrame(dec.get(), &canvas, &end_ms));
    // The decoder draws the next frame over its own disposed copy of this canvas, but the logo
    // is taken off again all the same: nothing here relies on that.
    stamp.Apply(canvas, stride);
    common::Status added = writer.Add(canvas, start_ms);
    stamp.Undo(canvas, stride);
    DAT_RETURN_IF_ERROR(added);
    start_ms = end_ms;
    ++out.frames;
  }
  DAT_ASSIGN_OR_RETURN(std::string webp, writer.Finish(start_ms));
  if (webp.size() > max_output_bytes) {
    out.too_large = true;
    return out;
  }
  out.data = std::move(webp);
  return out;
}

common::Result<std::unique_ptr<RowSource>> OpenWebpAnimationFirstFrame(std::string_view data,
                                                                       const DecodeLimits& limits) {
  DAT_ASSIGN_OR_RETURN(WebpAnimationInfo info, ReadWebpAnimation(data, limits));
  auto first = std::make_shared<FirstFrame>();
  DAT_ASSIGN_OR_RETURN(first->dec, OpenDecoder(data));
  int end_ms = 0;
  DAT_RETURN_IF_ERROR(NextFrame(first->dec.get(), &first->rgba, &end_ms));
  const uint8_t* base = first->rgba;
  return std::unique_ptr<RowSource>(
      std::make_unique<InterleavedRows>(base, static_cast<size_t>(info.width) * 4, 4, info.width,
                                        info.height, info.has_alpha, std::move(first)));
}

}  // namespace image::internal
