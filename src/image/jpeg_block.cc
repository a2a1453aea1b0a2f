#include "image/jpeg_block.h"

#include <algorithm>
#include <cmath>

namespace image::internal {
namespace {

// kDct[u][x] = c(u)/2 * cos((2x+1) u pi / 16): the orthonormal 8-point DCT-II basis.
struct DctTable {
  float m[8][8];
  DctTable() {
    for (int u = 0; u < 8; ++u) {
      double cu = u == 0 ? std::sqrt(0.5) : 1.0;
      for (int x = 0; x < 8; ++x) {
        m[u][x] = static_cast<float>(cu / 2 * std::cos((2 * x + 1) * u * M_PI / 16));
      }
    }
  }
};
const DctTable kDct;

// The transforms below work on whole rows of 8 contiguous floats, which the compiler
// vectorizes, and use the symmetry of the basis, kDct[u][7 - x] = (-1)^u kDct[u][x], to halve
// the multiplications.

// out = M * in, for 8x8 blocks in row-major order (each output row is a combination of the
// input rows): the even rows of M act on in[x] + in[7 - x], the odd rows on in[x] - in[7 - x].
inline void ColumnsForward(const float* in, float* out) {
  float even[4][8], odd[4][8];
  for (int x = 0; x < 4; ++x) {
    for (int c = 0; c < 8; ++c) {
      even[x][c] = in[x * 8 + c] + in[(7 - x) * 8 + c];
      odd[x][c] = in[x * 8 + c] - in[(7 - x) * 8 + c];
    }
  }
  for (int u = 0; u < 8; ++u) {
    const float(&half)[4][8] = u % 2 == 0 ? even : odd;
    float acc[8] = {};
    for (int x = 0; x < 4; ++x) {
      const float m = kDct.m[u][x];
      for (int c = 0; c < 8; ++c) acc[c] += m * half[x][c];
    }
    for (int c = 0; c < 8; ++c) out[u * 8 + c] = acc[c];
  }
}

// out = M^T * in: for x < 4, out[x] = E + O and out[7 - x] = E - O, where E sums the even
// rows of `in` and O the odd ones, weighted by column x of M.
inline void ColumnsInverse(const float* in, float* out) {
  for (int x = 0; x < 4; ++x) {
    float even[8] = {}, odd[8] = {};
    for (int k = 0; k < 4; ++k) {
      const float me = kDct.m[2 * k][x], mo = kDct.m[2 * k + 1][x];
      for (int c = 0; c < 8; ++c) {
        even[c] += me * in[(2 * k) * 8 + c];
        odd[c] += mo * in[(2 * k + 1) * 8 + c];
      }
    }
    for (int c = 0; c < 8; ++c) {
      out[x * 8 + c] = even[c] + odd[c];
      out[(7 - x) * 8 + c] = even[c] - odd[c];
    }
  }
}

inline void Transpose(const float* in, float* out) {
  for (int r = 0; r < 8; ++r) {
    for (int c = 0; c < 8; ++c) out[c * 8 + r] = in[r * 8 + c];
  }
}

// out = M * in * M^T (forward) on an 8x8 block in natural order: (M * (M * in)^T)^T.
void ForwardDct(const float* in, float* out) {
  float a[64], b[64];
  ColumnsForward(in, a);
  Transpose(a, b);
  ColumnsForward(b, a);
  Transpose(a, out);
}

// out = M^T * in * M (inverse): (M^T * (M^T * in)^T)^T.
void InverseDct(const float* in, float* out) {
  float a[64], b[64];
  ColumnsInverse(in, a);
  Transpose(a, b);
  ColumnsInverse(b, a);
  Transpose(a, out);
}

// Logo colour (straight RGB in [0,1]) to component values on the 0..255 scale.
[[gnu::always_inline]] inline void ToComponents(JpegColor color, bool inverted, const float rgb[3],
                                                float out[4]) {
  const float r = rgb[0] * 255, g = rgb[1] * 255, b = rgb[2] * 255;
  auto ycc = [](float r, float g, float b, float* o) {
    o[0] = 0.299f * r + 0.587f * g + 0.114f * b;
    o[1] = -0.168736f * r - 0.331264f * g + 0.5f * b + 128;
    o[2] = 0.5f * r - 0.418688f * g - 0.081312f * b + 128;
  };
  switch (color) {
    case JpegColor::kGray:
      out[0] = 0.299f * r + 0.587f * g + 0.114f * b;
      return;
    case JpegColor::kYCbCr:
      ycc(r, g, b, out);
      return;
    case JpegColor::kRgb:
      out[0] = r, out[1] = g, out[2] = b;
      return;
    case JpegColor::kCmyk:
    case JpegColor::kYcck: {
      float k = 1 - std::max({rgb[0], rgb[1], rgb[2]});
      float ink[4] = {0, 0, 0, k};
      if (k < 1) {
        for (int i = 0; i < 3; ++i) ink[i] = (1 - rgb[i] - k) / (1 - k);
      }
      float stored[4];
      for (int i = 0; i < 4; ++i) stored[i] = 255 * (inverted ? 1 - ink[i] : ink[i]);
      if (color == JpegColor::kCmyk) {
        std::copy(stored, stored + 4, out);
      } else {
        // libjpeg decodes YCCK as CMY = 255 - RGB(YCC); K passes through.
        ycc(255 - stored[0], 255 - stored[1], 255 - stored[2], out);
        out[3] = stored[3];
      }
      return;
    }
  }
}

}  // namespace

common::Status CheckGeometry(const JpegGeometry& g) {
  if (g.num_components != 1 && g.num_components != 3 && g.num_components != 4) {
    return common::InvalidArgument("unsupported JPEG: " + std::to_string(g.num_components) +
                                   " components");
  }
  for (int c = 0; c < g.num_components; ++c) {
    if (g.h[c] < 1 || g.v[c] < 1 || g.max_h % g.h[c] != 0 || g.max_v % g.v[c] != 0) {
      return common::InvalidArgument("unsupported JPEG chroma sampling");
    }
  }
  return common::Status::Ok();
}

void BuildPlanes(const LogoPlacement& logo, const JpegGeometry& g, JpegColor color,
                 bool adobe_inverted, int y0, int y1, std::vector<ComponentPlane>* planes) {
  const Box& box = logo.box();
  const int n = g.num_components;
  planes->resize(n);
  y0 = std::max(y0, box.y);
  y1 = std::min(y1, box.y + box.height);
  int sy[4];
  float weight[4];
  // column[c * box.width + x]: the sample of component c that logo column x falls in.
  std::vector<int> column(static_cast<size_t>(n) * box.width);
  for (int c = 0; c < n; ++c) {
    const int sx = g.max_h / g.h[c];
    sy[c] = g.max_v / g.v[c];
    weight[c] = 1.0f / (sx * sy[c]);
    ComponentPlane& p = (*planes)[c];
    p.x0 = box.x / sx;
    p.y0 = y0 / sy[c];
    p.width = (box.x + box.width + sx - 1) / sx - p.x0;
    p.height = y1 > y0 ? (y1 + sy[c] - 1) / sy[c] - p.y0 : 0;
    p.premul.assign(static_cast<size_t>(p.width) * p.height, 0.0f);
    p.alpha.assign(p.premul.size(), 0.0f);
    for (int x = 0; x < box.width; ++x) {
      column[static_cast<size_t>(c) * box.width + x] = (box.x + x) / sx - p.x0;
    }
  }
  // Gray, YCbCr and RGB are affine in the colour, so alpha * value comes straight from the
  // premultiplied pixel; CMYK needs the colour itself.
  const bool affine =
      color == JpegColor::kGray || color == JpegColor::kYCbCr || color == JpegColor::kRgb;
  std::vector<float> row(static_cast<size_t>(box.width) * 4);
  LogoPlacement::SampleCache cache;
  for (int y = y0; y < y1; ++y) {
    logo.SampleRow(y, box.x, box.x + box.width, row.data(), &cache);
    float* alpha[4];
    float* premul[4];
    for (int c = 0; c < n; ++c) {
      ComponentPlane& p = (*planes)[c];
      const size_t at = static_cast<size_t>(y / sy[c] - p.y0) * p.width;
      alpha[c] = &p.alpha[at];
      premul[c] = &p.premul[at];
    }
    for (int x = 0; x < box.width; ++x) {
      const float* px = &row[static_cast<size_t>(x) * 4];
      const float a = px[3];
      if (a <= 0) continue;
      float values[4];  // alpha * component value, 0..255 scale
      if (affine) {
        const float one[3] = {px[0], px[1], px[2]};  // premultiplied: "colour" with a = 1
        ToComponents(color, adobe_inverted, one, values);
        if (color == JpegColor::kYCbCr) {
          values[1] += 128 * (a - 1);  // the offsets scale with alpha too
          values[2] += 128 * (a - 1);
        }
      } else {
        const float rgb[3] = {px[0] / a, px[1] / a, px[2] / a};
        ToComponents(color, adobe_inverted, rgb, values);
        for (int c = 0; c < n; ++c) values[c] *= a;
      }
      for (int c = 0; c < n; ++c) {
        const int i = column[static_cast<size_t>(c) * box.width + x];
        alpha[c][i] += a * weight[c];
        premul[c][i] += values[c] * weight[c];
      }
    }
  }
}

McuBox CoveringMcus(const Box& box, const JpegGeometry& g) {
  McuBox m;
  if (box.empty()) return m;
  m.mx0 = box.x / g.mcu_width();
  m.my0 = box.y / g.mcu_height();
  m.mx1 = (box.x + box.width + g.mcu_width() - 1) / g.mcu_width();
  m.my1 = (box.y + box.height + g.mcu_height() - 1) / g.mcu_height();
  return m;
}

Box ChangedBox(const McuBox& m, const JpegGeometry& g) {
  if (m.mx1 <= m.mx0 || m.my1 <= m.my0) return {};
  const int grow = (g.max_h > 1 || g.max_v > 1) && g.num_components > 1 ? 1 : 0;
  int x0 = std::max(0, m.mx0 * g.mcu_width() - grow);
  int y0 = std::max(0, m.my0 * g.mcu_height() - grow);
  int x1 = std::min(g.width, m.mx1 * g.mcu_width() + grow);
  int y1 = std::min(g.height, m.my1 * g.mcu_height() + grow);
  return {x0, y0, x1 - x0, y1 - y0};
}

void SetSplicedResult(const JpegGeometry& g, int orientation, const LogoPlacement& logo,
                      const McuBox& mcus, WatermarkResult* result) {
  result->format = ImageFormat::kJpeg;
  result->path = WatermarkPath::kEntropy;
  result->width = g.width;
  result->height = g.height;
  result->orientation = orientation;
  result->logo_box = logo.box();
  result->changed_box = ChangedBox(mcus, g);
}

bool WatermarkBlock(int16_t* coef, const uint16_t* quant, const ComponentPlane& plane, int bx,
                    int by) {
  const int bx0 = bx * 8, by0 = by * 8;
  const int x0 = std::max(bx0, plane.x0), x1 = std::min(bx0 + 8, plane.x0 + plane.width);
  const int y0 = std::max(by0, plane.y0), y1 = std::min(by0 + 8, plane.y0 + plane.height);
  if (x0 >= x1 || y0 >= y1) return false;
  bool covered = false;
  // Opaque over the whole block: the image underneath does not show, so it need not be
  // decoded (alpha within 1e-4 of 1 changes a sample by less than 0.03).
  bool opaque = x1 - x0 == 8 && y1 - y0 == 8;
  for (int y = y0; y < y1; ++y) {
    const float* a = &plane.alpha[static_cast<size_t>(y - plane.y0) * plane.width];
    for (int x = x0; x < x1; ++x) {
      covered |= a[x - plane.x0] > 0;
      opaque &= a[x - plane.x0] >= 0.9999f;
    }
  }
  if (!covered) return false;

  float f[64], s[64];
  if (opaque) {
    for (int y = 0; y < 8; ++y) {
      const size_t row = static_cast<size_t>(by0 + y - plane.y0) * plane.width + bx0 - plane.x0;
      for (int x = 0; x < 8; ++x) s[y * 8 + x] = plane.premul[row + x] - 128 * plane.alpha[row + x];
    }
  } else {
    for (int i = 0; i < 64; ++i) {
      f[i] = static_cast<float>(coef[i]) * std::max<uint16_t>(quant[i], 1);
    }
    InverseDct(f, s);  // level-shifted samples (value - 128), unclamped so untouched ones survive
    for (int y = y0; y < y1; ++y) {
      const size_t row = static_cast<size_t>(y - plane.y0) * plane.width;
      for (int x = x0; x < x1; ++x) {
        const float a = plane.alpha[row + x - plane.x0];
        const float p = plane.premul[row + x - plane.x0];
        float& v = s[(y - by0) * 8 + (x - bx0)];
        v = p - 128 * a + (1 - a) * v;
      }
    }
  }
  ForwardDct(s, f);
  for (int i = 0; i < 64; ++i) {
    const float q =
        std::clamp(f[i] / std::max<uint16_t>(quant[i], 1), i == 0 ? -1024.0f : -1023.0f, 1023.0f);
    // Round to nearest (ties to even) by the float unit itself: no libm call.
    coef[i] = static_cast<int16_t>((q + 12582912.0f) - 12582912.0f);
  }
  return true;
}

}  // namespace image::internal
