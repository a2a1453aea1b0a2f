// libFuzzer target for the engine's entry points (build with clang and -DDAT_FUZZ=ON):
//
//   cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang \
//         -DDAT_FUZZ=ON -DDAT_SANITIZE=ON && cmake --build build-fuzz --target image_fuzz
//   build-fuzz/bin/image_fuzz -max_total_time=60 -rss_limit_mb=2048 CORPUS_DIR
//
// Every input must give a value or an error, never a crash, a leak or unbounded memory; a
// JPEG the engine accepts must come out as a JPEG whose headers parse. On the entropy path the
// scan is also split between two threads (ScanThreads::kTwo), which must give the one-thread
// outcome byte for byte.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "image/watermark.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)image::Probe(input);
  image::WatermarkOptions options;
  options.max_pixels = 2'000'000;  // keeps each run small; the limit itself is under test
  options.scale = 0.3;
  options.margin = 2;
  options.allow_entropy_path = (size & 1) == 0;  // both JPEG paths
  options.scan_threads = image::ScanThreads::kOne;
  auto result = image::Watermark(input, options);
  if (options.allow_entropy_path) {
    options.scan_threads = image::ScanThreads::kTwo;
    auto two = image::Watermark(input, options);
    if (result.ok() != two.ok() ||
        (result.ok() ? result->data != two->data || result->path != two->path
                     : result.status().ToString() != two.status().ToString())) {
      __builtin_trap();
    }
  }
  if (result.ok() && result->format == image::ImageFormat::kJpeg) {
    auto again = image::Probe(result->data);
    if (!again.ok() || again->width != result->width || again->height != result->height) {
      __builtin_trap();
    }
  }
  return 0;
}
