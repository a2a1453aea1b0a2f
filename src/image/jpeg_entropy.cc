#include "image/jpeg_entropy.h"

namespace image::internal {

bool WatermarkJpegEntropy(std::string_view, const JpegHeader&, const WatermarkOptions&,
                          WatermarkResult*, EntropyFallback* fallback) {
  // UNFINISHED: the entropy path is being written; every JPEG takes the coefficient path.
  fallback->reason = "entropy path not built yet";
  return false;
}

}  // namespace image::internal
