#include "image/jpeg_entropy.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <bitset>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

#include "common/mutex.h"
#include "image/jpeg_bits.h"
#include "image/jpeg_block.h"
#include "image/jpeg_huffman.h"
#include "image/jpeg_progressive.h"
#include "image/logo.h"

namespace image::internal {
namespace {

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
// range for 8-bit data. The non-zero coefficients are found from a mask (no branch per zero)
// and each code goes out with its value bits in one Put.
template <typename Writer>
bool EncodeBlock(Writer& w, const HuffTable& dc, const HuffTable& ac, int* pred,
                 const int16_t* coef) {
  const int diff = coef[0] - *pred;
  *pred = coef[0];
  int s = Category(diff);
  if (s > 11 || !dc.size[s]) return false;
  w.Put((static_cast<uint32_t>(dc.code[s]) << s) |
            (static_cast<uint32_t>(diff < 0 ? diff - 1 : diff) & ((1u << s) - 1)),
        dc.size[s] + s);
  int16_t zigzag[64];
  uint64_t nonzero = 0;
  for (int k = 1; k < 64; ++k) {
    zigzag[k] = coef[kZigzagToNatural[k]];
    nonzero |= static_cast<uint64_t>(zigzag[k] != 0) << k;
  }
  int last = 0;  // the previous non-zero coefficient (zig-zag index)
  while (nonzero != 0) {
    const int k = __builtin_ctzll(nonzero);
    nonzero &= nonzero - 1;
    int run = k - last - 1;
    for (; run > 15; run -= 16) {
      if (!ac.size[0xF0]) return false;
      w.Put(ac.code[0xF0], ac.size[0xF0]);
    }
    const int v = zigzag[k];
    s = Category(v);
    const int sym = (run << 4) | s;
    if (s > 10 || !ac.size[sym]) return false;
    w.Put((static_cast<uint32_t>(ac.code[sym]) << s) |
              (static_cast<uint32_t>(v < 0 ? v - 1 : v) & ((1u << s) - 1)),
          ac.size[sym] + s);
    last = k;
  }
  if (last < 63) {
    if (!ac.size[0]) return false;
    w.Put(ac.code[0], ac.size[0]);
  }
  return true;
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

// Decodes one MCU only as far as needed to find the next one and track the DC predictors;
// symbols whose codes changed go to `hook` (see BitReader::SkipBlock). On failure `r` is left
// at the MCU's start. Reads only `blocks` and `table`, which do not change once built, so both
// threads of a split scan call it.
template <typename Hook = NoHook>
bool SkipMcu(const std::vector<McuBlock>& blocks, const HuffTable (&table)[2][4],
             BitReader<true>& r, int* pred, Hook&& hook = Hook{}) {
  // On a local copy, which the compiler keeps in registers: this loop is most of the time
  // spent on a large file.
  BitReader<true> local = r;
  for (const McuBlock& b : blocks) {
    if (!local.SkipBlock(table[0][b.dc_id], table[1][b.ac_id], &pred[b.scan_index], hook)) {
      return false;
    }
  }
  r = local;
  return true;
}

// Where the second thread of a split scan believes an MCU starts: the byte holding its first
// bit and how many bits of that byte come before it (byte * 8 + used, with kNewRun on the first
// record of a run), the bits from the start of its run (stuffing not counted), and its DC
// predictors relative to that start.
struct SkipRecord {
  static constexpr uint32_t kNewRun = 1u << 31;
  uint32_t pos;
  uint32_t bits;
  int16_t pred[4];

  uint32_t at() const { return pos & ~kNewRun; }
  bool new_run() const { return (pos & kNewRun) != 0; }

  // A reader of the entropy-coded data [.., end) at this MCU start.
  BitReader<true> Reader(const uint8_t* data, size_t end) const {
    BitReader<true> r(data, at() / 8, end);
    if (at() % 8 != 0) r.SkipBits(static_cast<int>(at() % 8));
    return r;
  }
};

// The first byte at or after `start` that is not the second byte of an 0xFF00 stuffing pair
// (where no code can start), or `end`.
size_t PastStuffing(const uint8_t* data, size_t start, size_t end) {
  while (start < end && data[start - 1] == 0xFF) ++start;
  return start;
}

// The logo's rows of MCUs, shared out between the two threads of a split scan: the calling
// thread codes them from the top (Splicer::Plan), the second one from the bottom once it has
// skipped to the end (Splicer::HelpWithRows). Each row's unit (its MCUs under the logo and the
// one after, whose DC differences change) is coded by whichever claims it first. Shared by the
// two threads: the claims and the meeting point under `mu`, a row's bits handed over by its
// state.
struct RowShare {
  enum State { kFree, kFirst, kSecond, kDone, kFailed };
  explicit RowShare(int rows) : state(rows, kFree), coded(rows) {}

  // The calling thread needs no more help: the second one stops waiting and claiming.
  void Close() {
    common::MutexLock lock(mu);
    closed = true;
    cv.NotifyAll();
  }

  common::Mutex mu;
  common::CondVar cv;
  std::vector<int> state GUARDED_BY(mu);
  bool closed GUARDED_BY(mu) = false;
  // Once `met`: where the calling thread met the second (see Splicer::Meet).
  bool met GUARDED_BY(mu) = false;
  int sync_record GUARDED_BY(mu) = 0;
  int sync_mcu GUARDED_BY(mu) = 0;
  int pred_offset[4] GUARDED_BY(mu) = {};
  // A unit's coded bits (unstuffed) and their number: written by the second thread while its
  // state is kSecond, read by the first once it is kDone. One cache line each at least.
  struct alignas(64) Coded {
    BitWriter<false> bits{4096};  // a row of a large logo takes about 10 KB
    uint64_t length = 0;
  };
  std::vector<Coded> coded;
};

// The second thread of a split scan: skips MCUs from byte `start` of the entropy-coded data
// [start, end) to its end as if an MCU started there with DC predictors 0, and records each MCU
// start it reaches, in increasing position. Until it is in step with the real MCU boundaries
// its records are wrong, and where it cannot decode (most often then) it starts a new run a
// byte further on; the calling thread recognises a record at the very position of one of its
// own MCU starts (Splicer::Advance), from which on both decode the same. Only the skipping
// thread writes records; it publishes their count with a release store every kBatch records,
// and the one reading thread reads those below published(), or waits for more (WaitFor).
// `blocks` and `table` must outlive it and not change while it runs.
class SecondSkipper {
 public:
  SecondSkipper(const std::vector<McuBlock>& blocks, const HuffTable (&table)[2][4],
                const uint8_t* data, size_t start, size_t end, int capacity)
      : blocks_(blocks),
        table_(table),
        data_(data),
        start_(start),
        end_(end),
        capacity_(capacity),
        records_(new SkipRecord[capacity]) {}
  ~SecondSkipper() { Stop(); }
  SecondSkipper(const SecondSkipper&) = delete;
  SecondSkipper& operator=(const SecondSkipper&) = delete;

  // Starts the thread; after skipping, it runs `then` (when not empty), which must return
  // once `rows` (when not null) is closed.
  void Start(RowShare* rows, std::function<void()> then) {
    rows_ = rows;
    thread_ = std::thread([this, then = std::move(then)] {
      Run();
      if (then) then();
    });
  }
  // Stops the thread (within kBatch MCUs) and joins it. Idempotent; from the starting thread.
  void Stop() {
    stop_.store(true, std::memory_order_relaxed);
    if (rows_ != nullptr) rows_->Close();
    if (thread_.joinable()) thread_.join();
  }

  size_t start() const { return start_; }
  int published() const { return count_.load(std::memory_order_acquire); }
  // Record i < published().
  const SkipRecord& operator[](int i) const { return records_[i]; }

  // Blocks until more than i records are published or the thread has finished; returns
  // published().
  int WaitFor(int i) {
    int n = count_.load(std::memory_order_acquire);
    if (n > i || done_.load(std::memory_order_acquire)) return n;
    // Sequentially consistent with Publish: either it sees `waiting_` and notifies under the
    // mutex, or this thread sees its count.
    waiting_.store(true);
    {
      common::MutexLock lock(mu_);
      while (count_.load() <= i && !done_.load()) cv_.Wait(mu_);
    }
    waiting_.store(false);
    return count_.load(std::memory_order_acquire);
  }

 private:
  static constexpr int kBatch = 64;

  void Publish(int n, bool done) {
    count_.store(n);
    if (done) done_.store(true);
    if (waiting_.load()) {
      common::MutexLock lock(mu_);
      cv_.NotifyAll();
    }
  }

  void Run() {
    size_t start = start_;
    int n = 0;
    bool new_run = true;
    while (!stop_.load(std::memory_order_relaxed)) {
      BitReader<true> r(data_, start, end_);
      int pred[4] = {0, 0, 0, 0};
      bool more = true;
      while (true) {
        // A position past the data is no MCU start (the calling thread's walk fails there).
        if (r.overrun() || n == capacity_) {
          more = false;
          break;
        }
        size_t byte;
        int used;
        r.Position(&byte, &used);
        SkipRecord& rec = records_[n];
        rec.pos = static_cast<uint32_t>(byte * 8 + used) | (new_run ? SkipRecord::kNewRun : 0);
        rec.bits = static_cast<uint32_t>(r.consumed());
        for (int c = 0; c < 4; ++c) rec.pred[c] = static_cast<int16_t>(pred[c]);
        new_run = false;
        if (++n % kBatch == 0) {
          Publish(n, false);
          if (stop_.load(std::memory_order_relaxed)) {
            more = false;
            break;
          }
        }
        if (!SkipMcu(blocks_, table_, r, pred)) break;
      }
      if (!more) break;
      // Not an MCU boundary after all: try again from the next byte that is not stuffing.
      size_t byte;
      int used;
      r.Position(&byte, &used);
      start = PastStuffing(data_, byte + 1, end_);
      if (start >= end_) break;
      new_run = true;
    }
    Publish(n, true);
  }

  const std::vector<McuBlock>& blocks_;
  const HuffTable (&table_)[2][4];
  const uint8_t* data_;
  size_t start_, end_;
  int capacity_;
  std::unique_ptr<SkipRecord[]> records_;  // [0, count_) are published
  std::atomic<int> count_{0};
  std::atomic<bool> done_{false}, stop_{false}, waiting_{false};
  common::Mutex mu_;  // only for cv_: the state is in the atomics
  common::CondVar cv_;
  RowShare* rows_ = nullptr;
  std::thread thread_;
};

// A stretch of the new entropy-coded data: `bits` bits copied from the input, from bit `used`
// (counted from the high end) of byte `byte` on, or the next `bits` bits of the re-encoded MCUs
// (Splicer::encoded_). Small: a file whose tables were rewritten has two for every occurrence
// of a changed code (tens of thousands in a 12 MP photo).
struct Piece {
  uint64_t bits;
  size_t byte;
  uint8_t used;
  bool from_input;

  static Piece Input(const BitReader<true>& from, uint64_t bits) {
    Piece piece{bits, 0, 0, true};
    int used = 0;
    from.Position(&piece.byte, &used);
    piece.used = static_cast<uint8_t>(used);
    return piece;
  }
  static Piece Encoded(uint64_t bits) { return Piece{bits, 0, 0, false}; }
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
class Splicer : private SpliceJob {
 public:
  Splicer(std::string_view input, const JpegHeader& h, const JpegGeometry& g,
          const LogoPlacement& logo, const McuBox& box)
      : SpliceJob(input, h, g, logo, box) {
    for (int i = 0; i < 4; ++i) {
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

  // What the second thread of a split scan reads (see SecondSkipper).
  const std::vector<McuBlock>& blocks() const { return blocks_; }
  const HuffTable (&tables() const)[2][4] { return table_; }

  // Lets Plan, for the segment ending at `end` (the scan's only one), take MCU positions from
  // `second`, which runs over it (see Advance). Not with recoding(). With `wait`, the calling
  // thread waits for the second one's records to pass each of its MCU starts before it looks
  // for a meeting there, and leaves the last row of the logo to it (see CodedBySecond), so
  // that where they meet and whether the second thread codes rows does not depend on timing
  // (ScanThreads::kTwo, for tests); otherwise it keeps walking while they lag.
  void UseSecondThread(SecondSkipper* second, size_t end, bool wait) {
    second_ = second;
    second_end_ = end;
    wait_to_meet_ = wait;
    for (int sc = 0; sc < 4; ++sc) {
      int n = 0;
      for (const McuBlock& b : blocks_) n += b.scan_index == sc;
      // A DC difference is at most 2047: from an MCU start within this bound, no block of the
      // MCU takes the predictor out of the range a walk accepts (see Safe).
      pred_limit_[sc] = 32767 - 2047 * n;
    }
  }
  int second_thread_mcus() const { return jumped_; }
  int second_thread_rows() const { return rows_from_second_; }

  // The MCU at which the second thread should start so that both threads finish together, in
  // a model where skipping an MCU costs 1 and coding one (under the logo, or the one after a
  // run of them) kTouchedCost: the calling thread walks [0, split), then codes the logo's rows
  // beyond it as the second thread's records reach them; the second thread skips
  // [split, total) and then, when `shared`, codes rows from the bottom up until they meet.
  int ChooseSplitMcu(int total, bool shared) const {
    constexpr double kTouchedCost = 20;
    const int per_row = g_.mcus_per_row(), len = box_.mx1 - box_.mx0 + 1;
    int best = total / 2;
    double best_time = 1e300;
    for (int i = 1; i < 64; ++i) {
      const int split = static_cast<int>(static_cast<int64_t>(total) * i / 64);
      double t1 = split, t2 = total - split;
      int top = box_.my0, bottom = box_.my1 - 1;
      if (box_.mx0 >= box_.mx1) bottom = top - 1;
      // Rows before the split are coded by the calling thread on its way.
      for (; top <= bottom && top * per_row + box_.mx0 + len <= split; ++top) {
        t1 += (kTouchedCost - 1) * len;
      }
      while (top <= bottom) {
        if (shared && t2 < t1) {
          t2 += kTouchedCost * len;
          --bottom;
        } else {
          t1 = std::max(t1, static_cast<double>(top * per_row + box_.mx0 - split)) +
               kTouchedCost * len;
          ++top;
        }
      }
      const double finish = std::max(t1, t2);
      if (finish < best_time) {
        best_time = finish;
        best = split;
      }
    }
    return best;
  }

  // Reads one segment holding at least one MCU under the logo, or, when recoding(), any
  // segment, and appends its plan (none if nothing in it changes). 0 on success, 1 corrupt
  // data, 2 a value the tables cannot code.
  int Plan(const Segment& seg) {
    SegmentPlan plan;
    plan.end = seg.end;
    BitReader<true> r(data_, seg.begin, seg.end);
    // Bits of the segment before r's start: Advance restarts r where a record says an MCU
    // starts.
    uint64_t base = 0;
    auto bits_at = [&](const BitReader<true>& at) { return base + at.consumed(); };
    int pred[4] = {0, 0, 0, 0}, enc_pred[4] = {0, 0, 0, 0};
    enum { kPrefix, kEncode, kCopy } state = kPrefix;
    bool resync = false;  // the last MCU was re-encoded with changed DC values
    uint64_t piece_start = 0;
    BitReader<true> copy_from;
    const int per_row = g_.mcus_per_row();
    // Ends the bits taken as they are (the prefix, or a copied piece) where `at` is.
    auto end_copy = [&](const BitReader<true>& at) {
      if (state == kPrefix) {
        at.Position(&plan.prefix_end, &plan.prefix_bits);
      } else {
        plan.pieces.push_back(Piece::Input(copy_from, bits_at(at) - piece_start));
      }
    };
    // A symbol whose code the rewritten table changed: its new code replaces the old one.
    auto recode = [&](const BitReader<true>& before, const BitReader<true>& after,
                      const HuffTable& t, int sym) {
      end_copy(before);
      encoded_.Put(t.recode->code[sym], t.recode->size[sym]);
      plan.pieces.push_back(Piece::Encoded(t.recode->size[sym]));
      state = kCopy;
      copy_from = after;
      piece_start = bits_at(after);
    };
    auto skip = [&]() {
      return recoding_ ? SkipMcu(blocks_, table_, r, pred, recode)
                       : SkipMcu(blocks_, table_, r, pred);
    };
    const int last = seg.first_mcu + seg.num_mcus;
    // From untouched MCU m to the next one under the logo, or to the end: its index, or -1 on
    // corrupt data.
    auto advance = [&](int m) {
      const int next = NextTouched(m, last);
      return Advance(r, &base, pred, m, next, skip) ? next : -1;
    };
    for (int m = seg.first_mcu; m < last;) {
      const int mx = m % per_row, my = m / per_row;
      const bool touched = box_.contains(mx, my);
      if (state == kPrefix || state == kCopy) {
        if (!touched) {
          if ((m = advance(m)) < 0) return 1;
          continue;
        }
        if (r.overrun()) return 1;
        if (rows_ != nullptr && m == my * per_row + box_.mx0 && CodedBySecond(my)) {
          // The second thread coded this row's unit from the same position and predictors.
          end_copy(r);
          const int k = my - box_.my0;
          const RowShare::Coded& unit = rows_->coded[k];
          const std::string_view bytes = unit.bits.bytes();
          BitReader<false> coded(reinterpret_cast<const uint8_t*>(bytes.data()), 0, bytes.size());
          CopyBits(coded, unit.length, encoded_);
          plan.pieces.push_back(Piece::Encoded(unit.length));
          ++rows_from_second_;
          const int end = m + box_.mx1 - box_.mx0 + 1;
          if (!Advance(r, &base, pred, m, end, skip)) return 1;
          state = kCopy;
          copy_from = r;
          piece_start = bits_at(r);
          m = end;
          continue;
        }
        end_copy(r);
        // A decoder reaches this MCU with the input's predictors: encode relative to them.
        std::copy(pred, pred + 4, enc_pred);
        state = kEncode;
        piece_start = encoded_.bits();
      } else if (!touched && !resync) {
        // Encoder and decoder agree on the DC predictors again: copy from here on.
        plan.pieces.push_back(Piece::Encoded(encoded_.bits() - piece_start));
        state = kCopy;
        copy_from = r;
        piece_start = bits_at(r);
        if ((m = advance(m)) < 0) return 1;
        continue;
      }
      if (const int rc = CodeMcu(r, pred, enc_pred, m, &band_, &encoded_); rc != 0) return rc;
      resync = touched;
      ++m;
    }
    if (r.overrun()) return 1;
    if (state == kPrefix) return recoding_ ? 0 : 1;  // nothing changes in this segment
    if (state == kEncode) {
      plan.pieces.push_back(Piece::Encoded(encoded_.bits() - piece_start));
    } else {
      plan.pieces.push_back(Piece::Input(copy_from, bits_at(r) - piece_start));
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
        BitReader<true> input;
        if (piece.from_input) {
          input = BitReader<true>(data_, piece.byte, plan.end);
          if (piece.used > 0) input.SkipBits(piece.used);
        }
        for (uint64_t left = piece.bits; left > 0;) {
          const uint64_t n = std::min<uint64_t>(left, kChunk * 8);
          if (piece.from_input) {
            CopyBits(input, n, out);
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
  // The logo sampled over one MCU row (planes), for the row `row` (-1: none yet).
  struct Band {
    std::vector<ComponentPlane> planes;
    int row = -1;
  };

  // Decodes MCU m from r (predictors pred), composites the logo into it when it lies under it
  // (sampled into *band), and encodes it into *out (predictors enc_pred). 0, or 1 on corrupt
  // data, 2 for a value the tables cannot code. Const: both threads code MCUs.
  int CodeMcu(BitReader<true>& r, int* pred, int* enc_pred, int m, Band* band,
              BitWriter<false>* out) const {
    const int mx = m % g_.mcus_per_row(), my = m / g_.mcus_per_row();
    const bool touched = box_.contains(mx, my);
    if (touched && band->row != my) {
      BuildPlanes(logo_, g_, color_, h_.adobe_transform >= 0, my * g_.mcu_height(),
                  (my + 1) * g_.mcu_height(), &band->planes);
      band->row = my;
    }
    int16_t coef[64];
    for (const McuBlock& b : blocks_) {
      if (!DecodeBlock(r, table_[0][b.dc_id], table_[1][b.ac_id], &pred[b.scan_index], coef)) {
        return 1;
      }
      if (touched) {
        WatermarkBlock(coef, h_.quant[h_.comp[b.comp].quant_index], band->planes[b.comp],
                       mx * g_.h[b.comp] + b.u, my * g_.v[b.comp] + b.v);
      }
      if (!EncodeBlock(*out, *enc_[0][b.dc_id], *enc_[1][b.ac_id], &enc_pred[b.scan_index], coef)) {
        return 2;
      }
    }
    return 0;
  }

 public:
  // True when each row of the logo's MCUs, with the MCU after it, can be coded on its own:
  // the encoder and the decoder agree again right after it (the MCU after it and the next are
  // not under the logo), within a scan of `total` MCUs. Then the rows can be shared out.
  bool RowsStandAlone(int total) const {
    const int per_row = g_.mcus_per_row(), len = box_.mx1 - box_.mx0 + 1;
    if (box_.mx0 >= box_.mx1 || box_.my0 >= box_.my1) return false;
    for (int my = box_.my0; my < box_.my1; ++my) {
      const int after = my * per_row + box_.mx0 + len;  // the MCU after the unit
      if (after > total || box_.contains((after - 1) % per_row, (after - 1) / per_row) ||
          (after < total && box_.contains(after % per_row, after / per_row))) {
        return false;
      }
    }
    return true;
  }

  void ShareRows(RowShare* rows) { rows_ = rows; }

  // On the second thread, after it skipped to the end: once the calling thread has met it,
  // codes the logo's rows from the bottom up, each it claims before the calling thread does,
  // from its own records. Returns when the rows meet or the share is closed.
  void HelpWithRows(const SecondSkipper& second) {
    int sync_record, sync_mcu, offset[4];
    {
      common::MutexLock lock(rows_->mu);
      while (!rows_->met && !rows_->closed) rows_->cv.Wait(rows_->mu);
      if (rows_->closed) return;
      sync_record = rows_->sync_record;
      sync_mcu = rows_->sync_mcu;
      std::copy(rows_->pred_offset, rows_->pred_offset + 4, offset);
    }
    // Records of the run the threads met in are true MCU starts.
    const int n = second.published();
    int run_end = sync_record + 1;
    while (run_end < n && !second[run_end].new_run()) ++run_end;
    const int per_row = g_.mcus_per_row(), len = box_.mx1 - box_.mx0 + 1;
    Band band;
    for (int my = box_.my1 - 1; my >= box_.my0; --my) {
      const int k = my - box_.my0;
      {
        common::MutexLock lock(rows_->mu);
        if (rows_->closed || rows_->state[k] != RowShare::kFree) return;
        rows_->state[k] = RowShare::kSecond;
      }
      const int first = my * per_row + box_.mx0;
      const int j = sync_record + (first - sync_mcu);
      int rc = 1;
      if (j >= sync_record && j < run_end) {
        const SkipRecord& rec = second[j];
        BitReader<true> r = rec.Reader(data_, second_end_);
        int pred[4], enc_pred[4];
        for (int c = 0; c < 4; ++c) pred[c] = enc_pred[c] = rec.pred[c] + offset[c];
        rc = 0;
        for (int m = first; m < first + len && rc == 0; ++m) {
          rc = CodeMcu(r, pred, enc_pred, m, &band, &rows_->coded[k].bits);
        }
        rows_->coded[k].length = rows_->coded[k].bits.bits();
        rows_->coded[k].bits.Flush();
      }
      common::MutexLock lock(rows_->mu);
      rows_->state[k] = rc == 0 ? RowShare::kDone : RowShare::kFailed;
      rows_->cv.NotifyAll();
    }
  }

 private:
  // At the first MCU of logo row `my`: true when the second thread has coded its unit (waits
  // while it is at it); false when this thread is to code it (claimed now).
  bool CodedBySecond(int my) {
    const int k = my - box_.my0;
    common::MutexLock lock(rows_->mu);
    if (wait_to_meet_ && rows_->met && my == box_.my1 - 1) {
      // ScanThreads::kTwo: the last row is left to the second thread, which claims it first
      // once it has skipped to the end, so that it has a part whatever the timing.
      while (rows_->state[k] == RowShare::kFree) rows_->cv.Wait(rows_->mu);
    }
    if (rows_->state[k] == RowShare::kFree) {
      rows_->state[k] = RowShare::kFirst;
      return false;
    }
    while (rows_->state[k] == RowShare::kSecond) rows_->cv.Wait(rows_->mu);
    return rows_->state[k] == RowShare::kDone;
  }

  // The first MCU after untouched MCU m (of a segment ending before `last`) that lies under the
  // logo, or `last`.
  int NextTouched(int m, int last) const {
    const int per_row = g_.mcus_per_row();
    const int mx = m % per_row, my = m / per_row;
    int next = last;
    if (box_.mx0 < box_.mx1 && my < box_.my1) {
      if (my < box_.my0) {
        next = box_.my0 * per_row + box_.mx0;
      } else if (mx < box_.mx0) {
        next = my * per_row + box_.mx0;
      } else if (my + 1 < box_.my1) {
        next = (my + 1) * per_row + box_.mx0;
      }
    }
    return std::min(next, last);
  }

  // Moves r (with `*base`, see Plan) from the start of MCU m to the start of MCU `target`,
  // tracking the DC predictors, exactly as calling skip() for each MCU would; false where that
  // would fail. With a second thread (UseSecondThread): at each MCU start past where it began,
  // looks for its record of the very same position (Meet); from there on both threads decode
  // the same, so the record of MCU k lies k - m records further, and r jumps straight to it
  // (Reach says how far the records go and are safe), then meets the next run if any.
  template <typename Skip>
  bool Advance(BitReader<true>& r, uint64_t* base, int* pred, int m, int target, Skip& skip) {
    while (m < target) {
      if (second_ != nullptr) {
        if (!synced_) Meet(r, *base, pred, m);
        if (synced_) {
          const int at = sync_record_ + (m - sync_mcu_);
          const int to = Reach(sync_record_ + (target - sync_mcu_));
          if (to > at) {
            JumpTo(to, r, base, pred);
            jumped_ += to - at;
            m += to - at;
            continue;
          }
          // The next record is missing (the run ended) or the MCU not known safe: walk it.
          synced_ = false;
          cursor_ = at + 1;
        }
      }
      if (!skip()) return false;
      ++m;
    }
    return true;
  }

  // At the start of MCU m: when the second thread has a record at r's very position, the two
  // are in step from there on (same bits, same tables); notes how its counts relate to ours.
  void Meet(const BitReader<true>& r, uint64_t base, const int* pred, int m) {
    if (r.loaded_to() <= second_->start()) return;
    int n = second_->published();
    if (cursor_ >= n && !wait_to_meet_) return;
    size_t byte;
    int used;
    r.Position(&byte, &used);
    const uint64_t pos = byte * 8 + static_cast<uint64_t>(used);
    const SecondSkipper& second = *second_;
    while (wait_to_meet_ && (n == 0 || second[n - 1].at() < pos)) {
      const int more = second_->WaitFor(n);
      if (more == n) break;  // finished
      n = more;
    }
    while (cursor_ < n && second[cursor_].at() < pos) ++cursor_;
    if (cursor_ == n || second[cursor_].at() != pos) return;
    const SkipRecord& rec = second[cursor_];
    synced_ = true;
    sync_record_ = checked_ = cursor_;
    sync_mcu_ = m;
    bits_delta_ = static_cast<int64_t>(base + r.consumed()) - rec.bits;
    for (int c = 0; c < 4; ++c) pred_offset_[c] = pred[c] - rec.pred[c];
    if (rows_ != nullptr) {
      common::MutexLock lock(rows_->mu);
      if (!rows_->met) {
        rows_->met = true;
        rows_->sync_record = sync_record_;
        rows_->sync_mcu = sync_mcu_;
        std::copy(pred_offset_, pred_offset_ + 4, rows_->pred_offset);
        rows_->cv.NotifyAll();
      }
    }
  }

  // The furthest record, at most `want`, that r may jump to from the meeting: every record up
  // to it belongs to the run of the meeting and starts an MCU that is safe to jump over. Waits
  // for the second thread while it may still bring the records needed.
  int Reach(int want) {
    const SecondSkipper& second = *second_;
    while (checked_ <= want) {
      int n = second.published();
      if (checked_ >= n) n = second_->WaitFor(checked_);
      if (checked_ >= n) break;  // the thread finished before
      const SkipRecord& rec = second[checked_];
      if ((checked_ > sync_record_ && rec.new_run()) || !Safe(rec)) break;
      ++checked_;
    }
    return std::min(want, checked_ - 1);
  }

  // True when no block of the MCU starting at `rec` can take a DC predictor out of the range a
  // walk accepts (|pred| <= 32767), which the second thread could not check (its predictors
  // are relative).
  bool Safe(const SkipRecord& rec) const {
    for (int c = 0; c < 4; ++c) {
      if (std::abs(rec.pred[c] + pred_offset_[c]) > pred_limit_[c]) return false;
    }
    return true;
  }

  void JumpTo(int k, BitReader<true>& r, uint64_t* base, int* pred) const {
    const SkipRecord& rec = (*second_)[k];
    r = rec.Reader(data_, second_end_);
    *base = static_cast<uint64_t>(rec.bits + bits_delta_) - r.consumed();
    for (int c = 0; c < 4; ++c) pred[c] = rec.pred[c] + pred_offset_[c];
  }

  std::vector<McuBlock> blocks_;
  HuffTable table_[2][4];  // the file's tables, for reading the scan
  // The tables the new scan is written with: table_, or a rewritten one from rewritten_.
  const HuffTable* enc_[2][4];
  std::vector<std::unique_ptr<HuffTable>> rewritten_;
  bool recoding_ = false;
  // The second thread of a split scan (with rows_, when the logo's rows are shared out), and
  // where the calling thread stands with it: records before cursor_ lie behind it; once
  // synced_, record sync_record_ is MCU sync_mcu_, records [sync_record_, checked_) are of the
  // same run and Safe, and the counts differ by bits_delta_ and pred_offset_.
  SecondSkipper* second_ = nullptr;
  RowShare* rows_ = nullptr;
  size_t second_end_ = 0;
  bool wait_to_meet_ = false;
  int pred_limit_[4] = {};
  // From here on, members the calling thread writes while the second thread reads those above:
  // on cache lines of their own (sharing one made coding the logo's rows 60 % slower).
  alignas(64) bool synced_ = false;
  int cursor_ = 0, sync_record_ = 0, sync_mcu_ = 0, checked_ = 0;
  int64_t bits_delta_ = 0;
  int pred_offset_[4] = {};
  int jumped_ = 0, rows_from_second_ = 0;
  Band band_;                 // of the calling thread
  BitWriter<false> encoded_;  // the re-encoded MCUs, unstuffed, in order
  std::vector<SegmentPlan> plans_;
};

// Entropy-coded data from which on a second thread pays for itself (its start-up, about 0.1 ms,
// and the MCUs it skips before it is in step): measured in-process (watermark_bench_tool), a
// 1600x1200 file of 316 KB takes 3.7 ms instead of 5.6, one of 166 KB 2.2 instead of 3.7, but
// a process takes about 10 ms to start, and a server running several requests at once gains
// nothing from a second thread: only where it saves more than a millisecond or so.
constexpr size_t kMinSplitBytes = size_t{256} << 10;

// Whether to split the scan `seg` (the only segment) between two threads; see
// WatermarkOptions::scan_threads.
bool WantSecondThread(ScanThreads mode, const Segment& seg) {
  // Records hold a position as byte * 8 + bit in 31 bits.
  if (mode == ScanThreads::kOne || seg.end >= (size_t{1} << 28) || seg.end - seg.begin < 16) {
    return false;
  }
  if (mode == ScanThreads::kTwo) return true;
  if (seg.end - seg.begin < kMinSplitBytes) return false;
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  return sched_getaffinity(0, sizeof cpus, &cpus) == 0 && CPU_COUNT(&cpus) > 1;
}

bool Refuse(EntropyFallback* fallback, std::string reason) {
  fallback->reason = std::move(reason);
  return false;
}

}  // namespace

common::Result<bool> WatermarkJpegEntropy(std::string_view input, const JpegHeader& h,
                                          const WatermarkOptions& options, OutputSink* sink,
                                          WatermarkResult* result, EntropyFallback* fallback) {
  if (h.sof == 0xC2) return WatermarkJpegProgressive(input, h, options, sink, result, fallback);
  if (h.sof != 0xC0 && h.sof != 0xC1) return Refuse(fallback, "not a baseline Huffman JPEG");
  if (h.precision != 8) return Refuse(fallback, "not 8-bit");
  if (!h.has_scan || h.scan_num_components != h.num_components || h.ss != 0 || h.se != 63 ||
      h.ah != 0 || h.al != 0) {
    return Refuse(fallback, "not a single interleaved scan");
  }
  std::string geometry_why;
  JpegGeometry g;
  if (!GeometryOf(h, &g, &geometry_why)) return Refuse(fallback, geometry_why);

  // Find the restart markers and the end of the scan without decoding anything.
  std::vector<Segment> segments;
  std::vector<ScanPiece> pieces;
  size_t end_at = 0;
  int end_marker = -1;
  std::string cut_why;
  if (!SplitScan(input, h.scan_data, &pieces, &end_at, &end_marker, &cut_why)) {
    return Refuse(fallback, cut_why);
  }
  for (const ScanPiece& piece : pieces) segments.push_back({piece.begin, piece.end, 0, 0});
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
  // A scan without restart markers cannot be cut, but Huffman codes resynchronise: a second
  // thread skips its second half (see SecondSkipper and Splicer::Advance). Declared after the
  // splicer, whose tables it reads: it is stopped first.
  std::unique_ptr<RowShare> rows;  // outlives the thread
  std::unique_ptr<SecondSkipper> second;
  if (segments.size() == 1 && !splicer.recoding() &&
      WantSecondThread(options.scan_threads, segments[0])) {
    const Segment& seg = segments[0];
    const bool shared = splicer.RowsStandAlone(total);
    const int split = splicer.ChooseSplitMcu(total, shared);
    size_t start =
        seg.begin + static_cast<size_t>(static_cast<double>(seg.end - seg.begin) * split / total);
    const auto* data = reinterpret_cast<const uint8_t*>(input.data());
    start = PastStuffing(data, std::max(start, seg.begin + 1), seg.end);
    if (start < seg.end) {
      second = std::make_unique<SecondSkipper>(splicer.blocks(), splicer.tables(), data, start,
                                               seg.end, total + 1);
      splicer.UseSecondThread(second.get(), seg.end, options.scan_threads == ScanThreads::kTwo);
      // Once it has skipped to the end, the second thread codes logo rows from the bottom.
      if (shared) {
        rows = std::make_unique<RowShare>(box.my1 - box.my0);
        splicer.ShareRows(rows.get());
        second->Start(rows.get(), [&splicer, &second] { splicer.HelpWithRows(*second); });
      } else {
        second->Start(nullptr, nullptr);
      }
    }
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
  if (second != nullptr) second->Stop();
  DAT_RETURN_IF_ERROR(splicer.Emit(dht.empty() ? 0 : h.scan_marker, dht, sink));

  SetSplicedResult(g, h.orientation, *logo, box, result);
  result->scan_threads = second != nullptr ? 2 : 1;
  result->second_thread_mcus = splicer.second_thread_mcus();
  result->second_thread_logo_rows = splicer.second_thread_rows();
  return true;
}

}  // namespace image::internal
