#include "image/jpeg_huffman.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace image::internal {
namespace {

// A table with the given number of codes per length (1..16) for symbols 0, 1, 2, ...
HuffmanSpec Table(const std::vector<int>& counts_by_length) {
  HuffmanSpec spec;
  spec.present = true;
  for (size_t l = 0; l < counts_by_length.size(); ++l) {
    spec.counts[l + 1] = static_cast<uint8_t>(counts_by_length[l]);
    for (int i = 0; i < counts_by_length[l]; ++i) {
      spec.symbols[spec.num_symbols] = static_cast<uint8_t>(spec.num_symbols);
      ++spec.num_symbols;
    }
  }
  return spec;
}

uint32_t Units(const HuffmanSpec& spec) {
  uint32_t units = 0;
  for (int l = 1; l <= 16; ++l) units += spec.counts[l] << (16 - l);
  return units;
}

std::bitset<256> Symbols(std::initializer_list<int> symbols) {
  std::bitset<256> set;
  for (int s : symbols) set.set(s);
  return set;
}

// One code of each length 1..16: every code but the all-ones one, the way libjpeg's optimizer
// leaves a table for a large photo.
HuffmanSpec FullTable() { return Table({1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}); }

TEST(AddHuffmanSymbols, TableWithRoomKeepsEveryCode) {
  const HuffmanSpec before = Table({0, 2, 2, 2});  // 1/2 + 1/4 + 1/8 of the code space: room
  HuffmanSpec after;
  ASSERT_TRUE(AddHuffmanSymbols(before, Symbols({200, 201}), &after));
  EXPECT_EQ(CheckAddedSymbols(before, Symbols({200, 201}), after), "");
  uint16_t c0[256], c1[256];
  uint8_t s0[256], s1[256];
  CanonicalCodes(before, c0, s0);
  CanonicalCodes(after, c1, s1);
  for (int sym = 0; sym < before.num_symbols; ++sym) {
    EXPECT_EQ(c0[sym], c1[sym]);
    EXPECT_EQ(s0[sym], s1[sym]);
  }
  EXPECT_GT(s1[200], 0);
  EXPECT_GT(s1[201], 0);
}

TEST(AddHuffmanSymbols, FullSixteenBitTableLengthensOnlyTheRarestCodes) {
  const HuffmanSpec before = FullTable();
  ASSERT_EQ(Units(before), 65535u);
  HuffmanSpec after;
  const auto add = Symbols({100, 101, 102});
  ASSERT_TRUE(AddHuffmanSymbols(before, add, &after));
  EXPECT_EQ(CheckAddedSymbols(before, add, after), "");
  EXPECT_LT(Units(after), 65536u);
  uint16_t c0[256], c1[256];
  uint8_t s0[256], s1[256];
  CanonicalCodes(before, c0, s0);
  CanonicalCodes(after, c1, s1);
  int changed = 0;
  for (int sym = 0; sym < before.num_symbols; ++sym) {
    if (c0[sym] != c1[sym] || s0[sym] != s1[sym]) {
      ++changed;
      EXPECT_GE(s0[sym], 13) << "only the rarest (longest) codes move, symbol " << sym;
    }
  }
  EXPECT_GT(changed, 0);
  EXPECT_LE(changed, 4);
  for (int sym : {100, 101, 102}) EXPECT_EQ(s1[sym], 16);
}

TEST(AddHuffmanSymbols, TableUsingTheAllOnesCodeIsRepaired) {
  // Legal for decoders, forbidden to encoders: the rewrite must leave the all-ones code free.
  const HuffmanSpec before = Table({1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2});
  ASSERT_EQ(Units(before), 65536u);
  HuffmanSpec after;
  ASSERT_TRUE(AddHuffmanSymbols(before, Symbols({77}), &after));
  EXPECT_EQ(CheckAddedSymbols(before, Symbols({77}), after), "");
}

TEST(AddHuffmanSymbols, EmptyTableAndNothingToAdd) {
  HuffmanSpec empty;
  empty.present = true;
  HuffmanSpec after;
  ASSERT_TRUE(AddHuffmanSymbols(empty, Symbols({0, 1, 0xF0}), &after));
  EXPECT_EQ(CheckAddedSymbols(empty, Symbols({0, 1, 0xF0}), after), "");
  EXPECT_EQ(after.num_symbols, 3);
  const HuffmanSpec full = FullTable();
  ASSERT_TRUE(AddHuffmanSymbols(full, {}, &after));
  EXPECT_EQ(after.num_symbols, full.num_symbols);
  EXPECT_EQ(CheckAddedSymbols(full, {}, after), "");
}

TEST(AddHuffmanSymbols, BadTablesAreRefused) {
  HuffmanSpec after;
  HuffmanSpec over = Table({3});  // three 1-bit codes
  EXPECT_FALSE(AddHuffmanSymbols(over, Symbols({9}), &after));
  HuffmanSpec twice = Table({0, 3});
  twice.symbols[2] = twice.symbols[0];
  EXPECT_FALSE(AddHuffmanSymbols(twice, Symbols({9}), &after));
  HuffmanSpec short_list = Table({0, 3});
  short_list.num_symbols = 2;  // counts promise three
  EXPECT_FALSE(AddHuffmanSymbols(short_list, Symbols({9}), &after));
  // 256 symbols: nothing more fits (and 256 codes of one length cannot be written).
  HuffmanSpec all = Table({0, 0, 0, 0, 0, 0, 0, 0, 255});
  EXPECT_FALSE(AddHuffmanSymbols(all, Symbols({255}), &after));
}

TEST(AddHuffmanSymbols, AlreadyPresentSymbolsAreIgnored) {
  const HuffmanSpec before = FullTable();
  HuffmanSpec after;
  ASSERT_TRUE(AddHuffmanSymbols(before, Symbols({0, 5}), &after));
  EXPECT_EQ(after.num_symbols, before.num_symbols);
  EXPECT_EQ(CheckAddedSymbols(before, Symbols({0, 5}), after), "");
}

TEST(AddHuffmanSymbols, RandomTablesKeepEveryPromise) {
  std::mt19937 rng(14);
  int rewritten = 0;
  for (int iteration = 0; iteration < 3000; ++iteration) {
    // A random complete-or-nearly code: split leaves of a binary tree up to depth 16.
    std::vector<int> leaves = {1, 1};
    for (int splits = std::uniform_int_distribution<int>(0, 200)(rng); splits > 0; --splits) {
      const size_t i = std::uniform_int_distribution<size_t>(0, leaves.size() - 1)(rng);
      if (leaves[i] >= 16) continue;
      ++leaves[i];
      leaves.insert(leaves.begin() + static_cast<long>(i), leaves[i]);
    }
    std::vector<int> counts(16, 0);
    for (int l : leaves) ++counts[l - 1];
    // Leave the all-ones code free most of the time, as encoders do.
    if (rng() % 4 != 0) --counts[*std::max_element(leaves.begin(), leaves.end()) - 1];
    if (static_cast<int>(leaves.size()) > 256) continue;
    HuffmanSpec before = Table(counts);
    std::shuffle(before.symbols, before.symbols + before.num_symbols, rng);
    std::bitset<256> add;
    for (int n = std::uniform_int_distribution<int>(0, 12)(rng); n > 0; --n) add.set(rng() % 256);
    HuffmanSpec after;
    std::bitset<256> have;
    for (int i = 0; i < before.num_symbols; ++i) have.set(before.symbols[i]);
    if (!AddHuffmanSymbols(before, add, &after)) {
      EXPECT_GT(before.num_symbols + static_cast<int>((add & ~have).count()), 256) << iteration;
      continue;
    }
    ASSERT_EQ(CheckAddedSymbols(before, add, after), "") << iteration;
    rewritten += Units(before) + add.count() >= 65536;
  }
  EXPECT_GT(rewritten, 100);  // the interesting case was exercised
}

TEST(OptimalHuffmanTable, ValidAndLimitedToSixteenBits) {
  std::mt19937 rng(7);
  for (int iteration = 0; iteration < 200; ++iteration) {
    uint32_t freq[256] = {};
    const int n = std::uniform_int_distribution<int>(1, 256)(rng);
    for (int i = 0; i < n; ++i) {
      // Geometric-ish spread, so that unlimited codes would often pass 16 bits.
      freq[rng() % 256] = 1u << std::uniform_int_distribution<int>(0, 24)(rng);
    }
    HuffmanSpec table;
    OptimalHuffmanTable(freq, &table);
    HuffmanSpec empty;
    empty.present = true;
    std::bitset<256> used;
    for (int i = 0; i < 256; ++i) used[i] = freq[i] != 0;
    // Exactly the used symbols, a valid code with the all-ones code free.
    ASSERT_EQ(CheckAddedSymbols(empty, used, table), "") << iteration;
  }
  // Dyadic frequencies get their exact lengths: 8, 4, 2, 1 -> 1, 2, 3, 4 bits.
  uint32_t dyadic[256] = {};
  dyadic[10] = 8, dyadic[20] = 4, dyadic[30] = 2, dyadic[40] = 1;
  HuffmanSpec exact;
  OptimalHuffmanTable(dyadic, &exact);
  uint16_t code[256];
  uint8_t size[256];
  CanonicalCodes(exact, code, size);
  EXPECT_EQ(size[10], 1);
  EXPECT_EQ(size[20], 2);
  EXPECT_EQ(size[30], 3);
  EXPECT_EQ(size[40], 4);
  // Fibonacci frequencies make a tree 45 deep: every symbol must still get a code (found by
  // the fuzzer: symbols deeper than 32 were dropped).
  uint32_t fibonacci[256] = {};
  fibonacci[0] = fibonacci[1] = 1;
  for (int i = 2; i < 46; ++i) fibonacci[i] = fibonacci[i - 1] + fibonacci[i - 2];
  HuffmanSpec deep;
  OptimalHuffmanTable(fibonacci, &deep);
  std::bitset<256> first46;
  for (int i = 0; i < 46; ++i) first46.set(i);
  HuffmanSpec none;
  none.present = true;
  EXPECT_EQ(CheckAddedSymbols(none, first46, deep), "");
  uint32_t one[256] = {};
  one[42] = 5;
  HuffmanSpec table;
  OptimalHuffmanTable(one, &table);
  EXPECT_EQ(table.num_symbols, 1);
  EXPECT_EQ(table.counts[1], 1);  // "0"; the all-ones "1" stays free
}

}  // namespace
}  // namespace image::internal
