#include "image/logo.h"

#include <algorithm>
#include <cmath>

#include "image/png_codec.h"

namespace image::internal {

namespace {

// Premultiplied RGBA in [0, 1] of logo pixel (x, y).
inline void Fetch(const PngPixels& px, int x, int y, float* out) {
  const size_t i = (static_cast<size_t>(y) * px.header.width + x) * 4;
  float v[4];
  for (int c = 0; c < 4; ++c) {
    v[c] = px.sixteen() ? px.pixels16[i + c] / 65535.0f : px.pixels8[i + c] / 255.0f;
  }
  out[0] = v[0] * v[3];
  out[1] = v[1] * v[3];
  out[2] = v[2] * v[3];
  out[3] = v[3];
}

}  // namespace

common::Result<std::shared_ptr<const PngPixels>> LoadLogo(std::string_view png) {
  auto parsed = ReadPngHeader(png);
  if (!parsed.ok()) return parsed.status().WithContext("logo");
  if (parsed->width > 4096 || parsed->height > 4096) {
    return common::InvalidArgument("logo is larger than 4096x4096");
  }
  auto decoded = DecodePng(png, 4096ull * 4096);
  if (!decoded.ok()) return decoded.status().WithContext("logo");
  return std::make_shared<const PngPixels>(std::move(*decoded));
}

common::Result<LogoRaster> DecodeLogo(std::string_view png) {
  DAT_ASSIGN_OR_RETURN(std::shared_ptr<const PngPixels> px, LoadLogo(png));
  LogoRaster out;
  out.width = px->header.width;
  out.height = px->header.height;
  out.rgba.resize(static_cast<size_t>(out.width) * out.height * 4);
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      Fetch(*px, x, y, &out.rgba[(static_cast<size_t>(y) * out.width + x) * 4]);
    }
  }
  return out;
}

void LogoPlacement::SampleVisual(int lx, int ly, float* out) const {
  // Supersampled bilinear: k x k bilinear taps per output pixel, k covering the shrink factor.
  const PngPixels& src = *logo_;
  const int sw = src.header.width, sh = src.header.height;
  const double fx = static_cast<double>(sw) / lw_;
  const double fy = static_cast<double>(sh) / lh_;
  const int kx = std::max(1, static_cast<int>(std::ceil(fx)));
  const int ky = std::max(1, static_cast<int>(std::ceil(fy)));
  const float norm = 1.0f / (kx * ky);
  float acc[4] = {0, 0, 0, 0};
  for (int sy = 0; sy < ky; ++sy) {
    double py = (ly + (sy + 0.5) / ky) * fy - 0.5;
    py = std::clamp(py, 0.0, sh - 1.0);
    const int y0 = static_cast<int>(py);
    const int y1 = std::min(y0 + 1, sh - 1);
    const float wy = static_cast<float>(py - y0);
    for (int sx = 0; sx < kx; ++sx) {
      double qx = (lx + (sx + 0.5) / kx) * fx - 0.5;
      qx = std::clamp(qx, 0.0, sw - 1.0);
      const int x0 = static_cast<int>(qx);
      const int x1 = std::min(x0 + 1, sw - 1);
      const float wx = static_cast<float>(qx - x0);
      float a[4], b[4], c[4], d[4];
      Fetch(src, x0, y0, a);
      Fetch(src, x1, y0, b);
      Fetch(src, x0, y1, c);
      Fetch(src, x1, y1, d);
      for (int i = 0; i < 4; ++i) {
        acc[i] += (a[i] * (1 - wx) + b[i] * wx) * (1 - wy) + (c[i] * (1 - wx) + d[i] * wx) * wy;
      }
    }
  }
  for (int i = 0; i < 4; ++i) out[i] = acc[i] * norm;
  if (opacity_ < 1.0f) {
    for (int i = 0; i < 4; ++i) out[i] *= opacity_;
  }
}

void LogoPlacement::SampleRow(int y, int x0, int x1, float* out) const {
  for (int x = x0; x < x1; ++x, out += 4) {
    int u, v;
    StoredToVisual(orientation_, stored_w_, stored_h_, x, y, &u, &v);
    SampleVisual(u - u0_, v - v0_, out);
  }
}

void StoredToVisual(int orientation, int w, int h, int x, int y, int* u, int* v) {
  switch (orientation) {
    case 2:
      *u = w - 1 - x;
      *v = y;
      break;
    case 3:
      *u = w - 1 - x;
      *v = h - 1 - y;
      break;
    case 4:
      *u = x;
      *v = h - 1 - y;
      break;
    case 5:
      *u = y;
      *v = x;
      break;
    case 6:
      *u = h - 1 - y;
      *v = x;
      break;
    case 7:
      *u = h - 1 - y;
      *v = w - 1 - x;
      break;
    case 8:
      *u = y;
      *v = w - 1 - x;
      break;
    default:
      *u = x;
      *v = y;
      break;
  }
}

void VisualToStored(int orientation, int w, int h, int u, int v, int* x, int* y) {
  switch (orientation) {
    case 2:
      *x = w - 1 - u;
      *y = v;
      break;
    case 3:
      *x = w - 1 - u;
      *y = h - 1 - v;
      break;
    case 4:
      *x = u;
      *y = h - 1 - v;
      break;
    case 5:
      *x = v;
      *y = u;
      break;
    case 6:
      *x = v;
      *y = h - 1 - u;
      break;
    case 7:
      *x = w - 1 - v;
      *y = h - 1 - u;
      break;
    case 8:
      *x = w - 1 - v;
      *y = u;
      break;
    default:
      *x = u;
      *y = v;
      break;
  }
}

common::Result<LogoPlacement> PlaceLogo(int stored_w, int stored_h, int orientation,
                                        const WatermarkOptions& options) {
  if (!(options.scale > 0.0 && options.scale <= 1.0)) {
    return common::InvalidArgument("scale must be in (0, 1]");
  }
  if (!(options.opacity >= 0.0 && options.opacity <= 1.0)) {
    return common::InvalidArgument("opacity must be in [0, 1]");
  }
  if (options.margin < 0) return common::InvalidArgument("margin must not be negative");
  LogoPlacement placed;
  if (options.logo_png.empty()) {
    // Decoded once per process; C++ guarantees thread-safe initialisation of the static.
    static const auto* const builtin =
        new common::Result<std::shared_ptr<const PngPixels>>(LoadLogo(BuiltinLogoPng()));
    if (!builtin->ok()) return builtin->status();
    placed.logo_ = builtin->value();
  } else {
    DAT_ASSIGN_OR_RETURN(placed.logo_, LoadLogo(options.logo_png));
  }
  const int logo_w = placed.logo_->header.width, logo_h = placed.logo_->header.height;
  if (orientation < 1 || orientation > 8) orientation = 1;
  const bool swapped = orientation >= 5;
  const int vis_w = swapped ? stored_h : stored_w;
  const int vis_h = swapped ? stored_w : stored_h;

  int lw = static_cast<int>(std::lround(vis_w * options.scale));
  int lh = static_cast<int>(std::lround(static_cast<double>(lw) * logo_h / logo_w));
  // Shrink to fit inside the margins (keeping the aspect ratio) for small or narrow images.
  const int room_w = vis_w - 2 * options.margin, room_h = vis_h - 2 * options.margin;
  if (lh > room_h && lh > 0) {
    lw = static_cast<int>(static_cast<double>(lw) * room_h / lh);
    lh = room_h;
  }
  if (lw > room_w) {
    lh = static_cast<int>(static_cast<double>(lh) * room_w / std::max(lw, 1));
    lw = room_w;
  }
  if (lw < 1 || lh < 1 || options.opacity == 0.0) return placed;  // nothing to draw

  int u0, v0;
  const int m = options.margin;
  switch (options.gravity) {
    case Gravity::kSouthEast:
      u0 = vis_w - m - lw;
      v0 = vis_h - m - lh;
      break;
    case Gravity::kSouthWest:
      u0 = m;
      v0 = vis_h - m - lh;
      break;
    case Gravity::kNorthEast:
      u0 = vis_w - m - lw;
      v0 = m;
      break;
    case Gravity::kNorthWest:
      u0 = m;
      v0 = m;
      break;
    default:
      u0 = (vis_w - lw) / 2;
      v0 = (vis_h - lh) / 2;
      break;
  }
  int xa, ya, xb, yb;
  VisualToStored(orientation, stored_w, stored_h, u0, v0, &xa, &ya);
  VisualToStored(orientation, stored_w, stored_h, u0 + lw - 1, v0 + lh - 1, &xb, &yb);
  placed.box_ = {std::min(xa, xb), std::min(ya, yb), std::abs(xb - xa) + 1, std::abs(yb - ya) + 1};
  placed.orientation_ = orientation;
  placed.stored_w_ = stored_w;
  placed.stored_h_ = stored_h;
  placed.u0_ = u0;
  placed.v0_ = v0;
  placed.lw_ = lw;
  placed.lh_ = lh;
  placed.opacity_ = static_cast<float>(options.opacity);
  return placed;
}

common::Result<PlacedLogo> PrepareLogo(int stored_w, int stored_h, int orientation,
                                       const WatermarkOptions& options) {
  DAT_ASSIGN_OR_RETURN(LogoPlacement placement,
                       PlaceLogo(stored_w, stored_h, orientation, options));
  PlacedLogo placed;
  placed.box = placement.box();
  if (placed.box.empty()) return placed;
  LogoRaster& r = placed.raster;
  r.width = placed.box.width;
  r.height = placed.box.height;
  r.rgba.resize(static_cast<size_t>(r.width) * r.height * 4);
  for (int y = 0; y < r.height; ++y) {
    placement.SampleRow(placed.box.y + y, placed.box.x, placed.box.x + r.width,
                        &r.rgba[static_cast<size_t>(y) * r.width * 4]);
  }
  return placed;
}

}  // namespace image::internal
