#include "image/logo.h"

#include <algorithm>
#include <cmath>

#include "image/png_codec.h"

namespace image::internal {

common::Result<LogoRaster> DecodeLogo(std::string_view png) {
  auto parsed = ReadPngHeader(png);
  if (!parsed.ok()) return parsed.status().WithContext("logo");
  const PngHeader& header = *parsed;
  if (header.width > 4096 || header.height > 4096) {
    return common::InvalidArgument("logo is larger than 4096x4096");
  }
  auto decoded = DecodePng(png, 4096ull * 4096);
  if (!decoded.ok()) return decoded.status().WithContext("logo");
  const PngPixels& px = *decoded;
  LogoRaster out;
  out.width = header.width;
  out.height = header.height;
  const size_t n = static_cast<size_t>(out.width) * out.height;
  out.rgba.resize(n * 4);
  for (size_t i = 0; i < n; ++i) {
    float v[4];
    for (int c = 0; c < 4; ++c) {
      v[c] = px.sixteen() ? px.pixels16[i * 4 + c] / 65535.0f : px.pixels8[i * 4 + c] / 255.0f;
    }
    out.rgba[i * 4 + 0] = v[0] * v[3];
    out.rgba[i * 4 + 1] = v[1] * v[3];
    out.rgba[i * 4 + 2] = v[2] * v[3];
    out.rgba[i * 4 + 3] = v[3];
  }
  return out;
}

LogoRaster ResampleLogo(const LogoRaster& src, int width, int height) {
  LogoRaster out;
  out.width = width;
  out.height = height;
  out.rgba.resize(static_cast<size_t>(width) * height * 4);
  // Supersampled bilinear: k x k bilinear taps per output pixel, k covering the shrink factor.
  const double fx = static_cast<double>(src.width) / width;
  const double fy = static_cast<double>(src.height) / height;
  const int kx = std::max(1, static_cast<int>(std::ceil(fx)));
  const int ky = std::max(1, static_cast<int>(std::ceil(fy)));
  const float norm = 1.0f / (kx * ky);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      float acc[4] = {0, 0, 0, 0};
      for (int sy = 0; sy < ky; ++sy) {
        double py = (y + (sy + 0.5) / ky) * fy - 0.5;
        py = std::clamp(py, 0.0, src.height - 1.0);
        int y0 = static_cast<int>(py);
        int y1 = std::min(y0 + 1, src.height - 1);
        float wy = static_cast<float>(py - y0);
        for (int sx = 0; sx < kx; ++sx) {
          double qx = (x + (sx + 0.5) / kx) * fx - 0.5;
          qx = std::clamp(qx, 0.0, src.width - 1.0);
          int x0 = static_cast<int>(qx);
          int x1 = std::min(x0 + 1, src.width - 1);
          float wx = static_cast<float>(qx - x0);
          const float *a = src.at(x0, y0), *b = src.at(x1, y0), *c = src.at(x0, y1),
                      *d = src.at(x1, y1);
          for (int i = 0; i < 4; ++i) {
            acc[i] += (a[i] * (1 - wx) + b[i] * wx) * (1 - wy) + (c[i] * (1 - wx) + d[i] * wx) * wy;
          }
        }
      }
      float* o = &out.rgba[(static_cast<size_t>(y) * width + x) * 4];
      for (int i = 0; i < 4; ++i) o[i] = acc[i] * norm;
    }
  }
  return out;
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

common::Result<PlacedLogo> PlaceLogo(const LogoRaster& logo, int stored_w, int stored_h,
                                     int orientation, const WatermarkOptions& options) {
  if (!(options.scale > 0.0 && options.scale <= 1.0)) {
    return common::InvalidArgument("scale must be in (0, 1]");
  }
  if (!(options.opacity >= 0.0 && options.opacity <= 1.0)) {
    return common::InvalidArgument("opacity must be in [0, 1]");
  }
  if (options.margin < 0) return common::InvalidArgument("margin must not be negative");
  if (orientation < 1 || orientation > 8) orientation = 1;
  const bool swapped = orientation >= 5;
  const int vis_w = swapped ? stored_h : stored_w;
  const int vis_h = swapped ? stored_w : stored_h;

  PlacedLogo placed;
  int lw = static_cast<int>(std::lround(vis_w * options.scale));
  int lh = static_cast<int>(std::lround(static_cast<double>(lw) * logo.height / logo.width));
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
  placed.box = {std::min(xa, xb), std::min(ya, yb), std::abs(xb - xa) + 1, std::abs(yb - ya) + 1};
  placed.raster = ResampleLogo(logo, lw, lh);
  if (orientation != 1) {
    // Turn the upright logo into the stored frame, so that the viewer sees it upright.
    LogoRaster stored;
    stored.width = placed.box.width;
    stored.height = placed.box.height;
    stored.rgba.resize(placed.raster.rgba.size());
    for (int y = 0; y < stored.height; ++y) {
      for (int x = 0; x < stored.width; ++x) {
        int u, v;
        StoredToVisual(orientation, stored_w, stored_h, placed.box.x + x, placed.box.y + y, &u, &v);
        const float* s = placed.raster.at(u - u0, v - v0);
        std::copy(s, s + 4, &stored.rgba[(static_cast<size_t>(y) * stored.width + x) * 4]);
      }
    }
    placed.raster = std::move(stored);
  }
  if (options.opacity < 1.0) {
    for (float& f : placed.raster.rgba) f *= static_cast<float>(options.opacity);
  }
  return placed;
}

common::Result<PlacedLogo> PrepareLogo(int stored_w, int stored_h, int orientation,
                                       const WatermarkOptions& options) {
  if (options.logo_png.empty()) {
    // Decoded once per process; C++ guarantees thread-safe initialisation of the static.
    static const common::Result<LogoRaster>* const builtin =
        new common::Result<LogoRaster>(DecodeLogo(BuiltinLogoPng()));
    if (!builtin->ok()) return builtin->status();
    return PlaceLogo(builtin->value(), stored_w, stored_h, orientation, options);
  }
  DAT_ASSIGN_OR_RETURN(LogoRaster logo, DecodeLogo(options.logo_png));
  return PlaceLogo(logo, stored_w, stored_h, orientation, options);
}

}  // namespace image::internal
