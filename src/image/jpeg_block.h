// Internal: the per-block DCT-domain compositing shared by both JPEG paths.
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "image/logo.h"

namespace image::internal {

// How the JPEG's components map to colour, as libjpeg's jpeg_color_space.
enum class JpegColor { kGray, kYCbCr, kRgb, kCmyk, kYcck };

// Frame geometry shared by both JPEG paths.
struct JpegGeometry {
  int width = 0;
  int height = 0;
  int num_components = 0;
  int h[4] = {1, 1, 1, 1};  // sampling factors; for a single-component image both are 1
  int v[4] = {1, 1, 1, 1};
  int max_h = 1;
  int max_v = 1;
  int mcu_width() const { return 8 * max_h; }
  int mcu_height() const { return 8 * max_v; }
  int mcus_per_row() const { return (width + mcu_width() - 1) / mcu_width(); }
  int mcu_rows() const { return (height + mcu_height() - 1) / mcu_height(); }
};

// Checks the geometry is one this engine composites (1, 3 or 4 components, each max factor a
// whole multiple of the component's factor). InvalidArgument otherwise.
common::Status CheckGeometry(const JpegGeometry& g);

// The logo for one component at that component's sampling resolution, over a band of rows:
// per sample, the logo's premultiplied component value (0..255 scale) and its alpha, averaged
// over the full-resolution pixels the sample covers. Compositing is then
// bg' = premul + (1 - alpha) * bg per sample.
struct ComponentPlane {
  int x0 = 0, y0 = 0;         // first covered sample
  int width = 0, height = 0;  // covered samples
  std::vector<float> premul;
  std::vector<float> alpha;
};

// Builds one plane per component for the stored pixel rows [y0, y1) of the logo's box (y0 and
// y1 on MCU row boundaries, so that no sample straddles two bands), reusing *planes' storage.
// `adobe_inverted` says CMYK/YCCK values are stored inverted (255 = no ink), as Adobe writes
// them. Working one MCU row at a time keeps memory proportional to the logo's width.
void BuildPlanes(const LogoPlacement& logo, const JpegGeometry& g, JpegColor color,
                 bool adobe_inverted, int y0, int y1, std::vector<ComponentPlane>* planes);

// MCU rectangle [mx0, mx1) x [my0, my1) covering a pixel box.
struct McuBox {
  int mx0 = 0, my0 = 0, mx1 = 0, my1 = 0;
  bool contains(int mx, int my) const { return mx >= mx0 && mx < mx1 && my >= my0 && my < my1; }
};
McuBox CoveringMcus(const Box& box, const JpegGeometry& g);

// The pixel region that may decode differently: the MCU box clipped to the image, grown by one
// pixel when chroma is subsampled (libjpeg's fancy upsampling blends neighbouring samples).
Box ChangedBox(const McuBox& mcus, const JpegGeometry& g);

// Fills in what a splice in the DCT domain (baseline or progressive) reports: a JPEG on the
// entropy path, its size and orientation, the logo's box and ChangedBox(mcus, g).
void SetSplicedResult(const JpegGeometry& g, int orientation, const LogoPlacement& logo,
                      const McuBox& mcus, WatermarkResult* result);

// Composites the plane into one 8x8 block (coefficients and quantization table in natural
// order) of the component at block position (bx, by). Returns false, leaving the block
// untouched, when the logo has no coverage there.
bool WatermarkBlock(int16_t* coef, const uint16_t* quant, const ComponentPlane& plane, int bx,
                    int by);

}  // namespace image::internal
