#include "aws/sts_client.h"

#include <pugixml.hpp>

namespace aws {

StsClient::StsClient(ClientOptions options) : caller_(std::move(options), "sts", "sts") {}

Outcome<CallerIdentity> StsClient::GetCallerIdentity() const {
  auto out = caller_.CallQuery("GetCallerIdentity", "2011-06-15", {});
  if (!out.ok()) return out.error();
  pugi::xml_document doc;
  if (!doc.load_buffer(out->body.data(), out->body.size())) {
    return AwsError::Local("sts", common::Code::kInternal, "GetCallerIdentity: not XML");
  }
  pugi::xml_node result = doc.child("GetCallerIdentityResponse").child("GetCallerIdentityResult");
  CallerIdentity id{result.child_value("Account"), result.child_value("Arn"),
                    result.child_value("UserId")};
  if (id.account.empty()) {
    return AwsError::Local("sts", common::Code::kInternal, "GetCallerIdentity: no Account");
  }
  return id;
}

Outcome<AssumedRole> StsClient::AssumeRoleWithWebIdentity(const std::string& role_arn,
                                                          const std::string& session_name,
                                                          const std::string& web_identity_token,
                                                          int duration_seconds) const {
  http::ClientRequest request = BuildAssumeRoleWithWebIdentityRequest(
      caller_.endpoint(), role_arn, session_name, web_identity_token, duration_seconds);
  SendOptions send;
  send.unsigned_request = true;
  auto out = caller_.Send(std::move(request), send);
  if (!out.ok()) return out.error();
  auto role = ParseAssumeRoleWithWebIdentityResponse(out->body);
  if (!role.ok()) return AwsError::Local("sts", role.status().code(), role.status().message());
  return std::move(*role);
}

}  // namespace aws
