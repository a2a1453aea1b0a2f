#include "image/test_images.h"

// jpeglib.h needs <cstdio> first.
#include <cstdio>
// clang-format off
#include <jpeglib.h>
// clang-format on
#include <png.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace image::testing {
namespace {

uint32_t Hash(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352d;
  x ^= x >> 15;
  x *= 0x846ca68b;
  x ^= x >> 16;
  return x;
}

uint8_t Clamp(double v) {
  return static_cast<uint8_t>(std::lround(std::fmin(255, std::fmax(0, v))));
}

// A 5x7 "glyph" bit for character cell `cell` at (gx, gy).
bool GlyphBit(uint32_t cell, int gx, int gy) { return (Hash(cell * 131 + gy * 7 + gx) & 3) == 0; }

}  // namespace

std::vector<uint8_t> MakePixels(int width, int height, int channels, Pattern pattern,
                                uint32_t seed) {
  std::vector<uint8_t> px(static_cast<size_t>(width) * height * channels);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      double rgb[4];
      const double u = static_cast<double>(x) / width, v = static_cast<double>(y) / height;
      switch (pattern) {
        case Pattern::kGradient:
          rgb[0] = 255 * u;
          rgb[1] = 255 * v;
          rgb[2] = 255 * (1 - u) * (0.5 + 0.5 * v);
          break;
        case Pattern::kNoise: {
          uint32_t h = Hash(seed * 7919 + y * 65537u + x);
          rgb[0] = h & 255;
          rgb[1] = (h >> 8) & 255;
          rgb[2] = (h >> 16) & 255;
          break;
        }
        case Pattern::kText: {
          const int cx = x / 8, cy = y / 12, gx = (x % 8) - 1, gy = (y % 12) - 2;
          bool ink = gx >= 0 && gx < 5 && gy >= 0 && gy < 7 &&
                     GlyphBit(seed + cx * 977u + cy * 31u, gx, gy);
          rgb[0] = rgb[1] = rgb[2] = ink ? 20 : 245;
          break;
        }
        case Pattern::kPhoto:
        default: {
          // Smooth sky-to-ground light, some texture and sensor-like noise.
          const double n =
              static_cast<double>(Hash(seed * 104729 + y * 40503u + x) & 255) / 255 - 0.5;
          const double t = 18 * std::sin(x * 0.05 + 3 * std::sin(y * 0.013)) *
                           std::cos(y * 0.041 + 2 * std::sin(x * 0.007));
          const double g = v < 0.55 ? 0 : 1;
          rgb[0] = 90 + 110 * u * (1 - g) + 60 * g + t + 24 * n;
          rgb[1] = 120 + 80 * (1 - v) + 40 * g + t * 0.8 + 24 * n;
          rgb[2] = 200 * (1 - v) + 30 + t * 0.5 - 60 * g + 24 * n;
          break;
        }
      }
      uint8_t* o = &px[(static_cast<size_t>(y) * width + x) * channels];
      if (channels == 1) {
        o[0] = Clamp(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]);
      } else if (channels == 3) {
        for (int c = 0; c < 3; ++c) o[c] = Clamp(rgb[c]);
      } else {
        // Adobe-style inverted CMYK: 255 means no ink.
        double k = 255 - std::fmax(rgb[0], std::fmax(rgb[1], rgb[2]));
        k = std::fmax(0, k);
        for (int c = 0; c < 3; ++c) o[c] = Clamp(std::fmin(255, rgb[c] + k));
        o[3] = Clamp(255 - k);
      }
    }
  }
  return px;
}

std::string MakeJpeg(const JpegSpec& spec) {
  const int channels = spec.components;
  return MakeJpegFromPixels(spec, MakePixels(spec.width, spec.height, channels, spec.pattern));
}

std::string MakeJpegFromPixels(const JpegSpec& spec, const std::vector<uint8_t>& pixels) {
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = spec.width;
  c.image_height = spec.height;
  c.input_components = spec.components;
  c.in_color_space = spec.components == 1   ? JCS_GRAYSCALE
                     : spec.components == 3 ? JCS_RGB
                                            : JCS_CMYK;
  jpeg_set_defaults(&c);
  if (spec.components == 4) jpeg_set_colorspace(&c, spec.ycck ? JCS_YCCK : JCS_CMYK);
  jpeg_set_quality(&c, spec.quality, TRUE);
  if (spec.components > 1) {
    c.comp_info[0].h_samp_factor = spec.h_samp;
    c.comp_info[0].v_samp_factor = spec.v_samp;
    for (int i = 1; i < spec.components; ++i) {
      c.comp_info[i].h_samp_factor = 1;
      c.comp_info[i].v_samp_factor = 1;
    }
  }
  if (spec.progressive) jpeg_simple_progression(&c);
  c.optimize_coding = spec.optimize;
  c.arith_code = spec.arithmetic;
  c.restart_in_rows = spec.restart_rows;
  if (spec.restart_mcus) c.restart_interval = spec.restart_mcus;
  jpeg_start_compress(&c, TRUE);
  if (spec.orientation) {
    const unsigned char exif[] = {'E',  'x',
                                  'i',  'f',
                                  0,    0,
                                  'M',  'M',
                                  0,    42,
                                  0,    0,
                                  0,    8,
                                  0,    1,
                                  0x01, 0x12,
                                  0,    3,
                                  0,    0,
                                  0,    1,
                                  0,    static_cast<unsigned char>(spec.orientation),
                                  0,    0,
                                  0,    0,
                                  0,    0};
    jpeg_write_marker(&c, JPEG_APP0 + 1, exif, sizeof exif);
  }
  if (spec.icc) {
    std::string icc("ICC_PROFILE\0\1\1", 14);
    for (int i = 0; i < 200; ++i) icc += static_cast<char>(i * 7);
    jpeg_write_marker(&c, JPEG_APP0 + 2, reinterpret_cast<const JOCTET*>(icc.data()), icc.size());
  }
  if (!spec.comment.empty()) {
    jpeg_write_marker(&c, JPEG_COM, reinterpret_cast<const JOCTET*>(spec.comment.data()),
                      spec.comment.size());
  }
  const size_t stride = static_cast<size_t>(spec.width) * spec.components;
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(pixels.data() + c.next_scanline * stride);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::string out(reinterpret_cast<char*>(buf), size);
  std::free(buf);
  return out;
}

namespace {
struct ThrowingErr {
  jpeg_error_mgr pub;
  jmp_buf jump;
};
void TestErrorExit(j_common_ptr c) { longjmp(reinterpret_cast<ThrowingErr*>(c->err)->jump, 1); }
void Silent(j_common_ptr) {}
}  // namespace

Decoded DecodeJpegAs(const std::string& jpeg, bool ycc, bool fancy);

Decoded DecodeJpeg(const std::string& jpeg) { return DecodeJpegAs(jpeg, false, true); }
Decoded DecodeJpegYcc(const std::string& jpeg) { return DecodeJpegAs(jpeg, true, false); }
Decoded DecodeJpegBlocky(const std::string& jpeg) { return DecodeJpegAs(jpeg, false, false); }

Decoded DecodeJpegAs(const std::string& jpeg, bool ycc, bool fancy) {
  Decoded out;
  jpeg_decompress_struct d;
  ThrowingErr err;
  d.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = TestErrorExit;
  err.pub.output_message = Silent;
  jpeg_create_decompress(&d);
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&d);
    out.pixels.clear();
    return out;
  }
  jpeg_mem_src(&d, reinterpret_cast<const unsigned char*>(jpeg.data()), jpeg.size());
  jpeg_read_header(&d, TRUE);
  if (d.jpeg_color_space == JCS_CMYK || d.jpeg_color_space == JCS_YCCK)
    d.out_color_space = JCS_CMYK;
  else if (d.num_components == 1)
    d.out_color_space = JCS_GRAYSCALE;
  else
    d.out_color_space = ycc ? JCS_YCbCr : JCS_RGB;
  d.do_fancy_upsampling = fancy ? TRUE : FALSE;
  jpeg_start_decompress(&d);
  out.width = d.output_width;
  out.height = d.output_height;
  out.channels = d.output_components;
  out.pixels.resize(static_cast<size_t>(out.width) * out.height * out.channels);
  while (d.output_scanline < d.output_height) {
    JSAMPROW row =
        out.pixels.data() + static_cast<size_t>(d.output_scanline) * out.width * out.channels;
    jpeg_read_scanlines(&d, &row, 1);
  }
  jpeg_finish_decompress(&d);
  out.warnings = static_cast<int>(err.pub.num_warnings);
  jpeg_destroy_decompress(&d);
  return out;
}

Coefficients ReadCoefficients(const std::string& jpeg) {
  Coefficients out;
  jpeg_decompress_struct d;
  ThrowingErr err;
  d.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = TestErrorExit;
  err.pub.output_message = Silent;
  jpeg_create_decompress(&d);
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&d);
    out.blocks.clear();
    return out;
  }
  jpeg_mem_src(&d, reinterpret_cast<const unsigned char*>(jpeg.data()), jpeg.size());
  jpeg_save_markers(&d, JPEG_COM, 0xFFFF);
  for (int i = 0; i < 16; ++i) jpeg_save_markers(&d, JPEG_APP0 + i, 0xFFFF);
  jpeg_read_header(&d, TRUE);
  jvirt_barray_ptr* arrays = jpeg_read_coefficients(&d);
  for (int c = 0; c < d.num_components; ++c) {
    const int w = d.comp_info[c].width_in_blocks, h = d.comp_info[c].height_in_blocks;
    out.width_in_blocks.push_back(w);
    out.height_in_blocks.push_back(h);
    std::vector<int16_t> blocks(static_cast<size_t>(w) * h * 64);
    for (int by = 0; by < h; ++by) {
      JBLOCKARRAY row =
          (*d.mem->access_virt_barray)(reinterpret_cast<j_common_ptr>(&d), arrays[c], by, 1, FALSE);
      for (int bx = 0; bx < w; ++bx) {
        std::memcpy(&blocks[(static_cast<size_t>(by) * w + bx) * 64], row[0][bx],
                    64 * sizeof(int16_t));
      }
    }
    out.blocks.push_back(std::move(blocks));
  }
  for (jpeg_saved_marker_ptr m = d.marker_list; m; m = m->next) {
    out.markers.push_back(std::to_string(m->marker) + ":" +
                          std::string(reinterpret_cast<char*>(m->data), m->data_length));
  }
  jpeg_finish_decompress(&d);
  jpeg_destroy_decompress(&d);
  return out;
}

std::string MakePng(int width, int height, int color_type, int bit_depth, bool interlaced,
                    bool trns) {
  std::string out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_set_write_fn(
      png, &out,
      [](png_structp p, png_bytep data, png_size_t n) {
        static_cast<std::string*>(png_get_io_ptr(p))->append(reinterpret_cast<char*>(data), n);
      },
      nullptr);
  png_set_IHDR(png, info, width, height, bit_depth, color_type,
               interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (color_type == 3) {
    png_color palette[256];
    for (int i = 0; i < 256; ++i) {
      palette[i].red = static_cast<png_byte>(i);
      palette[i].green = static_cast<png_byte>(255 - i);
      palette[i].blue = static_cast<png_byte>((i * 5) & 255);
    }
    png_set_PLTE(png, info, palette, 256);
    if (trns) {
      png_byte alpha[256];
      for (int i = 0; i < 256; ++i) alpha[i] = static_cast<png_byte>(i < 16 ? 0 : 255);
      png_set_tRNS(png, info, alpha, 256, nullptr);
    }
  }
  const char text_key[] = "Comment";
  png_text text{};
  text.compression = PNG_TEXT_COMPRESSION_NONE;
  text.key = const_cast<char*>(text_key);
  text.text = const_cast<char*>("made by a test");
  png_set_text(png, info, &text, 1);
  png_write_info(png, info);
  const int channels = color_type == 0 || color_type == 3 ? 1
                       : color_type == 4                  ? 2
                       : color_type == 2                  ? 3
                                                          : 4;
  const int bytes = bit_depth / 8;
  std::vector<uint8_t> rgb = MakePixels(width, height, 3, Pattern::kPhoto);
  std::vector<std::vector<png_byte>> rows(height, std::vector<png_byte>(width * channels * bytes));
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const uint8_t* s = &rgb[(static_cast<size_t>(y) * width + x) * 3];
      int v[4];
      const int gray = (s[0] * 77 + s[1] * 150 + s[2] * 29) >> 8;
      const int a = (x * 255) / std::max(1, width - 1);
      switch (color_type) {
        case 0:
          v[0] = gray;
          break;
        case 3:
          v[0] = s[0];
          break;
        case 4:
          v[0] = gray, v[1] = a;
          break;
        case 2:
          v[0] = s[0], v[1] = s[1], v[2] = s[2];
          break;
        default:
          v[0] = s[0], v[1] = s[1], v[2] = s[2], v[3] = a;
          break;
      }
      for (int c = 0; c < channels; ++c) {
        png_byte* o = &rows[y][(x * channels + c) * bytes];
        if (bytes == 2) {
          const int w16 = v[c] * 257 + ((x + y) & 0x7f);  // low bits that 8-bit would lose
          o[0] = static_cast<png_byte>(std::min(w16, 65535) >> 8);
          o[1] = static_cast<png_byte>(std::min(w16, 65535) & 255);
        } else {
          o[0] = static_cast<png_byte>(v[c]);
        }
      }
    }
  }
  std::vector<png_bytep> pointers(height);
  for (int y = 0; y < height; ++y) pointers[y] = rows[y].data();
  png_write_image(png, pointers.data());
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return out;
}

Decoded DecodePngRgba(const std::string& data) {
  // The low-level API: the simplified one treats 16-bit samples as linear light.
  Decoded out;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  struct Reader {
    const std::string* data;
    size_t at;
  } reader{&data, 0};
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    out.pixels.clear();
    return out;
  }
  png_set_read_fn(png, &reader, [](png_structp p, png_bytep dst, png_size_t n) {
    auto* r = static_cast<Reader*>(png_get_io_ptr(p));
    if (r->at + n > r->data->size()) png_error(p, "truncated");
    std::memcpy(dst, r->data->data() + r->at, n);
    r->at += n;
  });
  png_read_info(png, info);
  png_set_expand(png);
  png_set_scale_16(png);
  png_set_gray_to_rgb(png);
  png_set_add_alpha(png, 0xFF, PNG_FILLER_AFTER);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  out.width = png_get_image_width(png, info);
  out.height = png_get_image_height(png, info);
  out.channels = 4;
  out.pixels.resize(static_cast<size_t>(out.width) * out.height * 4);
  std::vector<png_bytep> rows(out.height);
  for (int y = 0; y < out.height; ++y)
    rows[y] = &out.pixels[static_cast<size_t>(y) * out.width * 4];
  png_read_image(png, rows.data());
  png_destroy_read_struct(&png, &info, nullptr);
  return out;
}

double Psnr(const Decoded& a, const Decoded& b, int x0, int y0, int w, int h) {
  double se = 0;
  size_t n = 0;
  for (int y = y0; y < y0 + h; ++y) {
    for (int x = x0; x < x0 + w; ++x) {
      for (int c = 0; c < a.channels; ++c) {
        const size_t i = (static_cast<size_t>(y) * a.width + x) * a.channels + c;
        const double d = static_cast<double>(a.pixels[i]) - b.pixels[i];
        se += d * d;
        ++n;
      }
    }
  }
  if (se == 0) return 99;
  return 10 * std::log10(255.0 * 255.0 / (se / n));
}

}  // namespace image::testing
