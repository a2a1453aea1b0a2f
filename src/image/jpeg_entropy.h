// Internal: the entropy-level fast path for baseline Huffman JPEGs.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "image/jpeg_parse.h"
#include "image/watermark.h"

namespace image::internal {

// Why a file cannot take the entropy path; the caller falls back to the coefficient path.
struct EntropyFallback {
  std::string reason;
  bool need_new_tables = false;  // the file's Huffman tables lack a code the logo needs
};

// Watermarks a baseline, single-scan, Huffman-coded JPEG by splicing at the entropy-coded
// level: bytes before the first MCU the logo touches (and, with restart markers, every
// restart interval it does not touch) are copied verbatim; the rest is re-encoded with the
// file's own Huffman tables. On success returns true and fills *result; otherwise returns
// false and fills *fallback (the input is then better served by the coefficient path, which
// also reports corrupt data properly).
bool WatermarkJpegEntropy(std::string_view input, const JpegHeader& header,
                          const WatermarkOptions& options, WatermarkResult* result,
                          EntropyFallback* fallback);

}  // namespace image::internal
