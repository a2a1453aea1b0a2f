// Internal: the pixel pipeline of every format that is decoded to pixels (all but the JPEG
// DCT paths): decode limits, row sources, logo compositing on rows, JPEG/PNG row encoders.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "image/logo.h"
#include "image/rows.h"
#include "image/watermark.h"

namespace image::internal {

// The limits of a WatermarkOptions.
DecodeLimits LimitsOf(const WatermarkOptions& options);

// Composites a placed logo into the rows of `source` as they pass. Both are borrowed.
class LogoRows : public RowSource {
 public:
  LogoRows(RowSource* source, const LogoPlacement* logo);
  common::Status ReadRow(void* rgba) override;

 private:
  RowSource* source_;
  const LogoPlacement* logo_;
  LogoPlacement::SampleCache cache_;
  std::vector<float> line_;
  int next_ = 0;
};

// Composites premultiplied logo pixels (4 floats each) over `n` straight-alpha RGBA pixels.
void BlendRow(uint8_t* rgba, const float* logo, int n);
void BlendRow(uint16_t* rgba, const float* logo, int n);

// Encodes all rows of `source` as a baseline 4:2:0 JPEG of `quality` (alpha is flattened over
// white). The rows are read one at a time; only the compressed output is held.
common::Result<std::string> EncodeJpegRows(RowSource* source, int quality);

// Decodes a JPEG's pixels row by row (libjpeg scanlines, to RGBA8), for conversions to other
// formats. Limits are checked from the header (a progressive JPEG holds its coefficients, 4
// bytes a pixel are counted). `data` must outlive the source.
common::Result<std::unique_ptr<RowSource>> OpenJpegRows(std::string_view data,
                                                        const DecodeLimits& limits);

// Reads every row of `source` into one RGBA8 buffer (16-bit samples are reduced to 8). For
// encoders that need a whole frame (WebP); the caller has checked the byte limit.
common::Result<std::vector<uint8_t>> ReadAllRows8(RowSource* source);

// The pixel path of Watermark/WatermarkTo: every input but a JPEG written as a JPEG. `input`
// is in `format` (sniffed). Writes the output to `sink`.
common::Result<WatermarkResult> WatermarkPixels(std::string_view input, ImageFormat format,
                                                const WatermarkOptions& options, OutputSink* sink);

// Probe for the formats of the pixel path other than PNG (header only).
common::Result<ProbeInfo> ProbeOther(std::string_view input, ImageFormat format);

}  // namespace image::internal
