#include "localcloud/core/auth.h"

#include "aws/sigv4.h"

namespace localcloud {

aws::Outcome<AuthResult> Authenticate(CloudContext& context, std::string_view service,
                                      const http::Request& request) {
  const bool s3 = service == "s3";
  common::SystemTime now = context.clock().Now();
  CredentialStore& store = context.credentials();
  aws::SecretLookup lookup = [&store, now](std::string_view key) -> std::optional<std::string> {
    auto principal = store.Find(key, now);
    if (!principal) return std::nullopt;
    return principal->secret_access_key;
  };
  aws::SigV4Verifier verifier(std::move(lookup), context.clock(),
                              s3 ? aws::VerifierOptions::S3() : aws::VerifierOptions());
  auto verified = verifier.Verify(request);
  if (!verified.ok()) {
    aws::AwsError error = verified.error();
    error.service = std::string(service);
    return error;
  }
  auto principal = store.Find(verified->access_key_id, now);
  if (!principal) {  // expired between the two lookups
    aws::AwsError error;
    error.service = std::string(service);
    error.http_status = s3 ? 400 : 403;
    error.code = "ExpiredToken";
    error.message = "The security token included in the request is expired";
    return error;
  }
  if (principal->session_token != verified->session_token) {
    aws::AwsError error;
    error.service = std::string(service);
    if (s3) {
      error.http_status = 400;
      error.code = "InvalidToken";
      error.message = "The provided token is malformed or otherwise invalid.";
    } else {
      error.http_status = 403;
      error.code = "InvalidClientTokenId";
      error.message = "The security token included in the request is invalid.";
    }
    return error;
  }
  AuthResult result;
  result.caller = std::move(*principal);
  result.caller.secret_access_key.clear();
  result.signing.signed_request = true;
  result.signing.presigned = verified->presigned;
  result.signing.seed_signature = verified->signature;
  result.signing.signing_key = verified->signing_key;
  result.signing.amz_date = verified->amz_date;
  result.signing.scope = verified->credential_scope;
  return result;
}

}  // namespace localcloud
