#include "image/jpeg_huffman.h"

#include <algorithm>
#include <cstdint>

namespace image::internal {
namespace {

// Code space in units of one 16-bit code: a code of length l takes 2^(16 - l) units.
constexpr uint32_t kSpace = 1u << 16;
constexpr uint32_t Units(int length) { return 1u << (16 - length); }

}  // namespace

bool AddHuffmanSymbols(const HuffmanSpec& spec, const std::bitset<256>& add_in, HuffmanSpec* out) {
  // Code lengths in canonical order (by length, then as listed).
  int len[256];
  int n = 0;
  for (int l = 1; l <= 16; ++l) {
    for (int i = 0; i < spec.counts[l]; ++i) {
      if (n >= 256) return false;
      len[n++] = l;
    }
  }
  if (n != spec.num_symbols) return false;
  std::bitset<256> have;
  for (int i = 0; i < n; ++i) {
    if (have.test(spec.symbols[i])) return false;
    have.set(spec.symbols[i]);
  }
  const std::bitset<256> add = add_in & ~have;
  const int m = static_cast<int>(add.count());
  if (n + m > 256) return false;
  // prefix[j]: the units taken by the first j codes.
  uint32_t prefix[257];
  prefix[0] = 0;
  for (int i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + Units(len[i]);
  if (prefix[n] > kSpace) return false;  // over-subscribed

  // The largest j whose suffix (codes j..n-1, plus the new symbols) fits the units after the
  // first j codes, minus the all-ones code. Every code takes at least one unit.
  for (int j = n; j >= 0; --j) {
    if (prefix[j] >= kSpace) continue;
    const uint32_t room = kSpace - 1 - prefix[j];
    const int c = n - j + m;
    if (static_cast<uint32_t>(c) > room) continue;
    // Greedily the shortest length, never shorter than the code before (canonical order is
    // kept) nor than the symbol had, that leaves at least one unit for each code after it.
    int new_len[256];
    uint32_t left = room;
    int prev = j > 0 ? len[j - 1] : 1;
    for (int t = 0; t < c; ++t) {
      int l = std::max(prev, t < n - j ? len[j + t] : prev);
      const auto after = static_cast<uint32_t>(c - t - 1);
      while (l < 16 && Units(l) + after > left) ++l;
      // Cannot fail: left >= c - t holds before every step.
      left -= Units(l);
      new_len[t] = l;
      prev = l;
    }
    int counts[17] = {};
    for (int i = 0; i < j; ++i) ++counts[len[i]];
    for (int t = 0; t < c; ++t) ++counts[new_len[t]];
    if (*std::max_element(counts + 1, counts + 17) > 255) return false;
    *out = spec;
    out->present = true;
    for (int l = 1; l <= 16; ++l) out->counts[l] = static_cast<uint8_t>(counts[l]);
    out->counts[0] = 0;
    out->num_symbols = n;
    for (int sym = 0; sym < 256; ++sym) {
      if (add.test(sym)) out->symbols[out->num_symbols++] = static_cast<uint8_t>(sym);
    }
    return true;
  }
  return false;
}

void CanonicalCodes(const HuffmanSpec& spec, uint16_t code[256], uint8_t size[256]) {
  std::fill(code, code + 256, 0);
  std::fill(size, size + 256, 0);
  uint32_t next = 0;
  int k = 0;
  for (int l = 1; l <= 16; ++l) {
    for (int i = 0; i < spec.counts[l] && k < spec.num_symbols; ++i, ++k, ++next) {
      code[spec.symbols[k]] = static_cast<uint16_t>(next);
      size[spec.symbols[k]] = static_cast<uint8_t>(l);
    }
    next <<= 1;
  }
}

void OptimalHuffmanTable(const uint32_t freq_in[256], HuffmanSpec* out) {
  // Symbol 256 is a pseudo-symbol of frequency 1: it takes one of the longest codes, which is
  // then left unused, so that no real code is all ones.
  uint64_t freq[257];
  for (int i = 0; i < 256; ++i) freq[i] = freq_in[i];
  freq[256] = 1;
  int codesize[257] = {};
  int others[257];
  std::fill(others, others + 257, -1);
  for (;;) {
    // The two least frequent trees (ties: the larger symbol first), merged into one.
    int v1 = -1, v2 = -1;
    for (int i = 0; i <= 256; ++i) {
      if (freq[i] != 0 && (v1 < 0 || freq[i] <= freq[v1])) v1 = i;
    }
    for (int i = 0; i <= 256; ++i) {
      if (freq[i] != 0 && i != v1 && (v2 < 0 || freq[i] <= freq[v2])) v2 = i;
    }
    if (v2 < 0) break;
    freq[v1] += freq[v2];
    freq[v2] = 0;
    for (int i = v1;; i = others[i]) {
      ++codesize[i];
      if (others[i] < 0) {
        others[i] = v2;
        break;
      }
    }
    for (int i = v2; i >= 0; i = others[i]) ++codesize[i];
  }
  // A tree of 257 leaves is at most 256 deep (frequencies spanning 2^32 can pass 32 bits).
  int bits[258] = {};
  for (int i = 0; i <= 256; ++i) ++bits[codesize[i]];
  bits[0] = 0;
  // Limit lengths to 16 bits: a pair of the longest codes moves up one level, borrowing the
  // place of a shorter code that becomes their parent's sibling (Annex K, Figure K.3).
  for (int i = 257; i > 16; --i) {
    while (bits[i] > 0) {
      int j = i - 2;
      while (bits[j] == 0) --j;
      bits[i] -= 2;
      bits[i - 1] += 1;
      bits[j + 1] += 2;
      bits[j] -= 1;
    }
  }
  int longest = 16;
  while (longest > 0 && bits[longest] == 0) --longest;
  if (longest > 0) --bits[longest];  // the pseudo-symbol's code
  *out = HuffmanSpec{};
  out->present = true;
  for (int l = 1; l <= 16; ++l) out->counts[l] = static_cast<uint8_t>(bits[l]);
  // Symbols by code length, then by value.
  for (int l = 1; l <= 256; ++l) {
    for (int i = 0; i < 256; ++i) {
      if (codesize[i] == l) out->symbols[out->num_symbols++] = static_cast<uint8_t>(i);
    }
  }
}

std::string CheckAddedSymbols(const HuffmanSpec& before, const std::bitset<256>& add,
                              const HuffmanSpec& after) {
  int total = 0;
  uint32_t units = 0, units_before = 0;
  for (int l = 1; l <= 16; ++l) {
    total += after.counts[l];
    units += after.counts[l] * Units(l);
    units_before += before.counts[l] * Units(l);
  }
  if (after.counts[0] != 0 || total != after.num_symbols || total > 256) {
    return "counts do not match the symbols";
  }
  if (units >= kSpace) return "the code space is over-subscribed or uses the all-ones code";
  std::bitset<256> seen, wanted = add;
  for (int i = 0; i < after.num_symbols; ++i) {
    if (seen.test(after.symbols[i])) return "a symbol is listed twice";
    seen.set(after.symbols[i]);
  }
  for (int i = 0; i < before.num_symbols; ++i) wanted.set(before.symbols[i]);
  if (seen != wanted) return "the symbols are not those of the table and the additions";
  uint16_t old_code[256], new_code[256];
  uint8_t old_size[256], new_size[256];
  CanonicalCodes(before, old_code, old_size);
  CanonicalCodes(after, new_code, new_size);
  int longest_kept = 0, shortest_changed = 17;
  for (int i = 0; i < before.num_symbols; ++i) {
    const uint8_t sym = before.symbols[i];
    if (old_code[sym] == new_code[sym] && old_size[sym] == new_size[sym]) {
      longest_kept = std::max<int>(longest_kept, old_size[sym]);
    } else {
      shortest_changed = std::min<int>(shortest_changed, old_size[sym]);
    }
  }
  if (shortest_changed < longest_kept) return "a code changed while a longer one was kept";
  const uint32_t added = static_cast<uint32_t>(after.num_symbols - before.num_symbols);
  if (shortest_changed <= 16 && units_before + added < kSpace) {
    return "a code changed although the table had room";
  }
  return "";
}

}  // namespace image::internal
