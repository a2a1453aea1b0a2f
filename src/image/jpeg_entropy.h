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
  bool need_new_tables = false;  // the file's Huffman tables cannot take the codes needed
};

// Watermarks a baseline, single-scan, Huffman-coded JPEG at the entropy-coded level and streams
// the new file into `sink`. Only the MCUs under the logo are decoded to coefficients,
// composited and re-encoded (with the file's own Huffman tables; where they lack codes, a DHT
// before the scan completes them and every occurrence of a code that changed is written again),
// plus the one MCU after each run of them, whose DC differences change. Everything else is copied
// as compressed bits: the bytes before the first touched MCU and every restart interval the logo
// misses verbatim, the rest bit-shifted. The Huffman data is decoded only to find where MCUs start
// and to track the DC predictors; no coefficients are kept.
//
// A large scan without restart markers is walked by two threads (options.scan_threads): a
// second one, started in its middle, skips to the end and codes some of the logo's rows; both
// are joined before this returns, and the output is the same as with one.
//
// A progressive Huffman file (SOF2) is handed to WatermarkJpegProgressive (jpeg_progressive.h).
//
// Returns true when the file was written and *result filled (its `data` left empty); false,
// with *fallback filled and nothing written, when the file should take the coefficient path
// (which also reports corrupt data properly); an error only when the sink fails.
common::Result<bool> WatermarkJpegEntropy(std::string_view input, const JpegHeader& header,
                                          const WatermarkOptions& options, OutputSink* sink,
                                          WatermarkResult* result, EntropyFallback* fallback);

}  // namespace image::internal
