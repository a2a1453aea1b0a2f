#include "localcloud/sts/imds_service.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "common/strings.h"
#include "localcloud/sts/sts_service.h"

namespace localcloud::sts {
namespace {

constexpr std::string_view kTokenPath = "/latest/api/token";
constexpr std::string_view kCredentialsPath = "/latest/meta-data/iam/security-credentials/";

http::Response Text(int status, std::string body) {
  return http::Response::Text(status, std::move(body));
}

}  // namespace

bool ImdsService::Accepts(const RouteInfo& route, const http::Request& request) const {
  if (!route.signing_service.empty()) return false;
  std::string_view path = request.path();
  return path == kTokenPath || common::StartsWith(path, "/latest/meta-data/");
}

http::Response ImdsService::ErrorResponse(const Call&, const aws::AwsError& error) const {
  return Text(error.http_status > 0 ? error.http_status : 400, error.message);
}

int ImdsService::credentials_issued() const {
  common::MutexLock l(mu_);
  return issued_;
}

bool ImdsService::ValidToken(const std::string& token, common::SystemTime now) {
  common::MutexLock l(mu_);
  for (auto it = tokens_.begin(); it != tokens_.end();) {
    it = it->second <= now ? tokens_.erase(it) : std::next(it);
  }
  return tokens_.count(token) > 0;
}

void ImdsService::Handle(Call call, http::Respond respond) {
  const http::Request& r = call.request;
  const std::string path(r.path());
  const common::SystemTime now = context_.clock().Now();

  if (path == kTokenPath) {
    if (r.method != "PUT")
      return respond(Text(405, "Method Not Allowed: the token is created with PUT"));
    auto ttl_header = r.headers.Get("X-aws-ec2-metadata-token-ttl-seconds");
    int64_t ttl = 0;
    if (ttl_header && !ttl_header->empty() &&
        ttl_header->find_first_not_of("0123456789") == std::string::npos &&
        ttl_header->size() < 7) {
      ttl = std::stoll(*ttl_header);
    }
    if (ttl < 1 || ttl > 21600) {
      return respond(
          Text(400, "Bad Request: X-aws-ec2-metadata-token-ttl-seconds must be 1-21600"));
    }
    std::string token = common::Base64Encode(common::RandomBytes(42));
    {
      common::MutexLock l(mu_);
      tokens_[token] = now + std::chrono::seconds(ttl);
    }
    http::Response resp = Text(200, token);
    resp.headers.Set("X-aws-ec2-metadata-token-ttl-seconds", std::to_string(ttl));
    return respond(std::move(resp));
  }

  if (r.method != "GET" && r.method != "HEAD") return respond(Text(405, "Method Not Allowed"));
  if (!ValidToken(r.headers.GetOr("X-aws-ec2-metadata-token", ""), now)) {
    // This instance requires IMDSv2: no (or an expired) session token is 401.
    return respond(Text(401, "Unauthorized"));
  }
  if (path == kCredentialsPath || path + "/" == kCredentialsPath) {
    return respond(Text(200, kRoleName));
  }
  if (common::StartsWith(path, kCredentialsPath)) {
    std::string role = path.substr(kCredentialsPath.size());
    if (role != kRoleName) return respond(Text(404, "Not Found"));
    Principal p;
    p.access_key_id = "ASIA" + RandomUpperAlnum(16);
    p.secret_access_key = common::Base64Encode(common::RandomBytes(30));
    p.session_token = common::Base64Encode(common::RandomBytes(96));
    p.account_id = context_.config().account_id;
    p.arn = "arn:aws:sts::" + p.account_id + ":assumed-role/" + kRoleName + "/i-0123456789abcdef0";
    p.principal_id = "AROA" + RandomUpperAlnum(17) + ":i-0123456789abcdef0";
    p.type = "AssumedRole";
    p.role_arn = "arn:aws:iam::" + p.account_id + ":role/" + kRoleName;
    p.expiration = now + lifetime_;
    context_.credentials().Add(p);
    {
      common::MutexLock l(mu_);
      ++issued_;
    }
    spdlog::info("imds: issued credentials {} for {} (valid {} s)", p.access_key_id, kRoleName,
                 lifetime_.count());
    nlohmann::json body = {{"Code", "Success"},
                           {"LastUpdated", common::FormatIso8601(now)},
                           {"Type", "AWS-HMAC"},
                           {"AccessKeyId", p.access_key_id},
                           {"SecretAccessKey", p.secret_access_key},
                           {"Token", p.session_token},
                           {"Expiration", common::FormatIso8601(*p.expiration)}};
    return respond(http::Response::Json(200, body.dump(2)));
  }
  if (path == "/latest/meta-data/" || path == "/latest/meta-data") {
    return respond(Text(200, "iam/"));
  }
  if (path == "/latest/meta-data/iam/" || path == "/latest/meta-data/iam") {
    return respond(Text(200, "security-credentials/"));
  }
  respond(Text(404, "Not Found"));
}

}  // namespace localcloud::sts
