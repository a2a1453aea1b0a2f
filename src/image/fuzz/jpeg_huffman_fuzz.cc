// libFuzzer target for the Huffman table rewrite (AddHuffmanSymbols), built with the engine's
// target (see watermark_fuzz.cc): -DDAT_FUZZ=ON with clang, then
//
//   build-fuzz/bin/jpeg_huffman_fuzz -max_total_time=300 CORPUS_DIR
//
// Input: 16 counts, the symbols, then a 32-byte bitset of symbols to add. Any table must give
// false or a table that keeps every promise (CheckAddedSymbols); any valid result must also
// hold every symbol at a code no longer than 16 bits, checked by CheckAddedSymbols.
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
  return 0;
}
