// Internal: a JPEG marker parser (headers up to the first scan) for Probe and the entropy path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/status.h"

namespace image::internal {

// A hostile file's scan count is capped (libjpeg path and progressive splice alike): a
// progressive file may have any number of scans, and each one re-reads every coefficient.
constexpr int kMaxScans = 300;

// Zig-zag position i -> natural (row-major) index.
extern const uint8_t kZigzagToNatural[64];

struct HuffmanSpec {
  bool present = false;
  uint8_t counts[17] = {};  // counts[l] = number of codes of length l (1..16)
  uint8_t symbols[256] = {};
  int num_symbols = 0;
};

struct FrameComponent {
  int id = 0;
  int h = 1, v = 1;
  int quant_index = 0;
  int dc_table = 0, ac_table = 0;  // from the first SOS
};

struct JpegHeader {
  int sof = 0;  // 0xC0 baseline, 0xC1 extended, 0xC2 progressive, …
  int precision = 8;
  int width = 0;
  int height = 0;
  int num_components = 0;
  FrameComponent comp[4];
  bool quant_present[4] = {};
  uint16_t quant[4][64] = {};  // natural order
  HuffmanSpec dc[4], ac[4];
  int restart_interval = 0;
  int orientation = 1;
  bool jfif = false;
  int adobe_transform = -1;  // -1: no Adobe APP14
  // First scan (only when the parse reached an SOS).
  bool has_scan = false;
  int scan_num_components = 0;
  int scan_comp[4] = {};  // frame component indices, in scan order
  int ss = 0, se = 63, ah = 0, al = 0;
  size_t scan_marker = 0;  // offset of the SOS marker (its 0xFF)
  size_t scan_data = 0;    // offset of the first entropy-coded byte
};

// One SOS header: components (frame indices), their table ids, spectral selection and
// successive approximation.
struct ScanHeader {
  int num_components = 0;
  int comp[4] = {};
  int dc_table[4] = {}, ac_table[4] = {};
  int ss = 0, se = 63, ah = 0, al = 0;
};

// Parses the payload of a DHT segment (after its length) into the tables it defines.
// InvalidArgument when malformed.
common::Status ParseDht(const unsigned char* s, size_t slen, HuffmanSpec dc[4], HuffmanSpec ac[4]);

// Parses the payload of an SOS segment of a frame `h`. InvalidArgument when malformed or
// naming a component the frame lacks.
common::Status ParseSos(const JpegHeader& h, const unsigned char* s, size_t slen, ScanHeader* scan);

// Parses markers from SOI up to the first SOS (inclusive). InvalidArgument if `data` is not a
// JPEG, or is truncated or malformed before the first scan.
common::Result<JpegHeader> ParseJpegHeader(std::string_view data);

}  // namespace image::internal
