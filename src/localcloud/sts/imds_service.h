// The EC2 instance metadata service (IMDSv2) on localcloud, for the credentials an EC2
// instance's role gives: PUT /latest/api/token (session token, TTL header required), then
// GET /latest/meta-data/iam/security-credentials/ (the role name) and …/<role> (temporary
// credentials that localcloud then accepts until they expire). Token-less (IMDSv1) requests
// get 401, as on an instance that requires IMDSv2. Point an SDK at it with
// AWS_EC2_METADATA_SERVICE_ENDPOINT=<localcloud endpoint>.
#pragma once

#include <chrono>
#include <string>
#include <unordered_map>

#include "common/mutex.h"
#include "localcloud/core/cloud.h"

namespace localcloud::sts {

class ImdsService : public Service {
 public:
  static constexpr const char* kRoleName = "localcloud-instance-role";

  // `context` must outlive the service. Credentials it hands out last `credential_lifetime`
  // (EC2 gives about six hours; tests use seconds to see them refreshed).
  ImdsService(CloudContext& context, std::chrono::seconds credential_lifetime)
      : context_(context), lifetime_(credential_lifetime) {}

  std::string_view name() const override { return "imds"; }
  // Unsigned requests under /latest/api/token and /latest/meta-data/.
  bool Accepts(const RouteInfo& route, const http::Request& request) const override;
  bool NeedsSignature(const RouteInfo&, const http::Request&) const override { return false; }
  http::Response ErrorResponse(const Call& call, const aws::AwsError& error) const override;
  void Handle(Call call, http::Respond respond) override EXCLUDES(mu_);

  // How many credential sets were handed out (for tests and logs).
  int credentials_issued() const EXCLUDES(mu_);

 private:
  bool ValidToken(const std::string& token, common::SystemTime now) EXCLUDES(mu_);

  CloudContext& context_;
  std::chrono::seconds lifetime_;
  mutable common::Mutex mu_;
  std::unordered_map<std::string, common::SystemTime> tokens_ GUARDED_BY(mu_);  // → expiry
  int issued_ GUARDED_BY(mu_) = 0;
};

}  // namespace localcloud::sts
