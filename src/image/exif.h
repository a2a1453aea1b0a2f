// Internal: what the engine reads and edits in EXIF and XMP metadata.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace image::internal {

// Orientation (1..8) from an APP1 payload starting "Exif\0\0"; 1 when absent or malformed.
int ExifOrientation(std::string_view app1_payload);

// Location privacy. These blank data in place and never change a length, so every other byte
// (and every offset into the block) stays as it was. Each returns true if it blanked anything.
//
// In a TIFF-structured EXIF block ("II*\0…" or "MM\0*…", without the "Exif\0\0" prefix): the
// GPS IFD that IFD0's GPSInfo tag points to becomes an empty IFD, and its entries and their
// out-of-line values are zeroed. Bounds-checked; a malformed block is left alone.
bool BlankExifGps(std::string* tiff);
// In an XMP packet: the exif:GPS* properties and the IPTC/Photoshop location properties
// (photoshop:City/State/Country, Iptc4xmpCore:Location/CountryCode, Iptc4xmpExt:LocationShown/
// LocationCreated), attributes or elements, are overwritten with spaces (XML whitespace).
bool BlankXmpLocation(std::string* xmp);

// A copy of `jpeg` with the location blanked in its APP1 EXIF and XMP segments (up to the first
// SOS), or nullopt when there is none to blank (the caller keeps the input as is).
std::optional<std::string> StripJpegLocation(std::string_view jpeg);

}  // namespace image::internal
