#include "image/jpeg_entropy.h"

#include <algorithm>
#include <bitset>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include "image/jpeg_block.h"
#include "image/jpeg_huffman.h"
#include "image/logo.h"

namespace image::internal {
namespace {

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
    if (len_ + 8 > buf_.size()) buf_.resize(std::max<size_t>(buf_.size() * 2, size_t{1} << 16));
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

  std::string buf_;
  size_t len_ = 0;
  uint64_t acc_ = 0;
  int bits_ = 0;
};

// Copies n bits from a reader to a writer.
template <typename Reader, typename Writer>
void CopyBits(Reader& r, uint64_t n, Writer& w) {
  for (; n >= 32; n -= 32) w.Put(r.Take(32), 32);
  if (n > 0) w.Put(r.Take(static_cast<int>(n)), static_cast<int>(n));
}

int Category(int v) {
  unsigned a = static_cast<unsigned>(v < 0 ? -v : v);
  return a == 0 ? 0 : 32 - __builtin_clz(a);
}

// Decodes one block into coef (natural order), tracking the DC predictor. False on corrupt data.
bool DecodeBlock(BitReader<true>& r, const HuffTable& dc, const HuffTable& ac, int* pred,
                 int16_t* coef) {
  const int s = r.Decode(dc);
  if (s < 0 || s > 11) return false;
  *pred += s ? r.Receive(s) : 0;
  if (*pred < -32767 || *pred > 32767) return false;
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

// Encodes one block with the given tables. False if a symbol has no code or a value is out of
// range for 8-bit data.
template <typename Writer>
bool EncodeBlock(Writer& w, const HuffTable& dc, const HuffTable& ac, int* pred,
                 const int16_t* coef) {
  const int diff = coef[0] - *pred;
  *pred = coef[0];
  int s = Category(diff);
  if (s > 11 || !dc.size[s]) return false;
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
      if (!ac.size[0xF0]) return false;
      w.Put(ac.code[0xF0], ac.size[0xF0]);
    }
    s = Category(v);
    const int sym = (run << 4) | s;
    if (s > 10 || !ac.size[sym]) return false;
    w.Put(ac.code[sym], ac.size[sym]);
    w.Put(static_cast<uint32_t>(v < 0 ? v - 1 : v) & ((1u << s) - 1), s);
    run = 0;
  }
  if (run > 0) {
    if (!ac.size[0]) return false;
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

// One block of an MCU, in scan order.
struct McuBlock {
  int comp;        // frame component index
  int scan_index;  // index in the scan (the DC predictor)
  int u, v;        // position inside the MCU, in blocks
  int dc_id, ac_id;
};

// A stretch of the new entropy-coded data: bits copied from the input (starting where `at`
// is) or from the re-encoded MCUs (the next `bits` of Splicer::encoded_).
struct Piece {
  bool from_input;
  BitReader<true> at;
  uint64_t bits;
};

// How one restart interval (or the whole scan) holding MCUs under the logo is rewritten: its
// bytes before the first touched MCU are kept, then the partly used byte's high bits, then the
// pieces, then padding to a byte before the marker at `end`.
struct SegmentPlan {
  size_t prefix_end = 0;  // the byte holding the first bit of the first touched MCU
  int prefix_bits = 0;    // bits of that byte that belong to the MCU before
  size_t end = 0;
  std::vector<Piece> pieces;
};

// The splicing job for one file: Plan() reads every segment the logo touches (composites and
// re-encodes its MCUs into memory, measures the rest), Emit() writes the file.
class Splicer {
 public:
  Splicer(std::string_view input, const JpegHeader& h, const JpegGeometry& g,
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
      enc_[0][i] = &table_[0][i];
      enc_[1][i] = &table_[1][i];
    }
    for (int sc = 0; sc < h.scan_num_components; ++sc) {
      const int ci = h.scan_comp[sc];
      for (int v = 0; v < g.v[ci]; ++v) {
        for (int u = 0; u < g.h[ci]; ++u) {
          blocks_.push_back({ci, sc, u, v, h.comp[ci].dc_table, h.comp[ci].ac_table});
        }
      }
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
      if (!table_[0][c.dc_table].Build(spec_[0][c.dc_table], true) ||
          !table_[1][c.ac_table].Build(spec_[1][c.ac_table], false)) {
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

  // True when a rewritten table changed the code of a symbol the scan may hold.
  bool recoding() const { return recoding_; }

  // Gives every symbol a baseline scan may hold (DC categories 0-11; AC end of block, ZRL and
  // runs 0-15 of sizes 1-10) a code in each table the scan uses (AddHuffmanSymbols): optimized
  // tables lack those the picture does not use, and the logo's blocks may need them. Known
  // before reading the scan, the new codes let one pass plan everything. Returns the DHT segment
  // defining the new tables, to be placed before the SOS ("" when no table lacked a symbol);
  // false if a table cannot take them. When an existing code changed (recoding()), Plan writes
  // every occurrence of it in the scan again.
  bool CompleteTables(std::string* dht) {
    dht->clear();
    std::bitset<256> valid[2];
    for (int s = 0; s <= 11; ++s) valid[0].set(s);
    valid[1].set(0x00).set(0xF0);
    for (int r = 0; r < 16; ++r) {
      for (int s = 1; s <= 10; ++s) valid[1].set((r << 4) | s);
    }
    bool done[2][4] = {};
    for (const McuBlock& b : blocks_) {
      for (int cls = 0; cls < 2; ++cls) {
        const int id = cls == 0 ? b.dc_id : b.ac_id;
        if (done[cls][id]) continue;
        done[cls][id] = true;
        std::bitset<256> absent = valid[cls];
        for (int i = 0; i < spec_[cls][id].num_symbols; ++i)
          absent.reset(spec_[cls][id].symbols[i]);
        if (absent.none()) continue;
        HuffmanSpec spec;
        auto fresh = std::make_unique<HuffTable>();
        if (!AddHuffmanSymbols(spec_[cls][id], absent, &spec) || !fresh->Build(spec, cls == 0) ||
            !table_[cls][id].Build(spec_[cls][id], cls == 0, fresh.get())) {
          return false;
        }
        for (bool c : table_[cls][id].changed) recoding_ = recoding_ || c;
        enc_[cls][id] = fresh.get();
        rewritten_.push_back(std::move(fresh));
        if (dht->empty()) dht->assign("\xFF\xC4\0\0", 4);
        *dht += static_cast<char>((cls << 4) | id);
        for (int l = 1; l <= 16; ++l) *dht += static_cast<char>(spec.counts[l]);
        dht->append(reinterpret_cast<const char*>(spec.symbols), spec.num_symbols);
      }
    }
    if (!dht->empty()) {
      const size_t len = dht->size() - 2;
      (*dht)[2] = static_cast<char>(len >> 8);
      (*dht)[3] = static_cast<char>(len & 0xFF);
    }
    return true;
  }

  // Reads one segment holding at least one MCU under the logo, or, when recoding(), any
  // segment, and appends its plan (none if nothing in it changes). 0 on success, 1 corrupt
  // data, 2 a value the tables cannot code.
  int Plan(const Segment& seg) {
    SegmentPlan plan;
    plan.end = seg.end;
    BitReader<true> r(data_, seg.begin, seg.end);
    int pred[4] = {0, 0, 0, 0}, enc_pred[4] = {0, 0, 0, 0};
    enum { kPrefix, kEncode, kCopy } state = kPrefix;
    bool resync = false;  // the last MCU was re-encoded with changed DC values
    uint64_t piece_start = 0;
    BitReader<true> copy_from;
    int16_t coef[64];
    const int per_row = g_.mcus_per_row();
    // Ends the bits taken as they are (the prefix, or a copied piece) where `at` is.
    auto end_copy = [&](const BitReader<true>& at) {
      if (state == kPrefix) {
        at.Position(&plan.prefix_end, &plan.prefix_bits);
      } else {
        plan.pieces.push_back({true, copy_from, at.consumed() - piece_start});
      }
    };
    // A symbol whose code the rewritten table changed: its new code replaces the old one.
    auto recode = [&](const BitReader<true>& before, const BitReader<true>& after,
                      const HuffTable& t, int sym) {
      end_copy(before);
      encoded_.Put(t.recode->code[sym], t.recode->size[sym]);
      plan.pieces.push_back({false, {}, t.recode->size[sym]});
      state = kCopy;
      copy_from = after;
      piece_start = after.consumed();
    };
    auto skip = [&]() { return recoding_ ? SkipMcu(r, pred, recode) : SkipMcu(r, pred); };
    for (int m = seg.first_mcu; m < seg.first_mcu + seg.num_mcus; ++m) {
      const int mx = m % per_row, my = m / per_row;
      const bool touched = box_.contains(mx, my);
      if (state == kPrefix || state == kCopy) {
        if (!touched) {
          if (!skip()) return 1;
          continue;
        }
        if (r.overrun()) return 1;
        end_copy(r);
        // A decoder reaches this MCU with the input's predictors: encode relative to them.
        std::copy(pred, pred + 4, enc_pred);
        state = kEncode;
        piece_start = encoded_.bits();
      } else if (!touched && !resync) {
        // Encoder and decoder agree on the DC predictors again: copy from here on.
        plan.pieces.push_back({false, {}, encoded_.bits() - piece_start});
        state = kCopy;
        copy_from = r;
        piece_start = r.consumed();
        if (!skip()) return 1;
        continue;
      }
      if (touched && band_row_ != my) {
        BuildPlanes(logo_, g_, color_, h_.adobe_transform >= 0, my * g_.mcu_height(),
                    (my + 1) * g_.mcu_height(), &planes_);
        band_row_ = my;
      }
      for (const McuBlock& b : blocks_) {
        if (!DecodeBlock(r, table_[0][b.dc_id], table_[1][b.ac_id], &pred[b.scan_index], coef)) {
          return 1;
        }
        if (touched) {
          WatermarkBlock(coef, h_.quant[h_.comp[b.comp].quant_index], planes_[b.comp],
                         mx * g_.h[b.comp] + b.u, my * g_.v[b.comp] + b.v);
        }
        if (!EncodeBlock(encoded_, *enc_[0][b.dc_id], *enc_[1][b.ac_id], &enc_pred[b.scan_index],
                         coef)) {
          return 2;
        }
      }
      resync = touched;
    }
    if (r.overrun()) return 1;
    if (state == kPrefix) return recoding_ ? 0 : 1;  // nothing changes in this segment
    if (state == kEncode) {
      plan.pieces.push_back({false, {}, encoded_.bits() - piece_start});
    } else {
      plan.pieces.push_back({true, copy_from, r.consumed() - piece_start});
    }
    plans_.push_back(std::move(plan));
    return 0;
  }

  // Writes the file: input bytes [0, header_end), then `dht`, then the rest of the input with
  // the planned segments rewritten.
  common::Status Emit(size_t header_end, std::string_view dht, OutputSink* sink) {
    constexpr size_t kChunk = size_t{1} << 16;
    DAT_RETURN_IF_ERROR(sink->Write(input_.substr(0, header_end)));
    if (!dht.empty()) DAT_RETURN_IF_ERROR(sink->Write(dht));
    encoded_.Flush();  // the last bits out of the accumulator
    const std::string_view encoded = encoded_.bytes();
    BitReader<false> encoded_bits(reinterpret_cast<const uint8_t*>(encoded.data()), 0,
                                  encoded.size());
    BitWriter<true> out;
    size_t copied = header_end;
    for (const SegmentPlan& plan : plans_) {
      DAT_RETURN_IF_ERROR(sink->Write(input_.substr(copied, plan.prefix_end - copied)));
      if (plan.prefix_bits > 0) {
        out.Put(data_[plan.prefix_end] >> (8 - plan.prefix_bits), plan.prefix_bits);
      }
      for (const Piece& piece : plan.pieces) {
        BitReader<true> in = piece.at;
        for (uint64_t left = piece.bits; left > 0;) {
          const uint64_t n = std::min<uint64_t>(left, kChunk * 8);
          if (piece.from_input) {
            CopyBits(in, n, out);
          } else {
            CopyBits(encoded_bits, n, out);
          }
          left -= n;
          if (out.pending() >= kChunk) {
            DAT_RETURN_IF_ERROR(sink->Write(out.bytes()));
            out.Clear();
          }
        }
      }
      out.Flush();
      DAT_RETURN_IF_ERROR(sink->Write(out.bytes()));
      out.Clear();
      copied = plan.end;
    }
    return sink->Write(input_.substr(copied));
  }

 private:
  // Decodes one MCU only as far as needed to find the next one and track the DC predictors;
  // symbols whose codes changed go to `hook` (see BitReader::SkipBlock).
  template <typename Hook = NoHook>
  bool SkipMcu(BitReader<true>& r, int* pred, Hook&& hook = Hook{}) {
    // On a local copy, which the compiler keeps in registers: this loop is most of the time
    // spent on a large file.
    BitReader<true> local = r;
    for (const McuBlock& b : blocks_) {
      if (!local.SkipBlock(table_[0][b.dc_id], table_[1][b.ac_id], &pred[b.scan_index], hook))
        return false;
    }
    r = local;
    return true;
  }

  const uint8_t* data_;
  std::string_view input_;
  const JpegHeader& h_;
  const JpegGeometry& g_;
  const LogoPlacement& logo_;
  McuBox box_;
  JpegColor color_;
  std::vector<McuBlock> blocks_;
  HuffmanSpec spec_[2][4];  // [dc/ac][table id]
  HuffTable table_[2][4];   // the file's tables, for reading the scan
  // The tables the new scan is written with: table_, or a rewritten one from rewritten_.
  const HuffTable* enc_[2][4];
  std::vector<std::unique_ptr<HuffTable>> rewritten_;
  bool recoding_ = false;
  std::vector<ComponentPlane> planes_;  // the logo over MCU row band_row_
  int band_row_ = -1;
  BitWriter<false> encoded_;  // the re-encoded MCUs, unstuffed, in order
  std::vector<SegmentPlan> plans_;
};

bool Refuse(EntropyFallback* fallback, std::string reason) {
  fallback->reason = std::move(reason);
  return false;
}

}  // namespace

common::Result<bool> WatermarkJpegEntropy(std::string_view input, const JpegHeader& h,
                                          const WatermarkOptions& options, OutputSink* sink,
                                          WatermarkResult* result, EntropyFallback* fallback) {
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
  size_t begin = h.scan_data, at = h.scan_data;
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

  auto logo = PlaceLogo(g.width, g.height, h.orientation, options);
  if (!logo.ok()) return Refuse(fallback, std::string(logo.status().message()));
  const McuBox box = CoveringMcus(logo->box(), g);

  Splicer splicer(input, h, g, *logo, box);
  std::string why;
  if (!splicer.BuildTables(&why)) return Refuse(fallback, why);
  // Optimized tables lack codes the logo's strong edges may need: give them codes in a DHT
  // before the scan; where that changes existing codes, every MCU is walked and their
  // occurrences are written again (see CompleteTables and Plan).
  std::string dht;
  if (!splicer.CompleteTables(&dht)) {
    fallback->need_new_tables = true;
    return Refuse(fallback, "the file's Huffman tables cannot take the codes the logo may need");
  }
  // Plans every restart interval holding an MCU under the logo (every one when codes changed);
  // the others are kept as they are.
  const int per_row = g.mcus_per_row();
  for (const Segment& seg : segments) {
    bool touched = splicer.recoding();
    for (int my = box.my0; my < box.my1 && !touched; ++my) {
      const int lo = std::max(seg.first_mcu, my * per_row + box.mx0);
      const int hi = std::min(seg.first_mcu + seg.num_mcus, my * per_row + box.mx1);
      touched = lo < hi;
    }
    if (!touched) continue;
    const int rc = splicer.Plan(seg);
    if (rc == 1) return Refuse(fallback, "corrupt entropy-coded data");
    if (rc != 0) return Refuse(fallback, "a coefficient out of range for baseline Huffman coding");
  }
  DAT_RETURN_IF_ERROR(splicer.Emit(dht.empty() ? 0 : h.scan_marker, dht, sink));

  result->format = ImageFormat::kJpeg;
  result->path = WatermarkPath::kEntropy;
  result->width = g.width;
  result->height = g.height;
  result->orientation = h.orientation;
  result->logo_box = logo->box();
  result->changed_box = ChangedBox(box, g);
  return true;
}

}  // namespace image::internal
