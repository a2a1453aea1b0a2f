// Internal: bit-level reading and writing of JPEG entropy-coded data and canonical Huffman
// tables, shared by the baseline splice (jpeg_entropy.cc) and the progressive splice
// (jpeg_progressive.cc).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "image/jpeg_block.h"
#include "image/jpeg_parse.h"

namespace image::internal {

// A canonical Huffman table, for decoding (9-bit lookahead, then code-length walk) and for
// encoding (code and size per symbol; size 0 means the file has no code for the symbol).
constexpr int kLookupBits = 10;  // codes decoded with one look-up
constexpr int kFastBits = 11;    // window of the skipping tables

// A canonical Huffman table, for decoding (look-up, then code-length walk), for encoding (code
// and size per symbol; size 0 means the file has no code for the symbol) and for skipping.
struct HuffTable {
  uint16_t lookup[1 << kLookupBits];  // (length << 8) | symbol for short codes, else 0
  int32_t maxcode[18];                // largest code of each length, -1 if none
  int32_t valoffset[17];
  uint8_t symbols[256];
  uint16_t code[256];
  uint8_t size[256];
  // What the next kFastBits bits hold, 0 when they do not hold a whole code ("use Decode").
  // DC tables: (difference << 8) | bits of code and value, when both fit.
  // AC tables: two halves (Step), each one step of skipping: the low half takes both of the
  // first two symbols when the first with its value bits and the second code fit in the
  // window, the high half only the first. One symbol only: both halves are the same.
  uint32_t fast[1 << kFastBits];
  // When the file's table is rewritten (see AddHuffmanSymbols): the table holding the new
  // codes, and which symbols' codes differ there. Skipping stops at those symbols (their fast
  // entries are 0) so that every occurrence can be written again with its new code.
  const HuffTable* recode = nullptr;
  bool changed[256];

  // One step: bits to skip (0-4), coefficients advanced (5-10; a value: run + 1, a ZRL: 16),
  // whether the step ends the block, whether its last symbol is a ZRL (which may run past the
  // end of the block; any other symbol there means corrupt data).
  static constexpr uint32_t Step(int bits, int advance, bool eob, bool zrl) {
    return static_cast<uint32_t>(bits | (advance << 5) | (eob ? kEob : 0) | (zrl ? kZrl : 0));
  }
  static constexpr uint32_t kEob = 1u << 11, kZrl = 1u << 12;

  // False for an over-subscribed (invalid) table. With `new_codes`, the symbols whose codes
  // differ there are marked changed (it must outlive this table).
  bool Build(const HuffmanSpec& spec, bool dc, const HuffTable* new_codes = nullptr) {
    std::memset(lookup, 0, sizeof lookup);
    std::memset(changed, 0, sizeof changed);
    recode = new_codes;
    std::memset(size, 0, sizeof size);
    std::memset(code, 0, sizeof code);
    std::memcpy(symbols, spec.symbols, sizeof symbols);
    int32_t next = 0;
    int k = 0;
    for (int l = 1; l <= 16; ++l) {
      valoffset[l] = k - next;
      for (int i = 0; i < spec.counts[l]; ++i, ++k, ++next) {
        if (next >= (1 << l) || k >= 256) return false;  // over-subscribed
        const uint8_t sym = spec.symbols[k];
        code[sym] = static_cast<uint16_t>(next);
        size[sym] = static_cast<uint8_t>(l);
        if (l <= kLookupBits) {
          const int shift = kLookupBits - l;
          for (int j = 0; j < (1 << shift); ++j) {
            lookup[(next << shift) | j] = static_cast<uint16_t>((l << 8) | sym);
          }
        }
      }
      maxcode[l] = spec.counts[l] ? next - 1 : -1;
      if (next > (1 << l)) return false;
      next <<= 1;
    }
    maxcode[17] = 0x7fffffff;
    if (new_codes != nullptr) {
      for (int i = 0; i < k; ++i) {
        const uint8_t sym = spec.symbols[i];
        changed[sym] = new_codes->code[sym] != code[sym] || new_codes->size[sym] != size[sym];
      }
    }
    for (uint32_t i = 0; i < (1u << kFastBits); ++i) fast[i] = dc ? DcEntry(i) : AcEntry(i);
    return true;
  }

 private:
  // The length of the code at the top of the `avail`-bit number `bits` (0 if none fits), and
  // its symbol.
  int First(uint32_t bits, int avail, int* sym) const {
    for (int l = 1; l <= avail; ++l) {
      const auto c = static_cast<int32_t>(bits >> (avail - l));
      if (c <= maxcode[l]) {
        *sym = symbols[(valoffset[l] + c) & 0xFF];
        return l;
      }
    }
    return 0;
  }

  uint32_t DcEntry(uint32_t i) const {
    int s;
    const int l = First(i, kFastBits, &s);
    if (l == 0 || s > 11 || l + s > kFastBits || changed[s]) return 0;
    int diff = 0;
    if (s > 0) {
      const int v = static_cast<int>(i >> (kFastBits - l - s)) & ((1 << s) - 1);
      diff = v < (1 << (s - 1)) ? v - (1 << s) + 1 : v;
    }
    return static_cast<uint32_t>(diff * 256 + l + s);
  }

  uint32_t AcEntry(uint32_t i) const {
    int sym;
    const int l1 = First(i, kFastBits, &sym);
    if (l1 == 0 || changed[sym]) return 0;
    // As libjpeg reads them: size 0 is a ZRL (16 zeros) with run 15, else the end of block.
    const int x1 = sym & 15, r1 = sym >> 4;
    const int used = l1 + x1;
    const uint32_t first =
        Step(used, x1 == 0 && r1 != 15 ? 0 : r1 + 1, x1 == 0 && r1 != 15, x1 == 0 && r1 == 15);
    uint32_t both = first;
    const int rest = kFastBits - used;
    if (!(first & kEob) && rest > 0) {
      const int l2 = First(i & ((1u << rest) - 1), rest, &sym);
      const int x2 = sym & 15, r2 = sym >> 4;
      if (l2 > 0 && !changed[sym]) {
        const bool eob = x2 == 0 && r2 != 15;
        both = Step(used + l2 + x2, r1 + 1 + (eob ? 0 : r2 + 1), eob, x2 == 0 && r2 == 15);
      }
    }
    return both | (first << 16);
  }
};

// SkipBlock's default: no table was rewritten, nothing to report.
struct NoHook {
  template <typename Reader>
  void operator()(const Reader&, const Reader&, const HuffTable&, int) const {}
};

// Reads bits from [begin, end). With kStuffed (entropy-coded data) 0xFF00 stuffing is undone;
// past the end, or at a marker, it supplies zero bytes and counts them, so callers can tell a
// stream that ran out from one that ended cleanly. Plain data, cheap to copy: a copy resumes
// reading where the original was.
template <bool kStuffed>
class BitReader {
 public:
  BitReader() = default;
  BitReader(const uint8_t* data, size_t begin, size_t end)
      : data_(data), begin_(begin), pos_(begin), end_(end) {}

  [[gnu::always_inline]] int Decode(const HuffTable& t) {
    if (bits_ < 16) Fill();
    const uint16_t e = t.lookup[acc_ >> (64 - kLookupBits)];
    if (e >> 8) {
      Skip(e >> 8);
      return e & 0xFF;
    }
    int l = kLookupBits + 1;
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
  [[gnu::always_inline]] int Receive(int s) {
    if (bits_ < s) Fill();
    const int v = static_cast<int>(acc_ >> (64 - s));
    Skip(s);
    return v < (1 << (s - 1)) ? v - (1 << s) + 1 : v;
  }

  // Skips one block, tracking the DC predictor. False on corrupt data. Each symbol marked
  // changed in its table goes to hook(reader before its code, reader after it, table, symbol).
  template <typename Hook = NoHook>
  [[gnu::always_inline]] bool SkipBlock(const HuffTable& dc, const HuffTable& ac, int* pred,
                                        Hook&& hook = Hook{}) {
    constexpr bool kTrack = !std::is_same_v<std::decay_t<Hook>, NoHook>;
    Refill();
    const auto d = static_cast<int32_t>(dc.fast[acc_ >> (64 - kFastBits)]);
    if (d != 0) {
      Skip(d & 0xFF);
      *pred += d >> 8;
    } else {
      BitReader before;
      if constexpr (kTrack) before = *this;
      const int s = Decode(dc);
      if (s < 0 || s > 11) return false;
      if constexpr (kTrack) {
        if (dc.changed[s]) hook(before, *this, dc, s);
      }
      *pred += s ? Receive(s) : 0;
    }
    if (*pred < -32767 || *pred > 32767) return false;
    // One fast step: 1 taken, 0 the block ended, -1 corrupt, 2 the step needs Decode.
    auto step = [&](int& k) [[gnu::always_inline]] {
      const uint32_t e = ac.fast[acc_ >> (64 - kFastBits)];
      if (e == 0) return 2;
      // Both symbols of a pair belong to this block unless the first reaches its end, which a
      // symbol (advancing at most 16) cannot from below 48: a branch on k alone keeps the
      // common case off the chain of dependent table look-ups.
      uint32_t st = e & 0xFFFF;
      if (__builtin_expect(k >= 48, 0) && k + ((e >> 21) & 63) >= 64) st = e >> 16;
      Skip(st & 31);
      if (st & HuffTable::kEob) return 0;
      k += (st >> 5) & 63;
      if (k > 64 && !(st & HuffTable::kZrl)) return -1;
      return 1;
    };
    for (int k = 1; k < 64;) {
      // A refill leaves at least 56 bits and a fast step takes at most 26: two steps per refill.
      Refill();
      int rc = step(k);
      if (rc == 1 && k < 64) rc = step(k);
      if (rc == 0) return true;
      if (rc < 0) return false;
      if (rc == 1) continue;
      BitReader before;
      if constexpr (kTrack) before = *this;
      const int rs = Decode(ac);
      if (rs < 0) return false;
      if constexpr (kTrack) {
        if (ac.changed[rs]) hook(before, *this, ac, rs);
      }
      const int run = rs >> 4, size = rs & 15;
      if (size == 0) {
        if (run != 15) return true;
        k += 16;
        continue;
      }
      k += run + 1;
      if (k > 64) return false;
      SkipBits(size);
    }
    return true;
  }

  // The next kFastBits bits (for a HuffTable's `fast` entries), with at least 32 bits loaded.
  [[gnu::always_inline]] uint32_t PeekFast() {
    Refill();
    return static_cast<uint32_t>(acc_ >> (64 - kFastBits));
  }

  // Drops n (at most 32) bits loaded by PeekFast.
  [[gnu::always_inline]] void Advance(int n) { Skip(n); }

  [[gnu::always_inline]] void SkipBits(int s) {
    if (bits_ < s) Fill();
    Skip(s);
  }

  // The next n (1..32) bits.
  uint32_t Take(int n) {
    if (bits_ < n) Fill();
    const auto v = static_cast<uint32_t>(acc_ >> (64 - n));
    Skip(n);
    return v;
  }

  // The byte after the last one loaded: no unread bit lies at or beyond it. Cheap (a bound for
  // Position, which walks back over the loaded bytes).
  size_t loaded_to() const { return pos_; }

  // True once bits beyond the data (zero padding) have been consumed.
  bool overrun() const { return static_cast<int64_t>(fake_) * 8 > bits_; }

  // Bits consumed since construction (stuffing not counted).
  uint64_t consumed() const { return loaded_ - static_cast<uint64_t>(bits_); }

  // The byte holding the next unread bit, and how many of its high bits were already read.
  void Position(size_t* byte, int* used) const {
    const int k = (bits_ + 7) / 8;  // loaded bytes with unread bits
    *used = (8 - bits_ % 8) % 8;
    size_t q = pos_;  // bytes supplied past the end (fake_) take no room in the input
    for (int i = 0; i < k - static_cast<int>(fake_); ++i) {
      --q;
      // A zero right after 0xFF is stuffing: the data byte is the 0xFF.
      if (kStuffed && data_[q] == 0 && q > begin_ && data_[q - 1] == 0xFF) --q;
    }
    *byte = q;
  }

 private:
  [[gnu::always_inline]] void Skip(int n) {
    acc_ <<= n;
    bits_ -= n;
  }

  // Tops the accumulator up to at least 56 bits. Unlike "if (bits_ < 32) Fill()", whose
  // outcome is a coin toss at every symbol, this takes no data-dependent branch unless a 0xFF
  // byte is near. All 8 bytes read go into the accumulator; those beyond the whole bytes
  // counted are the very bits the next refill loads again, so the OR leaves them unchanged.
  [[gnu::always_inline]] void Refill() {
    if (__builtin_expect(end_ - pos_ < 8, 0)) {
      if (bits_ < 56) Fill();
      return;
    }
    uint64_t w;
    std::memcpy(&w, data_ + pos_, 8);
    w = __builtin_bswap64(w);
    if (kStuffed) {
      const uint64_t t = ~w;  // a 0xFF byte of w is a zero byte of t
      if (__builtin_expect(((t - 0x0101010101010101ull) & ~t & 0x8080808080808080ull) != 0, 0)) {
        if (bits_ < 56) Fill();
        return;
      }
    }
    acc_ |= w >> bits_;
    const int nbytes = (63 - bits_) >> 3;  // whole bytes that fit, 0..7
    pos_ += nbytes;
    loaded_ += 8 * static_cast<uint64_t>(nbytes);
    bits_ += 8 * nbytes;
  }

  [[gnu::always_inline]] void Fill() {
    // Fast path: the next bytes hold no 0xFF (no stuffing, no marker), load them in one go.
    if (end_ - pos_ >= 8 && bits_ <= 56) {
      uint64_t w;
      std::memcpy(&w, data_ + pos_, 8);
      w = __builtin_bswap64(w);
      const int nbytes = (64 - bits_) >> 3;
      const uint64_t keep = ~uint64_t{0} << (64 - 8 * nbytes);
      bool clean = true;
      if (kStuffed) {
        const uint64_t t = ~w;  // a 0xFF byte of w is a zero byte of t
        clean = ((t - 0x0101010101010101ull) & ~t & 0x8080808080808080ull & keep) == 0;
      }
      if (clean) {
        acc_ |= (w & keep) >> bits_;
        bits_ += 8 * nbytes;
        loaded_ += 8 * static_cast<uint64_t>(nbytes);
        pos_ += nbytes;
        return;
      }
    }
    // Byte by byte, over stuffing and markers. Bits past bits_ left by Refill are not all
    // stream bits here: clear them.
    if (bits_ <= 56) acc_ &= ~(~uint64_t{0} >> bits_);
    while (bits_ <= 56) {
      uint64_t b = 0;
      if (pos_ < end_ &&
          !(kStuffed && data_[pos_] == 0xFF && (pos_ + 1 >= end_ || data_[pos_ + 1] != 0))) {
        b = data_[pos_];
        pos_ += kStuffed && b == 0xFF ? 2 : 1;
      } else {
        ++fake_;
      }
      acc_ |= b << (56 - bits_);
      bits_ += 8;
      loaded_ += 8;
    }
  }

  const uint8_t* data_ = nullptr;
  size_t begin_ = 0, pos_ = 0, end_ = 0;
  uint64_t acc_ = 0;
  int bits_ = 0;
  uint64_t loaded_ = 0;
  uint64_t fake_ = 0;
};

// Writes bits into a growing buffer; with kStuffed (entropy-coded data) every 0xFF byte is
// followed by a stuffed 0x00.
template <bool kStuffed>
class BitWriter {
 public:
  BitWriter() = default;
  // `chunk`: the size of its first buffer (it doubles from there); 64 KiB by default.
  explicit BitWriter(size_t chunk) : chunk_(chunk) {}

  // `code` holds exactly n (0..32) bits.
  void Put(uint32_t code, int n) {
    acc_ = (acc_ << n) | code;
    bits_ += n;
    if (bits_ >= 32) {
      bits_ -= 32;
      Emit(static_cast<uint32_t>(acc_ >> bits_));
    }
  }

  // Pads the last byte with 1-bits, as the standard asks before a marker, and writes it out.
  void Flush() {
    const int pad = (8 - bits_ % 8) % 8;
    acc_ = (acc_ << pad) | ((1u << pad) - 1);
    bits_ += pad;
    while (bits_ > 0) {
      bits_ -= 8;
      PutByte(static_cast<uint8_t>(acc_ >> bits_));
    }
  }

  uint64_t bits() const { return len_ * 8 + static_cast<uint64_t>(bits_); }  // plain data only
  size_t pending() const { return len_; }
  std::string_view bytes() const { return std::string_view(buf_.data(), len_); }
  void Clear() { len_ = 0; }
  void Reset() { len_ = 0, acc_ = 0, bits_ = 0; }

 private:
  void Reserve() {
    if (len_ + 8 > buf_.size()) buf_.resize(std::max<size_t>(buf_.size() * 2, chunk_));
  }
  void PutByte(uint8_t b) {
    Reserve();
    buf_[len_++] = static_cast<char>(b);
    if (kStuffed && b == 0xFF) buf_[len_++] = 0;
  }
  void Emit(uint32_t w) {
    const uint32_t t = ~w;
    if (kStuffed && ((t - 0x01010101u) & ~t & 0x80808080u) != 0) {
      for (int i = 3; i >= 0; --i) PutByte(static_cast<uint8_t>(w >> (8 * i)));
      return;
    }
    Reserve();
    w = __builtin_bswap32(w);
    std::memcpy(&buf_[len_], &w, 4);
    len_ += 4;
  }

  size_t chunk_ = size_t{1} << 16;
  std::string buf_;
  size_t len_ = 0;
  uint64_t acc_ = 0;
  int bits_ = 0;
};

// The number of 1 bits, without a library call where the target lacks POPCNT.
inline int Popcount64(uint64_t x) {
  x = x - ((x >> 1) & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
  return static_cast<int>((x * 0x0101010101010101ull) >> 56);
}

// Copies n bits from a reader to a writer.
template <typename Reader, typename Writer>
void CopyBits(Reader& r, uint64_t n, Writer& w) {
  for (; n >= 32; n -= 32) w.Put(r.Take(32), 32);
  if (n > 0) w.Put(r.Take(static_cast<int>(n)), static_cast<int>(n));
}

inline int Category(int v) {
  unsigned a = static_cast<unsigned>(v < 0 ? -v : v);
  return a == 0 ? 0 : 32 - __builtin_clz(a);
}

// One restart interval of a scan's entropy-coded data (the whole scan without restarts):
// bytes [begin, end), `end` being where the following marker starts.
struct ScanPiece {
  size_t begin, end;
};

// Cuts the entropy-coded data starting at `begin` at its restart markers, without decoding it,
// into *pieces; *end_at is the offset of the marker that ends the scan (its first 0xFF) and
// *end_marker its code. False, with *why, when the data is truncated or its restart markers
// are out of order.
inline bool SplitScan(std::string_view input, size_t begin, std::vector<ScanPiece>* pieces,
                      size_t* end_at, int* end_marker, std::string* why) {
  const auto* p = reinterpret_cast<const uint8_t*>(input.data());
  const size_t n = input.size();
  pieces->clear();
  size_t at = begin;
  while (true) {
    const void* ff = at < n ? std::memchr(p + at, 0xFF, n - at) : nullptr;
    if (ff == nullptr) {
      *why = "truncated scan";
      return false;
    }
    const size_t j = static_cast<size_t>(static_cast<const uint8_t*>(ff) - p);
    size_t k = j + 1;
    while (k < n && p[k] == 0xFF) ++k;
    if (k >= n) {
      *why = "truncated scan";
      return false;
    }
    if (p[k] == 0x00) {
      at = k + 1;
    } else if (p[k] >= 0xD0 && p[k] <= 0xD7) {
      if (p[k] != 0xD0 + (pieces->size() & 7)) {
        *why = "restart markers out of order";
        return false;
      }
      pieces->push_back({begin, j});
      begin = at = k + 1;
    } else {
      pieces->push_back({begin, j});
      *end_at = j;
      *end_marker = p[k];
      return true;
    }
  }
}

// The frame's geometry as the JPEG paths see it (one component: factors 1). False, with *why,
// for more than 10 blocks per MCU or sampling CheckGeometry refuses.
inline bool GeometryOf(const JpegHeader& h, JpegGeometry* g, std::string* why) {
  *g = JpegGeometry();
  g->width = h.width;
  g->height = h.height;
  g->num_components = h.num_components;
  if (h.num_components > 1) {
    int blocks = 0;
    for (int c = 0; c < h.num_components; ++c) {
      g->h[c] = h.comp[c].h;
      g->v[c] = h.comp[c].v;
      g->max_h = std::max(g->max_h, g->h[c]);
      g->max_v = std::max(g->max_v, g->v[c]);
      blocks += g->h[c] * g->v[c];
    }
    if (blocks > 10) {
      *why = "too many blocks per MCU";
      return false;
    }
  }
  if (!CheckGeometry(*g).ok()) {
    *why = "unsupported sampling";
    return false;
  }
  return true;
}

// The colour model of a file, from its markers (as libjpeg guesses it).
inline JpegColor ColorOf(const JpegHeader& h) {
  if (h.num_components == 1) return JpegColor::kGray;
  if (h.num_components == 4) return h.adobe_transform > 0 ? JpegColor::kYcck : JpegColor::kCmyk;
  if (h.jfif) return JpegColor::kYCbCr;
  if (h.adobe_transform == 0) return JpegColor::kRgb;
  if (h.adobe_transform < 0 && h.comp[0].id == 'R' && h.comp[1].id == 'G' && h.comp[2].id == 'B') {
    return JpegColor::kRgb;
  }
  return JpegColor::kYCbCr;
}

// What a splice of one file works from, the same for the baseline splice (jpeg_entropy.cc) and
// the progressive one (jpeg_progressive.cc): the input, its header and geometry, the placed logo
// and the MCUs it covers (all borrowed for the splice's life), the colour model, and the Huffman
// table specifications in force, which the splices complete or replace as they go. Used by one
// thread.
class SpliceJob {
 protected:
  SpliceJob(std::string_view input, const JpegHeader& h, const JpegGeometry& g,
            const LogoPlacement& logo, const McuBox& box)
      : data_(reinterpret_cast<const uint8_t*>(input.data())),
        input_(input),
        h_(h),
        g_(g),
        logo_(logo),
        box_(box),
        color_(ColorOf(h)) {
    for (int i = 0; i < 4; ++i) {
      spec_[0][i] = h.dc[i];
      spec_[1][i] = h.ac[i];
    }
  }

  const uint8_t* data_;
  std::string_view input_;
  const JpegHeader& h_;
  const JpegGeometry& g_;
  const LogoPlacement& logo_;
  McuBox box_;
  JpegColor color_;
  HuffmanSpec spec_[2][4];  // [dc/ac][table id]
};

}  // namespace image::internal
