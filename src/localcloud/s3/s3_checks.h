// Request rules S3 enforces that localcloud's S3 checks as well, one function per rule so
// each reads against the S3 documentation. Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "aws/error.h"
#include "http/message.h"

namespace localcloud::s3 {

// The bucket of a virtual-hosted-style request to S3's own host names:
// BUCKET.s3.REGION.amazonaws.com, BUCKET.s3-REGION.amazonaws.com, BUCKET.s3.amazonaws.com.
// "" for any other host (s3.REGION.amazonaws.com itself is path style).
std::string AmazonVirtualHostBucket(const std::string& host);

// PutObject and UploadPart: S3 answers 411 MissingContentLength to a body sent without
// Content-Length (e.g. with Transfer-Encoding: chunked), unless it is aws-chunked with
// x-amz-decoded-content-length (as the SDKs stream over HTTPS). nullopt when acceptable.
std::optional<aws::AwsError> CheckContentLength(const http::Request& request);

// CreateBucket's LocationConstraint against the region the request was signed for:
// outside us-east-1 it must name that region (IllegalLocationConstraintException when it is
// absent or names another region); "us-east-1" itself is never a valid constraint and an
// unknown region name is InvalidLocationConstraint. `constraint` is "" when absent.
std::optional<aws::AwsError> CheckLocationConstraint(const std::string& constraint,
                                                     const std::string& request_region);

// The object checksum a write asks for: its x-amz-checksum-<algorithm> header, or the one
// named in x-amz-trailer (verified while decoding), or x-amz-sdk-checksum-algorithm.
// InvalidRequest for more than one checksum header, an algorithm S3 does not offer, or a
// value that is not the base64 of a digest of the algorithm's size. nullopt: none asked.
struct RequestedChecksum {
  std::string algorithm;  // lower case: "crc32", "crc32c", "crc64nvme", "sha1", "sha256"
  std::string value;      // base64, "" when only the algorithm was named
};
aws::Outcome<std::optional<RequestedChecksum>> RequestedChecksumOf(const http::Request& request);

// The checksum headers S3 stores with an object written with `data`: the requested
// algorithm's value, or S3's default CRC64NVME when none was asked for, and
// x-amz-checksum-type FULL_OBJECT.
std::vector<std::pair<std::string, std::string>> ObjectChecksumHeaders(
    const std::optional<RequestedChecksum>& requested, std::string_view data);

// Whether a stored header is returned by GetObject/HeadObject: checksum headers only when
// the request has x-amz-checksum-mode: ENABLED and reads the whole object.
bool ReturnedOnRead(const std::string& stored_header, const http::Request& request, bool ranged);

// CompleteMultipartUpload's checksum of parts uploaded with `algorithm`: COMPOSITE for
// SHA and CRC types by default ("<base64 of the checksum of the concatenated part
// checksums>-<part count>"), FULL_OBJECT (the checksum of the whole object) when `type` is
// FULL_OBJECT, which S3 allows for CRC algorithms only. InvalidRequest otherwise.
struct MultipartChecksum {
  std::string header;  // "x-amz-checksum-crc32"
  std::string value;
  std::string type;  // "COMPOSITE" | "FULL_OBJECT"
};
aws::Outcome<MultipartChecksum> CompleteMultipartChecksum(const std::string& algorithm,
                                                          const std::string& type,
                                                          const std::vector<std::string>& parts,
                                                          std::string_view object);

}  // namespace localcloud::s3
