#include "localcloud/s3/s3_checks.h"

#include "aws/chunked.h"
#include "common/strings.h"

namespace localcloud::s3 {
namespace {

constexpr std::string_view kChecksumPrefix = "x-amz-checksum-";

aws::AwsError S3Error(int status, std::string code, std::string message) {
  aws::AwsError e;
  e.service = "s3";
  e.http_status = status;
  e.code = std::move(code);
  e.message = std::move(message);
  return e;
}

// Raw digest size of each algorithm S3 offers; 0 for any other name.
size_t DigestSize(const std::string& algorithm) {
  if (algorithm == "crc32" || algorithm == "crc32c") return 4;
  if (algorithm == "crc64nvme") return 8;
  if (algorithm == "sha1") return 20;
  if (algorithm == "sha256") return 32;
  return 0;
}

bool IsChecksumValueHeader(const std::string& lower) {
  return common::StartsWith(lower, kChecksumPrefix) && lower != "x-amz-checksum-algorithm" &&
         lower != "x-amz-checksum-type" && lower != "x-amz-checksum-mode";
}

// The regions S3 has (LocationConstraint values), as of 2025.
bool KnownRegion(const std::string& r) {
  static const char* const kRegions[] = {"af-south-1",     "ap-east-1",      "ap-northeast-1",
                                         "ap-northeast-2", "ap-northeast-3", "ap-south-1",
                                         "ap-south-2",     "ap-southeast-1", "ap-southeast-2",
                                         "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
                                         "ap-southeast-7", "ca-central-1",   "ca-west-1",
                                         "cn-north-1",     "cn-northwest-1", "EU",
                                         "eu-central-1",   "eu-central-2",   "eu-north-1",
                                         "eu-south-1",     "eu-south-2",     "eu-west-1",
                                         "eu-west-2",      "eu-west-3",      "il-central-1",
                                         "me-central-1",   "me-south-1",     "mx-central-1",
                                         "sa-east-1",      "us-east-2",      "us-gov-east-1",
                                         "us-gov-west-1",  "us-west-1",      "us-west-2"};
  for (const char* k : kRegions) {
    if (r == k) return true;
  }
  return false;
}

}  // namespace

std::string AmazonVirtualHostBucket(const std::string& host) {
  if (!common::EndsWith(host, ".amazonaws.com")) return "";
  for (std::string_view marker : {".s3.", ".s3-"}) {
    size_t at = host.find(marker);
    if (at != std::string::npos && at > 0) return host.substr(0, at);
  }
  return "";
}

std::optional<aws::AwsError> CheckContentLength(const http::Request& request) {
  // An aws-chunked body of unknown encoded length may come with Transfer-Encoding: chunked
  // instead; S3 then takes the object's size from x-amz-decoded-content-length.
  if (request.headers.Has("content-length") ||
      request.headers.Has("x-amz-decoded-content-length")) {
    return std::nullopt;
  }
  return S3Error(411, "MissingContentLength", "You must provide the Content-Length HTTP header.");
}

std::optional<aws::AwsError> CheckLocationConstraint(const std::string& constraint,
                                                     const std::string& request_region) {
  if (constraint == "us-east-1" || (!constraint.empty() && !KnownRegion(constraint))) {
    return S3Error(400, "InvalidLocationConstraint",
                   "The specified location-constraint is not valid");
  }
  std::string wanted = constraint.empty()   ? "us-east-1"
                       : constraint == "EU" ? "eu-west-1"
                                            : constraint;
  if (wanted == request_region) return std::nullopt;
  return S3Error(400, "IllegalLocationConstraintException",
                 "The " + (constraint.empty() ? std::string("unspecified") : constraint) +
                     " location constraint is incompatible for the region specific endpoint "
                     "this request was sent to.");
}

aws::Outcome<std::optional<RequestedChecksum>> RequestedChecksumOf(const http::Request& request) {
  std::optional<RequestedChecksum> found;
  for (const auto& [name, value] : request.headers.entries()) {
    std::string lower = common::ToLower(name);
    if (!IsChecksumValueHeader(lower)) continue;
    if (found) {
      return S3Error(400, "InvalidRequest",
                     "Expecting a single x-amz-checksum- header. Multiple checksum Types are not "
                     "allowed.");
    }
    found =
        RequestedChecksum{lower.substr(kChecksumPrefix.size()), std::string(common::Trim(value))};
  }
  if (!found) {
    for (const std::string& t : common::Split(request.headers.GetOr("x-amz-trailer", ""), ',')) {
      std::string lower = common::ToLower(common::Trim(t));
      if (IsChecksumValueHeader(lower))
        found = RequestedChecksum{lower.substr(kChecksumPrefix.size()), ""};
    }
  }
  if (!found) {
    std::string sdk = common::ToLower(request.headers.GetOr("x-amz-sdk-checksum-algorithm", ""));
    if (!sdk.empty()) found = RequestedChecksum{sdk, ""};
  }
  if (!found) return std::optional<RequestedChecksum>();
  size_t size = DigestSize(found->algorithm);
  if (size == 0) {
    return S3Error(400, "InvalidRequest",
                   "Checksum algorithm " + found->algorithm +
                       " is not supported: use CRC32, CRC32C, CRC64NVME, SHA1 or SHA256.");
  }
  std::string raw;
  if (!found->value.empty() && (!common::Base64Decode(found->value, &raw) || raw.size() != size)) {
    return S3Error(400, "InvalidRequest",
                   "Value for x-amz-checksum-" + found->algorithm + " header is invalid.");
  }
  return found;
}

std::vector<std::pair<std::string, std::string>> ObjectChecksumHeaders(
    const std::optional<RequestedChecksum>& requested, std::string_view data) {
  std::string algorithm = requested ? requested->algorithm : "crc64nvme";
  auto value = aws::ComputeChecksumBase64(algorithm, data);
  if (!value) return {};
  return {{std::string(kChecksumPrefix) + algorithm, *value},
          {"x-amz-checksum-type", "FULL_OBJECT"}};
}

bool ReturnedOnRead(const std::string& stored_header, const http::Request& request, bool ranged) {
  if (!common::StartsWith(stored_header, kChecksumPrefix)) return true;
  return !ranged &&
         common::EqualsIgnoreCase(request.headers.GetOr("x-amz-checksum-mode", ""), "ENABLED");
}

aws::Outcome<MultipartChecksum> CompleteMultipartChecksum(const std::string& algorithm,
                                                          const std::string& type,
                                                          const std::vector<std::string>& parts,
                                                          std::string_view object) {
  MultipartChecksum out;
  out.header = std::string(kChecksumPrefix) + algorithm;
  bool crc = common::StartsWith(algorithm, "crc");
  out.type = type.empty() ? (algorithm == "crc64nvme" ? "FULL_OBJECT" : "COMPOSITE") : type;
  if (out.type == "FULL_OBJECT") {
    if (!crc) {
      return S3Error(400, "InvalidRequest",
                     "The FULL_OBJECT checksum type cannot be used with the " +
                         common::ToUpper(algorithm) + " checksum algorithm.");
    }
    out.value = aws::ComputeChecksumBase64(algorithm, object).value_or("");
    return out;
  }
  if (out.type != "COMPOSITE" || algorithm == "crc64nvme") {
    return S3Error(400, "InvalidRequest",
                   "The " + out.type + " checksum type cannot be used with the " +
                       common::ToUpper(algorithm) + " checksum algorithm.");
  }
  std::string concatenated;
  for (const std::string& part : parts) {
    std::string raw;
    if (!common::Base64Decode(part, &raw)) return S3Error(400, "InvalidPart", "Bad part checksum");
    concatenated += raw;
  }
  out.value = aws::ComputeChecksumBase64(algorithm, concatenated).value_or("") + "-" +
              std::to_string(parts.size());
  return out;
}

}  // namespace localcloud::s3
