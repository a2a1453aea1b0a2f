// libFuzzer target for the Huffman table rewrite (AddHuffmanSymbols), built with the engine's
// target (see watermark_fuzz.cc): -DDAT_FUZZ=ON with clang, then
//
//   build-fuzz/bin/jpeg_huffman_fuzz -max_total_time=300 CORPUS_DIR
//
// Input: 16 counts, the symbols, then a 32-byte bitset of symbols to add. Any table must give
// false or a table that keeps every promise (CheckAddedSymbols: every symbol, codes of at most
// 16 bits, the all-ones code free, only the longest codes changed). The same bytes read as
// frequencies must give OptimalHuffmanTable a valid table of exactly the used symbols.
#include <cstddef>
#include <cstdint>

#include "image/jpeg_huffman.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 16) return 0;
  image::internal::HuffmanSpec spec;
  spec.present = true;
  int total = 0;
  for (int l = 1; l <= 16; ++l) {
    spec.counts[l] = data[l - 1];
    total += data[l - 1];
  }
  size_t at = 16;
  // The symbols as listed; a short input lists fewer than the counts promise (a bad table).
  for (int i = 0; i < total && i < 256 && at < size; ++i)
    spec.symbols[spec.num_symbols++] = data[at++];
  std::bitset<256> add;
  for (int i = 0; i < 256 && at + i / 8 < size; ++i) {
    if ((data[at + i / 8] >> (i % 8)) & 1) add.set(i);
  }
  image::internal::HuffmanSpec out;
  if (image::internal::AddHuffmanSymbols(spec, add, &out)) {
    if (!image::internal::CheckAddedSymbols(spec, add, out).empty()) __builtin_trap();
  }
  // The same bytes as symbol frequencies (bytes 16.. taken four at a time, little-endian) for
  // OptimalHuffmanTable: exactly the used symbols, a valid code of at most 16 bits.
  uint32_t freq[256] = {};
  std::bitset<256> used;
  for (size_t i = 16; i + 4 <= size && (i - 16) / 4 < 256; i += 4) {
    const size_t sym = (i - 16) / 4;
    freq[sym] =
        data[i] | data[i + 1] << 8 | data[i + 2] << 16 | static_cast<uint32_t>(data[i + 3]) << 24;
    used[sym] = freq[sym] != 0;
  }
  if (used.any()) {
    image::internal::HuffmanSpec empty, optimal;
    empty.present = true;
    image::internal::OptimalHuffmanTable(freq, &optimal);
    if (!image::internal::CheckAddedSymbols(empty, used, optimal).empty()) __builtin_trap();
  }
  return 0;
}
