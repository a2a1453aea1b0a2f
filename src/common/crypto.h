// Hashes, HMACs and randomness over OpenSSL. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace common {

// Raw 32-byte digest.
std::string Sha256(std::string_view data);
std::string Sha256Hex(std::string_view data);
// Raw 32-byte HMAC-SHA256.
std::string HmacSha256(std::string_view key, std::string_view data);
// Raw 20-byte HMAC-SHA1 (OAuth 1.0a).
std::string HmacSha1(std::string_view key, std::string_view data);
// Raw 20-byte SHA-1 and 16-byte MD5.
std::string Sha1(std::string_view data);
std::string Md5(std::string_view data);
std::string Md5Hex(std::string_view data);
// CRC32 (IEEE) and CRC32C (Castagnoli) as S3's x-amz-checksum-* use them (raw 4 bytes, big-endian).
uint32_t Crc32(std::string_view data, uint32_t crc = 0);
uint32_t Crc32c(std::string_view data, uint32_t crc = 0);

// Incremental SHA-256 for streamed bodies. Not thread-safe; one owner.
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;
  void Update(std::string_view data);
  // Raw digest; the hasher may not be updated afterwards.
  std::string Final();

 private:
  void* ctx_;
};

// Cryptographically random bytes.
std::string RandomBytes(size_t n);
// A random RFC 4122 version-4 UUID, lower-case with dashes.
std::string NewUuid();
// A UUID version 7 (RFC 9562: milliseconds since the epoch, then random bits), lower-case with
// dashes: ids that sort by creation time, so an index on them is appended to instead of
// touched at a random page for every new id.
std::string NewUuidV7();

}  // namespace common
