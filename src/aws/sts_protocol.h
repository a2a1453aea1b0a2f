// The STS query-protocol pieces the credentials chain needs without a full client:
// AssumeRoleWithWebIdentity is an unsigned call. Shared by the web-identity provider and
// StsClient. Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aws/credentials.h"
#include "common/status.h"
#include "http/client.h"

namespace aws {

// Result of AssumeRole*.
struct AssumedRole {
  Credentials credentials;       // with session token and expiration
  std::string assumed_role_arn;  // AssumedRoleUser/Arn
  std::string assumed_role_id;   // AssumedRoleUser/AssumedRoleId
  std::string subject;           // SubjectFromWebIdentityToken
};

// The form-encoded request (POST, Action=AssumeRoleWithWebIdentity, Version=2011-06-15) to
// `endpoint` ("https://sts.us-west-2.amazonaws.com"); not signed, as the SDKs send it.
http::ClientRequest BuildAssumeRoleWithWebIdentityRequest(std::string_view endpoint,
                                                          std::string_view role_arn,
                                                          std::string_view session_name,
                                                          std::string_view web_identity_token,
                                                          int duration_seconds = 0);

// Parses <AssumeRoleWithWebIdentityResponse> (or <AssumeRoleResponse>).
// Unavailable when the XML lacks the credentials.
common::Result<AssumedRole> ParseAssumeRoleWithWebIdentityResponse(std::string_view xml);

// "a=b&c=d" with both sides percent-encoded (RFC 3986), in the given order: the
// x-www-form-urlencoded body of query-protocol calls.
std::string FormBody(const std::vector<std::pair<std::string, std::string>>& params);

}  // namespace aws
