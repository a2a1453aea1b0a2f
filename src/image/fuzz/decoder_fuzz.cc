// libFuzzer targets for the decoders of the pixel path, one binary per format (the format is
// fixed at build time by DAT_FUZZ_FORMAT, a value of image::ImageFormat; see CMakeLists.txt):
//
//   cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang \
//         -DDAT_FUZZ=ON -DDAT_SANITIZE=ON && cmake --build build-fuzz --target heif_fuzz
//   build-fuzz/bin/heif_fuzz -max_total_time=120 -rss_limit_mb=1024 CORPUS_DIR
//
// Inputs of another format are skipped, so the fuzzer spends its time on one decoder: seed
// the corpus with small files of that format. Every input must give a value or an error,
// never a crash, a leak or memory beyond the limits; an accepted input must come out as a file
// whose header the engine reads back with the size it reported.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "image/watermark.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (image::SniffFormat(input) != static_cast<image::ImageFormat>(DAT_FUZZ_FORMAT)) return 0;
  (void)image::Probe(input);
  image::WatermarkOptions options;
  options.max_pixels = 1'000'000;  // keeps each run small; the limits themselves are under test
  options.max_decoded_bytes = 16u << 20;
  options.max_gif_bytes = 1u << 20;
  options.scale = 0.3;
  options.margin = 2;
  auto result = image::Watermark(input, options);
  if (result.ok()) {
    auto again = image::Probe(result->data);
    if (!again.ok() || again->width != result->width || again->height != result->height) {
      __builtin_trap();
    }
  }
  return 0;
}
