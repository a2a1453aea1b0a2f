// Internal: libjpeg-turbo plumbing (error translation, marker copying) and the coefficient path.
#pragma once

// jpeglib.h needs <cstdio> (FILE, size_t) first, and jerror.h needs jpeglib.h.
#include <cstdio>
// clang-format off
#include <jpeglib.h>
#include <jerror.h>
// clang-format on

#include <csetjmp>
#include <cstdio>
#include <string>
#include <string_view>

#include "common/status.h"
#include "image/watermark.h"

namespace image::internal {

// libjpeg error manager that turns fatal errors, and warnings that mean corrupt or truncated
// data, into a longjmp back to CatchJpeg. One per decompress/compress pair; not shared.
struct JpegErrorManager {
  jpeg_error_mgr pub;
  jmp_buf jump;
  std::string* message = nullptr;  // filled before the jump
  jpeg_progress_mgr progress;      // caps the number of scans a hostile progressive file has
};

// Installs the manager into a not-yet-created struct (call before jpeg_create_*).
void InstallErrorManager(JpegErrorManager* err, jpeg_common_struct* cinfo, std::string* message);

// Runs `fn`, returning false if libjpeg jumped out of it. `fn` must only call libjpeg and must
// not create C++ objects with destructors: a longjmp skips them.
template <typename Fn>
bool CatchJpeg(JpegErrorManager* err, Fn&& fn) {
  if (setjmp(err->jump)) return false;
  fn();
  return true;
}

// Saves APPn and COM markers when reading; writes them back (after the ones libjpeg writes
// itself: JFIF APP0, Adobe APP14) when writing.
void SaveMarkers(jpeg_decompress_struct* src);
void CopyMarkers(jpeg_decompress_struct* src, jpeg_compress_struct* dst);

// EXIF orientation from saved markers.
int OrientationFromMarkers(jpeg_decompress_struct* src);

// The libjpeg coefficient path: read all coefficients, composite the blocks under the logo,
// write all coefficients (progressive input stays progressive with options.keep_progressive).
// `optimize_huffman` builds optimal Huffman tables (always done for progressive input).
common::Result<WatermarkResult> WatermarkJpegCoefficients(std::string_view input,
                                                          const WatermarkOptions& options,
                                                          bool optimize_huffman);

// See image::DownscaleJpeg.
common::Result<std::string> DownscaleJpegImpl(std::string_view jpeg, int scale_denom, int quality,
                                              uint64_t max_pixels);

}  // namespace image::internal
