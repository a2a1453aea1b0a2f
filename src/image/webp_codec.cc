// WebP decoding and encoding with libwebp (codecs.h).
#include <webp/decode.h>
#include <webp/encode.h>

#include "image/codecs.h"

namespace image::internal {

common::Result<ImageInfo> ReadWebpInfo(std::string_view data) {
  WebPBitstreamFeatures features;
  const VP8StatusCode rc =
      WebPGetFeatures(reinterpret_cast<const uint8_t*>(data.data()), data.size(), &features);
  if (rc != VP8_STATUS_OK) {
    return common::InvalidArgument("bad WebP: cannot read its header (status " +
                                   std::to_string(static_cast<int>(rc)) + ")");
  }
  ImageInfo info;
  info.width = features.width;
  info.height = features.height;
  info.has_alpha = features.has_alpha != 0;
  info.frames = features.has_animation ? 2 : 1;
  return info;
}

common::Result<WebpPicture> DecodeWebp(std::string_view data, const DecodeLimits& limits) {
  WebPBitstreamFeatures features;
  const auto* bytes = reinterpret_cast<const uint8_t*>(data.data());
  if (WebPGetFeatures(bytes, data.size(), &features) != VP8_STATUS_OK) {
    return common::InvalidArgument("bad WebP: cannot read its header");
  }
  if (features.has_animation) {
    // Animations take WatermarkWebpAnimation / OpenWebpAnimationFirstFrame (webp_anim.cc).
    return common::InvalidArgument("animated WebP: not a still image");
  }
  // The decoded picture, and the encoder's copy of it in YUV(A) and its work buffers.
  DAT_RETURN_IF_ERROR(CheckLimits("WebP", features.width, features.height, 8, limits));
  WebpPicture picture;
  uint8_t* rgba = WebPDecodeRGBA(bytes, data.size(), &picture.width, &picture.height);
  if (rgba == nullptr) return common::InvalidArgument("corrupt WebP: cannot decode it");
  picture.rgba = std::shared_ptr<uint8_t>(rgba, WebPFree);
  if (picture.width != features.width || picture.height != features.height) {
    return common::InvalidArgument("corrupt WebP: decoded size differs from its header");
  }
  picture.has_alpha = features.has_alpha != 0;
  picture.lossless = features.format == 2;
  return picture;
}

common::Result<std::string> EncodeWebp(const uint8_t* rgba, int width, int height, bool alpha,
                                       bool lossless, int quality) {
  uint8_t* out = nullptr;
  const int stride = width * 4;
  size_t size;
  if (lossless) {
    size = WebPEncodeLosslessRGBA(rgba, width, height, stride, &out);
  } else if (alpha) {
    size = WebPEncodeRGBA(rgba, width, height, stride, static_cast<float>(quality), &out);
  } else {
    // Opaque: RGBX input, so no alpha plane is written.
    WebPConfig config;
    WebPPicture pic;
    if (!WebPConfigInit(&config) || !WebPPictureInit(&pic)) {
      return common::Internal("libwebp version mismatch");
    }
    config.quality = static_cast<float>(quality);
    pic.width = width;
    pic.height = height;
    pic.use_argb = 0;
    WebPMemoryWriter writer;
    WebPMemoryWriterInit(&writer);
    pic.writer = WebPMemoryWrite;
    pic.custom_ptr = &writer;
    bool ok = WebPPictureImportRGBX(&pic, rgba, stride) && WebPEncode(&config, &pic);
    WebPPictureFree(&pic);
    if (!ok) {
      WebPMemoryWriterClear(&writer);
      return common::Internal("WebP encoding failed");
    }
    std::string result(reinterpret_cast<const char*>(writer.mem), writer.size);
    WebPMemoryWriterClear(&writer);
    return result;
  }
  if (size == 0 || out == nullptr) return common::Internal("WebP encoding failed");
  std::string result(reinterpret_cast<const char*>(out), size);
  WebPFree(out);
  return result;
}

}  // namespace image::internal
