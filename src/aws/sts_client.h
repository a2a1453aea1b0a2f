// AWS STS over the query protocol. Thread-safe.
#pragma once

#include <string>

#include "aws/client.h"
#include "aws/sts_protocol.h"

namespace aws {

struct CallerIdentity {
  std::string account;  // "000000000000"
  std::string arn;
  std::string user_id;
};

class StsClient {
 public:
  explicit StsClient(ClientOptions options);
  // Who the credentials belong to (signed).
  Outcome<CallerIdentity> GetCallerIdentity() const;
  // Exchanges an OIDC token for role credentials (unsigned, as the SDKs send it).
  Outcome<AssumedRole> AssumeRoleWithWebIdentity(const std::string& role_arn,
                                                 const std::string& session_name,
                                                 const std::string& web_identity_token,
                                                 int duration_seconds = 0) const;
  const ServiceCaller& caller() const { return caller_; }

 private:
  ServiceCaller caller_;
};

}  // namespace aws
