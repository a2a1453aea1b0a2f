// watermark: stamps the project's logo (or another PNG) into a corner of an image (JPEG, PNG,
// WebP, GIF, HEIF/AVIF, BMP, TIFF: the format is read from the content).
//
//   watermark INPUT OUTPUT [--format F] [--logo PNG] [--gravity G] [--margin PX] [--scale F]
//             [--opacity A] [--max-pixels N] [--max-decoded-bytes N] [--keep-metadata] [--json]
//
// The output format is --format, else OUTPUT's extension (out.jpg, out.png, out.webp,
// out.gif), else the input's own where X accepts it (JPEG for HEIF/AVIF/BMP/TIFF). INPUT and
// OUTPUT may be "-" for stdin/stdout. Exits non-zero with a message on any error.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/log.h"
#include "common/version.h"
#include "image/watermark.h"
#include "image/watermark_flags.h"

namespace {

// The bytes of a file, mapped read-only (no copy), or of stdin, read into memory.
class Input {
 public:
  ~Input() {
    if (map_ != nullptr) munmap(map_, size_);
  }
  common::Status Open(const std::string& path) {
    if (path == "-") {
      std::ostringstream ss;
      ss << std::cin.rdbuf();
      owned_ = ss.str();
      view_ = owned_;
      return common::Status::Ok();
    }
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return common::NotFound("cannot open " + path + ": " + std::strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return common::InvalidArgument(path + " is not a regular file");
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
      void* map = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
      if (map == MAP_FAILED) {
        ::close(fd);
        return common::Internal("cannot map " + path);
      }
      map_ = map;
      view_ = std::string_view(static_cast<const char*>(map), size_);
    }
    ::close(fd);
    return common::Status::Ok();
  }
  std::string_view bytes() const { return view_; }

 private:
  void* map_ = nullptr;
  size_t size_ = 0;
  std::string owned_;
  std::string_view view_;
};

// Writes the output as it comes: to stdout, or to a file created on the first write (so that a
// rejected input leaves no empty file behind). Unchanged stretches of the input are written
// straight from its mapping, so the output is never held in memory as a whole.
class FileSink : public image::OutputSink {
 public:
  explicit FileSink(std::string path) : path_(std::move(path)) {}
  ~FileSink() override {
    if (fd_ > 1) ::close(fd_);
  }
  common::Status Write(std::string_view bytes) override {
    if (fd_ < 0) {
      fd_ =
          path_ == "-" ? 1 : ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd_ < 0) return common::Internal("cannot create " + path_ + ": " + std::strerror(errno));
    }
    while (!bytes.empty()) {
      const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return common::Internal("cannot write " + Name() + ": " + std::strerror(errno));
      bytes.remove_prefix(static_cast<size_t>(n));
      written_ += static_cast<size_t>(n);
    }
    return common::Status::Ok();
  }
  // Closes the file (creating it if nothing was written).
  common::Status Finish() {
    if (fd_ < 0) DAT_RETURN_IF_ERROR(Write({}));
    if (fd_ > 1) {
      const int fd = fd_;
      fd_ = -1;
      if (::close(fd) != 0) return common::Internal("cannot write " + Name());
    }
    return common::Status::Ok();
  }
  size_t written() const { return written_; }

 private:
  std::string Name() const { return path_ == "-" ? "to stdout" : path_; }
  std::string path_;
  int fd_ = -1;
  size_t written_ = 0;
};

nlohmann::json BoxJson(const image::Box& b) {
  return {{"x", b.x}, {"y", b.y}, {"width", b.width}, {"height", b.height}};
}

}  // namespace

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  CLI::App app{
      "Stamp a logo into a corner of an image (JPEG, PNG, WebP, GIF, HEIF/AVIF, BMP, TIFF). "
      "JPEGs are edited in the DCT domain: only the 8x8 blocks under the logo change. GPS "
      "data is removed from the metadata unless --keep-metadata."};
  std::string input, output, logo_path, gravity_name = "southeast", format_name;
  image::WatermarkOptions options;
  bool json = false, no_entropy = false, one_thread = false;
  app.add_option("INPUT", input, "Input image file (format read from its content), or - for stdin")
      ->required();
  app.add_option("OUTPUT", output,
                 "Output file, or - for stdout. Its extension (.jpg, .png, .webp, .gif) chooses "
                 "the format; otherwise the input's format where X accepts it, else JPEG")
      ->required();
  app.add_option("--format", format_name,
                 "Output format (jpeg, png, webp, gif), over OUTPUT's extension");
  image::AddWatermarkFlags(app, &options, &gravity_name, &logo_path);
  app.add_option("--max-pixels", options.max_pixels,
                 "Refuse images declaring more pixels than this (decompression bombs)")
      ->capture_default_str();
  app.add_option("--max-decoded-bytes", options.max_decoded_bytes,
                 "Refuse images whose decoder would hold more decoded bytes than this at once")
      ->capture_default_str();
  app.add_flag("--keep-metadata", options.keep_metadata,
               "Keep GPS data (EXIF GPS IFD, XMP location) in the output; removed by default");
  app.add_flag("--json", json,
               "Print a JSON summary (path taken, logo box, sizes) to stdout, or to stderr when "
               "OUTPUT is -");
  app.add_flag("--keep-progressive", options.keep_progressive,
               "When a progressive JPEG falls back to the coefficient path, keep it progressive "
               "(slower); by default it is then written as a sequential JPEG: identical pixels");
  app.add_flag("--one-thread", one_thread,
               "Walk a baseline JPEG's scan on one thread (same output; for comparisons)");
  app.add_flag("--no-entropy", no_entropy,
               "Force the libjpeg coefficient path even for baseline JPEGs (for comparisons)");
  std::string log_level = "warn", log_format = "text";
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  app.add_option("--log-format", log_format, "text|json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.set_version_flag("--version", std::string("watermark ") + common::kVersion);
  CLI11_PARSE(app, argc, argv);
  common::InitLogging({"watermark", log_level, log_format == "json"});

  auto gravity = image::ParseGravity(gravity_name);
  if (!gravity.ok()) {
    std::cerr << "watermark: " << gravity.status().message() << "\n";
    return 2;
  }
  options.gravity = *gravity;
  options.allow_entropy_path = !no_entropy;
  if (one_thread) options.scan_threads = image::ScanThreads::kOne;
  if (!format_name.empty()) {
    options.output_format = image::FormatFromExtension("." + format_name);
    if (!image::PostableFormat(options.output_format)) {
      std::cerr << "watermark: --format must be jpeg, png, webp or gif\n";
      return 2;
    }
  } else if (output != "-") {
    const image::ImageFormat named = image::FormatFromExtension(output);
    if (named != image::ImageFormat::kUnknown && !image::PostableFormat(named)) {
      std::cerr << "watermark: cannot write " << image::ImageFormatName(named)
                << " (OUTPUT may be .jpg, .png, .webp or .gif)\n";
      return 2;
    }
    options.output_format = named;
  }
  Input logo;
  if (!logo_path.empty()) {
    common::Status read = logo.Open(logo_path);
    if (!read.ok()) {
      std::cerr << "watermark: logo: " << read.message() << "\n";
      return 1;
    }
    options.logo_png = logo.bytes();
    if (options.logo_png.empty()) {
      std::cerr << "watermark: logo: " << logo_path << " is empty\n";
      return 1;
    }
  }
  Input data;
  common::Status read = data.Open(input);
  if (!read.ok()) {
    std::cerr << "watermark: " << read.message() << "\n";
    return 1;
  }
  FileSink sink(output);
  auto result = image::WatermarkTo(data.bytes(), options, &sink);
  if (!result.ok()) {
    std::cerr << "watermark: " << input << ": " << result.status().ToString() << "\n";
    return 1;
  }
  common::Status written = sink.Finish();
  if (!written.ok()) {
    std::cerr << "watermark: " << written.message() << "\n";
    return 1;
  }
  if (json) {
    nlohmann::json j = {{"format", image::ImageFormatName(result->format)},
                        {"input_format", image::ImageFormatName(result->input_format)},
                        {"frames", result->frames},
                        {"location_removed", result->location_removed},
                        {"path", image::WatermarkPathName(result->path)},
                        {"width", result->width},
                        {"height", result->height},
                        {"orientation", result->orientation},
                        {"input_bytes", data.bytes().size()},
                        {"output_bytes", sink.written()},
                        {"logo_box", BoxJson(result->logo_box)},
                        {"changed_box", BoxJson(result->changed_box)}};
    if (!result->fallback_reason.empty()) j["fallback_reason"] = result->fallback_reason;
    if (result->path == image::WatermarkPath::kEntropy) {
      j["scan_threads"] = result->scan_threads;
      j["second_thread_mcus"] = result->second_thread_mcus;
    }
    (output == "-" ? std::cerr : std::cout) << j.dump() << "\n";
  }
  return 0;
}
