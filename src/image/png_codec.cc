#include "image/png_codec.h"

#include <libdeflate.h>
#include <spng.h>
#include <zlib.h>

#include <cstring>
#include <memory>

namespace image::internal {
namespace {

constexpr unsigned char kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
// IDAT chunks of at most 1 MiB, as common encoders do.
constexpr size_t kIdatMax = 1 << 20;
// Filtered image data up to this size is deflated in one libdeflate call; larger images are
// deflated as a zlib stream, row by row, so memory stays a few rows whatever the size.
constexpr uint64_t kOneShotBytes = 40ull << 20;

uint32_t ReadBe32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

void AppendBe32(std::string* out, uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
  out->append(b, 4);
}

void AppendChunk(std::string* out, const char type[4], const void* data, size_t size) {
  AppendBe32(out, static_cast<uint32_t>(size));
  size_t type_at = out->size();
  out->append(type, 4);
  out->append(static_cast<const char*>(data), size);
  uint32_t crc = libdeflate_crc32(0, out->data() + type_at, size + 4);
  AppendBe32(out, crc);
}

struct SpngDeleter {
  void operator()(spng_ctx* ctx) const { spng_ctx_free(ctx); }
};

// A PNG's rows, decoded progressively (non-interlaced) or from a whole decoded frame.
class PngRows : public RowSource {
 public:
  common::Status Open(std::string_view data, const DecodeLimits& limits) {
    DAT_ASSIGN_OR_RETURN(PngHeader header, ReadPngHeader(data));
    width_ = header.width;
    height_ = header.height;
    sixteen_ = header.bit_depth == 16;
    const uint64_t bytes_per_pixel = sixteen_ ? 8 : 4;
    // Interlaced: the whole frame is held. Otherwise a handful of rows (spng's, ours, the
    // encoder's), counted as 16 rows.
    DAT_RETURN_IF_ERROR(CheckLimits("PNG", width_, header.interlaced ? height_ : 1,
                                    header.interlaced ? bytes_per_pixel : bytes_per_pixel * 16,
                                    limits));
    DAT_RETURN_IF_ERROR(CheckLimits("PNG", width_, height_, 0, limits));
    ctx_.reset(spng_ctx_new(0));
    if (!ctx_) return common::Internal("spng_ctx_new failed");
    spng_set_crc_action(ctx_.get(), SPNG_CRC_ERROR, SPNG_CRC_DISCARD);
    spng_set_image_limits(ctx_.get(), static_cast<uint32_t>(width_),
                          static_cast<uint32_t>(height_));
    spng_set_chunk_limits(ctx_.get(), 16u << 20, 64u << 20);
    int rc = spng_set_png_buffer(ctx_.get(), data.data(), data.size());
    spng_trns trns{};
    has_alpha_ = header.color_type == 4 || header.color_type == 6;
    if (!has_alpha_ && rc == 0) {
      const int trns_rc = spng_get_trns(ctx_.get(), &trns);
      has_alpha_ = trns_rc == 0;
      if (trns_rc != 0 && trns_rc != SPNG_ECHUNKAVAIL) rc = trns_rc;
    }
    if (rc != 0) return common::InvalidArgument(std::string("bad PNG: ") + spng_strerror(rc));
    fmt_ = sixteen_ ? SPNG_FMT_RGBA16 : SPNG_FMT_RGBA8;
    if (header.interlaced) {
      size_t size = 0;
      rc = spng_decoded_image_size(ctx_.get(), fmt_, &size);
      if (rc == 0) {
        frame_.resize(size);
        rc = spng_decode_image(ctx_.get(), frame_.data(), size, fmt_, SPNG_DECODE_TRNS);
      }
    } else {
      rc = spng_decode_image(ctx_.get(), nullptr, 0, fmt_,
                             SPNG_DECODE_TRNS | SPNG_DECODE_PROGRESSIVE);
    }
    if (rc != 0) return common::InvalidArgument(std::string("corrupt PNG: ") + spng_strerror(rc));
    return common::Status::Ok();
  }

  common::Status ReadRow(void* rgba) override {
    if (next_ >= height_) return common::Internal("read past the last row");
    const size_t bytes = row_bytes();
    if (!frame_.empty()) {
      std::memcpy(rgba, frame_.data() + bytes * next_++, bytes);
      return common::Status::Ok();
    }
    ++next_;
    int rc = spng_decode_row(ctx_.get(), rgba, bytes);
    if (rc == SPNG_EOI) {
      if (next_ != height_) return common::InvalidArgument("corrupt PNG: rows missing");
      rc = spng_decode_chunks(ctx_.get());  // the chunks after IDAT, up to IEND (CRCs checked)
    }
    if (rc != 0) return common::InvalidArgument(std::string("corrupt PNG: ") + spng_strerror(rc));
    return common::Status::Ok();
  }

 private:
  std::unique_ptr<spng_ctx, SpngDeleter> ctx_;
  int fmt_ = 0;
  int next_ = 0;
  std::vector<uint8_t> frame_;  // interlaced only
};

// Deflates filtered rows into IDAT chunks written to a sink.
class IdatWriter {
 public:
  explicit IdatWriter(OutputSink* sink) : sink_(sink), buffer_(kIdatMax + 12) {}
  ~IdatWriter() {
    if (live_) deflateEnd(&z_);
  }
  common::Status Init() {
    std::memset(&z_, 0, sizeof z_);
    if (deflateInit(&z_, 1) != Z_OK) return common::Internal("deflateInit failed");
    live_ = true;
    Reset();
    return common::Status::Ok();
  }
  common::Status Add(const uint8_t* data, size_t size, bool last) {
    z_.next_in = const_cast<Bytef*>(data);
    z_.avail_in = static_cast<uInt>(size);
    for (;;) {
      const int rc = deflate(&z_, last ? Z_FINISH : Z_NO_FLUSH);
      if (rc == Z_STREAM_ERROR) return common::Internal("deflate failed");
      if (z_.avail_out == 0) DAT_RETURN_IF_ERROR(Flush());
      if (last ? rc == Z_STREAM_END : (z_.avail_in == 0 && z_.avail_out > 0)) break;
    }
    if (last && z_.avail_out < kIdatMax) DAT_RETURN_IF_ERROR(Flush());
    return common::Status::Ok();
  }

 private:
  void Reset() {
    z_.next_out = reinterpret_cast<Bytef*>(buffer_.data() + 8);
    z_.avail_out = kIdatMax;
  }
  common::Status Flush() {
    const size_t size = kIdatMax - z_.avail_out;
    unsigned char* p = reinterpret_cast<unsigned char*>(buffer_.data());
    const uint32_t be = static_cast<uint32_t>(size);
    p[0] = be >> 24, p[1] = be >> 16, p[2] = be >> 8, p[3] = be;
    std::memcpy(p + 4, "IDAT", 4);
    const uint32_t crc = libdeflate_crc32(0, p + 4, size + 4);
    p[8 + size] = crc >> 24, p[9 + size] = crc >> 16, p[10 + size] = crc >> 8, p[11 + size] = crc;
    DAT_RETURN_IF_ERROR(sink_->Write(std::string_view(buffer_.data(), size + 12)));
    Reset();
    return common::Status::Ok();
  }
  OutputSink* sink_;
  std::vector<char> buffer_;
  z_stream z_;
  bool live_ = false;
};

// Writes one row of RGBA samples as `channels` samples per pixel, big-endian when 16-bit.
void PackRow(const void* rgba, int width, int channels, bool sixteen, uint8_t* out) {
  if (sixteen) {
    const auto* src = static_cast<const uint16_t*>(rgba);
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < channels; ++c) {
        const uint16_t v = src[x * 4 + c];
        *out++ = static_cast<uint8_t>(v >> 8);
        *out++ = static_cast<uint8_t>(v);
      }
    }
    return;
  }
  const auto* src = static_cast<const uint8_t*>(rgba);
  if (channels == 4) {
    std::memcpy(out, src, static_cast<size_t>(width) * 4);
    return;
  }
  for (int x = 0; x < width; ++x, src += 4, out += 3) {
    out[0] = src[0];
    out[1] = src[1];
    out[2] = src[2];
  }
}

std::string IhdrChunk(int w, int h, bool sixteen, int channels) {
  unsigned char ihdr[13];
  auto put32 = [](unsigned char* p, uint32_t v) {
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
  };
  put32(ihdr, w);
  put32(ihdr + 4, h);
  ihdr[8] = sixteen ? 16 : 8;
  ihdr[9] = channels == 4 ? 6 : 2;
  ihdr[10] = ihdr[11] = ihdr[12] = 0;
  std::string out(reinterpret_cast<const char*>(kSignature), 8);
  AppendChunk(&out, "IHDR", ihdr, 13);
  return out;
}

}  // namespace

common::Result<std::unique_ptr<RowSource>> OpenPngRows(std::string_view data,
                                                       const DecodeLimits& limits) {
  auto rows = std::make_unique<PngRows>();
  DAT_RETURN_IF_ERROR(rows->Open(data, limits));
  return std::unique_ptr<RowSource>(std::move(rows));
}

common::Status EncodePngRows(RowSource* source, int channels,
                             const std::vector<std::string_view>& extra_chunks, OutputSink* sink) {
  const int w = source->width(), h = source->height();
  const bool sixteen = source->sixteen();
  const size_t stride = static_cast<size_t>(w) * channels * (sixteen ? 2 : 1);
  std::string head = IhdrChunk(w, h, sixteen, channels);
  for (std::string_view chunk : extra_chunks) head.append(chunk);
  DAT_RETURN_IF_ERROR(sink->Write(head));
  std::vector<uint8_t> rgba(source->row_bytes()), prev(stride, 0), cur(stride);
  // Reads the next row and writes it filtered ("Up": cheap, vectorizable and good on
  // photographs) to `out` (stride + 1 bytes).
  auto next_row = [&](uint8_t* out) -> common::Status {
    DAT_RETURN_IF_ERROR(source->ReadRow(rgba.data()));
    PackRow(rgba.data(), w, channels, sixteen, cur.data());
    out[0] = 2;
    for (size_t i = 0; i < stride; ++i) out[1 + i] = static_cast<uint8_t>(cur[i] - prev[i]);
    prev.swap(cur);
    return common::Status::Ok();
  };
  const uint64_t raw_size = static_cast<uint64_t>(stride + 1) * h;
  if (raw_size <= kOneShotBytes) {
    // Small enough to hold: one libdeflate call, about twice as fast as zlib's stream.
    std::vector<uint8_t> raw(raw_size);
    for (int y = 0; y < h; ++y) DAT_RETURN_IF_ERROR(next_row(raw.data() + (stride + 1) * y));
    libdeflate_compressor* compressor = libdeflate_alloc_compressor(1);
    if (!compressor) return common::Internal("libdeflate_alloc_compressor failed");
    std::vector<uint8_t> z(libdeflate_zlib_compress_bound(compressor, raw.size()));
    const size_t zsize =
        libdeflate_zlib_compress(compressor, raw.data(), raw.size(), z.data(), z.size());
    libdeflate_free_compressor(compressor);
    if (zsize == 0) return common::Internal("deflate failed");
    std::string chunk;
    for (size_t at = 0; at < zsize; at += kIdatMax) {
      chunk.clear();
      AppendChunk(&chunk, "IDAT", z.data() + at, std::min(kIdatMax, zsize - at));
      DAT_RETURN_IF_ERROR(sink->Write(chunk));
    }
  } else {
    IdatWriter idat(sink);
    DAT_RETURN_IF_ERROR(idat.Init());
    std::vector<uint8_t> row(stride + 1);
    for (int y = 0; y < h; ++y) {
      DAT_RETURN_IF_ERROR(next_row(row.data()));
      DAT_RETURN_IF_ERROR(idat.Add(row.data(), row.size(), y + 1 == h));
    }
  }
  std::string tail;
  AppendChunk(&tail, "IEND", nullptr, 0);
  return sink->Write(tail);
}

common::Result<PngHeader> ReadPngHeader(std::string_view data) {
  auto* p = reinterpret_cast<const unsigned char*>(data.data());
  if (data.size() < 8 || std::memcmp(p, kSignature, 8) != 0) {
    return common::InvalidArgument("not a PNG file");
  }
  if (data.size() < 33 || std::memcmp(p + 12, "IHDR", 4) != 0 || ReadBe32(p + 8) != 13) {
    return common::InvalidArgument("truncated PNG: no IHDR chunk");
  }
  PngHeader h;
  uint32_t w = ReadBe32(p + 16), hh = ReadBe32(p + 20);
  if (w == 0 || hh == 0 || w > 0x7fffffff || hh > 0x7fffffff) {
    return common::InvalidArgument("PNG declares an invalid size");
  }
  h.width = static_cast<int>(w);
  h.height = static_cast<int>(hh);
  h.bit_depth = p[24];
  h.color_type = p[25];
  h.interlaced = p[28] != 0;
  return h;
}

common::Result<PngPixels> DecodePng(std::string_view data, uint64_t max_pixels) {
  DAT_ASSIGN_OR_RETURN(PngHeader header, ReadPngHeader(data));
  if (static_cast<uint64_t>(header.width) * header.height > max_pixels) {
    return common::ResourceExhausted("PNG declares " + std::to_string(header.width) + "x" +
                                     std::to_string(header.height) + " pixels, over the limit of " +
                                     std::to_string(max_pixels));
  }
  std::unique_ptr<spng_ctx, SpngDeleter> ctx(spng_ctx_new(0));
  if (!ctx) return common::Internal("spng_ctx_new failed");
  // As libpng by default: a bad CRC in a critical chunk is an error, ancillary ones are dropped.
  spng_set_crc_action(ctx.get(), SPNG_CRC_ERROR, SPNG_CRC_DISCARD);
  spng_set_image_limits(ctx.get(), 1u << 30, 1u << 30);
  spng_set_chunk_limits(ctx.get(), 16u << 20, 64u << 20);
  int rc = spng_set_png_buffer(ctx.get(), data.data(), data.size());
  spng_ihdr ihdr{};
  if (rc == 0) rc = spng_get_ihdr(ctx.get(), &ihdr);
  if (rc != 0) return common::InvalidArgument(std::string("bad PNG: ") + spng_strerror(rc));

  PngPixels out;
  out.header = header;
  spng_trns trns{};
  out.has_alpha =
      header.color_type == 4 || header.color_type == 6 || spng_get_trns(ctx.get(), &trns) == 0;
  int fmt = header.bit_depth == 16 ? SPNG_FMT_RGBA16 : SPNG_FMT_RGBA8;
  size_t size = 0;
  rc = spng_decoded_image_size(ctx.get(), fmt, &size);
  if (rc != 0) return common::InvalidArgument(std::string("bad PNG: ") + spng_strerror(rc));
  void* buffer;
  if (header.bit_depth == 16) {
    out.pixels16.resize(size / 2);
    buffer = out.pixels16.data();
  } else {
    out.pixels8.resize(size);
    buffer = out.pixels8.data();
  }
  rc = spng_decode_image(ctx.get(), buffer, size, fmt, SPNG_DECODE_TRNS);
  if (rc != 0) return common::InvalidArgument(std::string("corrupt PNG: ") + spng_strerror(rc));
  return out;
}

common::Result<std::string> EncodePng(const PngPixels& pixels, int channels,
                                      const std::vector<std::string_view>& extra_chunks) {
  const int w = pixels.header.width, h = pixels.header.height;
  const bool sixteen = pixels.sixteen();
  const size_t bpp = static_cast<size_t>(channels) * (sixteen ? 2 : 1);
  const size_t stride = bpp * w;
  // Filter "Up" on every row: cheap, vectorizable and good on photographs.
  std::vector<uint8_t> raw((stride + 1) * h);
  std::vector<uint8_t> prev(stride, 0), cur(stride);
  for (int y = 0; y < h; ++y) {
    const size_t base = static_cast<size_t>(y) * w * 4;
    if (sixteen) {
      const uint16_t* src = pixels.pixels16.data() + base;
      for (int x = 0; x < w; ++x) {
        for (int c = 0; c < channels; ++c) {
          uint16_t v = src[x * 4 + c];
          cur[(x * channels + c) * 2] = static_cast<uint8_t>(v >> 8);
          cur[(x * channels + c) * 2 + 1] = static_cast<uint8_t>(v);
        }
      }
    } else if (channels == 4) {
      std::memcpy(cur.data(), pixels.pixels8.data() + base, stride);
    } else {
      const uint8_t* src = pixels.pixels8.data() + base;
      uint8_t* dst = cur.data();
      for (int x = 0; x < w; ++x) {
        dst[0] = src[0];
        dst[1] = src[1];
        dst[2] = src[2];
        dst += 3;
        src += 4;
      }
    }
    uint8_t* row = raw.data() + y * (stride + 1);
    row[0] = 2;  // Up
    for (size_t i = 0; i < stride; ++i) row[1 + i] = static_cast<uint8_t>(cur[i] - prev[i]);
    prev.swap(cur);
  }

  libdeflate_compressor* compressor = libdeflate_alloc_compressor(1);
  if (!compressor) return common::Internal("libdeflate_alloc_compressor failed");
  std::vector<uint8_t> z(libdeflate_zlib_compress_bound(compressor, raw.size()));
  size_t zsize = libdeflate_zlib_compress(compressor, raw.data(), raw.size(), z.data(), z.size());
  libdeflate_free_compressor(compressor);
  if (zsize == 0) return common::Internal("deflate failed");

  std::string out = IhdrChunk(w, h, sixteen, channels);  // the signature and IHDR
  out.reserve(zsize + 4096);
  for (std::string_view chunk : extra_chunks) out.append(chunk);
  for (size_t at = 0; at < zsize; at += kIdatMax) {
    AppendChunk(&out, "IDAT", z.data() + at, std::min(kIdatMax, zsize - at));
  }
  AppendChunk(&out, "IEND", nullptr, 0);
  return out;
}

std::string MakePngChunk(std::string_view type, std::string_view data) {
  std::string out;
  AppendChunk(&out, type.data(), data.data(), data.size());
  return out;
}

std::vector<std::string_view> PortableChunks(std::string_view data) {
  static constexpr const char* kKeep[] = {"iCCP", "sRGB", "gAMA", "cHRM", "pHYs",
                                          "eXIf", "tEXt", "zTXt", "iTXt", "tIME"};
  std::vector<std::string_view> out;
  size_t at = 8;
  while (at + 12 <= data.size()) {
    uint32_t len = ReadBe32(reinterpret_cast<const unsigned char*>(data.data() + at));
    if (len > data.size() - at - 12) break;
    std::string_view type = data.substr(at + 4, 4);
    if (type == "IDAT" || type == "IEND") break;
    for (const char* keep : kKeep) {
      if (type == keep) out.push_back(data.substr(at, len + 12));
    }
    at += len + 12;
  }
  return out;
}

}  // namespace image::internal
