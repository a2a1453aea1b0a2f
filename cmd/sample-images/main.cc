// sample-images: writes photo-like JPEGs for the demo and the benchmarks, so nothing is
// downloaded. Each image is a different landscape (sky, sun, hills, texture).
// jpeglib.h needs <cstdio> (FILE, size_t) first.
#include <cstddef>
#include <cstdio>
// clang-format off
#include <jpeglib.h>
// clang-format on

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace {

struct Rgb {
  double r, g, b;
};

// Renders one landscape into an RGB buffer. `seed` varies palette and shapes.
std::vector<unsigned char> Render(int w, int h, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::normal_distribution<double> noise(0, 6);
  Rgb sky_top{40 + 60 * u(rng), 90 + 60 * u(rng), 170 + 60 * u(rng)};
  Rgb sky_low{200 + 40 * u(rng), 170 + 50 * u(rng), 140 + 60 * u(rng)};
  Rgb hill{40 + 60 * u(rng), 90 + 70 * u(rng), 40 + 40 * u(rng)};
  double sun_x = w * (0.2 + 0.6 * u(rng)), sun_y = h * (0.15 + 0.2 * u(rng));
  double sun_r = std::min(w, h) * (0.05 + 0.05 * u(rng));
  double f1 = 2 + 3 * u(rng), f2 = 5 + 7 * u(rng), ph = 6.28 * u(rng);
  std::vector<unsigned char> px(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y) {
    double t = static_cast<double>(y) / h;
    for (int x = 0; x < w; ++x) {
      double s = static_cast<double>(x) / w;
      double ridge = 0.55 + 0.08 * std::sin(s * f1 * 3.14 + ph) + 0.03 * std::sin(s * f2 * 3.14);
      Rgb c;
      if (t < ridge) {
        double k = t / ridge;
        c = {sky_top.r + (sky_low.r - sky_top.r) * k, sky_top.g + (sky_low.g - sky_top.g) * k,
             sky_top.b + (sky_low.b - sky_top.b) * k};
        double d = std::hypot(x - sun_x, y - sun_y);
        if (d < sun_r)
          c = {255, 240, 180};
        else if (d < sun_r * 2.5) {
          double glow = 1 - (d - sun_r) / (sun_r * 1.5);
          c.r += (255 - c.r) * glow * 0.5;
          c.g += (230 - c.g) * glow * 0.5;
          c.b += (170 - c.b) * glow * 0.3;
        }
      } else {
        double k = (t - ridge) / (1 - ridge);
        double grass = 0.5 + 0.5 * std::sin(x * 0.21 + y * 0.05) * std::sin(y * 0.33);
        c = {hill.r * (1 - 0.5 * k) + 20 * grass, hill.g * (1 - 0.4 * k) + 25 * grass,
             hill.b * (1 - 0.5 * k) + 10 * grass};
      }
      size_t i = (static_cast<size_t>(y) * w + x) * 3;
      px[i] = static_cast<unsigned char>(std::clamp(c.r + noise(rng), 0.0, 255.0));
      px[i + 1] = static_cast<unsigned char>(std::clamp(c.g + noise(rng), 0.0, 255.0));
      px[i + 2] = static_cast<unsigned char>(std::clamp(c.b + noise(rng), 0.0, 255.0));
    }
  }
  return px;
}

bool WriteJpeg(const std::string& path, const std::vector<unsigned char>& px, int w, int h,
               int quality, bool progressive) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  jpeg_compress_struct cinfo;
  jpeg_error_mgr jerr;
  cinfo.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&cinfo);
  jpeg_stdio_dest(&cinfo, f);
  cinfo.image_width = static_cast<JDIMENSION>(w);
  cinfo.image_height = static_cast<JDIMENSION>(h);
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  if (progressive) jpeg_simple_progression(&cinfo);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row =
        const_cast<unsigned char*>(&px[static_cast<size_t>(cinfo.next_scanline) * w * 3]);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return std::fclose(f) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sample-images: writes photo-like JPEG files (landscapes) for demos and benchmarks"};
  std::string dir;
  int count = 3, width = 1600, height = 1200, quality = 90;
  unsigned seed = 1;
  bool progressive = false;
  std::string prefix = "sample";
  app.add_option("DIR", dir, "Output directory (must exist)")->required();
  app.add_option("--count", count, "Number of images")->capture_default_str();
  app.add_option("--width", width, "Width in pixels")->capture_default_str();
  app.add_option("--height", height, "Height in pixels")->capture_default_str();
  app.add_option("--quality", quality, "JPEG quality 1-100")->capture_default_str();
  app.add_option("--seed", seed, "First random seed (image i uses seed+i)")->capture_default_str();
  app.add_option("--prefix", prefix, "File name prefix (files are PREFIX-N.jpg)")
      ->capture_default_str();
  app.add_flag("--progressive", progressive, "Write progressive JPEGs");
  CLI11_PARSE(app, argc, argv);
  if (count < 1 || width < 16 || height < 16 || width > 20000 || height > 20000 || quality < 1 ||
      quality > 100) {
    std::fprintf(stderr,
                 "sample-images: count ≥ 1, 16 ≤ width/height ≤ 20000, 1 ≤ quality ≤ 100\n");
    return 2;
  }
  for (int i = 1; i <= count; ++i) {
    std::string path = dir + "/" + prefix + "-" + std::to_string(i) + ".jpg";
    auto px = Render(width, height, seed + static_cast<unsigned>(i));
    if (!WriteJpeg(path, px, width, height, quality, progressive)) {
      std::fprintf(stderr, "sample-images: cannot write %s\n", path.c_str());
      return 1;
    }
    std::printf("%s\n", path.c_str());
  }
  return 0;
}
