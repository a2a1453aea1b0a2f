// The watermark engine: stamps a logo into a corner of an image held in memory (JPEG, PNG,
// WebP, GIF, HEIF/AVIF, BMP, TIFF; the format is decided from the content).
//
// JPEGs are edited in the DCT domain: only the 8x8 blocks under the logo are decoded,
// composited and re-quantized with the image's own tables; every other block is carried over,
// so outside the logo's MCU-aligned box the output decodes to exactly the input's pixels.
// Baseline Huffman JPEGs take the entropy path (the compressed bytes before the first touched
// MCU, and with restart markers every untouched restart interval, are copied verbatim); other
// JPEGs take the libjpeg coefficient path. PNGs are decoded, composited and re-encoded row by row.
// Other formats are decoded (behind the same pixel and byte limits), composited and written as
// the format X accepts (see WatermarkOptions::output_format).
//
// Threading: every function here is safe to call concurrently from any number of threads; they
// share no mutable state. Ownership: inputs are borrowed for the duration of the call only;
// results are owned by the caller.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace image {

enum class ImageFormat { kUnknown, kJpeg, kPng, kWebp, kGif, kHeif, kAvif, kBmp, kTiff };

// Where the logo goes, as the viewer sees the picture (after EXIF orientation).
enum class Gravity { kSouthEast, kSouthWest, kNorthEast, kNorthWest, kCenter };

// How a watermark was applied.
enum class WatermarkPath {
  kEntropy,      // baseline JPEG, Huffman-level splice; prefix bytes copied verbatim
  kCoefficient,  // JPEG via libjpeg jpeg_read_coefficients / jpeg_write_coefficients
  kPng,          // PNG decode, composite, encode, row by row
  kPixels,       // any other format or a conversion: decode, composite, encode
};

// "jpeg", "png", "webp", "gif", "heif", "avif", "bmp", "tiff", "unknown".
const char* ImageFormatName(ImageFormat format);
// "image/jpeg", "image/png", …; "application/octet-stream" for kUnknown.
const char* ImageMimeType(ImageFormat format);
// The format the content is in, from its magic bytes only (never from a name); kUnknown when
// no supported format matches.
ImageFormat SniffFormat(std::string_view data);
// The format a file name's extension names (".jpg", ".jpeg", ".png", ".webp", ".gif", …;
// case-insensitive); kUnknown when none. For choosing an output format only.
ImageFormat FormatFromExtension(std::string_view path);
// True for the formats X accepts as media: JPEG, PNG, WebP, GIF.
bool PostableFormat(ImageFormat format);
const char* GravityName(Gravity gravity);           // "southeast", …
const char* WatermarkPathName(WatermarkPath path);  // "entropy", "coefficient", "png"

// Parses "southeast", "south-east", "se", "center", … (case-insensitive).
common::Result<Gravity> ParseGravity(std::string_view name);

// A rectangle in stored pixel coordinates (before EXIF orientation is applied).
struct Box {
  int x = 0;
  int y = 0;
  int width = 0;
  int height = 0;
  bool empty() const { return width <= 0 || height <= 0; }
  bool operator==(const Box&) const = default;
};

// How many threads the splice of a baseline JPEG may use to walk a scan without restart markers
// (see WatermarkOptions::scan_threads).
enum class ScanThreads {
  kAuto,  // two when the scan holds at least 256 KB and the process may run on two CPUs
  kOne,   // the calling thread alone
  kTwo,   // two whenever the scan allows it, whatever its size and the CPUs (for tests)
};

struct WatermarkOptions {
  Gravity gravity = Gravity::kSouthEast;
  int margin = 16;       // pixels between the logo and the image edges it is placed against
  double scale = 0.15;   // logo width as a fraction of the (visual) image width, in (0, 1]
  double opacity = 1.0;  // multiplies the logo's own alpha, in [0, 1]
  // PNG bytes of the logo; empty means the built-in logo. Borrowed for the call only.
  std::string_view logo_png;
  // Images declaring more pixels than this are refused before any pixel memory is allocated.
  // For animations (GIF, WebP): per frame, and 10 times this over all frames.
  uint64_t max_pixels = 100'000'000;
  // Images whose decoder would hold more decoded bytes than this at once (a whole frame for
  // HEIF, WebP, GIF, BMP, TIFF and interlaced PNG; rows only for JPEG and other PNGs) are
  // refused from their header. Keeps a process under about 256 MB for any accepted input.
  uint64_t max_decoded_bytes = 192ull << 20;
  // The output format; kUnknown keeps the input's format where X accepts it (JPEG, PNG, WebP,
  // GIF) and otherwise writes JPEG (PNG for BMP/TIFF with transparency). WebP is written as
  // JPEG instead when that is smaller and the picture is opaque. GIF output needs GIF input.
  ImageFormat output_format = ImageFormat::kUnknown;
  // An animated GIF whose output would exceed this many bytes (X's limit) is written as a
  // JPEG of its first frame instead.
  uint64_t max_gif_bytes = 15ull << 20;
  // An animated WebP whose output would exceed this many bytes (X's image limit) is written as
  // a JPEG of its first frame instead.
  uint64_t max_animated_webp_bytes = 5ull << 20;
  // Quality of the JPEG and lossy WebP files this engine encodes (conversions).
  int quality = 90;
  // false: GPS data (the EXIF GPS IFD, XMP location properties) is blanked in the output;
  // every other byte of the metadata is kept. true: kept as is.
  bool keep_metadata = false;
  // Lets tests and benchmarks force the libjpeg coefficient path for baseline JPEGs.
  bool allow_entropy_path = true;
  // A progressive JPEG taking the entropy path keeps its own scans. On the coefficient path
  // (the fallback) it is written, by default, as a sequential JPEG with the very same
  // coefficients (identical pixels, half the work); true keeps it progressive there.
  bool keep_progressive = false;
  // A second thread skips the second half of a large baseline scan without restart markers
  // (standard Huffman tables, none rewritten) while the calling thread walks the first half;
  // they meet where both find the same MCU start (Huffman codes resynchronise). The output is
  // byte for byte the same with any value; kOne lets tests and benchmarks compare.
  ScanThreads scan_threads = ScanThreads::kAuto;
};

struct WatermarkResult {
  std::string data;                                  // the watermarked file
  ImageFormat format = ImageFormat::kUnknown;        // of `data`
  ImageFormat input_format = ImageFormat::kUnknown;  // of the input
  int frames = 1;                                    // frames written (animated GIF/WebP: > 1)
  bool location_removed = false;                     // GPS data was found and blanked
  int width = 0;                                     // stored dimensions
  int height = 0;
  int orientation = 1;  // EXIF orientation 1..8 (kept in the output)
  WatermarkPath path = WatermarkPath::kCoefficient;
  Box logo_box;                 // where the logo's pixels are, stored coordinates
  Box changed_box;              // the region that may differ from the input (MCU-aligned for JPEG)
  std::string fallback_reason;  // why a JPEG did not take the entropy path ("" if it did)
  // Baseline entropy path: threads that walked the scan (2 when a second thread was started),
  // how many MCUs the calling thread jumped over thanks to the second thread's records, and how
  // many rows of the logo's MCUs the second thread coded.
  int scan_threads = 1;
  int second_thread_mcus = 0;
  int second_thread_logo_rows = 0;
};

// Stamps the logo into `input` (any format SniffFormat knows). Returns the new file, in the
// format options.output_format chooses, or InvalidArgument for empty, truncated, corrupt,
// non-image or unsupported input, ResourceExhausted when the declared size exceeds
// options.max_pixels or options.max_decoded_bytes (decided from the header), InvalidArgument
// for bad options or a bad logo. Never crashes on hostile input; memory is bounded by the
// coefficients of the image (JPEG), rows (PNG) or max_decoded_bytes (the others).
common::Result<WatermarkResult> Watermark(std::string_view input, const WatermarkOptions& options);

// Receives a watermarked file piece by piece, in order (see WatermarkTo). Implementations need
// not be thread-safe: one call of WatermarkTo uses one sink from its own thread.
class OutputSink {
 public:
  virtual ~OutputSink() = default;
  // Appends `bytes` to the output; an error stops the watermarking and is returned by it.
  // `bytes` is valid during the call only, unless it is a slice of WatermarkTo's input.
  virtual common::Status Write(std::string_view bytes) = 0;
};

// Like Watermark, but streams the file into `sink`, and WatermarkResult::data stays empty. The
// unchanged stretches of a baseline JPEG are handed over as slices of `input` (which a sink may
// write straight from there), so no copy of the whole file is made. Nothing is written when
// the input is rejected; a sink error is returned as is, with part of the file written.
common::Result<WatermarkResult> WatermarkTo(std::string_view input, const WatermarkOptions& options,
                                            OutputSink* sink);

// Cheap header-only inspection.
struct ProbeInfo {
  ImageFormat format = ImageFormat::kUnknown;
  int width = 0;
  int height = 0;
  int orientation = 1;       // EXIF orientation (JPEG), 1 otherwise
  int components = 0;        // JPEG components / PNG channels (0 for the other formats)
  bool progressive = false;  // JPEG progressive or PNG interlaced
};

// Reads only the headers (no pixel or coefficient decoding). InvalidArgument on non-images.
common::Result<ProbeInfo> Probe(std::string_view input);

// Re-encodes a JPEG decoded at 1/scale_denom size (libjpeg DCT scaling; 2, 4 or 8) at the
// given quality, keeping EXIF/ICC/COM markers. For the X upload size limit.
common::Result<std::string> DownscaleJpeg(std::string_view jpeg, int scale_denom, int quality = 90,
                                          uint64_t max_pixels = 100'000'000);

// Returns `jpeg` itself if it fits in max_bytes, else the first of 1/2, 1/4, 1/8 downscales
// that fits; ResourceExhausted if none does.
common::Result<std::string> ShrinkJpegToFit(std::string_view jpeg, size_t max_bytes,
                                            uint64_t max_pixels = 100'000'000);

// The built-in logo (an original PNG drawn by src/image/logo_gen.cc at build time).
std::string_view BuiltinLogoPng();

}  // namespace image
