#include "common/crypto.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include "common/strings.h"
#include "common/time.h"

namespace common {
namespace {

// Digests fetched once: with OpenSSL 3 every EVP_sha256()-style call made per hash costs an
// implicit provider fetch, several times the hash itself for short inputs.
const EVP_MD* Fetched(const char* name, const EVP_MD* legacy) {
  const EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  return md != nullptr ? md : legacy;
}
const EVP_MD* Sha256Md() {
  static const EVP_MD* md = Fetched("SHA256", EVP_sha256());
  return md;
}
const EVP_MD* Sha1Md() {
  static const EVP_MD* md = Fetched("SHA1", EVP_sha1());
  return md;
}
const EVP_MD* Md5Md() {
  static const EVP_MD* md = Fetched("MD5", EVP_md5());
  return md;
}

// This thread's reusable digest context.
EVP_MD_CTX* ThreadContext() {
  struct Holder {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Holder() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Holder holder;
  return holder.ctx;
}

size_t DigestInto(const EVP_MD* md, std::initializer_list<std::string_view> parts,
                  unsigned char* out) {
  EVP_MD_CTX* ctx = ThreadContext();
  EVP_DigestInit_ex(ctx, md, nullptr);
  for (std::string_view p : parts) EVP_DigestUpdate(ctx, p.data(), p.size());
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, out, &len);
  return len;
}

std::string Digest(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t len = DigestInto(md, {data}, out);
  return std::string(reinterpret_cast<char*>(out), len);
}

// HMAC (RFC 2104) over the fetched digest: H((K ^ opad) || H((K ^ ipad) || data)). OpenSSL 3's
// one-shot HMAC() builds a MAC context per call and costs several times more.
std::string Hmac(const EVP_MD* md, std::string_view key, std::string_view data) {
  const size_t block = static_cast<size_t>(EVP_MD_get_block_size(md));
  unsigned char key_block[256] = {};
  unsigned char hashed_key[EVP_MAX_MD_SIZE];
  if (key.size() > block) {
    size_t n = DigestInto(md, {key}, hashed_key);
    key = std::string_view(reinterpret_cast<char*>(hashed_key), n);
  }
  std::memcpy(key_block, key.data(), key.size());
  unsigned char pad[256];
  for (size_t i = 0; i < block; ++i) pad[i] = key_block[i] ^ 0x36;
  unsigned char inner[EVP_MAX_MD_SIZE];
  size_t inner_len =
      DigestInto(md, {std::string_view(reinterpret_cast<char*>(pad), block), data}, inner);
  for (size_t i = 0; i < block; ++i) pad[i] = key_block[i] ^ 0x5c;
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t len = DigestInto(md,
                          {std::string_view(reinterpret_cast<char*>(pad), block),
                           std::string_view(reinterpret_cast<char*>(inner), inner_len)},
                          out);
  return std::string(reinterpret_cast<char*>(out), len);
}

template <uint32_t kPoly>
const std::array<uint32_t, 256>& CrcTable() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (kPoly ^ (c >> 1)) : (c >> 1);
      t[i] = c;
    }
    return t;
  }();
  return table;
}

template <uint32_t kPoly>
uint32_t Crc(std::string_view data, uint32_t crc) {
  const auto& t = CrcTable<kPoly>();
  crc = ~crc;
  for (unsigned char c : data) crc = t[(crc ^ c) & 0xff] ^ (crc >> 8);
  return ~crc;
}

}  // namespace

std::string Sha256(std::string_view data) { return Digest(Sha256Md(), data); }
std::string Sha256Hex(std::string_view data) { return HexEncode(Sha256(data)); }
std::string Sha1(std::string_view data) { return Digest(Sha1Md(), data); }
std::string Md5(std::string_view data) { return Digest(Md5Md(), data); }
std::string Md5Hex(std::string_view data) { return HexEncode(Md5(data)); }
std::string HmacSha256(std::string_view key, std::string_view data) {
  return Hmac(Sha256Md(), key, data);
}
std::string HmacSha1(std::string_view key, std::string_view data) {
  return Hmac(Sha1Md(), key, data);
}
uint32_t Crc32(std::string_view data, uint32_t crc) { return Crc<0xEDB88320u>(data, crc); }
uint32_t Crc32c(std::string_view data, uint32_t crc) { return Crc<0x82F63B78u>(data, crc); }

Sha256Hasher::Sha256Hasher() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), Sha256Md(), nullptr);
}
Sha256Hasher::~Sha256Hasher() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }
void Sha256Hasher::Update(std::string_view data) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size());
}
std::string Sha256Hasher::Final() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    // The OS random source failing is not a recoverable condition for anything we do.
    std::fprintf(stderr, "fatal: RAND_bytes failed\n");
    std::abort();
  }
  return out;
}

namespace {

// 16 bytes as 8-4-4-4-12 lower-case hex.
std::string FormatUuid(const std::string& bytes) {
  std::string h = HexEncode(bytes);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

}  // namespace

std::string NewUuid() {
  std::string b = RandomBytes(16);
  b[6] = static_cast<char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);
  return FormatUuid(b);
}

std::string NewUuidV7() {
  std::string b = RandomBytes(16);
  auto ms = static_cast<uint64_t>(ToUnixMillis(std::chrono::system_clock::now()));
  for (int i = 0; i < 6; ++i) b[i] = static_cast<char>((ms >> (8 * (5 - i))) & 0xff);
  b[6] = static_cast<char>((b[6] & 0x0f) | 0x70);  // version 7
  b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);  // RFC 9562 variant
  return FormatUuid(b);
}

}  // namespace common
