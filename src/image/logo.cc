#include "image/logo.h"

#include <algorithm>
#include <cmath>

#include "image/png_codec.h"

namespace image::internal {

namespace {

// k / 255.0f for every 8-bit sample k (a look-up is much cheaper than the division).
struct UnitTable {
  float v[256];
  UnitTable() {
    for (int k = 0; k < 256; ++k) v[k] = k / 255.0f;
  }
};
const UnitTable kUnit;

// Premultiplied RGBA in [0, 1] of logo pixel (x, y).
inline void Fetch(const LogoPixels& px, int x, int y, float* out) {
  const size_t i = (static_cast<size_t>(y) * px.width + x) * 4;
  float v[4];
  if (px.rgba16 != nullptr) {
    for (int c = 0; c < 4; ++c) v[c] = px.rgba16[i + c] / 65535.0f;
  } else {
    for (int c = 0; c < 4; ++c) v[c] = kUnit.v[px.rgba8[i + c]];
  }
  out[0] = v[0] * v[3];
  out[1] = v[1] * v[3];
  out[2] = v[2] * v[3];
  out[3] = v[3];
}

}  // namespace

common::Result<LogoPixels> LoadLogo(std::string_view png) {
  auto parsed = ReadPngHeader(png);
  if (!parsed.ok()) return parsed.status().WithContext("logo");
  if (parsed->width > 4096 || parsed->height > 4096) {
    return common::InvalidArgument("logo is larger than 4096x4096");
  }
  auto decoded = DecodePng(png, 4096ull * 4096);
  if (!decoded.ok()) return decoded.status().WithContext("logo");
  LogoPixels px;
  auto owner = std::make_shared<const PngPixels>(std::move(*decoded));
  px.width = owner->header.width;
  px.height = owner->header.height;
  if (owner->sixteen()) {
    px.rgba16 = owner->pixels16.data();
  } else {
    px.rgba8 = owner->pixels8.data();
  }
  px.owner = std::move(owner);
  return px;
}

common::Result<LogoRaster> DecodeLogo(std::string_view png) {
  DAT_ASSIGN_OR_RETURN(LogoPixels px, LoadLogo(png));
  LogoRaster out;
  out.width = px.width;
  out.height = px.height;
  out.rgba.resize(static_cast<size_t>(out.width) * out.height * 4);
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      Fetch(px, x, y, &out.rgba[(static_cast<size_t>(y) * out.width + x) * 4]);
    }
  }
  return out;
}

const float* LogoPlacement::SourceLine(bool along_row, int index, SampleCache* cache) const {
  for (SampleCache::Line& line : cache->lines) {
    if (line.along_row == along_row && line.index == index) return line.rgba.data();
  }
  SampleCache::Line& line = cache->lines[cache->next];
  cache->next ^= 1;
  const int len = along_row ? logo_.width : logo_.height;
  line.along_row = along_row;
  line.index = index;
  line.rgba.resize(static_cast<size_t>(len) * 4);
  for (int i = 0; i < len; ++i) {
    Fetch(logo_, along_row ? i : index, along_row ? index : i,
          &line.rgba[static_cast<size_t>(i) * 4]);
  }
  return line.rgba.data();
}

void LogoPlacement::SampleRow(int y, int x0, int x1, float* out, SampleCache* cache) const {
  // A stored row is a visual row (orientations 1-4) or a visual column (5-8). Either way the
  // resampling is separable: first interpolate the logo across that line at each of its taps
  // (giving lines of the logo's own length), then along the lines for each pixel.
  int u, v, u1, v1;
  StoredToVisual(orientation_, stored_w_, stored_h_, x0, y, &u, &v);
  StoredToVisual(orientation_, stored_w_, stored_h_, x0 + 1, y, &u1, &v1);
  const bool along_row = v1 == v;                // the stored row is a visual row
  const int step = along_row ? u1 - u : v1 - v;  // +1 or -1 per stored pixel
  const int fixed = along_row ? v - v0_ : u - u0_;
  const int start = along_row ? u - u0_ : v - v0_;
  const std::vector<Tap>& across = along_row ? ytaps_ : xtaps_;
  const std::vector<Tap>& along = along_row ? xtaps_ : ytaps_;
  const int k_across = along_row ? ky_ : kx_, k_along = along_row ? kx_ : ky_;
  const int len = along_row ? logo_.width : logo_.height;

  // lines[(t * len + i) * 4]: the logo interpolated across at tap t, at pixel i along the line.
  std::vector<float>& lines = cache->across;
  lines.resize(static_cast<size_t>(k_across) * len * 4);
  for (int t = 0; t < k_across; ++t) {
    const Tap& tap = across[static_cast<size_t>(fixed) * k_across + t];
    float* line = &lines[static_cast<size_t>(t) * len * 4];
    // Consecutive rows mostly interpolate between the same two logo lines: keep them.
    const float* a = SourceLine(along_row, tap.i0, cache);
    const float* b = SourceLine(along_row, tap.i1, cache);
    for (int i = 0; i < len * 4; ++i) line[i] = a[i] * (1 - tap.w) + b[i] * tap.w;
  }
  if (k_across == 1 && k_along == 1 && opacity_ == 1.0f) {
    // Enlarging, fully opaque: one tap each way (the usual built-in logo on a photo).
    for (int j = 0; j < x1 - x0; ++j, out += 4) {
      const Tap& tap = along[static_cast<size_t>(start + j * step)];
      const float* a = &lines[static_cast<size_t>(tap.i0) * 4];
      const float* b = &lines[static_cast<size_t>(tap.i1) * 4];
      for (int c = 0; c < 4; ++c) out[c] = (0.0f + (a[c] * (1 - tap.w) + b[c] * tap.w)) * norm_;
    }
    return;
  }
  for (int j = 0; j < x1 - x0; ++j, out += 4) {
    const int l = start + j * step;
    float acc[4] = {0, 0, 0, 0};
    for (int t = 0; t < k_across; ++t) {
      const float* line = &lines[static_cast<size_t>(t) * len * 4];
      for (int s = 0; s < k_along; ++s) {
        const Tap& tap = along[static_cast<size_t>(l) * k_along + s];
        const float* a = &line[tap.i0 * 4];
        const float* b = &line[tap.i1 * 4];
        for (int c = 0; c < 4; ++c) acc[c] += a[c] * (1 - tap.w) + b[c] * tap.w;
      }
    }
    for (int c = 0; c < 4; ++c) out[c] = acc[c] * norm_;
    if (opacity_ < 1.0f) {
      for (int c = 0; c < 4; ++c) out[c] *= opacity_;
    }
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
    const RawLogo builtin = BuiltinLogoPixels();
    placed.logo_.width = builtin.width;
    placed.logo_.height = builtin.height;
    placed.logo_.rgba8 = builtin.rgba;
  } else {
    DAT_ASSIGN_OR_RETURN(placed.logo_, LoadLogo(options.logo_png));
  }
  const int logo_w = placed.logo_.width, logo_h = placed.logo_.height;
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
  // The taps of the resampling, per visual column and row (see SampleRow).
  auto taps = [](int source, int target, int* k, std::vector<LogoPlacement::Tap>* out) {
    const double f = static_cast<double>(source) / target;
    *k = std::max(1, static_cast<int>(std::ceil(f)));
    out->resize(static_cast<size_t>(target) * *k);
    for (int t = 0; t < target; ++t) {
      for (int s = 0; s < *k; ++s) {
        const double p = std::clamp((t + (s + 0.5) / *k) * f - 0.5, 0.0, source - 1.0);
        const int i0 = static_cast<int>(p);
        (*out)[static_cast<size_t>(t) * *k + s] = {i0, std::min(i0 + 1, source - 1),
                                                   static_cast<float>(p - i0)};
      }
    }
  };
  taps(logo_w, lw, &placed.kx_, &placed.xtaps_);
  taps(logo_h, lh, &placed.ky_, &placed.ytaps_);
  placed.norm_ = 1.0f / (placed.kx_ * placed.ky_);
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
  LogoPlacement::SampleCache cache;
  for (int y = 0; y < r.height; ++y) {
    placement.SampleRow(placed.box.y + y, placed.box.x, placed.box.x + r.width,
                        &r.rgba[static_cast<size_t>(y) * r.width * 4], &cache);
  }
  return placed;
}

}  // namespace image::internal
