// AWS Signature Version 4: signing requests (Authorization header and presigned-query
// forms) for clients, and verifying them for servers (localcloud).
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/credentials.h"
#include "aws/error.h"
#include "common/status.h"
#include "common/time.h"
#include "http/client.h"
#include "http/message.h"

namespace aws {

inline constexpr std::string_view kSigV4Algorithm = "AWS4-HMAC-SHA256";
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
inline constexpr std::string_view kStreamingSignedPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
inline constexpr std::string_view kStreamingSignedPayloadTrailer =
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
inline constexpr std::string_view kStreamingUnsignedPayloadTrailer =
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
// SHA-256 of the empty string, hex.
inline constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// What to sign with and how. For S3 use ForService(…, "s3", …), which turns off path
// normalization and double encoding and adds x-amz-content-sha256, as S3 requires.
struct SigningParams {
  Credentials credentials;
  std::string region;
  std::string service;  // signing name: "s3", "sqs", "events", "cloudtrail", "sts"
  common::SystemTime time;
  // Remove "." and ".." segments and repeated slashes from the path (all services but S3).
  bool normalize_path = true;
  // URI-encode the (already percent-encoded) path once more (all services but S3).
  bool double_uri_encode = true;
  // Add and sign x-amz-content-sha256 with the payload hash (S3; the suite's sign_body).
  bool add_content_sha256_header = false;
  // Payload hash to sign: hex SHA-256, "UNSIGNED-PAYLOAD" or a STREAMING-* value. Empty:
  // the SHA-256 of the body (of body_file for a ClientRequest).
  std::string payload_hash;
  // Add X-Amz-Security-Token after signing, unsigned (some services; the suite's
  // omit_session_token). Normally false: the token is signed.
  bool omit_session_token = false;
  // Presigned form only: X-Amz-Expires (1 s … 7 days).
  std::chrono::seconds expires{3600};

  // Params with the service's rules (S3: no normalization, no double encoding, content
  // sha256 header).
  static SigningParams ForService(Credentials credentials, std::string region, std::string service,
                                  common::SystemTime time);
};

// The intermediate values of one signature, for tests and debugging.
struct SigningResult {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;         // hex
  std::string signed_headers;    // "host;x-amz-date"
  std::string credential_scope;  // "20150830/us-east-1/service/aws4_request"
  std::string amz_date;          // "20150830T123600Z"
};

// Header form. `request.target` is the request-target as sent (percent-encoded path and
// query); `request.headers` must include Host. Adds X-Amz-Date, X-Amz-Security-Token (with a
// session token), x-amz-content-sha256 (when asked) and Authorization, replacing earlier
// values of those. Every header present is signed except Authorization, User-Agent, Expect,
// X-Amzn-Trace-Id, Connection and Transfer-Encoding.
// Errors: InvalidArgument when Host is missing or credentials are empty.
common::Result<SigningResult> SignRequest(http::Request& request, const SigningParams& params);

// Presigned-query form: appends X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date,
// X-Amz-SignedHeaders, X-Amz-Expires, X-Amz-Security-Token and X-Amz-Signature to the
// target's query (in that order). x-amz-* headers are signed as headers.
common::Result<SigningResult> PresignRequest(http::Request& request, const SigningParams& params);

// Signs a client request in header form: derives Host from the URL (port omitted when it is
// the scheme's default) and sets it explicitly, so what is signed is what is sent. A
// body_file is hashed by streaming it unless params.payload_hash is set.
// Errors: InvalidArgument (bad URL, empty credentials), NotFound (body_file missing).
common::Result<SigningResult> SignClientRequest(http::ClientRequest& request,
                                                const SigningParams& params);
// A presigned URL for `method` on `url` (only Host signed), e.g. an S3 GetObject link.
common::Result<std::string> PresignUrl(std::string_view method, std::string_view url,
                                       const SigningParams& params);

// Building blocks, shared by the signer, the verifier and aws-chunked.
// The canonical URI of a raw path (see SigningParams for the two flags).
std::string CanonicalUri(std::string_view raw_path, bool normalize, bool double_encode);
// The canonical query string of a raw query: each name and value decoded ('+' kept) and
// re-encoded strictly, pairs sorted by name then value, "name=" for a bare name.
// `drop` names a parameter to leave out (X-Amz-Signature when verifying).
std::string CanonicalQuery(std::string_view raw_query, std::string_view drop = "");
// "20150830/us-east-1/service/aws4_request"
std::string CredentialScope(std::string_view date_stamp, std::string_view region,
                            std::string_view service);
// kSecret = HMAC chain over date, region, service, "aws4_request". Raw 32 bytes.
std::string DeriveSigningKey(std::string_view secret_access_key, std::string_view date_stamp,
                             std::string_view region, std::string_view service);

// Looks up the secret of an access key id; nullopt when the key is unknown. Must be
// thread-safe (the verifier is called from server I/O threads).
using SecretLookup = std::function<std::optional<std::string>(std::string_view access_key_id)>;

// What a verified request was signed with; enough to verify aws-chunked chunk signatures.
struct VerifiedRequest {
  std::string access_key_id;
  std::string session_token;  // X-Amz-Security-Token as sent ("" when none)
  std::string region;
  std::string service;
  std::string amz_date;          // "20150830T123600Z"
  std::string credential_scope;  // "20150830/us-east-1/s3/aws4_request"
  std::string signing_key;       // raw, for chunk signatures
  std::string signature;         // hex; the seed signature of an aws-chunked body
  std::string content_sha256;    // x-amz-content-sha256 as sent ("" when absent)
  bool presigned = false;
};

// Which service family's rules and error codes the verifier applies.
struct VerifierOptions {
  // S3 rules: no path normalization or double encoding; x-amz-content-sha256 required in
  // header form and checked against the body when it is a hex hash; S3 error codes
  // (InvalidAccessKeyId, RequestTimeTooSkewed, AccessDenied for anonymous and expired).
  bool s3 = false;
  bool normalize_path = true;  // non-S3 only; the suite has unnormalized cases
  std::chrono::seconds max_skew = std::chrono::minutes(15);

  static VerifierOptions S3() {
    VerifierOptions o;
    o.s3 = true;
    o.normalize_path = false;
    return o;
  }
};

// Verifies SigV4-signed requests as AWS does. Thread-safe (const; lookup must be).
// The `clock` must outlive the verifier.
//
// Failures (AwsError with http_status and code, service left "", request_id ""):
//   no Authorization header nor X-Amz-Signature query:
//       S3 AccessDenied 403; others MissingAuthenticationToken 403
//   malformed Authorization / credential / missing X-Amz-Date / host not signed:
//       S3 AuthorizationHeaderMalformed 400 (AuthorizationQueryParametersError for presigned);
//       others IncompleteSignature 400
//   unknown access key:  S3 InvalidAccessKeyId 403; others InvalidClientTokenId 403
//   signature mismatch:  SignatureDoesNotMatch 403
//   header form, |now - X-Amz-Date| > max_skew: S3 RequestTimeTooSkewed 403; others
//       SignatureDoesNotMatch 403 "Signature expired: …"
//   presigned, now > X-Amz-Date + X-Amz-Expires: S3 AccessDenied 403 "Request has expired";
//       others SignatureExpired 403
//   S3 x-amz-content-sha256 a hex hash that is not the body's: XAmzContentSHA256Mismatch 400;
//       a value that is not hex, UNSIGNED-PAYLOAD or STREAMING-*: InvalidArgument 400
class SigV4Verifier {
 public:
  SigV4Verifier(SecretLookup lookup, const common::Clock& clock,
                VerifierOptions options = VerifierOptions());
  // Verifies a request as received (target raw, Host header present, full body).
  Outcome<VerifiedRequest> Verify(const http::Request& request) const;
  // As Verify, also returning the intermediate values computed for the request (the
  // canonical request helps to debug a SignatureDoesNotMatch; AWS returns it too).
  Outcome<VerifiedRequest> Verify(const http::Request& request, SigningResult* computed) const;

 private:
  SecretLookup lookup_;
  const common::Clock& clock_;
  VerifierOptions options_;
};

}  // namespace aws
