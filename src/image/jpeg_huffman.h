// Internal: giving new symbols codes in a JPEG Huffman table that has no room left for them.
#pragma once

#include <bitset>
#include <string>

#include "image/jpeg_parse.h"

namespace image::internal {

// Returns in *out a table holding every symbol of `spec` and every symbol of `add`, such that
// the codes of `spec`'s symbols change as little as possible: the symbols are kept in
// canonical order, the shortest suffix of that order (the longest codes: in an optimized table,
// the rarest symbols) is re-lengthened, together with the new symbols, to fit the code space it
// and the unused codes held, and every symbol before that suffix keeps its exact code. Codes
// stay within 16 bits and the all-ones code stays unused (ITU T.81 Annex C), so the result is
// valid for every decoder. When `spec` has room left, no existing code changes at all.
//
// Returns false (with *out unspecified) when `spec` is invalid (over-subscribed, a symbol
// listed twice, counts not matching its symbols) or cannot take the new symbols (more than 256
// symbols, or a code length would need more than 255 codes). Symbols of `add` that `spec`
// already holds are ignored. Pure function, safe from any thread.
bool AddHuffmanSymbols(const HuffmanSpec& spec, const std::bitset<256>& add, HuffmanSpec* out);

// The canonical code and length of every symbol of a valid table (length 0: no code).
void CanonicalCodes(const HuffmanSpec& spec, uint16_t code[256], uint8_t size[256]);

// The optimal JPEG Huffman table for symbol frequencies `freq` (ITU T.81 Annex K.2): code
// lengths of at most 16 bits, the all-ones code left unused, symbols with frequency 0 left
// out. At least one frequency must be non-zero. Pure function, safe from any thread.
void OptimalHuffmanTable(const uint32_t freq[256], HuffmanSpec* out);

// For tests and fuzzing: "" when `after` keeps every promise AddHuffmanSymbols makes for
// (`before`, `add`), otherwise the first promise it breaks.
std::string CheckAddedSymbols(const HuffmanSpec& before, const std::bitset<256>& add,
                              const HuffmanSpec& after);

}  // namespace image::internal
