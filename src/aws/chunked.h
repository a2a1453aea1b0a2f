// S3's aws-chunked request bodies (Content-Encoding: aws-chunked), as sent with
// x-amz-content-sha256 set to one of:
//   STREAMING-AWS4-HMAC-SHA256-PAYLOAD          each chunk signed, chained from the seed
//   STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER  the same, then signed trailing headers
//   STREAMING-UNSIGNED-PAYLOAD-TRAILER          plain chunks, then (unsigned) trailers
// Wire form of a signed chunk:  <hex size>;chunk-signature=<64 hex>\r\n<data>\r\n
// an unsigned chunk:            <hex size>\r\n<data>\r\n
// then a 0-size chunk, optional trailer lines "x-amz-checksum-crc32:<base64>\r\n"
// ("x-amz-trailer-signature:<64 hex>\r\n" when signed), and a final "\r\n".
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aws/error.h"
#include "aws/sigv4.h"

namespace aws {

// The signing context a chunked body continues from: the seed request's values
// (VerifiedRequest has them all).
struct ChunkSigningContext {
  std::string signing_key;       // raw
  std::string amz_date;          // "20130524T000000Z"
  std::string credential_scope;  // "20130524/us-east-1/s3/aws4_request"
  std::string seed_signature;    // hex signature of the request headers
};

// Signature of one chunk: HMAC(signing key, "AWS4-HMAC-SHA256-PAYLOAD\n" date "\n" scope "\n"
// previous signature "\n" sha256("") "\n" sha256(chunk data)). Hex.
std::string ChunkSignature(const ChunkSigningContext& ctx, std::string_view previous_signature,
                           std::string_view chunk_data);
// Signature of the trailing headers: HMAC over "AWS4-HMAC-SHA256-TRAILER\n" date "\n" scope
// "\n" previous signature "\n" sha256(canonical trailers), the canonical trailers being
// "name:value\n" for each, names lower-case, in the order given. Hex.
std::string TrailerSignature(const ChunkSigningContext& ctx, std::string_view previous_signature,
                             const std::vector<std::pair<std::string, std::string>>& trailers);

// Checksum algorithms of x-amz-checksum-*; values are base64 of the raw digest.
// Names as in the header suffix: "crc32", "crc32c", "crc64nvme", "sha1", "sha256" (every
// algorithm S3 offers); nullopt for any other name.
std::optional<std::string> ComputeChecksumBase64(std::string_view algorithm, std::string_view data);
// CRC-64/NVME of `data` (S3's CRC64NVME; "123456789" gives 0xAE8B14860A799888).
uint64_t Crc64Nvme(std::string_view data);

// What the body decoded to.
struct DecodedChunkedBody {
  std::string payload;  // the object bytes, framing removed
  // Trailing headers as sent (names lower-case), x-amz-trailer-signature excluded.
  std::vector<std::pair<std::string, std::string>> trailers;
  // Names of x-amz-checksum-* trailers that were checked against the payload.
  std::vector<std::string> verified_checksums;
};

struct ChunkedDecodeOptions {
  // The request's x-amz-content-sha256 (one of the three STREAMING-* values).
  std::string content_sha256;
  // Needed for the two signed variants; ignored for STREAMING-UNSIGNED-PAYLOAD-TRAILER.
  ChunkSigningContext signing;
  // x-amz-decoded-content-length when sent: the payload must have exactly this size.
  std::optional<uint64_t> decoded_content_length;
  // Names declared in x-amz-trailer (comma separated when sent); trailers must be among them.
  std::vector<std::string> declared_trailers;
  uint64_t max_payload_bytes = 5ull << 30;
};

// Decodes a complete aws-chunked body, verifying every chunk signature and the trailer
// signature (signed variants) and every x-amz-checksum-* trailer it can compute.
// Errors (AwsError, S3 codes, status 400 unless said):
//   bad framing, truncated body, missing final chunk:        IncompleteBody
//   a chunk or trailer signature that does not match:        SignatureDoesNotMatch (403)
//   payload size != decoded_content_length:                  IncompleteBody
//   a checksum trailer that does not match the payload:      BadDigest
//   an undeclared trailer, or an unknown content_sha256:     InvalidRequest / InvalidArgument
//   payload over max_payload_bytes:                          EntityTooLarge
Outcome<DecodedChunkedBody> DecodeAwsChunked(std::string_view body,
                                             const ChunkedDecodeOptions& options);

// Encodes a payload in aws-chunked form, as SDKs send it (for tests and clients).
// `content_sha256` picks the variant; `trailers` (e.g. {"x-amz-checksum-crc32", base64})
// are appended after the final chunk (only for the *-TRAILER variants; the signed variant
// appends x-amz-trailer-signature). chunk_size > 0.
std::string EncodeAwsChunked(std::string_view payload, size_t chunk_size,
                             std::string_view content_sha256, const ChunkSigningContext& ctx,
                             const std::vector<std::pair<std::string, std::string>>& trailers = {});

}  // namespace aws
