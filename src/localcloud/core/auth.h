// SigV4 authentication of incoming requests against the CredentialStore (internal to the
// dispatcher; S3 uses the SigningInfo it produces for aws-chunked bodies).
#pragma once

#include <optional>
#include <string>

#include "aws/error.h"
#include "http/message.h"
#include "localcloud/core/cloud.h"

namespace localcloud {

struct AuthResult {
  Principal caller;  // secret cleared
  SigningInfo signing;
};

// Verifies the request's SigV4 signature (Authorization header or presigned query) and its
// session token. `service` selects the AWS error codes: S3 answers InvalidAccessKeyId /
// AccessDenied / RequestTimeTooSkewed, the JSON and query services InvalidClientTokenId /
// MissingAuthenticationToken / SignatureDoesNotMatch. Returns the error on rejection.
// Thread-safe.
aws::Outcome<AuthResult> Authenticate(CloudContext& context, std::string_view service,
                                      const http::Request& request);

}  // namespace localcloud
