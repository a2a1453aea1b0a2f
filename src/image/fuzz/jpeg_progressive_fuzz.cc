// libFuzzer target for the progressive splice alone (build with clang and -DDAT_FUZZ=ON, as
// watermark_fuzz.cc), best seeded with small progressive files of several encoders:
//
//   build-fuzz/bin/jpeg_progressive_fuzz -max_total_time=300 CORPUS_DIR
//
// Every input must give a value or a fallback, never a crash, a leak or a read out of bounds.
// A file the splice writes must be one the splice reads again (every scan walks cleanly, the
// script is complete), with the same size.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "image/jpeg_parse.h"
#include "image/jpeg_progressive.h"
#include "image/watermark.h"

namespace {

class StringSink : public image::OutputSink {
 public:
  common::Status Write(std::string_view bytes) override {
    out.append(bytes);
    return common::Status::Ok();
  }
  std::string out;
};

// True when the splice took the file (and wrote it into *out).
bool Splice(std::string_view input, std::string* out, image::WatermarkResult* result) {
  auto header = image::internal::ParseJpegHeader(input);
  if (!header.ok() || header->sof != 0xC2 || header->height == 0) return false;
  if (static_cast<uint64_t>(header->width) * header->height > 4'000'000) return false;
  image::WatermarkOptions options;
  options.scale = 0.3;
  options.margin = 2;
  StringSink sink;
  image::internal::EntropyFallback fallback;
  auto done =
      image::internal::WatermarkJpegProgressive(input, *header, options, &sink, result, &fallback);
  if (!done.ok() || !*done) return false;
  *out = std::move(sink.out);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string out, again;
  image::WatermarkResult first, second;
  if (!Splice(input, &out, &first)) return 0;
  if (!Splice(out, &again, &second) || second.width != first.width ||
      second.height != first.height) {
    __builtin_trap();
  }
  return 0;
}
