#include "image/jpeg_entropy.h"

#include <sys/mman.h>

#include <bitset>
#include <cstring>
#include <vector>

#include "image/huge_alloc.h"
#include "image/jpeg_block.h"
#include "image/logo.h"

namespace image::internal {
namespace {

// A canonical Huffman table, for decoding (9-bit lookahead, then code-length walk) and for
// encoding (code and size per symbol; size 0 means the file has no code for the symbol).
struct HuffTable {
  uint16_t lookup[512];  // (length << 8) | symbol for codes of at most 9 bits, else 0
  int32_t maxcode[18];   // largest code of each length, -1 if none
  int32_t valoffset[17];
  uint8_t symbols[256];
  uint16_t code[256];
  uint8_t size[256];
  // For AC tables, skipping without values: for codes of at most 9 bits, the bits of the code
  // plus its extra bits (0-4), the zero run (5-8), and EOB/ZRL flags; 0 means "use Decode".
  uint16_t skip[512];
  static constexpr uint16_t kEob = 1 << 9, kZrl = 1 << 10;

  // False for an over-subscribed (invalid) table.
  bool Build(const HuffmanSpec& spec) {
    std::memset(lookup, 0, sizeof lookup);
    std::memset(skip, 0, sizeof skip);
    std::memset(size, 0, sizeof size);
    std::memset(code, 0, sizeof code);
    std::memcpy(symbols, spec.symbols, sizeof symbols);
    int32_t next = 0;
    int k = 0;
    for (int l = 1; l <= 16; ++l) {
      valoffset[l] = k - next;
      for (int i = 0; i < spec.counts[l]; ++i, ++k, ++next) {
        const uint8_t sym = spec.symbols[k];
        code[sym] = static_cast<uint16_t>(next);
        size[sym] = static_cast<uint8_t>(l);
        if (l <= 9) {
          const int shift = 9 - l;
          const int extra = sym & 15, run = sym >> 4;
          const uint16_t skip_entry = static_cast<uint16_t>(
              (l + extra) | (run << 5) | (sym == 0 ? kEob : 0) | (sym == 0xF0 ? kZrl : 0));
          for (int j = 0; j < (1 << shift); ++j) {
            lookup[(next << shift) | j] = static_cast<uint16_t>((l << 8) | sym);
            skip[(next << shift) | j] = skip_entry;
          }
        }
      }
      maxcode[l] = spec.counts[l] ? next - 1 : -1;
      if (next > (1 << l)) return false;
      next <<= 1;
    }
    maxcode[17] = 0x7fffffff;
    return true;
  }
};

// Reads entropy-coded bits from [begin, end), undoing 0xFF00 stuffing. Past the end (or at an
// unexpected marker) it supplies zero bytes and counts them, so callers can tell a stream
// that ran out from one that ended cleanly.
class BitReader {
 public:
  BitReader(const uint8_t* data, size_t begin, size_t end) : data_(data), pos_(begin), end_(end) {}

  int Decode(const HuffTable& t) {
    if (bits_ < 16) Fill();
    const uint16_t e = t.lookup[acc_ >> (64 - 9)];
    if (e >> 8) {
      Skip(e >> 8);
      return e & 0xFF;
    }
    int l = 10;
    int32_t code = static_cast<int32_t>(acc_ >> (64 - l));
    while (code > t.maxcode[l]) {
      ++l;
      if (l > 16) return -1;
      code = static_cast<int32_t>(acc_ >> (64 - l));
    }
    Skip(l);
    return t.symbols[(t.valoffset[l] + code) & 0xFF];
  }

  // Reads s (1..16) bits and sign-extends them as JPEG does.
  int Receive(int s) {
    if (bits_ < s) Fill();
    const int v = static_cast<int>(acc_ >> (64 - s));
    Skip(s);
    return v < (1 << (s - 1)) ? v - (1 << s) + 1 : v;
  }

  // Skips the AC coefficients of one block (after its DC). False on corrupt data.
  bool SkipAc(const HuffTable& t) {
    for (int k = 1; k < 64;) {
      if (bits_ < 25) Fill();
      const uint16_t e = t.skip[acc_ >> (64 - 9)];
      if (e) {
        Skip(e & 31);
        if (e & HuffTable::kEob) return true;
        if (e & HuffTable::kZrl) {
          k += 16;
          continue;
        }
        k += (e >> 5) & 15;
        if (k > 63) return false;
        ++k;
        continue;
      }
      const int rs = Decode(t);
      if (rs < 0) return false;
      const int run = rs >> 4, size = rs & 15;
      if (size == 0) {
        if (run != 15) return true;
        k += 16;
        continue;
      }
      k += run;
      if (k > 63) return false;
      SkipBits(size);
      ++k;
    }
    return true;
  }

  void SkipBits(int s) {
    if (bits_ < s) Fill();
    Skip(s);
  }

  // True once bits beyond the segment (zero padding) have been consumed.
  bool overrun() const { return static_cast<int64_t>(fake_) * 8 > bits_; }

  // The byte holding the next unread bit, and how many of its high bits were already read.
  void Position(size_t* byte, int* used) const {
    const int k = bits_ / 8, r = bits_ % 8;
    if (r == 0) {
      *used = 0;
      *byte = k == 0 ? pos_ : ring_[(loaded_ - k) & 15];
    } else {
      *used = 8 - r;
      *byte = ring_[(loaded_ - k - 1) & 15];
    }
  }

 private:
  void Skip(int n) {
    acc_ <<= n;
    bits_ -= n;
  }

  void Fill() {
    // Fast path: the next bytes hold no 0xFF (no stuffing, no marker), load them in one go.
    if (end_ - pos_ >= 8 && bits_ <= 56) {
      uint64_t w;
      std::memcpy(&w, data_ + pos_, 8);
      w = __builtin_bswap64(w);
      const int nbytes = (64 - bits_) >> 3;
      const uint64_t keep = ~uint64_t{0} << (64 - 8 * nbytes);
      const uint64_t t = ~w;  // a 0xFF byte of w is a zero byte of t
      const uint64_t zero = (t - 0x0101010101010101ull) & ~t & 0x8080808080808080ull;
      if ((zero & keep) == 0) {
        acc_ |= (w & keep) >> bits_;
        bits_ += 8 * nbytes;
        for (int i = 0; i < nbytes; ++i) ring_[loaded_++ & 15] = pos_ + i;
        pos_ += nbytes;
        return;
      }
    }
    while (bits_ <= 56) {
      uint64_t b = 0;
      const size_t at = pos_;
      if (pos_ < end_ && !(data_[pos_] == 0xFF && (pos_ + 1 >= end_ || data_[pos_ + 1] != 0))) {
        b = data_[pos_];
        pos_ += b == 0xFF ? 2 : 1;
      } else {
        ++fake_;
      }
      ring_[loaded_++ & 15] = at;
      acc_ |= b << (56 - bits_);
      bits_ += 8;
    }
  }

  const uint8_t* data_;
  size_t pos_;
  size_t end_;
  uint64_t acc_ = 0;
  int bits_ = 0;
  uint64_t loaded_ = 0;
  uint64_t fake_ = 0;
  size_t ring_[16] = {};
};

// Writes entropy-coded bits with 0xFF00 stuffing.
class BitWriter {
 public:
  explicit BitWriter(std::string* out) : out_(out) {}
  void Put(uint32_t code, int size) {
    acc_ = (acc_ << size) | code;
    bits_ += size;
    while (bits_ >= 8) {
      const auto b = static_cast<uint8_t>(acc_ >> (bits_ - 8));
      out_->push_back(static_cast<char>(b));
      if (b == 0xFF) out_->push_back(0);
      bits_ -= 8;
    }
    acc_ &= (uint64_t{1} << bits_) - 1;
  }
  // Pads the last byte with 1-bits, as the standard asks before a marker.
  void Flush() {
    if (bits_ > 0) Put((1u << (8 - bits_)) - 1, 8 - bits_);
  }

 private:
  std::string* out_;
  uint64_t acc_ = 0;
  int bits_ = 0;
};

int Category(int v) {
  unsigned a = static_cast<unsigned>(v < 0 ? -v : v);
  return a == 0 ? 0 : 32 - __builtin_clz(a);
}

// Decodes one block. With coef == nullptr only the DC predictor is tracked (the fast skip
// over the prefix). False on corrupt data.
bool DecodeBlock(BitReader& r, const HuffTable& dc, const HuffTable& ac, int* pred, int16_t* coef) {
  const int s = r.Decode(dc);
  if (s < 0 || s > 11) return false;
  *pred += s ? r.Receive(s) : 0;
  if (*pred < -32767 || *pred > 32767) return false;
  if (coef == nullptr) return r.SkipAc(ac);
  std::memset(coef, 0, 64 * sizeof(int16_t));
  coef[0] = static_cast<int16_t>(*pred);
  for (int k = 1; k < 64;) {
    const int rs = r.Decode(ac);
    if (rs < 0) return false;
    const int run = rs >> 4, size = rs & 15;
    if (size == 0) {
      if (run != 15) break;  // EOB
      k += 16;
      continue;
    }
    k += run;
    if (k > 63) return false;
    coef[kZigzagToNatural[k]] = static_cast<int16_t>(r.Receive(size));
    ++k;
  }
  return true;
}

// Encodes one block with the file's tables. A symbol without a code is reported to
// missing(table_class, symbol), which returns true to carry on (writing a placeholder code:
// the output is then only good for collecting the missing symbols); false stops.
template <typename Missing>
bool EncodeBlock(BitWriter& w, const HuffTable& dc, const HuffTable& ac, int* pred,
                 const int16_t* coef, Missing&& missing) {
  const int diff = coef[0] - *pred;
  *pred = coef[0];
  int s = Category(diff);
  if (s > 11) return false;
  if (!dc.size[s] && !missing(0, s)) return false;
  w.Put(dc.code[s], dc.size[s]);
  if (s) w.Put(static_cast<uint32_t>(diff < 0 ? diff - 1 : diff) & ((1u << s) - 1), s);
  int run = 0;
  for (int k = 1; k < 64; ++k) {
    const int v = coef[kZigzagToNatural[k]];
    if (v == 0) {
      ++run;
      continue;
    }
    for (; run > 15; run -= 16) {
      if (!ac.size[0xF0] && !missing(1, 0xF0)) return false;
      w.Put(ac.code[0xF0], ac.size[0xF0]);
    }
    s = Category(v);
    const int sym = (run << 4) | s;
    if (s > 10) return false;
    if (!ac.size[sym] && !missing(1, sym)) return false;
    w.Put(ac.code[sym], ac.size[sym]);
    w.Put(static_cast<uint32_t>(v < 0 ? v - 1 : v) & ((1u << s) - 1), s);
    run = 0;
  }
  if (run > 0) {
    if (!ac.size[0] && !missing(1, 0)) return false;
    w.Put(ac.code[0], ac.size[0]);
  }
  return true;
}

JpegColor ColorOf(const JpegHeader& h) {
  if (h.num_components == 1) return JpegColor::kGray;
  if (h.num_components == 4) return h.adobe_transform > 0 ? JpegColor::kYcck : JpegColor::kCmyk;
  if (h.jfif) return JpegColor::kYCbCr;
  if (h.adobe_transform == 0) return JpegColor::kRgb;
  if (h.adobe_transform < 0 && h.comp[0].id == 'R' && h.comp[1].id == 'G' && h.comp[2].id == 'B') {
    return JpegColor::kRgb;
  }
  return JpegColor::kYCbCr;
}

// One restart interval (or the whole scan without restarts): its bytes and its MCUs.
struct Segment {
  size_t begin, end;  // entropy-coded bytes; `end` is where the following marker starts
  int first_mcu, num_mcus;
};

// Appends symbols to a table so that every existing code keeps its exact bits: canonical codes
// are assigned in order of length, so new codes may only follow the last one, at lengths of at
// least the current maximum, leaving the all-ones code unused. False if there is no room.
bool ExtendTable(HuffmanSpec* spec, const std::bitset<256>& add) {
  const int m = static_cast<int>(add.count());
  if (spec->num_symbols + m > 256) return false;
  int lmax = 0;
  uint32_t next = 0;  // the first free code at length lmax
  for (int l = 1; l <= 16; ++l) {
    next = (next << 1) + spec->counts[l];
    if (spec->counts[l]) lmax = l;
  }
  next >>= (16 - std::max(lmax, 1));
  if (lmax == 0) lmax = 1;
  for (int l = lmax; l <= 16; ++l) {
    const uint64_t first = uint64_t{next} << (l - lmax);
    const uint64_t room = (uint64_t{1} << l) - 1 - first;  // keep the all-ones code free
    if (first > (uint64_t{1} << l) || room < static_cast<uint64_t>(m)) continue;
    spec->counts[l] = static_cast<uint8_t>(spec->counts[l] + m);
    for (int sym = 0; sym < 256; ++sym) {
      if (add.test(sym)) spec->symbols[spec->num_symbols++] = static_cast<uint8_t>(sym);
    }
    return true;
  }
  return false;
}

// The splicing job for one file.
class Splicer {
 public:
  Splicer(std::string_view input, const JpegHeader& h, const JpegGeometry& g, const McuBox& box,
          const std::vector<ComponentPlane>& planes)
      : data_(reinterpret_cast<const uint8_t*>(input.data())),
        input_(input),
        h_(h),
        g_(g),
        box_(box),
        planes_(planes) {
    for (int i = 0; i < 4; ++i) {
      spec_[0][i] = h.dc[i];
      spec_[1][i] = h.ac[i];
    }
  }

  bool BuildTables(std::string* why) {
    for (int sc = 0; sc < h_.scan_num_components; ++sc) {
      const FrameComponent& c = h_.comp[h_.scan_comp[sc]];
      if (c.dc_table > 3 || c.ac_table > 3 || !spec_[0][c.dc_table].present ||
          !spec_[1][c.ac_table].present) {
        *why = "scan refers to a missing Huffman table";
        return false;
      }
      if (!table_[0][c.dc_table].Build(spec_[0][c.dc_table]) ||
          !table_[1][c.ac_table].Build(spec_[1][c.ac_table])) {
        *why = "invalid Huffman table";
        return false;
      }
      if (!h_.quant_present[c.quant_index]) {
        *why = "missing quantization table";
        return false;
      }
    }
    return true;
  }

  bool any_missing() const {
    for (const auto& cls : missing_) {
      for (const auto& set : cls) {
        if (set.any()) return true;
      }
    }
    return false;
  }

  // Extends the tables with the missing symbols (keeping every existing code) and returns the
  // DHT segment that defines them, to be placed before the SOS. Empty if there is no room.
  std::string ExtendTables() {
    std::string dht = std::string("\xFF\xC4\0\0", 4);
    for (int cls = 0; cls < 2; ++cls) {
      for (int id = 0; id < 4; ++id) {
        if (missing_[cls][id].none()) continue;
        HuffmanSpec& spec = spec_[cls][id];
        if (!ExtendTable(&spec, missing_[cls][id]) || !table_[cls][id].Build(spec)) return {};
        dht += static_cast<char>((cls << 4) | id);
        for (int l = 1; l <= 16; ++l) dht += static_cast<char>(spec.counts[l]);
        dht.append(reinterpret_cast<const char*>(spec.symbols), spec.num_symbols);
        missing_[cls][id].reset();
      }
    }
    const size_t len = dht.size() - 2;
    dht[2] = static_cast<char>(len >> 8);
    dht[3] = static_cast<char>(len & 0xFF);
    return dht;
  }

  // Processes one segment that contains at least one MCU under the logo, appending to *out
  // everything from input byte *copied up to the segment's end. With `collect`, symbols the
  // tables lack are recorded (see ExtendTables) and the output is a draft. 0 on success,
  // 1 corrupt data, 2 a Huffman code is missing.
  int Process(const Segment& seg, bool collect, size_t* copied, std::string* out) {
    BitReader reader(data_, seg.begin, seg.end);
    BitWriter writer(out);
    int pred[4] = {0, 0, 0, 0}, enc_pred[4] = {0, 0, 0, 0};
    bool spliced = false;
    int16_t coef[64];
    const int per_row = g_.mcus_per_row();
    for (int m = seg.first_mcu; m < seg.first_mcu + seg.num_mcus; ++m) {
      const int mx = m % per_row, my = m / per_row;
      const bool touched = box_.contains(mx, my);
      if (!spliced && touched) {
        size_t byte;
        int used;
        reader.Position(&byte, &used);
        if (reader.overrun() || byte < *copied || byte > seg.end) return 1;
        out->append(input_.substr(*copied, byte - *copied));
        if (used) writer.Put(data_[byte] >> (8 - used), used);
        std::copy(pred, pred + 4, enc_pred);
        spliced = true;
      }
      for (int sc = 0; sc < h_.scan_num_components; ++sc) {
        const int ci = h_.scan_comp[sc];
        const FrameComponent& comp = h_.comp[ci];
        const HuffTable& dc = table_[0][comp.dc_table];
        const HuffTable& ac = table_[1][comp.ac_table];
        const int bh = g_.h[ci], bv = g_.v[ci];
        const uint16_t* quant = h_.quant[comp.quant_index];
        auto missing = [&](int cls, int sym) {
          if (!collect) return false;
          missing_[cls][cls == 0 ? comp.dc_table : comp.ac_table].set(sym);
          return true;
        };
        for (int v = 0; v < bv; ++v) {
          for (int u = 0; u < bh; ++u) {
            if (!spliced) {
              if (!DecodeBlock(reader, dc, ac, &pred[sc], nullptr)) return 1;
              continue;
            }
            if (!DecodeBlock(reader, dc, ac, &pred[sc], coef)) return 1;
            if (touched) WatermarkBlock(coef, quant, planes_[ci], mx * bh + u, my * bv + v);
            if (!EncodeBlock(writer, dc, ac, &enc_pred[sc], coef, missing)) return 2;
          }
        }
      }
    }
    if (reader.overrun()) return 1;
    if (!spliced) return 0;
    writer.Flush();
    *copied = seg.end;
    return 0;
  }

 private:
  const uint8_t* data_;
  std::string_view input_;
  const JpegHeader& h_;
  const JpegGeometry& g_;
  McuBox box_;
  const std::vector<ComponentPlane>& planes_;
  HuffmanSpec spec_[2][4];  // [dc/ac][table id]
  HuffTable table_[2][4];
  std::bitset<256> missing_[2][4];
};

bool Refuse(EntropyFallback* fallback, std::string reason) {
  fallback->reason = std::move(reason);
  return false;
}

}  // namespace

bool WatermarkJpegEntropy(std::string_view input, const JpegHeader& h,
                          const WatermarkOptions& options, WatermarkResult* result,
                          EntropyFallback* fallback) {
  if (h.sof != 0xC0 && h.sof != 0xC1) {
    return Refuse(fallback, h.sof == 0xC2 ? "progressive JPEG" : "not a baseline Huffman JPEG");
  }
  if (h.precision != 8) return Refuse(fallback, "not 8-bit");
  if (!h.has_scan || h.scan_num_components != h.num_components || h.ss != 0 || h.se != 63 ||
      h.ah != 0 || h.al != 0) {
    return Refuse(fallback, "not a single interleaved scan");
  }
  JpegGeometry g;
  g.width = h.width;
  g.height = h.height;
  g.num_components = h.num_components;
  if (h.num_components > 1) {
    for (int c = 0; c < h.num_components; ++c) {
      g.h[c] = h.comp[c].h;
      g.v[c] = h.comp[c].v;
      g.max_h = std::max(g.max_h, g.h[c]);
      g.max_v = std::max(g.max_v, g.v[c]);
    }
    int blocks = 0;
    for (int c = 0; c < h.num_components; ++c) blocks += g.h[c] * g.v[c];
    if (blocks > 10) return Refuse(fallback, "too many blocks per MCU");
  }
  if (!CheckGeometry(g).ok()) return Refuse(fallback, "unsupported sampling");

  // Find the restart markers and the end of the scan without decoding anything.
  const auto* p = reinterpret_cast<const uint8_t*>(input.data());
  const size_t n = input.size();
  std::vector<Segment> segments;
  size_t begin = h.scan_data, at = h.scan_data, scan_end = 0;
  int end_marker = -1;
  while (end_marker < 0) {
    const void* ff = at < n ? std::memchr(p + at, 0xFF, n - at) : nullptr;
    if (ff == nullptr) return Refuse(fallback, "truncated scan");
    const size_t j = static_cast<const uint8_t*>(ff) - p;
    size_t k = j + 1;
    while (k < n && p[k] == 0xFF) ++k;
    if (k >= n) return Refuse(fallback, "truncated scan");
    if (p[k] == 0x00) {
      at = k + 1;
    } else if (p[k] >= 0xD0 && p[k] <= 0xD7) {
      if (p[k] != 0xD0 + (segments.size() & 7))
        return Refuse(fallback, "restart markers out of order");
      segments.push_back({begin, j, 0, 0});
      begin = at = k + 1;
    } else {
      segments.push_back({begin, j, 0, 0});
      scan_end = j;
      end_marker = p[k];
    }
  }
  if (end_marker != 0xD9) return Refuse(fallback, "more than one scan");
  const int total = g.mcus_per_row() * g.mcu_rows();
  const int interval = h.restart_interval > 0 ? h.restart_interval : total;
  if (static_cast<int>(segments.size()) != (total + interval - 1) / interval) {
    return Refuse(fallback, "restart marker count does not match the restart interval");
  }
  for (size_t i = 0; i < segments.size(); ++i) {
    segments[i].first_mcu = static_cast<int>(i) * interval;
    segments[i].num_mcus = std::min(interval, total - segments[i].first_mcu);
  }

  auto logo = PrepareLogo(g.width, g.height, h.orientation, options);
  if (!logo.ok()) return Refuse(fallback, logo.status().message());
  const McuBox box = CoveringMcus(logo->box, g);
  std::vector<ComponentPlane> planes;
  if (!logo->box.empty()) planes = BuildPlanes(*logo, g, ColorOf(h), h.adobe_transform >= 0);
  logo->raster = LogoRaster{};  // the planes hold what is needed; keep peak memory down

  Splicer splicer(input, h, g, box, planes);
  std::string why;
  if (!splicer.BuildTables(&why)) return Refuse(fallback, why);
  const int per_row = g.mcus_per_row();
  std::string out;
  out.reserve(n + n / 16 + 4096);
  AdviseHugePages(out.data(), out.capacity());
  size_t copied = 0;
  // Re-encodes every restart interval holding an MCU under the logo; the bytes between them
  // are copied verbatim.
  auto splice_all = [&](bool collect) {
    for (const Segment& seg : segments) {
      bool touched = false;
      for (int my = box.my0; my < box.my1 && !touched; ++my) {
        const int lo = std::max(seg.first_mcu, my * per_row + box.mx0);
        const int hi = std::min(seg.first_mcu + seg.num_mcus, my * per_row + box.mx1);
        touched = lo < hi;
      }
      if (!touched) continue;
      const int rc = splicer.Process(seg, collect, &copied, &out);
      if (rc != 0) return rc;
    }
    return 0;
  };
  int rc = splice_all(/*collect=*/true);
  if (rc == 0 && splicer.any_missing()) {
    // Optimized tables often lack codes for the logo's strong edges. Append them after the
    // existing codes (so the copied prefix still decodes the same) in a DHT before the scan.
    const std::string dht = splicer.ExtendTables();
    if (dht.empty()) {
      fallback->need_new_tables = true;
      return Refuse(
          fallback,
          "the file's Huffman tables lack codes the logo needs, with no room to add them");
    }
    out.assign(input.substr(0, h.scan_marker));
    out += dht;
    copied = h.scan_marker;
    rc = splice_all(/*collect=*/false);
  }
  if (rc == 1) return Refuse(fallback, "corrupt entropy-coded data");
  if (rc != 0) {
    fallback->need_new_tables = true;
    return Refuse(fallback, "the file's Huffman tables lack codes the logo needs");
  }
  out.append(input.substr(copied));
  (void)scan_end;

  result->data = std::move(out);
  result->format = ImageFormat::kJpeg;
  result->path = WatermarkPath::kEntropy;
  result->width = g.width;
  result->height = g.height;
  result->orientation = h.orientation;
  result->logo_box = logo->box;
  result->changed_box = ChangedBox(box, g);
  return true;
}

}  // namespace image::internal
