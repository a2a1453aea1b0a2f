#include "image/pixels.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "image/jpeg_libjpeg.h"

namespace image::internal {
namespace {

template <typename T>
void BlendPixels(T* px, const float* logo, int n, float max) {
  for (int x = 0; x < n; ++x, px += 4, logo += 4) {
    const float a = logo[3];
    if (a <= 0) continue;
    const float ba = px[3] / max;
    const float out_a = a + ba * (1 - a);
    for (int c = 0; c < 3; ++c) {
      const float v = (logo[c] + px[c] / max * ba * (1 - a)) / out_a;
      px[c] = static_cast<T>(std::lround(std::clamp(v, 0.0f, 1.0f) * max));
    }
    px[3] = static_cast<T>(std::lround(out_a * max));
  }
}

// Owns a libjpeg compressor or decompressor and its error manager.
template <typename Struct>
struct JpegHandle {
  JpegErrorManager err;
  Struct info;
  std::string message;
  bool live = false;
  JpegHandle() { std::memset(&info, 0, sizeof info); }
  ~JpegHandle() {
    if (!live) return;
    if constexpr (std::is_same_v<Struct, jpeg_compress_struct>) {
      jpeg_destroy_compress(&info);
    } else {
      jpeg_destroy_decompress(&info);
    }
  }
  common::Status Error(const char* what) const {
    return common::InvalidArgument(std::string(what) + ": " +
                                   (message.empty() ? "libjpeg error" : message));
  }
};

// Rows of a JPEG decoded with libjpeg's scanline interface.
class JpegRows : public RowSource {
 public:
  common::Status Open(std::string_view data, const DecodeLimits& limits) {
    InstallErrorManager(&h_.err, reinterpret_cast<j_common_ptr>(&h_.info), &h_.message);
    const bool ok = CatchJpeg(&h_.err, [&] {
      jpeg_create_decompress(&h_.info);
      h_.live = true;
      h_.info.progress = &h_.err.progress;
      jpeg_mem_src(&h_.info, reinterpret_cast<const unsigned char*>(data.data()), data.size());
      jpeg_read_header(&h_.info, TRUE);
    });
    if (!ok) return h_.Error("bad JPEG");
    DAT_RETURN_IF_ERROR(CheckLimits("JPEG", h_.info.image_width, h_.info.image_height,
                                    h_.info.progressive_mode ? 4 : 0, limits));
    if (h_.info.jpeg_color_space == JCS_CMYK || h_.info.jpeg_color_space == JCS_YCCK) {
      return common::InvalidArgument("a CMYK JPEG cannot be converted to another format");
    }
    if (!CatchJpeg(&h_.err, [&] {
          h_.info.out_color_space = JCS_EXT_RGBA;
          jpeg_start_decompress(&h_.info);
        })) {
      return h_.Error("bad JPEG");
    }
    width_ = static_cast<int>(h_.info.output_width);
    height_ = static_cast<int>(h_.info.output_height);
    return common::Status::Ok();
  }
  common::Status ReadRow(void* rgba) override {
    JSAMPROW rows[1] = {static_cast<JSAMPROW>(rgba)};
    if (!CatchJpeg(&h_.err, [&] { jpeg_read_scanlines(&h_.info, rows, 1); })) {
      return h_.Error("corrupt JPEG");
    }
    return common::Status::Ok();
  }

 private:
  JpegHandle<jpeg_decompress_struct> h_;
};

}  // namespace

DecodeLimits LimitsOf(const WatermarkOptions& options) {
  return DecodeLimits{options.max_pixels, options.max_decoded_bytes};
}

LogoRows::LogoRows(RowSource* source, const LogoPlacement* logo) : source_(source), logo_(logo) {
  width_ = source->width();
  height_ = source->height();
  sixteen_ = source->sixteen();
  has_alpha_ = source->has_alpha();
  line_.resize(static_cast<size_t>(std::max(0, logo->box().width)) * 4);
}

common::Status LogoRows::ReadRow(void* rgba) {
  DAT_RETURN_IF_ERROR(source_->ReadRow(rgba));
  const int y = next_++;
  const Box& box = logo_->box();
  if (box.empty() || y < box.y || y >= box.y + box.height) return common::Status::Ok();
  logo_->SampleRow(y, box.x, box.x + box.width, line_.data(), &cache_);
  if (sixteen_) {
    BlendRow(static_cast<uint16_t*>(rgba) + static_cast<size_t>(box.x) * 4, line_.data(),
             box.width);
  } else {
    BlendRow(static_cast<uint8_t*>(rgba) + static_cast<size_t>(box.x) * 4, line_.data(), box.width);
  }
  return common::Status::Ok();
}

void BlendRow(uint8_t* rgba, const float* logo, int n) { BlendPixels(rgba, logo, n, 255.0f); }
void BlendRow(uint16_t* rgba, const float* logo, int n) { BlendPixels(rgba, logo, n, 65535.0f); }

common::Result<std::string> EncodeJpegRows(RowSource* source, int quality) {
  const int w = source->width();
  std::vector<uint8_t> in(source->row_bytes());
  std::vector<JSAMPLE> rgb(static_cast<size_t>(w) * 3);
  JpegHandle<jpeg_compress_struct> h;
  unsigned char* mem = nullptr;
  unsigned long mem_size = 0;  // NOLINT(runtime/int): libjpeg's type
  InstallErrorManager(&h.err, reinterpret_cast<j_common_ptr>(&h.info), &h.message);
  bool ok = CatchJpeg(&h.err, [&] {
    jpeg_create_compress(&h.info);
    h.live = true;
    jpeg_mem_dest(&h.info, &mem, &mem_size);
    h.info.image_width = static_cast<JDIMENSION>(w);
    h.info.image_height = static_cast<JDIMENSION>(source->height());
    h.info.input_components = 3;
    h.info.in_color_space = JCS_RGB;
    jpeg_set_defaults(&h.info);
    jpeg_set_quality(&h.info, std::clamp(quality, 1, 100), TRUE);
    jpeg_start_compress(&h.info, TRUE);
  });
  common::Status status = ok ? common::Status::Ok() : h.Error("JPEG encoding failed");
  for (int y = 0; status.ok() && y < source->height(); ++y) {
    status = source->ReadRow(in.data());
    if (!status.ok()) break;
    // Transparent pixels are flattened over white, as viewers show them.
    for (int x = 0; x < w; ++x) {
      for (int c = 0; c < 3; ++c) {
        float v, a;
        if (source->sixteen()) {
          const auto* p = reinterpret_cast<const uint16_t*>(in.data()) + x * 4;
          v = p[c] / 65535.0f;
          a = p[3] / 65535.0f;
        } else {
          v = in[x * 4 + c] / 255.0f;
          a = in[x * 4 + 3] / 255.0f;
        }
        if (!source->has_alpha()) a = 1.0f;
        rgb[x * 3 + c] = static_cast<JSAMPLE>(std::lround((v * a + (1 - a)) * 255.0f));
      }
    }
    JSAMPROW rows[1] = {rgb.data()};
    if (!CatchJpeg(&h.err, [&] { jpeg_write_scanlines(&h.info, rows, 1); })) {
      status = h.Error("JPEG encoding failed");
    }
  }
  if (status.ok() && !CatchJpeg(&h.err, [&] { jpeg_finish_compress(&h.info); })) {
    status = h.Error("JPEG encoding failed");
  }
  std::string out;
  if (status.ok()) out.assign(reinterpret_cast<const char*>(mem), mem_size);
  std::free(mem);
  if (!status.ok()) return status;
  return out;
}

common::Result<std::unique_ptr<RowSource>> OpenJpegRows(std::string_view data,
                                                        const DecodeLimits& limits) {
  auto rows = std::make_unique<JpegRows>();
  DAT_RETURN_IF_ERROR(rows->Open(data, limits));
  return std::unique_ptr<RowSource>(std::move(rows));
}

common::Result<std::vector<uint8_t>> ReadAllRows8(RowSource* source) {
  const size_t stride = static_cast<size_t>(source->width()) * 4;
  std::vector<uint8_t> out(stride * source->height());
  std::vector<uint16_t> wide(source->sixteen() ? stride : 0);
  for (int y = 0; y < source->height(); ++y) {
    uint8_t* dst = out.data() + stride * y;
    if (!source->sixteen()) {
      DAT_RETURN_IF_ERROR(source->ReadRow(dst));
      continue;
    }
    DAT_RETURN_IF_ERROR(source->ReadRow(wide.data()));
    for (size_t i = 0; i < stride; ++i)
      dst[i] = static_cast<uint8_t>((wide[i] * 255u + 32767u) / 65535u);
  }
  return out;
}

}  // namespace image::internal
