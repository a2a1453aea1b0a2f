#include "aws/sts_protocol.h"

#include <pugixml.hpp>

#include "common/strings.h"
#include "common/time.h"

namespace aws {

std::string FormBody(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out.push_back('&');
    out += common::UriEncode(name);
    out.push_back('=');
    out += common::UriEncode(value);
  }
  return out;
}

http::ClientRequest BuildAssumeRoleWithWebIdentityRequest(std::string_view endpoint,
                                                          std::string_view role_arn,
                                                          std::string_view session_name,
                                                          std::string_view web_identity_token,
                                                          int duration_seconds) {
  std::vector<std::pair<std::string, std::string>> params = {
      {"Action", "AssumeRoleWithWebIdentity"},
      {"Version", "2011-06-15"},
      {"RoleArn", std::string(role_arn)},
      {"RoleSessionName", std::string(session_name)},
      {"WebIdentityToken", std::string(web_identity_token)},
  };
  if (duration_seconds > 0)
    params.emplace_back("DurationSeconds", std::to_string(duration_seconds));
  http::ClientRequest r;
  r.method = "POST";
  r.url = std::string(endpoint) + "/";
  r.headers.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
  r.body = FormBody(params);
  return r;
}

common::Result<AssumedRole> ParseAssumeRoleWithWebIdentityResponse(std::string_view xml) {
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size())) {
    return common::Unavailable("STS: response is not XML");
  }
  pugi::xml_node root = doc.document_element();
  pugi::xml_node result = root.first_child();  // …Result
  for (pugi::xml_node c : root.children()) {
    if (common::EndsWith(c.name(), "Result")) result = c;
  }
  pugi::xml_node creds = result.child("Credentials");
  AssumedRole role;
  role.credentials.access_key_id = creds.child_value("AccessKeyId");
  role.credentials.secret_access_key = creds.child_value("SecretAccessKey");
  role.credentials.session_token = creds.child_value("SessionToken");
  std::string expiration = creds.child_value("Expiration");
  if (!expiration.empty()) role.credentials.expiration = common::ParseIso8601(expiration);
  if (role.credentials.empty()) {
    return common::Unavailable("STS: response has no Credentials");
  }
  role.assumed_role_arn = result.child("AssumedRoleUser").child_value("Arn");
  role.assumed_role_id = result.child("AssumedRoleUser").child_value("AssumedRoleId");
  role.subject = result.child_value("SubjectFromWebIdentityToken");
  return role;
}

}  // namespace aws
