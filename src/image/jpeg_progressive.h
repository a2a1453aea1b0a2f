// Internal: the entropy-level splice for progressive Huffman JPEGs.
#pragma once

#include <string_view>

#include "common/status.h"
#include "image/jpeg_entropy.h"
#include "image/jpeg_parse.h"
#include "image/watermark.h"

namespace image::internal {

// Watermarks a progressive (SOF2), 8-bit, Huffman-coded JPEG at the entropy-coded level and
// streams the new file, still progressive with the very same scans, into `sink`. Every scan is
// walked once without storing coefficients, except for the blocks under the logo; those are
// composited and re-encoded in each scan (first and refinement passes, EOB runs cut where the
// logo's blocks begin and end) and everything else is copied as compressed bits. Huffman tables
// get codes for every symbol a scan may need (a DHT before its SOS); occurrences of codes that
// changed are written again. Memory: 8 bytes per block (which coefficients are non-zero so far,
// needed to read refinement scans) plus the logo's blocks.
//
// Returns true when the file was written and *result filled (its `data` left empty); false,
// with *fallback filled and nothing written, when the file should take the coefficient path
// (unsupported scan scripts, corrupt data: that path reports it); an error only when the sink
// fails.
common::Result<bool> WatermarkJpegProgressive(std::string_view input, const JpegHeader& header,
                                              const WatermarkOptions& options, OutputSink* sink,
                                              WatermarkResult* result, EntropyFallback* fallback);

}  // namespace image::internal
