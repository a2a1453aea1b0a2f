#include "aws/chunked.h"

#include <algorithm>
#include <array>
#include <cstdio>

#include "common/crypto.h"
#include "common/strings.h"

namespace aws {
namespace {

AwsError BodyError(int status, std::string code, std::string message) {
  AwsError e;
  e.service = "s3";
  e.http_status = status;
  e.code = std::move(code);
  e.message = std::move(message);
  return e;
}

AwsError Incomplete(std::string detail) {
  return BodyError(400, "IncompleteBody",
                   "The request body is not valid aws-chunked encoding: " + std::move(detail));
}

std::string BigEndian32(uint32_t v) {
  std::string out(4, '\0');
  out[0] = static_cast<char>((v >> 24) & 0xff);
  out[1] = static_cast<char>((v >> 16) & 0xff);
  out[2] = static_cast<char>((v >> 8) & 0xff);
  out[3] = static_cast<char>(v & 0xff);
  return out;
}

std::string ChunkStringToSign(std::string_view algorithm, const ChunkSigningContext& ctx,
                              std::string_view previous_signature) {
  std::string s;
  s.reserve(256);
  s += algorithm;
  s.push_back('\n');
  s += ctx.amz_date;
  s.push_back('\n');
  s += ctx.credential_scope;
  s.push_back('\n');
  s += previous_signature;
  s.push_back('\n');
  return s;
}

std::string BigEndian64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (56 - 8 * i)) & 0xff);
  return out;
}

bool SameText(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// Parses a chunk-size line: "<hex>[;chunk-signature=<sig>]".
bool ParseChunkHeader(std::string_view line, uint64_t* size, std::string* signature) {
  size_t semi = line.find(';');
  std::string_view hex = line.substr(0, semi);
  if (hex.empty() || hex.size() > 15) return false;
  uint64_t v = 0;
  for (char c : hex) {
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return false;
    v = v * 16 + static_cast<uint64_t>(d);
  }
  *size = v;
  signature->clear();
  if (semi != std::string_view::npos) {
    std::string_view ext = line.substr(semi + 1);
    constexpr std::string_view kKey = "chunk-signature=";
    if (!common::StartsWith(ext, kKey)) return false;
    *signature = std::string(ext.substr(kKey.size()));
  }
  return true;
}

}  // namespace

std::string ChunkSignature(const ChunkSigningContext& ctx, std::string_view previous_signature,
                           std::string_view chunk_data) {
  std::string s = ChunkStringToSign("AWS4-HMAC-SHA256-PAYLOAD", ctx, previous_signature);
  s += kEmptySha256;
  s.push_back('\n');
  s += common::Sha256Hex(chunk_data);
  return common::HexEncode(common::HmacSha256(ctx.signing_key, s));
}

std::string TrailerSignature(const ChunkSigningContext& ctx, std::string_view previous_signature,
                             const std::vector<std::pair<std::string, std::string>>& trailers) {
  std::string canonical;
  for (const auto& [name, value] : trailers) {
    canonical += common::ToLower(name);
    canonical.push_back(':');
    canonical += common::Trim(value);
    canonical.push_back('\n');
  }
  std::string s = ChunkStringToSign("AWS4-HMAC-SHA256-TRAILER", ctx, previous_signature);
  s += common::Sha256Hex(canonical);
  return common::HexEncode(common::HmacSha256(ctx.signing_key, s));
}

uint64_t Crc64Nvme(std::string_view data) {
  // Reflected CRC-64 with the NVMe polynomial 0xAD93D23594C93659 (reversed form below),
  // initial value and final xor all ones.
  static const auto kTable = [] {
    std::array<uint64_t, 256> t{};
    for (uint64_t i = 0; i < 256; ++i) {
      uint64_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x9A6C9329AC4BC9B5ull : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint64_t crc = ~0ull;
  for (unsigned char b : data) crc = kTable[(crc ^ b) & 0xff] ^ (crc >> 8);
  return ~crc;
}

std::optional<std::string> ComputeChecksumBase64(std::string_view algorithm,
                                                 std::string_view data) {
  std::string alg = common::ToLower(algorithm);
  if (alg == "crc32") return common::Base64Encode(BigEndian32(common::Crc32(data)));
  if (alg == "crc32c") return common::Base64Encode(BigEndian32(common::Crc32c(data)));
  if (alg == "sha1") return common::Base64Encode(common::Sha1(data));
  if (alg == "sha256") return common::Base64Encode(common::Sha256(data));
  if (alg == "crc64nvme") return common::Base64Encode(BigEndian64(Crc64Nvme(data)));
  return std::nullopt;
}

Outcome<DecodedChunkedBody> DecodeAwsChunked(std::string_view body,
                                             const ChunkedDecodeOptions& options) {
  const std::string& mode = options.content_sha256;
  const bool is_signed = mode == kStreamingSignedPayload || mode == kStreamingSignedPayloadTrailer;
  const bool with_trailer =
      mode == kStreamingSignedPayloadTrailer || mode == kStreamingUnsignedPayloadTrailer;
  if (!is_signed && !with_trailer) {
    return BodyError(400, "InvalidArgument",
                     "Unsupported x-amz-content-sha256 for aws-chunked: " + mode);
  }
  const AwsError signature_error =
      BodyError(403, "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. "
                "Check your key and signing method.");

  DecodedChunkedBody out;
  if (options.decoded_content_length) {
    // The payload cannot be larger than the body: a claimed length never sizes the buffer.
    out.payload.reserve(
        static_cast<size_t>(std::min<uint64_t>(*options.decoded_content_length, body.size())));
  }
  std::string previous = options.signing.seed_signature;
  size_t pos = 0;
  int chunk_no = 0;
  for (;;) {
    size_t eol = body.find("\r\n", pos);
    if (eol == std::string_view::npos) {
      return Incomplete("chunk " + std::to_string(chunk_no) + " has no size line");
    }
    uint64_t size = 0;
    std::string signature;
    if (!ParseChunkHeader(body.substr(pos, eol - pos), &size, &signature)) {
      return Incomplete("bad chunk header at byte " + std::to_string(pos));
    }
    if (is_signed && signature.empty()) {
      return Incomplete("chunk " + std::to_string(chunk_no) + " has no chunk-signature");
    }
    pos = eol + 2;
    if (size > body.size() - pos)
      return Incomplete("chunk " + std::to_string(chunk_no) + " is truncated");
    std::string_view data = body.substr(pos, size);
    if (is_signed) {
      std::string expected = ChunkSignature(options.signing, previous, data);
      if (!SameText(expected, common::ToLower(signature))) return signature_error;
      previous = std::move(expected);
    }
    if (size == 0) break;
    if (out.payload.size() + size > options.max_payload_bytes) {
      return BodyError(400, "EntityTooLarge",
                       "Your proposed upload exceeds the maximum allowed size");
    }
    out.payload.append(data);
    pos += size;
    if (body.substr(pos, 2) != "\r\n") {
      return Incomplete("chunk " + std::to_string(chunk_no) + " is not followed by CRLF");
    }
    pos += 2;
    ++chunk_no;
  }

  // Trailer section: "name:value" lines up to an empty line.
  std::string trailer_signature;
  for (;;) {
    size_t eol = body.find("\r\n", pos);
    if (eol == std::string_view::npos) {
      if (common::Trim(body.substr(pos)).empty()) break;  // a missing final CRLF is tolerated
      return Incomplete("unterminated trailer");
    }
    std::string_view line = body.substr(pos, eol - pos);
    pos = eol + 2;
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return Incomplete("bad trailer line");
    std::string name = common::ToLower(common::Trim(line.substr(0, colon)));
    std::string value(common::Trim(line.substr(colon + 1)));
    if (name == "x-amz-trailer-signature") {
      trailer_signature = value;
    } else {
      out.trailers.emplace_back(std::move(name), std::move(value));
    }
  }
  if (!common::Trim(body.substr(std::min(pos, body.size()))).empty()) {
    return Incomplete("data after the final chunk");
  }
  if (!with_trailer && !out.trailers.empty()) {
    return BodyError(400, "InvalidRequest", "Trailing headers are not allowed with " + mode);
  }
  if (mode == kStreamingSignedPayloadTrailer) {
    if (trailer_signature.empty()) return Incomplete("missing x-amz-trailer-signature");
    std::string expected = TrailerSignature(options.signing, previous, out.trailers);
    if (!SameText(expected, common::ToLower(trailer_signature))) return signature_error;
  }
  for (const auto& [name, value] : out.trailers) {
    if (!options.declared_trailers.empty()) {
      bool declared =
          std::any_of(options.declared_trailers.begin(), options.declared_trailers.end(),
                      [&name = name](const std::string& d) {
                        return common::EqualsIgnoreCase(common::Trim(d), name);
                      });
      if (!declared) {
        return BodyError(400, "InvalidRequest",
                         "The trailer " + name + " was not declared in x-amz-trailer");
      }
    }
    constexpr std::string_view kChecksum = "x-amz-checksum-";
    if (!common::StartsWith(name, kChecksum)) continue;
    std::string algorithm = name.substr(kChecksum.size());
    std::optional<std::string> computed = ComputeChecksumBase64(algorithm, out.payload);
    if (!computed) continue;
    if (*computed != value) {
      return BodyError(400, "BadDigest",
                       "The " + common::ToUpper(algorithm) +
                           " you specified did not match the calculated checksum.");
    }
    out.verified_checksums.push_back(name);
  }
  if (options.decoded_content_length && out.payload.size() != *options.decoded_content_length) {
    return Incomplete("x-amz-decoded-content-length is " +
                      std::to_string(*options.decoded_content_length) + " but the chunks hold " +
                      std::to_string(out.payload.size()) + " bytes");
  }
  return out;
}

std::string EncodeAwsChunked(std::string_view payload, size_t chunk_size,
                             std::string_view content_sha256, const ChunkSigningContext& ctx,
                             const std::vector<std::pair<std::string, std::string>>& trailers) {
  if (chunk_size == 0) chunk_size = 64 * 1024;
  const bool is_signed =
      content_sha256 == kStreamingSignedPayload || content_sha256 == kStreamingSignedPayloadTrailer;
  const bool with_trailer = content_sha256 == kStreamingSignedPayloadTrailer ||
                            content_sha256 == kStreamingUnsignedPayloadTrailer;
  std::string out;
  std::string previous = ctx.seed_signature;
  auto emit = [&](std::string_view data) {
    char hex[32];
    std::snprintf(hex, sizeof hex, "%zx", data.size());
    out += hex;
    if (is_signed) {
      previous = ChunkSignature(ctx, previous, data);
      out += ";chunk-signature=";
      out += previous;
    }
    out += "\r\n";
    if (!data.empty()) {
      out += data;
      out += "\r\n";
    }
  };
  for (size_t pos = 0; pos < payload.size(); pos += chunk_size) {
    emit(payload.substr(pos, chunk_size));
  }
  emit({});
  if (with_trailer) {
    for (const auto& [name, value] : trailers) out += name + ":" + value + "\r\n";
    if (is_signed) {
      out += "x-amz-trailer-signature:" + TrailerSignature(ctx, previous, trailers) + "\r\n";
    }
  }
  out += "\r\n";
  return out;
}

}  // namespace aws
