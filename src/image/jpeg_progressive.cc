#include "image/jpeg_progressive.h"

#include <algorithm>
#include <bitset>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "image/jpeg_bits.h"
#include "image/jpeg_block.h"
#include "image/jpeg_huffman.h"
#include "image/logo.h"

namespace image::internal {
namespace {

constexpr int kMaxEobRun = 0x7FFF;
// Codes written again because a completed table changed them, at most (24 bytes each): a
// table whose frequent symbols would move sends the file to the coefficient path instead.
constexpr size_t kMaxRewrites = 1'000'000;

// The codes a scan is written with: per symbol its code and length (0: none).
struct EncTable {
  uint16_t code[256];
  uint8_t size[256];
};

// The decoder's state where a unit (a block of a non-interleaved scan, an MCU of an
// interleaved one) begins.
struct Mark {
  uint64_t pos = 0;                   // bits read from the start of the restart interval
  int eobrun = 0;                     // blocks of the current EOB run left, this one included
  int run_unit = -1;                  // when eobrun > 0: the unit whose symbol began the run,
  uint64_t run_pos = 0, run_end = 0;  // and where that symbol and its extra bits lie
  int pred[4] = {};                   // DC predictors
};

// A stretch of units [first, last) of one restart interval that is written again: the logo's
// units, and in DC first scans the unit after them (its DC difference changes).
struct Splice {
  int piece = 0;
  int first = 0, last = 0;
  Mark begin, end;
  std::vector<int> dc;  // DC first scans: every block's decoded (point-transformed) DC
};

// One change to a restart interval's bits: `drop` bits at `pos` replaced by `nbits` inline
// bits, or by `enc_bits` bits of the scan's encoded buffer (read in order).
struct Edit {
  uint64_t pos = 0;
  uint32_t drop = 0;
  uint32_t bits = 0;
  uint32_t enc_bits = 0;
  uint8_t nbits = 0;
  uint8_t order = 0;  // at equal positions a splice (0) goes before a rewritten code (1)
};

// One block of a unit: scan component, frame component, position inside the MCU.
struct UnitBlock {
  int sc, comp, u, v;
};

struct Scan {
  size_t marker = 0, data = 0;  // SOS marker, first entropy-coded byte
  ScanHeader hdr;
  int restart = 0;   // units per restart interval
  bool fast = true;  // AC refinement: the table has only symbols of sizes 0 and 1
  std::vector<ScanPiece> pieces;
  std::vector<uint64_t> piece_bits;  // bits of each interval's data
  std::string dht;                   // written before the SOS
  EncTable enc[4];                   // per scan component
  std::vector<Splice> splices;
  std::vector<std::vector<Edit>> edits;  // per interval
  std::string encoded;                   // the splices' new bits, in order
  // Units.
  int per_row = 0, rows = 0;
  int ux0 = 0, ux1 = 0, uy0 = 0, uy1 = 0;  // the logo's units
  std::vector<UnitBlock> blocks;
  bool dc() const { return hdr.ss == 0; }
  bool first() const { return hdr.ah == 0; }
  int total() const { return per_row * rows; }
  bool logo(int u) const {
    const int ux = u % per_row, uy = u / per_row;
    return ux >= ux0 && ux < ux1 && uy >= uy0 && uy < uy1;
  }
};

// The walking state inside one restart interval.
struct WalkState {
  int eobrun = 0;
  int run_unit = -1;
  uint64_t run_pos = 0, run_end = 0;
  int pred[4] = {};
  std::vector<Edit>* edits = nullptr;  // rewritten codes are recorded here
  size_t* rewrites_left = nullptr;
  bool too_many = false;

  Mark At(const BitReader<true>& r) const {
    Mark m;
    m.pos = r.consumed();
    m.eobrun = eobrun;
    m.run_unit = run_unit;
    m.run_pos = run_pos;
    m.run_end = run_end;
    std::copy(pred, pred + 4, m.pred);
    return m;
  }
};

// Reads one symbol; a symbol whose code the completed table changed is recorded as an edit.
[[gnu::always_inline]] inline int ReadSymbol(BitReader<true>& r, const HuffTable& t,
                                             WalkState& st) {
  const int sym = r.Decode(t);
  if (sym >= 0 && t.changed[sym]) {
    if (*st.rewrites_left == 0) {
      st.too_many = true;
      return -1;
    }
    --*st.rewrites_left;
    Edit e;
    e.pos = r.consumed() - t.size[sym];
    e.drop = t.size[sym];
    e.bits = t.recode->code[sym];
    e.nbits = t.recode->size[sym];
    e.order = 1;
    st.edits->push_back(e);
  }
  return sym;
}

[[gnu::always_inline]] inline void SkipMany(BitReader<true>& r, uint64_t n) {
  for (; n >= 32; n -= 32) r.Take(32);
  if (n > 0) r.Take(static_cast<int>(n));
}

// The four kinds of progressive scan (ITU T.81 G.1.2), one block each; `coef` (natural order)
// is null for blocks not kept. `mask` holds which coefficients (zig-zag) are non-zero so far.
[[gnu::always_inline]] inline bool DcFirstBlock(BitReader<true>& r, const HuffTable& t, int sc,
                                                int al, WalkState& st, int16_t* coef,
                                                std::vector<int>* dc) {
  if (coef == nullptr && dc == nullptr) {
    // A code and its value bits in one look-up (0: a long code, or one the rewrite changed).
    const auto d = static_cast<int32_t>(t.fast[r.PeekFast()]);
    if (d != 0) {
      r.Advance(d & 0xFF);
      st.pred[sc] += d >> 8;
      return st.pred[sc] >= -32767 && st.pred[sc] <= 32767;
    }
  }
  const int s = ReadSymbol(r, t, st);
  if (s < 0 || s > 11) return false;
  st.pred[sc] += s ? r.Receive(s) : 0;
  if (st.pred[sc] < -32767 || st.pred[sc] > 32767) return false;
  if (coef != nullptr) coef[0] = static_cast<int16_t>(st.pred[sc] * (1 << al));
  if (dc != nullptr) dc->push_back(st.pred[sc]);
  return true;
}

[[gnu::always_inline]] inline void DcRefineBlock(BitReader<true>& r, int al, int16_t* coef) {
  if (r.Take(1) && coef != nullptr) coef[0] = static_cast<int16_t>(coef[0] | (1 << al));
}

[[gnu::always_inline]] inline bool BeginRun(BitReader<true>& r, const HuffTable& t, int sym,
                                            int unit, WalkState& st) {
  const int run = sym >> 4;
  st.run_unit = unit;
  st.run_pos = r.consumed() - t.size[sym];
  int n = 1 << run;
  if (run > 0) n += static_cast<int>(r.Take(run));
  st.run_end = r.consumed();
  st.eobrun = n;
  return true;
}

// EOB runs in one look-up: per kFastBits window, (run length << 5) | bits of the code and its
// extra bits, 0 when they do not fit or the code changed.
void BuildRunTable(const HuffTable& t, uint32_t* eob) {
  for (uint32_t i = 0; i < (1u << kFastBits); ++i) {
    eob[i] = 0;
    const uint16_t e = t.lookup[i >> (kFastBits - kLookupBits)];
    const int l = e >> 8, sym = e & 0xFF;
    const int r = sym >> 4;
    if (l == 0 || (sym & 15) != 0 || r == 15 || t.changed[sym] || l + r > kFastBits) continue;
    const uint32_t extra = (i >> (kFastBits - l - r)) & ((1u << r) - 1);
    eob[i] = (((1u << r) + extra) << 5) | static_cast<uint32_t>(l + r);
  }
}

// Begins the EOB run of a run table entry; false (nothing read) for an entry of 0.
[[gnu::always_inline]] inline bool FastRun(BitReader<true>& r, uint32_t entry, int unit,
                                           WalkState& st) {
  if (entry == 0) return false;
  st.run_unit = unit;
  st.run_pos = r.consumed();
  r.Advance(static_cast<int>(entry & 31));
  st.run_end = r.consumed();
  st.eobrun = static_cast<int>(entry >> 5);
  return true;
}

[[gnu::always_inline]] inline bool AcFirstBlock(BitReader<true>& r, const HuffTable& t,
                                                const uint32_t* eob, const ScanHeader& s, int unit,
                                                WalkState& st, uint64_t* mask, int16_t* coef) {
  if (st.eobrun > 0) {
    --st.eobrun;
    return true;
  }
  for (int k = s.ss; k <= s.se;) {
    if (coef == nullptr) {
      // A value or ZRL code with its value bits in one look-up (the first symbol's step of
      // the baseline skipping table); EOB runs, long and changed codes take ReadSymbol.
      const uint32_t window = r.PeekFast();
      const uint32_t e = t.fast[window] >> 16;
      if (e & HuffTable::kEob) {
        if (FastRun(r, eob[window], unit, st)) {
          --st.eobrun;
          break;
        }
      } else if (e != 0) {
        r.Advance(static_cast<int>(e & 31));
        if (e & HuffTable::kZrl) {
          k += 16;
          continue;
        }
        k += static_cast<int>((e >> 5) & 63) - 1;
        if (k > s.se) return false;
        *mask |= uint64_t{1} << k;
        ++k;
        continue;
      }
    }
    const int sym = ReadSymbol(r, t, st);
    if (sym < 0) return false;
    const int run = sym >> 4, size = sym & 15;
    if (size != 0) {
      k += run;
      if (k > s.se) return false;
      if (coef != nullptr) {
        coef[kZigzagToNatural[k]] = static_cast<int16_t>(r.Receive(size) * (1 << s.al));
      } else {
        r.SkipBits(size);
      }
      *mask |= uint64_t{1} << k;
      ++k;
    } else if (run == 15) {
      k += 16;
    } else {
      BeginRun(r, t, sym, unit, st);
      --st.eobrun;
      break;
    }
  }
  return true;
}

// Bits a..b (zig-zag positions 0..63; empty when b < a).
[[gnu::always_inline]] inline uint64_t Band(int a, int b) {
  return (~uint64_t{0} >> (63 - b)) & (~uint64_t{0} << a);
}

// `fast`: the table holds no symbol of a size other than 0 and 1 (those the look-up would take
// for values are corrupt data in a refinement scan).
[[gnu::always_inline]] inline bool AcRefineBlock(BitReader<true>& r, const HuffTable& t,
                                                 const uint32_t* eob, bool fast,
                                                 const ScanHeader& s, int unit, WalkState& st,
                                                 uint64_t* mask, int16_t* coef) {
  const int p1 = 1 << s.al;
  uint64_t m = *mask;
  auto correct = [&](int k) {
    if (r.Take(1) && coef != nullptr) {
      int16_t& c = coef[kZigzagToNatural[k]];
      if ((c & p1) == 0) c = static_cast<int16_t>(c >= 0 ? c + p1 : c - p1);
    }
  };
  int k = s.ss;
  if (st.eobrun == 0) {
    for (; k <= s.se; ++k) {
      int run, value = 0;
      // A new coefficient's code with its sign bit, or a ZRL, in one look-up (as in
      // AcFirstBlock); EOB runs, long and changed codes take ReadSymbol.
      const uint32_t window = coef == nullptr && fast ? r.PeekFast() : 0;
      const uint32_t e = coef == nullptr && fast ? t.fast[window] >> 16 : 0;
      if (e & HuffTable::kEob && FastRun(r, eob[window], unit, st)) break;
      if (e != 0 && !(e & HuffTable::kEob)) {
        r.Advance(static_cast<int>(e & 31));
        run = static_cast<int>((e >> 5) & 63) - 1;
        value = e & HuffTable::kZrl ? 0 : p1;  // the sign does not matter when skipping
      } else {
        const int sym = ReadSymbol(r, t, st);
        if (sym < 0) return false;
        run = sym >> 4;
        const int size = sym & 15;
        if (size != 0) {
          if (size != 1) return false;
          value = r.Take(1) ? p1 : -p1;
        } else if (run != 15) {
          BeginRun(r, t, sym, unit, st);
          break;
        }
      }
      // Past `run` coefficients still zero (a new value lands on the next one), correcting the
      // non-zero ones on the way.
      if (coef == nullptr) {
        // The (run + 1)-th zero from k, and one correction bit per non-zero before it: each
        // non-zero met pushes the target one further.
        int to = k + run, from = k, corrections = 0;
        while (to <= s.se) {
          const uint64_t met = m & Band(from, to);
          if (met == 0) break;
          const int c = Popcount64(met);
          corrections += c;
          from = to + 1;
          to += c;
        }
        if (to > s.se) {
          to = s.se + 1;
          corrections = Popcount64(m & Band(k, s.se));
        }
        SkipMany(r, static_cast<uint64_t>(corrections));
        k = to;
      } else {
        for (; k <= s.se; ++k) {
          if ((m >> k) & 1) {
            correct(k);
          } else if (--run < 0) {
            break;
          }
        }
      }
      if (value != 0) {
        if (k > s.se) return false;
        m |= uint64_t{1} << k;
        if (coef != nullptr) coef[kZigzagToNatural[k]] = static_cast<int16_t>(value);
      }
    }
  }
  if (st.eobrun > 0) {
    if (coef != nullptr) {
      for (; k <= s.se; ++k) {
        if ((m >> k) & 1) correct(k);
      }
    } else if (k <= s.se) {
      const uint64_t left = m & Band(k, s.se);
      if (left != 0) SkipMany(r, static_cast<uint64_t>(Popcount64(left)));
    }
    --st.eobrun;
  }
  *mask = m;
  return true;
}

// Writes one scan's blocks (T.81 G.1.2, as libjpeg's jcphuff.c): EOB runs are held back until
// a block needs a symbol, with the correction bits of refinement scans that go with them.
class ScanEncoder {
 public:
  ScanEncoder(BitWriter<false>* w, const Scan& scan) : w_(w), s_(scan.hdr) {}

  bool DcFirst(int value, int* pred, const EncTable& t) {
    const int diff = value - *pred;
    *pred = value;
    const int n = Category(diff);
    if (n > 11 || !Put(t, n)) return false;
    if (n) w_->Put(static_cast<uint32_t>(diff < 0 ? diff - 1 : diff) & ((1u << n) - 1), n);
    return true;
  }

  void DcRefine(int coef) { w_->Put(static_cast<uint32_t>(coef >> s_.al) & 1, 1); }

  bool AcFirst(const int16_t* coef, const EncTable& t) {
    int run = 0;
    for (int k = s_.ss; k <= s_.se; ++k) {
      int v = coef[kZigzagToNatural[k]];
      const bool negative = v < 0;
      v = (negative ? -v : v) >> s_.al;
      if (v == 0) {
        ++run;
        continue;
      }
      if (!FlushRun(t)) return false;
      for (; run > 15; run -= 16) {
        if (!Put(t, 0xF0)) return false;
      }
      const int n = Category(v);
      if (n > 10 || !Put(t, (run << 4) | n)) return false;
      w_->Put(static_cast<uint32_t>(negative ? ~v : v) & ((1u << n) - 1), n);
      run = 0;
    }
    if (run > 0 && ++eobrun_ == kMaxEobRun) return FlushRun(t);
    return true;
  }

  bool AcRefine(const int16_t* coef, const EncTable& t) {
    int abs[64];
    int eob = 0;  // last coefficient becoming non-zero in this scan
    for (int k = s_.ss; k <= s_.se; ++k) {
      const int v = coef[kZigzagToNatural[k]];
      abs[k] = (v < 0 ? -v : v) >> s_.al;
      if (abs[k] == 1) eob = k;
    }
    int run = 0;
    block_bits_.clear();
    for (int k = s_.ss; k <= s_.se; ++k) {
      if (abs[k] == 0) {
        ++run;
        continue;
      }
      for (; run > 15 && k <= eob; run -= 16) {
        if (!FlushRun(t) || !Put(t, 0xF0)) return false;
        PutBits(block_bits_);
        block_bits_.clear();
      }
      if (abs[k] > 1) {
        block_bits_.push_back(static_cast<uint8_t>(abs[k] & 1));
        continue;
      }
      if (!FlushRun(t) || !Put(t, (run << 4) | 1)) return false;
      w_->Put(coef[kZigzagToNatural[k]] < 0 ? 0 : 1, 1);
      PutBits(block_bits_);
      block_bits_.clear();
      run = 0;
    }
    if (run > 0 || !block_bits_.empty()) {
      ++eobrun_;
      run_bits_.insert(run_bits_.end(), block_bits_.begin(), block_bits_.end());
      if (eobrun_ == kMaxEobRun || run_bits_.size() > 937) return FlushRun(t);
    }
    return true;
  }

  // Writes the pending EOB run, if any, and its correction bits.
  bool FlushRun(const EncTable& t) {
    if (eobrun_ == 0) return true;
    if (!PutRun(eobrun_, t)) return false;
    eobrun_ = 0;
    PutBits(run_bits_);
    run_bits_.clear();
    return true;
  }

  // Writes the symbol of an EOB run of n (1..32767) blocks.
  bool PutRun(int n, const EncTable& t) {
    uint32_t bits;
    int nbits;
    if (!RunCode(n, t, &bits, &nbits)) return false;
    w_->Put(bits, nbits);
    return true;
  }

  static bool RunCode(int n, const EncTable& t, uint32_t* bits, int* nbits) {
    const int r = 31 - __builtin_clz(static_cast<unsigned>(n));
    const int sym = r << 4;
    if (r > 14 || t.size[sym] == 0) return false;
    *bits =
        (static_cast<uint32_t>(t.code[sym]) << r) | (static_cast<uint32_t>(n) & ((1u << r) - 1));
    *nbits = t.size[sym] + r;
    return true;
  }

 private:
  bool Put(const EncTable& t, int sym) {
    if (t.size[sym] == 0) return false;
    w_->Put(t.code[sym], t.size[sym]);
    return true;
  }
  void PutBits(const std::vector<uint8_t>& bits) {
    for (uint8_t b : bits) w_->Put(b, 1);
  }

  BitWriter<false>* w_;
  const ScanHeader& s_;
  int eobrun_ = 0;
  std::vector<uint8_t> block_bits_, run_bits_;
};

void SetSymbols(std::bitset<256>* set, int runs, int sizes_from, int sizes_to) {
  for (int r = 0; r < runs; ++r) {
    for (int s = sizes_from; s <= sizes_to; ++s) set->set((r << 4) | s);
  }
}

// The splicing job for one progressive file: Read() walks every scan (pass 1), Composite()
// watermarks the kept blocks, Encode() writes their new bits for every scan, Emit() the file.
// One per call, used by one thread; borrows the input, header, geometry and logo.
class ProgressiveSplicer : private SpliceJob {
 public:
  ProgressiveSplicer(std::string_view input, const JpegHeader& h, const JpegGeometry& g,
                     const LogoPlacement& logo, const McuBox& box)
      : SpliceJob(input, h, g, logo, box) {
    for (int c = 0; c < g.num_components; ++c) {
      const int cw = (g.width * g.h[c] + g.max_h - 1) / g.max_h;
      const int ch = (g.height * g.v[c] + g.max_v - 1) / g.max_v;
      bw_[c] = (cw + 7) / 8;
      bh_[c] = (ch + 7) / 8;
      mask_[c].assign(static_cast<size_t>(bw_[c]) * bh_[c], 0);
      sx0_[c] = box.mx0 * g.h[c];
      sy0_[c] = box.my0 * g.v[c];
      sw_[c] = (box.mx1 - box.mx0) * g.h[c];
      sh_[c] = (box.my1 - box.my0) * g.v[c];
      store_[c].assign(static_cast<size_t>(sw_[c]) * sh_[c] * 64, 0);
      for (int& a : approx_[c]) a = -1;
    }
  }

  // Pass 1. False, with *why, for what this path does not handle or corrupt data.
  bool Read(std::string* why) {
    for (int c = 0; c < g_.num_components; ++c) {
      if (!h_.quant_present[h_.comp[c].quant_index]) return Fail(why, "missing quantization table");
    }
    restart_ = h_.restart_interval;
    size_t at = h_.scan_marker;
    while (true) {
      if (scans_.size() >= static_cast<size_t>(kMaxScans)) {
        return Fail(why, "more than " + std::to_string(kMaxScans) + " scans");
      }
      size_t end_at = 0;
      if (!ReadScan(at, &end_at, why)) return false;
      // Markers up to the next scan or the end of the image.
      const uint8_t* p = data_;
      const size_t n = input_.size();
      at = end_at;
      while (true) {
        while (at + 1 < n && p[at] == 0xFF && p[at + 1] == 0xFF) ++at;
        if (at + 1 >= n || p[at] != 0xFF) return Fail(why, "truncated after a scan");
        const int marker = p[at + 1];
        if (marker == 0xD9) return CheckComplete(why);
        if (marker == 0xDA) break;
        if (at + 4 > n) return Fail(why, "truncated marker");
        const size_t len = (p[at + 2] << 8) | p[at + 3];
        if (len < 2 || at + 2 + len > n) return Fail(why, "truncated marker segment");
        const uint8_t* s = p + at + 4;
        if (marker == 0xC4) {
          if (!ParseDht(s, len - 2, spec_[0], spec_[1]).ok()) return Fail(why, "bad DHT");
        } else if (marker == 0xDD) {
          if (len < 4) return Fail(why, "bad DRI");
          restart_ = (s[0] << 8) | s[1];
        } else if ((marker >= 0xC0 && marker <= 0xCF) || marker == 0xDB || marker == 0xDC ||
                   (marker >= 0xD0 && marker <= 0xD8)) {
          return Fail(why, "a marker between scans this path does not handle");
        }
        at += 2 + len;
      }
    }
  }

  // Composites the kept blocks, as the coefficient path does.
  void Composite() {
    std::vector<ComponentPlane> planes;
    for (int my = box_.my0; my < box_.my1; ++my) {
      BuildPlanes(logo_, g_, color_, h_.adobe_transform >= 0, my * g_.mcu_height(),
                  (my + 1) * g_.mcu_height(), &planes);
      for (int c = 0; c < g_.num_components; ++c) {
        const ComponentPlane& plane = planes[c];
        const uint16_t* quant = h_.quant[h_.comp[c].quant_index];
        const int bx0 = plane.x0 / 8;
        const int bx1 = std::min((plane.x0 + plane.width + 7) / 8, bw_[c]);
        const int by1 = std::min((my + 1) * g_.v[c], bh_[c]);
        for (int by = my * g_.v[c]; by < by1; ++by) {
          for (int bx = bx0; bx < bx1; ++bx) {
            if (bx < sx0_[c] || bx >= sx0_[c] + sw_[c]) continue;
            WatermarkBlock(Block(c, bx, by), quant, plane, bx, by);
          }
        }
      }
    }
  }

  // Encodes the kept blocks for every scan. False, with *why, when a value has no code.
  bool Encode(std::string* why) {
    for (Scan& scan : scans_) {
      BitWriter<false> w;
      for (size_t i = 0; i < scan.splices.size(); ++i) {
        Splice& sp = scan.splices[i];
        const uint64_t start = w.bits();
        if (!EncodeSplice(scan, sp, &w)) return Fail(why, "a coefficient the scan cannot code");
        // An EOB run the splice cut: its remainder after the splice gets a symbol of its own.
        if (!scan.dc() && sp.end.eobrun > 0) {
          const bool next_here =
              i + 1 < scan.splices.size() && scan.splices[i + 1].piece == sp.piece;
          const int limit = next_here ? scan.splices[i + 1].first : PieceEnd(scan, sp.piece);
          const int n = std::min(sp.end.eobrun, limit - sp.last);
          ScanEncoder enc(&w, scan);
          if (n > 0 && !enc.PutRun(n, scan.enc[0])) return Fail(why, "an EOB run without a code");
        }
        Edit e;
        e.pos = sp.begin.pos;
        if (sp.end.pos - sp.begin.pos > UINT32_MAX || w.bits() - start > UINT32_MAX) {
          return Fail(why, "a scan too large");
        }
        e.drop = static_cast<uint32_t>(sp.end.pos - sp.begin.pos);
        e.enc_bits = static_cast<uint32_t>(w.bits() - start);
        scan.edits[sp.piece].push_back(e);
        // A run begun before the splice and copied up to it is cut short where it begins.
        const bool prev_here = i > 0 && scan.splices[i - 1].piece == sp.piece;
        const int copied_from = prev_here ? scan.splices[i - 1].last : PieceBegin(scan, sp.piece);
        if (!scan.dc() && sp.begin.eobrun > 0 && sp.begin.run_unit >= copied_from) {
          Edit run;
          run.pos = sp.begin.run_pos;
          run.drop = static_cast<uint32_t>(sp.begin.run_end - sp.begin.run_pos);
          int nbits = 0;
          if (!ScanEncoder::RunCode(sp.first - sp.begin.run_unit, scan.enc[0], &run.bits, &nbits)) {
            return Fail(why, "an EOB run without a code");
          }
          run.nbits = static_cast<uint8_t>(nbits);
          scan.edits[sp.piece].push_back(run);
        }
      }
      w.Flush();
      scan.encoded.assign(w.bytes());
      for (std::vector<Edit>& edits : scan.edits) Order(&edits);
    }
    return true;
  }

  // Pass 2: writes the file.
  common::Status Emit(OutputSink* sink) {
    size_t copied = 0;
    BitWriter<true> out;
    for (const Scan& scan : scans_) {
      if (!scan.dht.empty()) {
        DAT_RETURN_IF_ERROR(sink->Write(input_.substr(copied, scan.marker - copied)));
        DAT_RETURN_IF_ERROR(sink->Write(scan.dht));
        copied = scan.marker;
      }
      BitReader<false> encoded(reinterpret_cast<const uint8_t*>(scan.encoded.data()), 0,
                               scan.encoded.size());
      for (size_t p = 0; p < scan.pieces.size(); ++p) {
        if (scan.edits[p].empty()) continue;
        DAT_RETURN_IF_ERROR(sink->Write(input_.substr(copied, scan.pieces[p].begin - copied)));
        BitReader<true> in(data_, scan.pieces[p].begin, scan.pieces[p].end);
        uint64_t at = 0;
        for (const Edit& e : scan.edits[p]) {
          DAT_RETURN_IF_ERROR(Copy(in, e.pos - at, &out, sink));
          SkipMany(in, e.drop);
          if (e.nbits > 0) out.Put(e.bits, e.nbits);
          DAT_RETURN_IF_ERROR(Copy(encoded, e.enc_bits, &out, sink));
          at = e.pos + e.drop;
        }
        DAT_RETURN_IF_ERROR(Copy(in, scan.piece_bits[p] - at, &out, sink));
        out.Flush();
        DAT_RETURN_IF_ERROR(sink->Write(out.bytes()));
        out.Clear();
        copied = scan.pieces[p].end;
      }
    }
    return sink->Write(input_.substr(copied));
  }

 private:
  static bool Fail(std::string* why, std::string reason) {
    *why = std::move(reason);
    return false;
  }

  int16_t* Block(int c, int bx, int by) {
    return &store_[c][(static_cast<size_t>(by - sy0_[c]) * sw_[c] + (bx - sx0_[c])) * 64];
  }

  static int PieceBegin(const Scan& s, int p) { return s.restart ? p * s.restart : 0; }
  static int PieceEnd(const Scan& s, int p) {
    return s.restart ? std::min((p + 1) * s.restart, s.total()) : s.total();
  }

  template <typename Reader>
  static common::Status Copy(Reader& in, uint64_t n, BitWriter<true>* out, OutputSink* sink) {
    constexpr uint64_t kChunk = uint64_t{1} << 16;
    while (n > 0) {
      const uint64_t step = std::min(n, kChunk * 8);
      CopyBits(in, step, *out);
      n -= step;
      if (out->pending() >= kChunk) {
        DAT_RETURN_IF_ERROR(sink->Write(out->bytes()));
        out->Clear();
      }
    }
    return common::Status::Ok();
  }

  // Sorts edits by position and drops those inside bits a splice replaces.
  static void Order(std::vector<Edit>* edits) {
    std::stable_sort(edits->begin(), edits->end(), [](const Edit& a, const Edit& b) {
      return a.pos != b.pos ? a.pos < b.pos : a.order < b.order;
    });
    uint64_t covered = 0;
    size_t kept = 0;
    for (const Edit& e : *edits) {
      if (e.pos < covered) continue;
      covered = e.pos + e.drop;
      (*edits)[kept++] = e;
    }
    edits->resize(kept);
  }

  // Checks the scan against the script so far (T.81 G.1.1.1: each coefficient's successive
  // approximation goes down one bit at a time, AC only after DC) and records it.
  bool CheckScript(const ScanHeader& s, std::string* why) {
    const bool dc = s.ss == 0;
    if (s.se > 63 || s.ss > s.se || (dc && s.se != 0) || (!dc && s.num_components != 1) ||
        s.al > 13 || (s.ah != 0 && s.al != s.ah - 1)) {
      return Fail(why, "a scan script this path does not handle");
    }
    for (int i = 0; i < s.num_components; ++i) {
      int* a = approx_[s.comp[i]];
      if (!dc && a[0] < 0) return Fail(why, "an AC scan before the DC scan");
      for (int k = s.ss; k <= s.se; ++k) {
        if ((s.ah == 0 && a[k] != -1) || (s.ah != 0 && a[k] != s.ah)) {
          return Fail(why, "a scan script this path does not handle");
        }
        a[k] = s.al;
      }
    }
    return true;
  }

  bool CheckComplete(std::string* why) {
    for (int c = 0; c < g_.num_components; ++c) {
      for (int k = 0; k < 64; ++k) {
        if (approx_[c][k] != 0) return Fail(why, "the scans leave coefficients incomplete");
      }
    }
    return true;
  }

  // Gives every symbol the scan may need a code in its tables (see CompleteTables in
  // jpeg_entropy.cc) and builds the tables that read it.
  bool ScanTables(Scan* scan, std::string* why) {
    const ScanHeader& s = scan->hdr;
    if (s.ss == 0 && s.ah != 0) return true;  // DC refinement: raw bits
    const int cls = s.ss == 0 ? 0 : 1;
    std::bitset<256> valid;
    if (cls == 0) {
      for (int i = 0; i <= 11; ++i) valid.set(i);
    } else {
      SetSymbols(&valid, 15, 0, 0);  // EOB runs
      valid.set(0xF0);
      SetSymbols(&valid, 16, 1, s.ah == 0 ? std::max(1, 10 - s.al) : 1);
    }
    bool done[4] = {};
    for (int i = 0; i < s.num_components; ++i) {
      const int id = cls == 0 ? s.dc_table[i] : s.ac_table[i];
      if (id > 3 || !spec_[cls][id].present)
        return Fail(why, "scan refers to a missing Huffman table");
      if (!done[id]) {
        done[id] = true;
        std::bitset<256> absent = valid;
        const HuffmanSpec& spec = spec_[cls][id];
        for (int k = 0; k < spec.num_symbols; ++k) absent.reset(spec.symbols[k]);
        for (int k = 0; k < spec.num_symbols && s.ss > 0 && s.ah > 0; ++k) {
          if ((spec.symbols[k] & 15) > 1) scan->fast = false;
        }
        HuffmanSpec full;
        if (!AddHuffmanSymbols(spec, absent, &full) || !complete_[id].Build(full, cls == 0) ||
            !read_[id].Build(spec, cls == 0, &complete_[id])) {
          return Fail(why, "the file's Huffman tables cannot take the codes the logo may need");
        }
        if (absent.any()) {
          if (scan->dht.empty()) scan->dht.assign("\xFF\xC4\0\0", 4);
          scan->dht += static_cast<char>((cls << 4) | id);
          for (int l = 1; l <= 16; ++l) scan->dht += static_cast<char>(full.counts[l]);
          scan->dht.append(reinterpret_cast<const char*>(full.symbols), full.num_symbols);
        }
      }
      std::memcpy(scan->enc[i].code, complete_[id].code, sizeof scan->enc[i].code);
      std::memcpy(scan->enc[i].size, complete_[id].size, sizeof scan->enc[i].size);
      table_[i] = &read_[id];
      if (cls == 1) BuildRunTable(read_[id], eob_fast_);
    }
    if (!scan->dht.empty()) {
      const size_t len = scan->dht.size() - 2;
      scan->dht[2] = static_cast<char>(len >> 8);
      scan->dht[3] = static_cast<char>(len & 0xFF);
    }
    return true;
  }

  // The scan's units, its logo units and the splices of each restart interval.
  void Layout(Scan* scan) {
    const ScanHeader& s = scan->hdr;
    if (s.num_components > 1) {
      scan->per_row = g_.mcus_per_row();
      scan->rows = g_.mcu_rows();
      scan->ux0 = box_.mx0, scan->ux1 = box_.mx1, scan->uy0 = box_.my0, scan->uy1 = box_.my1;
      for (int i = 0; i < s.num_components; ++i) {
        const int c = s.comp[i];
        for (int v = 0; v < g_.v[c]; ++v) {
          for (int u = 0; u < g_.h[c]; ++u) scan->blocks.push_back({i, c, u, v});
        }
      }
    } else {
      const int c = s.comp[0];
      scan->per_row = bw_[c];
      scan->rows = bh_[c];
      scan->ux0 = sx0_[c], scan->ux1 = std::min(sx0_[c] + sw_[c], bw_[c]);
      scan->uy0 = sy0_[c], scan->uy1 = std::min(sy0_[c] + sh_[c], bh_[c]);
      scan->blocks.push_back({0, c, 0, 0});
    }
    scan->restart = restart_;
    const bool extend = s.ss == 0 && s.ah == 0;
    for (int uy = scan->uy0; uy < scan->uy1 && scan->ux0 < scan->ux1; ++uy) {
      const int a = uy * scan->per_row + scan->ux0, b = uy * scan->per_row + scan->ux1;
      const int r = scan->restart ? scan->restart : scan->total();
      for (int p = a / r; p <= (b - 1) / r; ++p) {
        const int first = std::max(a, p * r);
        int last = std::min(b, (p + 1) * r);
        if (extend && last < PieceEnd(*scan, p)) ++last;
        if (!scan->splices.empty() && scan->splices.back().piece == p &&
            scan->splices.back().last >= first) {
          scan->splices.back().last = std::max(scan->splices.back().last, last);
        } else {
          Splice sp;
          sp.piece = p;
          sp.first = first;
          sp.last = last;
          scan->splices.push_back(std::move(sp));
        }
      }
    }
  }

  bool ReadScan(size_t marker, size_t* end_at, std::string* why) {
    Scan& scan = scans_.emplace_back();
    scan.marker = marker;
    const size_t n = input_.size();
    if (marker + 4 > n) return Fail(why, "truncated SOS");
    const size_t len = (data_[marker + 2] << 8) | data_[marker + 3];
    if (len < 2 || marker + 2 + len > n) return Fail(why, "truncated SOS");
    if (!ParseSos(h_, data_ + marker + 4, len - 2, &scan.hdr).ok()) return Fail(why, "bad SOS");
    scan.data = marker + 2 + len;
    if (!CheckScript(scan.hdr, why) || !ScanTables(&scan, why)) return false;
    int end_marker = 0;
    if (!SplitScan(input_, scan.data, &scan.pieces, end_at, &end_marker, why)) return false;
    Layout(&scan);
    const int total = scan.total();
    const int r = scan.restart ? scan.restart : total;
    if (static_cast<int>(scan.pieces.size()) != (total + r - 1) / r) {
      return Fail(why, "restart marker count does not match the restart interval");
    }
    scan.piece_bits.assign(scan.pieces.size(), 0);
    scan.edits.resize(scan.pieces.size());
    size_t next = 0;  // the first splice of the piece
    for (size_t p = 0; p < scan.pieces.size(); ++p) {
      BitReader<true> r(data_, scan.pieces[p].begin, scan.pieces[p].end);
      WalkState st;
      st.edits = &scan.edits[p];
      st.rewrites_left = &rewrites_left_;
      auto corrupt = [&] {
        return Fail(why, st.too_many ? "too many codes to rewrite" : "corrupt scan");
      };
      int u = PieceBegin(scan, static_cast<int>(p));
      for (; next < scan.splices.size() && scan.splices[next].piece == static_cast<int>(p);
           ++next) {
        Splice& sp = scan.splices[next];
        if (!Walk(scan, r, st, u, sp.first, nullptr)) return corrupt();
        sp.begin = st.At(r);
        if (!Walk(scan, r, st, sp.first, sp.last, &sp)) return corrupt();
        sp.end = st.At(r);
        u = sp.last;
      }
      if (!Walk(scan, r, st, u, PieceEnd(scan, static_cast<int>(p)), nullptr) || r.overrun()) {
        return corrupt();
      }
      scan.piece_bits[p] = r.consumed();
    }
    return true;
  }

  // Reads units [a, b); with `sp`, keeps the logo's blocks (and DC values) for the splice.
  bool Walk(const Scan& scan, BitReader<true>& reader, WalkState& st, int a, int b, Splice* sp) {
    BitReader<true> r = reader;  // a local copy stays in registers
    const ScanHeader& s = scan.hdr;
    bool ok = true;
    if (!scan.dc()) {
      const HuffTable& t = *table_[0];
      uint64_t* mask = mask_[s.comp[0]].data();
      const int c = s.comp[0];
      for (int u = a; u < b && ok; ++u) {
        int16_t* coef = nullptr;
        if (sp != nullptr && scan.logo(u)) coef = Block(c, u % scan.per_row, u / scan.per_row);
        ok = scan.first() ? AcFirstBlock(r, t, eob_fast_, s, u, st, &mask[u], coef)
                          : AcRefineBlock(r, t, eob_fast_, scan.fast, s, u, st, &mask[u], coef);
      }
    } else {
      for (int u = a; u < b && ok; ++u) {
        const int ux = u % scan.per_row, uy = u / scan.per_row;
        const bool keep = sp != nullptr && scan.logo(u);
        for (const UnitBlock& blk : scan.blocks) {
          int16_t* coef = nullptr;
          if (keep) {
            const bool mcu = s.num_components > 1;
            coef = Block(blk.comp, mcu ? ux * g_.h[blk.comp] + blk.u : ux,
                         mcu ? uy * g_.v[blk.comp] + blk.v : uy);
          }
          if (scan.first()) {
            ok = DcFirstBlock(r, *table_[blk.sc], blk.sc, s.al, st, coef,
                              sp != nullptr ? &sp->dc : nullptr);
          } else {
            DcRefineBlock(r, s.al, coef);
          }
          if (!ok) break;
        }
      }
    }
    reader = r;
    return ok;
  }

  bool EncodeSplice(const Scan& scan, const Splice& sp, BitWriter<false>* w) {
    ScanEncoder enc(w, scan);
    const ScanHeader& s = scan.hdr;
    int pred[4];
    std::copy(sp.begin.pred, sp.begin.pred + 4, pred);
    size_t i = 0;  // block of the splice
    for (int u = sp.first; u < sp.last; ++u) {
      const int ux = u % scan.per_row, uy = u / scan.per_row;
      const bool logo = scan.logo(u);
      for (const UnitBlock& blk : scan.blocks) {
        const bool mcu = s.num_components > 1;
        const int16_t* coef = logo ? Block(blk.comp, mcu ? ux * g_.h[blk.comp] + blk.u : ux,
                                           mcu ? uy * g_.v[blk.comp] + blk.v : uy)
                                   : nullptr;
        bool ok = true;
        if (scan.dc() && scan.first()) {
          const int value = logo ? coef[0] >> s.al : sp.dc[i];
          ok = enc.DcFirst(value, &pred[blk.sc], scan.enc[blk.sc]);
        } else if (coef == nullptr) {
          ok = false;  // only DC first splices hold units outside the logo
        } else if (scan.dc()) {
          enc.DcRefine(coef[0]);
        } else if (scan.first()) {
          ok = enc.AcFirst(coef, scan.enc[0]);
        } else {
          ok = enc.AcRefine(coef, scan.enc[0]);
        }
        if (!ok) return false;
        ++i;
      }
    }
    return scan.dc() || enc.FlushRun(scan.enc[0]);
  }

  // Const after construction (and the members of SpliceJob but spec_).
  int bw_[4] = {}, bh_[4] = {};                              // blocks per component
  int sx0_[4] = {}, sy0_[4] = {}, sw_[4] = {}, sh_[4] = {};  // the kept blocks

  std::vector<uint64_t> mask_[4];  // per block: coefficients (zig-zag) non-zero so far
  std::vector<int16_t> store_[4];  // the kept blocks, natural order
  int approx_[4][64];              // per coefficient: the last scan's Al, -1 before any
  int restart_ = 0;
  size_t rewrites_left_ = kMaxRewrites;
  HuffTable read_[4], complete_[4];    // the current scan's tables: the file's, completed
  const HuffTable* table_[4] = {};     // per scan component
  uint32_t eob_fast_[1 << kFastBits];  // AC scans: BuildRunTable of the table
  std::vector<Scan> scans_;
};

}  // namespace

common::Result<bool> WatermarkJpegProgressive(std::string_view input, const JpegHeader& h,
                                              const WatermarkOptions& options, OutputSink* sink,
                                              WatermarkResult* result, EntropyFallback* fallback) {
  auto refuse = [&](std::string reason) {
    fallback->reason = "progressive JPEG: " + reason;
    return false;
  };
  if (h.sof != 0xC2) return refuse("not a progressive Huffman JPEG");
  if (h.precision != 8) return refuse("not 8-bit");
  if (!h.has_scan) return refuse("no scan");
  std::string why;
  JpegGeometry g;
  if (!GeometryOf(h, &g, &why)) return refuse(why);
  auto logo = PlaceLogo(g.width, g.height, h.orientation, options);
  if (!logo.ok()) return refuse(std::string(logo.status().message()));
  const McuBox box = CoveringMcus(logo->box(), g);

  auto splicer = std::make_unique<ProgressiveSplicer>(input, h, g, *logo, box);
  if (!splicer->Read(&why)) return refuse(why);
  splicer->Composite();
  if (!splicer->Encode(&why)) return refuse(why);
  DAT_RETURN_IF_ERROR(splicer->Emit(sink));

  SetSplicedResult(g, h.orientation, *logo, box, result);
  return true;
}

}  // namespace image::internal
