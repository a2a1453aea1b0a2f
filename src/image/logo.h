// Internal: the logo as premultiplied float RGBA, its placement and its orientation.
#pragma once

#include <string_view>
#include <vector>

#include "common/status.h"
#include "image/huge_alloc.h"
#include "image/watermark.h"

namespace image::internal {

// Premultiplied RGBA in [0, 1], row-major. A value type; not shared between threads.
struct LogoRaster {
  int width = 0;
  int height = 0;
  std::vector<float, HugePageAllocator<float>> rgba;  // width * height * 4
  const float* at(int x, int y) const { return &rgba[(static_cast<size_t>(y) * width + x) * 4]; }
};

// Decodes logo PNG bytes (any PNG colour type) into a raster. InvalidArgument if not a PNG or
// larger than 4096x4096.
common::Result<LogoRaster> DecodeLogo(std::string_view png);

// Resamples to width x height (area-averaging when shrinking, bilinear when enlarging).
LogoRaster ResampleLogo(const LogoRaster& source, int width, int height);

// Maps stored pixel (x, y) of a stored_w x stored_h image to the pixel a viewer sees after EXIF
// orientation `orientation` (1..8) is applied.
void StoredToVisual(int orientation, int stored_w, int stored_h, int x, int y, int* u, int* v);
// The inverse of StoredToVisual.
void VisualToStored(int orientation, int stored_w, int stored_h, int u, int v, int* x, int* y);

// The logo in stored coordinates, ready to composite: `raster` covers exactly `box`.
struct PlacedLogo {
  Box box;
  LogoRaster raster;
};

// Places the logo in the visual frame of a stored_w x stored_h image shown with `orientation`
// (gravity, margin, scale, opacity from `options`), then rotates/mirrors it into the stored
// frame so that it looks upright to the viewer. InvalidArgument for bad options; an empty box
// when the image is too small to hold a logo.
common::Result<PlacedLogo> PlaceLogo(const LogoRaster& logo, int stored_w, int stored_h,
                                     int orientation, const WatermarkOptions& options);

// Convenience for callers: decodes options.logo_png (or the built-in logo) and places it.
common::Result<PlacedLogo> PrepareLogo(int stored_w, int stored_h, int orientation,
                                       const WatermarkOptions& options);

}  // namespace image::internal
