#include "localcloud/sts/sts_service.h"

#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "common/strings.h"

namespace localcloud::sts {

std::string RandomUpperAlnum(size_t n) {
  static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string bytes = common::RandomBytes(n);
  std::string out;
  for (unsigned char b : bytes) out += kChars[b % 32];
  return out;
}

namespace {

using nlohmann::json;

constexpr std::string_view kTargetPrefix = "AWSSecurityTokenServiceV20110615.";
constexpr std::string_view kNamespace = "https://sts.amazonaws.com/doc/2011-06-15/";

aws::AwsError Error(std::string code, std::string message, int status = 400) {
  return ServiceError("sts", std::move(code), std::move(message), status);
}

bool Base64UrlDecode(std::string_view in, std::string* out) {
  std::string b64(in);
  for (char& c : b64) {
    if (c == '-')
      c = '+';
    else if (c == '_')
      c = '/';
  }
  while (b64.size() % 4 != 0) b64 += '=';
  return common::Base64Decode(b64, out);
}

// The claims of a well-formed JWT; nullopt otherwise.
std::optional<json> JwtClaims(std::string_view token) {
  std::vector<std::string> parts = common::Split(token, '.');
  if (parts.size() != 3 || parts[0].empty() || parts[1].empty()) return std::nullopt;
  std::string header, payload;
  if (!Base64UrlDecode(parts[0], &header) || !Base64UrlDecode(parts[1], &payload)) {
    return std::nullopt;
  }
  json h = json::parse(header, nullptr, false);
  json p = json::parse(payload, nullptr, false);
  if (!h.is_object() || !p.is_object()) return std::nullopt;
  return p;
}

std::string ClaimString(const json& claims, const char* name) {
  if (!claims.contains(name)) return "";
  const json& v = claims[name];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array() && !v.empty() && v[0].is_string()) return v[0].get<std::string>();
  return v.dump();
}

bool ValidSessionName(std::string_view s) {
  if (s.size() < 2 || s.size() > 64) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) &&
        std::string_view("_+=,.@-").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// A member of the request as a string ("" when absent).
std::string Param(const json& in, const char* name) { return ScalarMember(in, name).value_or(""); }

aws::AwsError UnknownOperation(std::string_view action) {
  return Error("InvalidAction",
               "Could not find operation " + std::string(action) + " for version 2011-06-15");
}

JsonProtocolOptions ProtocolOptions() {
  JsonProtocolOptions o("sts", "1.0", {std::string(kTargetPrefix)});
  o.error_type_prefix = "com.amazonaws.sts#";
  o.unknown_operation = UnknownOperation;
  return o;
}

}  // namespace

StsService::StsService(CloudContext& context)
    : context_(context), protocol_(ProtocolOptions(), std::string(kNamespace)) {
  operations_.Add("GetCallerIdentity", GetCallerIdentity)
      .Add("AssumeRoleWithWebIdentity",
           BindOperation(this, &StsService::AssumeRoleWithWebIdentity));
}

bool StsService::Accepts(const RouteInfo& route, const http::Request& /*request*/) const {
  if (!route.target.empty()) return protocol_.json().Accepts(route);
  if (route.signing_service == "sts") return true;
  return route.signing_service.empty() && operations_.Contains(route.action);
}

bool StsService::NeedsSignature(const RouteInfo& route, const http::Request& /*request*/) const {
  return route.action != "AssumeRoleWithWebIdentity" &&
         route.target != std::string(kTargetPrefix) + "AssumeRoleWithWebIdentity";
}

http::Response StsService::ErrorResponse(const Call& call, const aws::AwsError& error) const {
  return protocol_.RenderError(call, error);
}

void StsService::Handle(Call call, http::Respond respond) {
  protocol_.Serve(operations_, std::move(call), std::move(respond));
}

OperationResult StsService::GetCallerIdentity(const json& /*in*/, const Call& call) {
  return json{{"Arn", call.caller.arn},
              {"UserId", call.caller.principal_id},
              {"Account", call.caller.account_id}};
}

OperationResult StsService::AssumeRoleWithWebIdentity(const json& in, const Call& call) {
  std::string role_arn = Param(in, "RoleArn");
  std::string session = Param(in, "RoleSessionName");
  std::string token = Param(in, "WebIdentityToken");
  if (role_arn.empty()) return Error("MissingParameter", "RoleArn is required");
  if (session.empty()) return Error("MissingParameter", "RoleSessionName is required");
  if (token.empty()) return Error("MissingParameter", "WebIdentityToken is required");
  std::vector<std::string> arn = common::Split(role_arn, ':');
  if (arn.size() != 6 || arn[0] != "arn" || arn[2] != "iam" || arn[4].size() != 12 ||
      !common::StartsWith(arn[5], "role/") || arn[5].size() <= 5) {
    return Error("ValidationError", role_arn + " is invalid");
  }
  if (!ValidSessionName(session)) {
    return Error("ValidationError",
                 "1 validation error detected: Value '" + session +
                     "' at 'roleSessionName' failed to satisfy constraint: Member must "
                     "satisfy regular expression pattern: [\\w+=,.@-]*");
  }
  auto claims = JwtClaims(token);
  if (!claims) return Error("InvalidIdentityToken", "Couldn't parse the provided token");
  int64_t duration = 3600;
  if (std::string d = Param(in, "DurationSeconds"); !d.empty()) {
    duration = std::strtoll(d.c_str(), nullptr, 10);
    if (duration < 900 || duration > 43200) {
      return Error("ValidationError",
                   "1 validation error detected: Value '" + d +
                       "' at 'durationSeconds' failed to satisfy constraint: Member must "
                       "have value between 900 and 43200");
    }
  }
  std::string role_name = arn[5].substr(arn[5].rfind('/') + 1);
  std::string role_id = "AROA" + RandomUpperAlnum(17);
  Principal p;
  p.access_key_id = "ASIA" + RandomUpperAlnum(16);
  p.secret_access_key = common::Base64Encode(common::RandomBytes(30));
  p.session_token = common::Base64Encode(common::RandomBytes(96));
  p.account_id = arn[4];
  p.arn = "arn:aws:sts::" + arn[4] + ":assumed-role/" + role_name + "/" + session;
  p.principal_id = role_id + ":" + session;
  p.type = "AssumedRole";
  p.role_arn = role_arn;
  common::SystemTime expiration = context_.clock().Now() + std::chrono::seconds(duration);
  p.expiration = expiration;
  context_.credentials().Add(p);
  json result = {{"Credentials",
                  {{"AccessKeyId", p.access_key_id},
                   {"SecretAccessKey", p.secret_access_key},
                   {"SessionToken", p.session_token},
                   {"Expiration", common::FormatIso8601(expiration)}}},
                 {"SubjectFromWebIdentityToken", ClaimString(*claims, "sub")},
                 {"AssumedRoleUser", {{"AssumedRoleId", p.principal_id}, {"Arn", p.arn}}},
                 {"Provider", ClaimString(*claims, "iss")},
                 {"Audience", ClaimString(*claims, "aud")}};
  if (IsJsonProtocol(call)) {  // JSON timestamps are epoch seconds
    result["Credentials"]["Expiration"] = common::ToUnixSeconds(expiration);
  }
  return result;
}

}  // namespace localcloud::sts
