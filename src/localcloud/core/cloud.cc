#include "localcloud/core/cloud.h"

#include "common/crypto.h"
#include "common/strings.h"

namespace localcloud {

void CredentialStore::Add(Principal principal) {
  common::MutexLock lock(mu_);
  std::string key = principal.access_key_id;
  by_key_[key] = std::move(principal);
}

std::optional<Principal> CredentialStore::Find(std::string_view access_key_id,
                                               common::SystemTime now) const {
  common::MutexLock lock(mu_);
  auto it = by_key_.find(std::string(access_key_id));
  if (it == by_key_.end()) return std::nullopt;
  if (it->second.expiration && *it->second.expiration <= now) return std::nullopt;
  return it->second;
}

Principal CloudContext::RootPrincipal() const {
  Principal p;
  p.account_id = config_.account_id;
  p.arn = "arn:aws:iam::" + config_.account_id + ":root";
  p.principal_id = config_.account_id;
  p.type = "Root";
  return p;
}

std::string Service::NewRequestId() const { return common::NewUuid(); }

}  // namespace localcloud
