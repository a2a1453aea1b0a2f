// Helper for bench/watermark/run.
//
//   watermark_bench_tool inputs DIR      photo-like 4000x3000 inputs (and photo.ppm, for the
//                                        other encoders), the logo pre-scaled to
//                                        the size and place the engine uses (for the other
//                                        tools), and DIR/geometry ("X Y")
//   watermark_bench_tool outside IN OUT X Y W H
//                                        PSNR (dB, 99 = identical) of OUT against IN outside
//                                        the box, decoded with libjpeg/libpng
//   watermark_bench_tool time FILE [RUNS] [GRAVITY]
//                                        in-process time of image::Watermark on FILE
//                                        (no process start-up or I/O): min and median ms;
//                                        SCAN_THREADS=1|2 forces WatermarkOptions::scan_threads
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "image/logo.h"
#include "image/png_codec.h"
#include "image/test_images.h"
#include "image/watermark.h"

namespace {

using image::testing::Decoded;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Write(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

int Inputs(const std::string& dir) {
  const int w = 4000, h = 3000;
  image::testing::JpegSpec spec;
  spec.width = w;
  spec.height = h;
  spec.quality = 94;
  const auto pixels = image::testing::MakePixels(w, h, 3, image::testing::Pattern::kPhoto, 7);
  Write(dir + "/photo.jpg", image::testing::MakeJpegFromPixels(spec, pixels));
  spec.restart_rows = 1;
  Write(dir + "/photo_rst.jpg", image::testing::MakeJpegFromPixels(spec, pixels));
  spec.restart_rows = 0;
  spec.progressive = true;
  Write(dir + "/photo_prog.jpg", image::testing::MakeJpegFromPixels(spec, pixels));
  // The same picture for the other encoders (bench/watermark/run): ImageMagick, cjpeg, Pillow.
  std::string ppm = "P6\n" + std::to_string(w) + " " + std::to_string(h) + "\n255\n";
  ppm.append(reinterpret_cast<const char*>(pixels.data()), pixels.size());
  Write(dir + "/photo.ppm", ppm);

  image::internal::PngPixels png;
  png.header.width = w;
  png.header.height = h;
  png.header.bit_depth = 8;
  png.header.color_type = 2;
  png.pixels8.resize(static_cast<size_t>(w) * h * 4);
  for (size_t i = 0, j = 0; i < pixels.size(); i += 3, j += 4) {
    png.pixels8[j] = pixels[i];
    png.pixels8[j + 1] = pixels[i + 1];
    png.pixels8[j + 2] = pixels[i + 2];
    png.pixels8[j + 3] = 255;
  }
  Write(dir + "/photo.png", image::internal::EncodePng(png, 3, {}).value());

  // The logo exactly as the engine places it by default, for the other tools.
  auto placed = image::internal::PrepareLogo(w, h, 1, image::WatermarkOptions{});
  if (!placed.ok()) return 1;
  image::internal::PngPixels logo;
  logo.header.width = placed->box.width;
  logo.header.height = placed->box.height;
  logo.header.bit_depth = 8;
  logo.header.color_type = 6;
  logo.pixels8.resize(static_cast<size_t>(logo.header.width) * logo.header.height * 4);
  for (int i = 0; i < logo.header.width * logo.header.height; ++i) {
    const float* px = &placed->raster.rgba[i * 4];
    const float a = px[3];
    for (int c = 0; c < 3; ++c) {
      logo.pixels8[i * 4 + c] = static_cast<uint8_t>(a > 0 ? px[c] / a * 255 + 0.5f : 0);
    }
    logo.pixels8[i * 4 + 3] = static_cast<uint8_t>(a * 255 + 0.5f);
  }
  Write(dir + "/logo.png", image::internal::EncodePng(logo, 4, {}).value());
  Write(dir + "/geometry",
        std::to_string(placed->box.x) + " " + std::to_string(placed->box.y) + "\n");
  return 0;
}

Decoded Load(const std::string& path) {
  const std::string data = Slurp(path);
  if (data.size() > 2 && static_cast<unsigned char>(data[0]) == 0xFF) {
    return image::testing::DecodeJpeg(data);
  }
  return image::testing::DecodePngRgba(data);
}

int Outside(char** argv) {
  const Decoded a = Load(argv[2]), b = Load(argv[3]);
  const int x0 = std::stoi(argv[4]), y0 = std::stoi(argv[5]);
  const int x1 = x0 + std::stoi(argv[6]), y1 = y0 + std::stoi(argv[7]);
  if (a.pixels.empty() || a.pixels.size() != b.pixels.size()) {
    std::printf("n/a\n");
    return 1;
  }
  double se = 0;
  size_t n = 0;
  for (int y = 0; y < a.height; ++y) {
    for (int x = 0; x < a.width; ++x) {
      if (x >= x0 && x < x1 && y >= y0 && y < y1) continue;
      for (int c = 0; c < a.channels; ++c) {
        const size_t i = (static_cast<size_t>(y) * a.width + x) * a.channels + c;
        const double d = static_cast<double>(a.pixels[i]) - b.pixels[i];
        se += d * d;
        ++n;
      }
    }
  }
  if (se == 0) {
    std::printf("identical\n");
  } else {
    std::printf("%.1f dB\n", 10 * std::log10(255.0 * 255.0 / (se / n)));
  }
  return 0;
}

int Time(int argc, char** argv) {
  const std::string input = Slurp(argv[2]);
  const int runs = argc > 3 ? std::stoi(argv[3]) : 20;
  image::WatermarkOptions options;
  if (argc > 4) options.gravity = image::ParseGravity(argv[4]).value();
  // SCAN_THREADS=1 or 2 forces WatermarkOptions::scan_threads (default: automatic).
  const char* threads = std::getenv("SCAN_THREADS");
  if (threads != nullptr && std::string(threads) == "1") {
    options.scan_threads = image::ScanThreads::kOne;
  } else if (threads != nullptr && std::string(threads) == "2") {
    options.scan_threads = image::ScanThreads::kTwo;
  }
  std::vector<double> ms;
  int scan_threads = 0, second_mcus = 0, second_rows = 0;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto result = image::Watermark(input, options);
    const auto t1 = std::chrono::steady_clock::now();
    if (!result.ok()) {
      std::fprintf(stderr, "%s\n", result.status().ToString().c_str());
      return 1;
    }
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    scan_threads = result->scan_threads;
    second_mcus = result->second_thread_mcus;
    second_rows = result->second_thread_logo_rows;
  }
  std::sort(ms.begin(), ms.end());
  std::printf(
      "min %.1f ms  median %.1f ms  (%d runs; scan threads %d, from the second: %d MCUs, %d "
      "logo rows)\n",
      ms.front(), ms[ms.size() / 2], runs, scan_threads, second_mcus, second_rows);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "inputs" && argc == 3) return Inputs(argv[2]);
  if (cmd == "outside" && argc == 8) return Outside(argv);
  if (cmd == "time" && argc >= 3 && argc <= 5) return Time(argc, argv);
  std::fprintf(stderr,
               "usage: %s inputs DIR | outside IN OUT X Y W H | time FILE [RUNS] [GRAVITY]\n",
               argv[0]);
  return 2;
}
