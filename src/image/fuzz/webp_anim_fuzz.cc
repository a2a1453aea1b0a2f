// libFuzzer target for animated WebP (webp_anim.cc): the RIFF chunk walk that checks the limits,
// WebPAnimDecoder, the logo on every frame, WebPAnimEncoder, and the first-frame path of the
// JPEG fallback and conversions.
//
//   cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang \
//         -DDAT_FUZZ=ON -DDAT_SANITIZE=ON && cmake --build build-fuzz --target webp_anim_fuzz
//   build-fuzz/bin/webp_anim_fuzz -max_total_time=120 -rss_limit_mb=1024 CORPUS_DIR
//
// Seed the corpus with small animated WebPs (img2webp, ImageMagick, Pillow save_all=True).
// Inputs that are not animated WebPs are skipped. Every input must give a value or an error,
// never a crash, a leak or memory beyond the limits; an accepted input must come out as a file
// whose header the engine reads back with the size it reported.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "image/watermark.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // A VP8X chunk with the animation flag.
  if (size < 21 || input.substr(0, 4) != "RIFF" || input.substr(8, 4) != "WEBP" ||
      input.substr(12, 4) != "VP8X" || (data[20] & 0x02) == 0) {
    return 0;
  }
  (void)image::Probe(input);
  image::WatermarkOptions options;
  options.max_pixels = 1'000'000;  // keeps each run small; the limits themselves are under test
  options.max_decoded_bytes = 32u << 20;
  options.max_animated_webp_bytes = 1u << 20;
  options.scale = 0.3;
  options.margin = 2;
  for (image::ImageFormat format : {image::ImageFormat::kUnknown, image::ImageFormat::kJpeg}) {
    options.output_format = format;
    auto result = image::Watermark(input, options);
    if (!result.ok()) continue;
    auto again = image::Probe(result->data);
    if (!again.ok() || again->width != result->width || again->height != result->height) {
      __builtin_trap();
    }
  }
  return 0;
}
