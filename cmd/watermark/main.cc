// watermark: stamps the project's logo (or another PNG) into a corner of a JPEG or PNG.
//
//   watermark INPUT OUTPUT [--logo PNG] [--gravity G] [--margin PX] [--scale F] [--opacity A]
//             [--max-pixels N] [--json]
//
// INPUT and OUTPUT may be "-" for stdin/stdout. Exits non-zero with a message on any error.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "image/watermark.h"

namespace {

common::Result<std::string> ReadAll(const std::string& path) {
  if (path == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return common::NotFound("cannot open " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

common::Status WriteAll(const std::string& path, const std::string& data) {
  if (path == "-") {
    std::cout.write(data.data(), static_cast<std::streamsize>(data.size()));
    std::cout.flush();
    return std::cout ? common::Status::Ok() : common::Internal("cannot write to stdout");
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.close();
  return out ? common::Status::Ok() : common::Internal("cannot write " + path);
}

nlohmann::json BoxJson(const image::Box& b) {
  return {{"x", b.x}, {"y", b.y}, {"width", b.width}, {"height", b.height}};
}

}  // namespace

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  CLI::App app{
      "Stamp a logo into a corner of a JPEG or PNG. JPEGs are edited in the DCT domain: "
      "only the 8x8 blocks under the logo change."};
  std::string input, output, logo_path, gravity_name = "southeast";
  image::WatermarkOptions options;
  bool json = false, no_entropy = false;
  app.add_option("INPUT", input, "Input JPEG or PNG file, or - for stdin")->required();
  app.add_option("OUTPUT", output, "Output file (same format as the input), or - for stdout")
      ->required();
  app.add_option("--logo", logo_path, "PNG to use as the logo instead of the built-in one");
  app.add_option("--gravity", gravity_name,
                 "Corner as the viewer sees it (EXIF orientation applied): southeast, "
                 "southwest, northeast, northwest or center")
      ->capture_default_str();
  app.add_option("--margin", options.margin, "Distance from the image edges, in pixels")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--scale", options.scale, "Logo width as a fraction of the image width, (0, 1]")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--opacity", options.opacity, "Logo opacity, 0..1 (multiplies its alpha)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--max-pixels", options.max_pixels,
                 "Refuse images declaring more pixels than this (decompression bombs)")
      ->capture_default_str();
  app.add_flag("--json", json,
               "Print a JSON summary (path taken, logo box, sizes) to stdout, or to stderr when "
               "OUTPUT is -");
  app.add_flag("--no-entropy", no_entropy,
               "Force the libjpeg coefficient path even for baseline JPEGs (for comparisons)");
  CLI11_PARSE(app, argc, argv);

  auto gravity = image::ParseGravity(gravity_name);
  if (!gravity.ok()) {
    std::cerr << "watermark: " << gravity.status().message() << "\n";
    return 2;
  }
  options.gravity = *gravity;
  options.allow_entropy_path = !no_entropy;
  std::string logo;
  if (!logo_path.empty()) {
    auto read = ReadAll(logo_path);
    if (!read.ok()) {
      std::cerr << "watermark: logo: " << read.status().message() << "\n";
      return 1;
    }
    logo = std::move(*read);
    options.logo_png = logo;
  }
  auto data = ReadAll(input);
  if (!data.ok()) {
    std::cerr << "watermark: " << data.status().message() << "\n";
    return 1;
  }
  auto result = image::Watermark(*data, options);
  if (!result.ok()) {
    std::cerr << "watermark: " << input << ": " << result.status().ToString() << "\n";
    return 1;
  }
  common::Status written = WriteAll(output, result->data);
  if (!written.ok()) {
    std::cerr << "watermark: " << written.message() << "\n";
    return 1;
  }
  if (json) {
    nlohmann::json j = {{"format", image::ImageFormatName(result->format)},
                        {"path", image::WatermarkPathName(result->path)},
                        {"width", result->width},
                        {"height", result->height},
                        {"orientation", result->orientation},
                        {"input_bytes", data->size()},
                        {"output_bytes", result->data.size()},
                        {"logo_box", BoxJson(result->logo_box)},
                        {"changed_box", BoxJson(result->changed_box)}};
    if (!result->fallback_reason.empty()) j["fallback_reason"] = result->fallback_reason;
    (output == "-" ? std::cerr : std::cout) << j.dump() << "\n";
  }
  return 0;
}
