// AWS STS on localcloud: GetCallerIdentity, and AssumeRoleWithWebIdentity whose temporary
// credentials localcloud then accepts. Query protocol, plus the JSON form
// (X-Amz-Target "AWSSecurityTokenServiceV20110615.*").
#pragma once

#include <string>

#include "localcloud/core/cloud.h"
#include "localcloud/core/protocol.h"
#include "localcloud/core/query_protocol.h"

namespace localcloud::sts {

// `n` random characters of A–Z and 2–7, as in AWS key ids ("ASIA" + 16 of them).
std::string RandomUpperAlnum(size_t n);

// The STS service: its operations in a table, served by the JSON and query protocol
// adapters. Thread-safe (stateless apart from the context's CredentialStore).
class StsService : public Service {
 public:
  // `context` must outlive the service.
  explicit StsService(CloudContext& context);

  std::string_view name() const override { return "sts"; }
  bool Accepts(const RouteInfo& route, const http::Request& request) const override;
  // AssumeRoleWithWebIdentity is unsigned, as on AWS.
  bool NeedsSignature(const RouteInfo& route, const http::Request& request) const override;
  http::Response ErrorResponse(const Call& call, const aws::AwsError& error) const override;
  // AssumeRoleWithWebIdentity accepts any well-formed JWT (three base64url parts whose
  // header and payload are JSON objects) and a role ARN; the credentials it returns are
  // added to the CredentialStore until they expire (DurationSeconds, default 3600).
  void Handle(Call call, http::Respond respond) override;

 private:
  static OperationResult GetCallerIdentity(const nlohmann::json& in, const Call& call);
  OperationResult AssumeRoleWithWebIdentity(const nlohmann::json& in, const Call& call);

  CloudContext& context_;
  OperationTable operations_;  // filled by the constructor
  JsonOrQueryProtocol protocol_;
};

}  // namespace localcloud::sts
