// Internal: the logo, its placement on an image and its orientation.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "image/huge_alloc.h"
#include "image/png_codec.h"
#include "image/watermark.h"

namespace image::internal {

// Premultiplied RGBA in [0, 1], row-major. A value type; not shared between threads.
struct LogoRaster {
  int width = 0;
  int height = 0;
  std::vector<float, HugePageAllocator<float>> rgba;  // width * height * 4
  const float* at(int x, int y) const { return &rgba[(static_cast<size_t>(y) * width + x) * 4]; }
};

// Logo pixels: straight (not premultiplied) RGBA, 8 bits (rgba8) or 16 bits (rgba16) per
// sample, row-major. A view; `owner` keeps decoded pixels alive (empty for the built-in logo,
// whose pixels are static). Cheap to copy, immutable, safe to share between threads.
struct LogoPixels {
  int width = 0;
  int height = 0;
  const uint8_t* rgba8 = nullptr;
  const uint16_t* rgba16 = nullptr;
  std::shared_ptr<const PngPixels> owner;
};

// Decodes logo PNG bytes (any PNG colour type). InvalidArgument if not a PNG or larger than
// 4096x4096.
common::Result<LogoPixels> LoadLogo(std::string_view png);

// The built-in logo's pixels (8-bit RGBA), decoded from BuiltinLogoPng() at build time.
struct RawLogo {
  int width;
  int height;
  const uint8_t* rgba;
};
RawLogo BuiltinLogoPixels();

// Decodes logo PNG bytes into a premultiplied float raster at their own size.
common::Result<LogoRaster> DecodeLogo(std::string_view png);

// Maps stored pixel (x, y) of a stored_w x stored_h image to the pixel a viewer sees after EXIF
// orientation `orientation` (1..8) is applied.
void StoredToVisual(int orientation, int stored_w, int stored_h, int x, int y, int* u, int* v);
// The inverse of StoredToVisual.
void VisualToStored(int orientation, int stored_w, int stored_h, int u, int v, int* x, int* y);

// The logo placed on one image: its box in stored coordinates and its pixels there, computed
// on demand row by row (resampled, turned upright for the viewer, opacity applied), so that no
// buffer the size of the logo is needed. Immutable and cheap to copy (the decoded logo is
// shared); safe to use from several threads at once.
class LogoPlacement {
 public:
  const Box& box() const { return box_; }

  // Scratch memory for SampleRow, reused from one row to the next (one per thread).
  struct SampleCache {
    struct Line {
      bool along_row = false;
      int index = -1;
      std::vector<float> rgba;  // premultiplied logo pixels along one logo row or column
    };
    Line lines[2];
    int next = 0;
    std::vector<float> across;
  };

  // Writes premultiplied RGBA in [0, 1] (4 floats per pixel) for the stored pixels (x, y),
  // x in [x0, x1), to out. The pixels must lie inside box().
  void SampleRow(int y, int x0, int x1, float* out, SampleCache* cache) const;

 private:
  friend common::Result<LogoPlacement> PlaceLogo(int stored_w, int stored_h, int orientation,
                                                 const WatermarkOptions& options);
  // A logo row (along_row) or column as premultiplied floats, from the cache if it is there.
  const float* SourceLine(bool along_row, int index, SampleCache* cache) const;

  Box box_;
  LogoPixels logo_;
  int orientation_ = 1, stored_w_ = 0, stored_h_ = 0;
  int u0_ = 0, v0_ = 0;  // the logo's top-left corner in the visual frame
  int lw_ = 0, lh_ = 0;  // the logo's size in the visual frame
  float opacity_ = 1.0f;
  // Bilinear taps: between logo pixels i0 and i1, at weight w of i1; k per visual pixel in
  // each direction, enough to cover the shrink factor.
  struct Tap {
    int i0, i1;
    float w;
  };
  std::vector<Tap> xtaps_, ytaps_;
  int kx_ = 1, ky_ = 1;
  float norm_ = 1.0f;
};

// Places options.logo_png (or the built-in logo) in the visual frame of a stored_w x stored_h
// image shown with `orientation` (gravity, margin, scale, opacity from `options`). Invalid-
// Argument for bad options or a bad logo; an empty box when the image is too small for a logo.
common::Result<LogoPlacement> PlaceLogo(int stored_w, int stored_h, int orientation,
                                        const WatermarkOptions& options);

// The placed logo with all its pixels in a raster covering exactly `box` (the PNG path and
// tests; the JPEG paths sample rows on demand instead).
struct PlacedLogo {
  Box box;
  LogoRaster raster;
};
common::Result<PlacedLogo> PrepareLogo(int stored_w, int stored_h, int orientation,
                                       const WatermarkOptions& options);

}  // namespace image::internal
