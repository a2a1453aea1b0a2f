// Internal: the one EXIF field the engine needs.
#pragma once

#include <string_view>

namespace image::internal {

// Orientation (1..8) from an APP1 payload starting "Exif\0\0"; 1 when absent or malformed.
int ExifOrientation(std::string_view app1_payload);

}  // namespace image::internal
