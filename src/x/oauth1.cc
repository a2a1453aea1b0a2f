#include "x/oauth1.h"

#include <algorithm>
#include <cstdlib>

#include "common/crypto.h"
#include "common/strings.h"
#include "http/message.h"

namespace x {

std::string OAuthPercentEncode(std::string_view s) { return common::UriEncode(s, true); }

std::string BaseStringUri(std::string_view url) {
  std::string_view rest = url;
  std::string scheme = "http";
  if (auto p = rest.find("://"); p != std::string_view::npos) {
    scheme = common::ToLower(rest.substr(0, p));
    rest.remove_prefix(p + 3);
  }
  if (auto p = rest.find_first_of("?#"); p != std::string_view::npos) rest = rest.substr(0, p);
  std::string_view authority = rest;
  std::string_view path = "/";
  if (auto p = rest.find('/'); p != std::string_view::npos) {
    authority = rest.substr(0, p);
    path = rest.substr(p);
  }
  std::string host = common::ToLower(authority);
  // Drop the default port; keep any other (IPv6 literals end with ']' before a port).
  if (auto p = host.rfind(':'); p != std::string::npos && host.find(']', p) == std::string::npos) {
    std::string port = host.substr(p + 1);
    if ((scheme == "http" && port == "80") || (scheme == "https" && port == "443")) {
      host.resize(p);
    }
  }
  return scheme + "://" + host + std::string(path);
}

std::string NormalizeParameters(const OAuthParams& params) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(params.size());
  for (const auto& [name, value] : params) {
    encoded.emplace_back(OAuthPercentEncode(name), OAuthPercentEncode(value));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out += '&';
    out += name;
    out += '=';
    out += value;
  }
  return out;
}

std::string SignatureBaseString(std::string_view method, std::string_view url,
                                const OAuthParams& params) {
  OAuthParams all = params;
  if (auto q = url.find('?'); q != std::string_view::npos) {
    std::string_view query = url.substr(q + 1);
    if (auto h = query.find('#'); h != std::string_view::npos) query = query.substr(0, h);
    // RFC 5849 3.4.1.3.1: query parameters are form-decoded ('+' is a space).
    for (auto& kv : http::ParseQuery(query, /*plus_as_space=*/true)) all.push_back(std::move(kv));
  }
  return common::ToUpper(method) + "&" + OAuthPercentEncode(BaseStringUri(url)) + "&" +
         OAuthPercentEncode(NormalizeParameters(all));
}

std::string SigningKey(std::string_view consumer_secret, std::string_view token_secret) {
  return OAuthPercentEncode(consumer_secret) + "&" + OAuthPercentEncode(token_secret);
}

std::string HmacSha1Signature(std::string_view base_string, std::string_view signing_key) {
  return common::Base64Encode(common::HmacSha1(signing_key, base_string));
}

std::string BuildAuthorizationHeader(const OAuthParams& oauth_params) {
  std::string out = "OAuth ";
  bool first = true;
  for (const auto& [name, value] : oauth_params) {
    if (!first) out += ", ";
    first = false;
    out += OAuthPercentEncode(name);
    out += "=\"";
    out += OAuthPercentEncode(value);
    out += '"';
  }
  return out;
}

common::Result<OAuthParams> ParseAuthorizationHeader(std::string_view header) {
  std::string_view rest = common::Trim(header);
  if (rest.size() < 6 || !common::EqualsIgnoreCase(rest.substr(0, 5), "OAuth") ||
      (rest[5] != ' ' && rest[5] != '\t')) {
    return common::InvalidArgument("Authorization is not an OAuth header");
  }
  rest.remove_prefix(6);
  OAuthParams out;
  while (true) {
    rest = common::Trim(rest);
    if (rest.empty()) break;
    auto eq = rest.find('=');
    if (eq == std::string_view::npos) return common::InvalidArgument("OAuth parameter without '='");
    std::string_view raw_name = common::Trim(rest.substr(0, eq));
    rest.remove_prefix(eq + 1);
    rest = common::Trim(rest);
    std::string_view raw_value;
    if (!rest.empty() && rest[0] == '"') {
      auto close = rest.find('"', 1);
      if (close == std::string_view::npos)
        return common::InvalidArgument("unterminated OAuth value");
      raw_value = rest.substr(1, close - 1);
      rest.remove_prefix(close + 1);
    } else {
      auto comma = rest.find(',');
      raw_value = common::Trim(rest.substr(0, comma));
      rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma);
    }
    rest = common::Trim(rest);
    if (!rest.empty()) {
      if (rest[0] != ',') return common::InvalidArgument("OAuth parameters not comma-separated");
      rest.remove_prefix(1);
    }
    std::string name, value;
    if (!common::UriDecode(raw_name, &name) || !common::UriDecode(raw_value, &value)) {
      return common::InvalidArgument("bad percent-encoding in OAuth header");
    }
    if (name == "realm") continue;
    out.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

std::string NewNonce() {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string bytes = common::RandomBytes(32);
  std::string out;
  for (unsigned char c : bytes) out.push_back(kAlphabet[c % 62]);
  return out;
}

std::string SignRequest(const OAuthCredentials& credentials, std::string_view method,
                        std::string_view url, const OAuthParams& form_params, std::string nonce,
                        std::string timestamp, OAuthParams* used) {
  if (nonce.empty()) nonce = NewNonce();
  if (timestamp.empty()) {
    timestamp = std::to_string(common::ToUnixSeconds(common::SystemClock::Instance().Now()));
  }
  OAuthParams oauth = {
      {"oauth_consumer_key", credentials.consumer_key},
      {"oauth_nonce", nonce},
      {"oauth_signature_method", "HMAC-SHA1"},
      {"oauth_timestamp", timestamp},
  };
  if (!credentials.token.empty()) oauth.emplace_back("oauth_token", credentials.token);
  oauth.emplace_back("oauth_version", "1.0");

  OAuthParams signed_params = oauth;
  signed_params.insert(signed_params.end(), form_params.begin(), form_params.end());
  std::string base = SignatureBaseString(method, url, signed_params);
  std::string signature =
      HmacSha1Signature(base, SigningKey(credentials.consumer_secret, credentials.token_secret));
  // Header order as Twitter's documentation shows it: signature between the method-free
  // fields, alphabetical.
  OAuthParams header = oauth;
  header.emplace_back("oauth_signature", signature);
  std::sort(header.begin(), header.end());
  if (used) used->insert(used->end(), header.begin(), header.end());
  return BuildAuthorizationHeader(header);
}

OAuthVerifier::OAuthVerifier(OAuthVerifierOptions options) : options_(std::move(options)) {}

common::Status OAuthVerifier::Verify(const OAuthRequest& request) {
  if (request.authorization.empty()) {
    return common::Unauthenticated("missing OAuth Authorization header");
  }
  auto parsed = ParseAuthorizationHeader(request.authorization);
  if (!parsed.ok()) return common::Unauthenticated(parsed.status().message());

  std::map<std::string, std::string> oauth;
  OAuthParams signed_params;
  for (const auto& [name, value] : *parsed) {
    if (oauth.count(name)) return common::Unauthenticated("duplicate OAuth parameter " + name);
    oauth[name] = value;
    if (name != "oauth_signature") signed_params.emplace_back(name, value);
  }
  for (const char* required : {"oauth_consumer_key", "oauth_nonce", "oauth_signature",
                               "oauth_signature_method", "oauth_timestamp"}) {
    if (!oauth.count(required)) {
      return common::Unauthenticated(std::string("missing OAuth parameter ") + required);
    }
  }
  if (oauth["oauth_signature_method"] != "HMAC-SHA1") {
    return common::Unauthenticated("unsupported signature method");
  }
  if (oauth.count("oauth_version") && oauth["oauth_version"] != "1.0") {
    return common::Unauthenticated("unsupported OAuth version");
  }
  auto consumer = options_.consumer_secrets.find(oauth["oauth_consumer_key"]);
  if (consumer == options_.consumer_secrets.end()) {
    return common::Unauthenticated("unknown consumer key");
  }
  std::string token_secret;
  if (oauth.count("oauth_token")) {
    auto token = options_.token_secrets.find(oauth["oauth_token"]);
    if (token == options_.token_secrets.end()) return common::Unauthenticated("unknown token");
    token_secret = token->second;
  }

  const std::string& ts_text = oauth["oauth_timestamp"];
  char* end = nullptr;
  long long ts = std::strtoll(ts_text.c_str(), &end, 10);
  if (ts_text.empty() || *end != '\0' || ts <= 0) {
    return common::Unauthenticated("malformed timestamp");
  }
  const common::Clock& clock = options_.clock ? *options_.clock : common::SystemClock::Instance();
  int64_t now = common::ToUnixSeconds(clock.Now());
  int64_t window = options_.timestamp_window.count();
  if (ts < now - window || ts > now + window) {
    return common::Unauthenticated("stale timestamp (outside the " + std::to_string(window) +
                                   " s window)");
  }

  signed_params.insert(signed_params.end(), request.form_params.begin(), request.form_params.end());
  std::string base = SignatureBaseString(request.method, request.url, signed_params);
  std::string expected = HmacSha1Signature(base, SigningKey(consumer->second, token_secret));
  // Constant-time comparison: a signature check must not leak how much matched.
  const std::string& given = oauth["oauth_signature"];
  unsigned diff = expected.size() ^ given.size();
  for (size_t i = 0; i < std::min(expected.size(), given.size()); ++i) {
    diff |= static_cast<unsigned char>(expected[i]) ^ static_cast<unsigned char>(given[i]);
  }
  if (diff != 0) return common::Unauthenticated("signature mismatch");

  std::string nonce_key =
      oauth["oauth_consumer_key"] + "|" + oauth["oauth_token"] + "|" + oauth["oauth_nonce"];
  common::MutexLock lock(mu_);
  if (now - last_prune_ > window) {
    for (auto it = seen_nonces_.begin(); it != seen_nonces_.end();) {
      it = it->second < now - 2 * window ? seen_nonces_.erase(it) : std::next(it);
    }
    last_prune_ = now;
  }
  if (!seen_nonces_.emplace(nonce_key, ts).second) {
    return common::Unauthenticated("nonce already used");
  }
  return common::Status::Ok();
}

}  // namespace x
