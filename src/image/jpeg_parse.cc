#include "image/jpeg_parse.h"

#include <string>

#include "image/exif.h"

namespace image::internal {

const uint8_t kZigzagToNatural[64] = {
    0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,  12, 19, 26, 33, 40, 48,
    41, 34, 27, 20, 13, 6,  7,  14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23,
    30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63};

namespace {

common::Status Malformed(const std::string& what) {
  return common::InvalidArgument("malformed JPEG: " + what);
}

}  // namespace

common::Status ParseDht(const unsigned char* s, size_t slen, HuffmanSpec dc[4], HuffmanSpec ac[4]) {
  size_t i = 0;
  while (i < slen) {
    if (i + 17 > slen) return Malformed("bad DHT");
    const int tc = s[i] >> 4, th = s[i] & 15;
    if (tc > 1 || th > 3) return Malformed("bad DHT class/id");
    HuffmanSpec& spec = tc == 0 ? dc[th] : ac[th];
    int total = 0;
    for (int l = 1; l <= 16; ++l) total += s[i + l];
    if (total > 256 || i + 17 + total > slen) return Malformed("bad DHT counts");
    for (int l = 1; l <= 16; ++l) spec.counts[l] = s[i + l];
    for (int k = 0; k < total; ++k) spec.symbols[k] = s[i + 17 + k];
    spec.num_symbols = total;
    spec.present = true;
    i += 17 + total;
  }
  return common::Status::Ok();
}

common::Status ParseSos(const JpegHeader& h, const unsigned char* s, size_t slen,
                        ScanHeader* scan) {
  if (slen < 1) return Malformed("short SOS");
  const int ns = s[0];
  if (ns < 1 || ns > 4 || slen < 1 + 2u * ns + 3) return Malformed("bad SOS");
  scan->num_components = ns;
  for (int k = 0; k < ns; ++k) {
    const int id = s[1 + 2 * k];
    int index = -1;
    for (int c = 0; c < h.num_components; ++c) {
      if (h.comp[c].id == id) index = c;
    }
    if (index < 0) return Malformed("scan names an unknown component");
    scan->comp[k] = index;
    scan->dc_table[k] = s[2 + 2 * k] >> 4;
    scan->ac_table[k] = s[2 + 2 * k] & 15;
  }
  scan->ss = s[1 + 2 * ns];
  scan->se = s[2 + 2 * ns];
  scan->ah = s[3 + 2 * ns] >> 4;
  scan->al = s[3 + 2 * ns] & 15;
  return common::Status::Ok();
}

common::Result<JpegHeader> ParseJpegHeader(std::string_view data) {
  auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const size_t n = data.size();
  if (n < 3 || p[0] != 0xFF || p[1] != 0xD8) return common::InvalidArgument("not a JPEG file");
  JpegHeader h;
  bool have_frame = false;
  size_t at = 2;
  while (true) {
    // Markers may be preceded by any number of 0xFF fill bytes.
    if (at >= n || p[at] != 0xFF) return Malformed("truncated or garbage between markers");
    while (at < n && p[at] == 0xFF) ++at;
    if (at >= n) return Malformed("truncated");
    const size_t marker_at = at - 1;
    const int marker = p[at++];
    if (marker == 0xD8 || marker == 0xD9 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) {
      if (marker == 0xD9) return Malformed("no image data before EOI");
      continue;  // parameterless
    }
    if (at + 2 > n) return Malformed("truncated marker");
    const size_t len = (p[at] << 8) | p[at + 1];
    if (len < 2 || at + len > n) return Malformed("truncated marker segment");
    const unsigned char* s = p + at + 2;
    const size_t slen = len - 2;
    at += len;
    if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
      if (have_frame) return Malformed("two frames");
      if (slen < 6) return Malformed("short SOF");
      h.sof = marker;
      h.precision = s[0];
      h.height = (s[1] << 8) | s[2];
      h.width = (s[3] << 8) | s[4];
      h.num_components = s[5];
      if (h.num_components < 1 || h.num_components > 4 || slen < 6 + 3u * h.num_components) {
        return Malformed("unsupported component count " + std::to_string(h.num_components));
      }
      for (int c = 0; c < h.num_components; ++c) {
        h.comp[c].id = s[6 + 3 * c];
        h.comp[c].h = s[7 + 3 * c] >> 4;
        h.comp[c].v = s[7 + 3 * c] & 15;
        h.comp[c].quant_index = s[8 + 3 * c];
        if (h.comp[c].h < 1 || h.comp[c].h > 4 || h.comp[c].v < 1 || h.comp[c].v > 4 ||
            h.comp[c].quant_index > 3) {
          return Malformed("bad component parameters");
        }
      }
      if (h.width == 0) return Malformed("zero width");
      have_frame = true;
    } else if (marker == 0xDB) {  // DQT
      size_t i = 0;
      while (i < slen) {
        const int pq = s[i] >> 4, tq = s[i] & 15;
        const size_t need = 1 + 64 * (pq ? 2 : 1);
        if (tq > 3 || pq > 1 || i + need > slen) return Malformed("bad DQT");
        for (int k = 0; k < 64; ++k) {
          h.quant[tq][kZigzagToNatural[k]] =
              pq ? (s[i + 1 + 2 * k] << 8) | s[i + 2 + 2 * k] : s[i + 1 + k];
        }
        h.quant_present[tq] = true;
        i += need;
      }
    } else if (marker == 0xC4) {  // DHT
      DAT_RETURN_IF_ERROR(ParseDht(s, slen, h.dc, h.ac));
    } else if (marker == 0xDD) {  // DRI
      if (slen < 2) return Malformed("bad DRI");
      h.restart_interval = (s[0] << 8) | s[1];
    } else if (marker == 0xE0) {
      if (slen >= 5 &&
          std::string_view(reinterpret_cast<const char*>(s), 5) == std::string_view("JFIF\0", 5)) {
        h.jfif = true;
      }
    } else if (marker == 0xE1) {
      std::string_view payload(reinterpret_cast<const char*>(s), slen);
      if (payload.substr(0, 6) == std::string_view("Exif\0\0", 6)) {
        h.orientation = ExifOrientation(payload);
      }
    } else if (marker == 0xEE) {
      if (slen >= 12 && std::string_view(reinterpret_cast<const char*>(s), 5) == "Adobe") {
        h.adobe_transform = s[11];
      }
    } else if (marker == 0xDA) {  // SOS
      if (!have_frame) return Malformed("scan before frame");
      ScanHeader scan;
      DAT_RETURN_IF_ERROR(ParseSos(h, s, slen, &scan));
      h.scan_num_components = scan.num_components;
      for (int k = 0; k < scan.num_components; ++k) {
        h.scan_comp[k] = scan.comp[k];
        h.comp[scan.comp[k]].dc_table = scan.dc_table[k];
        h.comp[scan.comp[k]].ac_table = scan.ac_table[k];
      }
      h.ss = scan.ss;
      h.se = scan.se;
      h.ah = scan.ah;
      h.al = scan.al;
      h.has_scan = true;
      h.scan_marker = marker_at;
      h.scan_data = at;
      return h;
    }
    // Everything else (APPn, COM, DNL, DAC, …) is skipped.
  }
}

}  // namespace image::internal
