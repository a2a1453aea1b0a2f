#include "aws/sigv4.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <map>
#include <vector>

#include "common/crypto.h"
#include "common/strings.h"

namespace aws {
namespace {

// Headers no signer includes: they are changed by proxies or set by the transport.
bool IsUnsignedHeader(std::string_view lower_name) {
  static constexpr std::array<std::string_view, 7> kSkip = {
      "authorization", "user-agent",        "expect",         "x-amzn-trace-id",
      "connection",    "transfer-encoding", "x-amz-signature"};
  return std::find(kSkip.begin(), kSkip.end(), lower_name) != kSkip.end();
}

// Trims a header value and collapses each run of whitespace (folded lines included) to one
// space, as SigV4 canonical headers require.
std::string CanonicalHeaderValue(std::string_view value) {
  value = common::Trim(value);
  std::string out;
  out.reserve(value.size());
  bool in_space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      in_space = true;
      continue;
    }
    if (in_space && !out.empty()) out.push_back(' ');
    in_space = false;
    out.push_back(c);
  }
  return out;
}

struct CanonicalHeaders {
  std::string canonical;     // "name:value\n" lines
  std::string signed_names;  // "a;b;c"
};

// Canonical headers of every header of `headers` that `include` accepts (lower-case name).
template <typename Include>
CanonicalHeaders BuildCanonicalHeaders(const http::Headers& headers, Include include) {
  std::map<std::string, std::string> merged;  // sorted by lower-case name
  for (const auto& [name, value] : headers.entries()) {
    std::string lower = common::ToLower(name);
    if (!include(lower)) continue;
    auto [it, inserted] = merged.try_emplace(std::move(lower), CanonicalHeaderValue(value));
    if (!inserted) {
      it->second.push_back(',');
      it->second += CanonicalHeaderValue(value);
    }
  }
  CanonicalHeaders out;
  for (const auto& [name, value] : merged) {
    out.canonical += name;
    out.canonical.push_back(':');
    out.canonical += value;
    out.canonical.push_back('\n');
    if (!out.signed_names.empty()) out.signed_names.push_back(';');
    out.signed_names += name;
  }
  return out;
}

std::string BuildCanonicalRequest(std::string_view method, std::string_view canonical_uri,
                                  std::string_view canonical_query, const CanonicalHeaders& headers,
                                  std::string_view payload_hash) {
  std::string out;
  out.reserve(method.size() + canonical_uri.size() + canonical_query.size() +
              headers.canonical.size() + headers.signed_names.size() + payload_hash.size() + 8);
  out += method;
  out.push_back('\n');
  out += canonical_uri;
  out.push_back('\n');
  out += canonical_query;
  out.push_back('\n');
  out += headers.canonical;
  out.push_back('\n');
  out += headers.signed_names;
  out.push_back('\n');
  out += payload_hash;
  return out;
}

std::string BuildStringToSign(std::string_view amz_date, std::string_view scope,
                              std::string_view canonical_request) {
  std::string out;
  out += kSigV4Algorithm;
  out.push_back('\n');
  out += amz_date;
  out.push_back('\n');
  out += scope;
  out.push_back('\n');
  out += common::Sha256Hex(canonical_request);
  return out;
}

common::Status CheckParams(const SigningParams& params) {
  if (params.credentials.empty()) {
    return common::InvalidArgument("SigV4: empty credentials");
  }
  if (params.region.empty() || params.service.empty()) {
    return common::InvalidArgument("SigV4: region and service are required");
  }
  return common::Status::Ok();
}

bool IsHex64(std::string_view s) {
  if (s.size() != 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

// Constant-time comparison of two signatures.
bool SameSignature(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string RemoveDotSegments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view seg = path.substr(pos, slash - pos);
    if (seg.empty() || seg == ".") {
      // skip
    } else if (seg == "..") {
      if (!out.empty()) out.pop_back();
    } else {
      out.push_back(seg);
    }
    pos = slash + 1;
  }
  std::string result = "/";
  for (size_t i = 0; i < out.size(); ++i) {
    if (i) result.push_back('/');
    result += out[i];
  }
  if (!out.empty() && path.size() > 1 && path.back() == '/') result.push_back('/');
  return result;
}

// DeriveSigningKey costs four HMACs, as much as the rest of a signature; a client signs
// with the same key all day, so each thread keeps its last one.
const std::string& CachedSigningKey(std::string_view secret, std::string_view date_stamp,
                                    std::string_view region, std::string_view service) {
  struct Entry {
    std::string secret, date_stamp, region, service, key;
  };
  thread_local Entry cache;
  if (cache.key.empty() || cache.secret != secret || cache.date_stamp != date_stamp ||
      cache.region != region || cache.service != service) {
    cache.key = DeriveSigningKey(secret, date_stamp, region, service);
    cache.secret = std::string(secret);
    cache.date_stamp = std::string(date_stamp);
    cache.region = std::string(region);
    cache.service = std::string(service);
  }
  return cache.key;
}

}  // namespace

SigningParams SigningParams::ForService(Credentials credentials, std::string region,
                                        std::string service, common::SystemTime time) {
  SigningParams p;
  p.credentials = std::move(credentials);
  p.region = std::move(region);
  p.service = std::move(service);
  p.time = time;
  if (p.service == "s3") {
    p.normalize_path = false;
    p.double_uri_encode = false;
    p.add_content_sha256_header = true;
  }
  return p;
}

std::string CanonicalUri(std::string_view raw_path, bool normalize, bool double_encode) {
  std::string path = raw_path.empty() ? std::string("/") : std::string(raw_path);
  if (normalize) path = RemoveDotSegments(path);
  if (double_encode) return common::UriEncode(path, /*encode_slash=*/false);
  // S3: the path is already encoded once; re-encode its decoded form so every client's
  // choice of escapes canonicalizes the same way.
  std::string decoded;
  if (!common::UriDecode(path, &decoded)) return path;
  return common::UriEncode(decoded, /*encode_slash=*/false);
}

std::string CanonicalQuery(std::string_view raw_query, std::string_view drop) {
  if (raw_query.empty()) return "";
  std::vector<std::pair<std::string, std::string>> params;
  for (auto& [name, value] : http::ParseQuery(raw_query)) {
    if (!drop.empty() && name == drop) continue;
    params.emplace_back(common::UriEncode(name), common::UriEncode(value));
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out.push_back('&');
    out += name;
    out.push_back('=');
    out += value;
  }
  return out;
}

std::string CredentialScope(std::string_view date_stamp, std::string_view region,
                            std::string_view service) {
  std::string out;
  out.reserve(date_stamp.size() + region.size() + service.size() + 16);
  out += date_stamp;
  out.push_back('/');
  out += region;
  out.push_back('/');
  out += service;
  out += "/aws4_request";
  return out;
}

std::string DeriveSigningKey(std::string_view secret_access_key, std::string_view date_stamp,
                             std::string_view region, std::string_view service) {
  std::string k = "AWS4";
  k += secret_access_key;
  std::string k_date = common::HmacSha256(k, date_stamp);
  std::string k_region = common::HmacSha256(k_date, region);
  std::string k_service = common::HmacSha256(k_region, service);
  return common::HmacSha256(k_service, "aws4_request");
}

common::Result<SigningResult> SignRequest(http::Request& request, const SigningParams& params) {
  DAT_RETURN_IF_ERROR(CheckParams(params));
  if (!request.headers.Has("host")) {
    return common::InvalidArgument("SigV4: the request has no Host header");
  }
  SigningResult r;
  r.amz_date = common::FormatAmzDate(params.time);
  const std::string date_stamp = common::FormatDateStamp(params.time);
  r.credential_scope = CredentialScope(date_stamp, params.region, params.service);

  request.headers.Remove("authorization");
  request.headers.Set("X-Amz-Date", r.amz_date);
  const std::string& token = params.credentials.session_token;
  if (!token.empty() && !params.omit_session_token) {
    request.headers.Set("X-Amz-Security-Token", token);
  } else {
    request.headers.Remove("x-amz-security-token");
  }
  std::string payload_hash =
      params.payload_hash.empty() ? common::Sha256Hex(request.body) : params.payload_hash;
  if (params.add_content_sha256_header) request.headers.Set("x-amz-content-sha256", payload_hash);

  CanonicalHeaders headers = BuildCanonicalHeaders(
      request.headers, [](std::string_view lower) { return !IsUnsignedHeader(lower); });
  r.signed_headers = headers.signed_names;
  r.canonical_request = BuildCanonicalRequest(
      request.method, CanonicalUri(request.path(), params.normalize_path, params.double_uri_encode),
      CanonicalQuery(request.query()), headers, payload_hash);
  r.string_to_sign = BuildStringToSign(r.amz_date, r.credential_scope, r.canonical_request);
  const std::string& key = CachedSigningKey(params.credentials.secret_access_key, date_stamp,
                                            params.region, params.service);
  r.signature = common::HexEncode(common::HmacSha256(key, r.string_to_sign));

  std::string auth;
  auth.reserve(200);
  auth += kSigV4Algorithm;
  auth += " Credential=";
  auth += params.credentials.access_key_id;
  auth.push_back('/');
  auth += r.credential_scope;
  auth += ", SignedHeaders=";
  auth += r.signed_headers;
  auth += ", Signature=";
  auth += r.signature;
  request.headers.Set("Authorization", std::move(auth));
  if (!token.empty() && params.omit_session_token) {
    request.headers.Set("X-Amz-Security-Token", token);
  }
  return r;
}

common::Result<SigningResult> PresignRequest(http::Request& request, const SigningParams& params) {
  DAT_RETURN_IF_ERROR(CheckParams(params));
  if (!request.headers.Has("host")) {
    return common::InvalidArgument("SigV4: the request has no Host header");
  }
  if (params.expires.count() < 1 || params.expires.count() > 7 * 24 * 3600) {
    return common::InvalidArgument("SigV4: X-Amz-Expires must be 1 second to 7 days");
  }
  SigningResult r;
  r.amz_date = common::FormatAmzDate(params.time);
  const std::string date_stamp = common::FormatDateStamp(params.time);
  r.credential_scope = CredentialScope(date_stamp, params.region, params.service);

  CanonicalHeaders headers = BuildCanonicalHeaders(
      request.headers, [](std::string_view lower) { return !IsUnsignedHeader(lower); });
  r.signed_headers = headers.signed_names;

  const std::string& token = params.credentials.session_token;
  std::vector<std::pair<std::string, std::string>> added = {
      {"X-Amz-Algorithm", std::string(kSigV4Algorithm)},
      {"X-Amz-Credential", params.credentials.access_key_id + "/" + r.credential_scope},
      {"X-Amz-Date", r.amz_date},
      {"X-Amz-SignedHeaders", r.signed_headers},
      {"X-Amz-Expires", std::to_string(params.expires.count())},
  };
  if (!token.empty() && !params.omit_session_token) {
    added.emplace_back("X-Amz-Security-Token", token);
  }
  std::string query(request.query());
  auto append = [&query](const std::string& name, const std::string& value) {
    if (!query.empty()) query.push_back('&');
    query += common::UriEncode(name);
    query.push_back('=');
    query += common::UriEncode(value);
  };
  for (const auto& [name, value] : added) append(name, value);

  std::string payload_hash =
      params.payload_hash.empty() ? common::Sha256Hex(request.body) : params.payload_hash;
  r.canonical_request = BuildCanonicalRequest(
      request.method, CanonicalUri(request.path(), params.normalize_path, params.double_uri_encode),
      CanonicalQuery(query), headers, payload_hash);
  r.string_to_sign = BuildStringToSign(r.amz_date, r.credential_scope, r.canonical_request);
  const std::string& key = CachedSigningKey(params.credentials.secret_access_key, date_stamp,
                                            params.region, params.service);
  r.signature = common::HexEncode(common::HmacSha256(key, r.string_to_sign));

  if (!token.empty() && params.omit_session_token) append("X-Amz-Security-Token", token);
  append("X-Amz-Signature", r.signature);
  request.target = std::string(request.path()) + "?" + query;
  return r;
}

namespace {

struct ParsedUrl {
  std::string host;    // Host header value
  std::string target;  // path + query
};

common::Result<ParsedUrl> ParseUrl(std::string_view url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return common::InvalidArgument("SigV4: not an absolute URL: " + std::string(url));
  }
  std::string scheme = common::ToLower(url.substr(0, scheme_end));
  std::string_view rest = url.substr(scheme_end + 3);
  size_t path_start = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_start);
  std::string_view target =
      path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority = authority.substr(at + 1);
  }
  if (authority.empty())
    return common::InvalidArgument("SigV4: URL without host: " + std::string(url));
  if (size_t hash = target.find('#'); hash != std::string_view::npos)
    target = target.substr(0, hash);
  ParsedUrl out;
  out.host = common::ToLower(authority);
  if ((scheme == "http" && common::EndsWith(out.host, ":80")) ||
      (scheme == "https" && common::EndsWith(out.host, ":443"))) {
    out.host.resize(out.host.rfind(':'));
  }
  if (target.empty() || target.front() == '?') {
    out.target = "/" + std::string(target);
  } else {
    out.target = std::string(target);
  }
  return out;
}

common::Result<std::string> Sha256HexOfFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return common::NotFound("SigV4: cannot open body file " + path);
  common::Sha256Hasher hasher;
  std::string buf(1 << 16, '\0');
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    std::streamsize n = in.gcount();
    if (n > 0) hasher.Update(std::string_view(buf.data(), static_cast<size_t>(n)));
  }
  if (in.bad()) return common::Unavailable("SigV4: error reading body file " + path);
  return common::HexEncode(hasher.Final());
}

}  // namespace

common::Result<SigningResult> SignClientRequest(http::ClientRequest& request,
                                                const SigningParams& params) {
  DAT_ASSIGN_OR_RETURN(ParsedUrl url, ParseUrl(request.url));
  SigningParams p = params;
  if (p.payload_hash.empty() && !request.body_file.empty()) {
    DAT_ASSIGN_OR_RETURN(p.payload_hash, Sha256HexOfFile(request.body_file));
  }
  http::Request r;
  r.method = request.method;
  r.target = std::move(url.target);
  r.headers = std::move(request.headers);
  r.headers.Set("Host", url.host);
  r.body = std::move(request.body);
  auto result = SignRequest(r, p);
  request.headers = std::move(r.headers);
  request.body = std::move(r.body);
  return result;
}

common::Result<std::string> PresignUrl(std::string_view method, std::string_view url,
                                       const SigningParams& params) {
  DAT_ASSIGN_OR_RETURN(ParsedUrl parsed, ParseUrl(url));
  SigningParams p = params;
  if (p.payload_hash.empty()) p.payload_hash = std::string(kUnsignedPayload);
  http::Request r;
  r.method = std::string(method);
  r.target = parsed.target;
  r.headers.Set("Host", parsed.host);
  auto result = PresignRequest(r, p);
  if (!result.ok()) return result.status();
  std::string_view u = url;
  size_t scheme_end = u.find("://");
  size_t path_start = u.find_first_of("/?#", scheme_end + 3);
  std::string base(u.substr(0, path_start == std::string_view::npos ? u.size() : path_start));
  return base + r.target;
}

// ---------------------------------------------------------------------------------------
// Verification.

namespace {

AwsError AuthError(int status, std::string code, std::string message) {
  AwsError e;
  e.http_status = status;
  e.code = std::move(code);
  e.message = std::move(message);
  e.sender_fault = true;
  return e;
}

struct AuthFields {
  std::string access_key_id;
  std::string date_stamp;
  std::string region;
  std::string service;
  std::string signed_headers;
  std::string signature;
  std::string amz_date;
  std::string expires;  // presigned only
  std::string session_token;
};

// "AKID/20150830/us-east-1/service/aws4_request"
bool ParseCredential(std::string_view credential, AuthFields* f) {
  std::vector<std::string> parts = common::Split(credential, '/');
  if (parts.size() != 5 || parts[4] != "aws4_request" || parts[0].empty() || parts[1].size() != 8 ||
      parts[2].empty() || parts[3].empty()) {
    return false;
  }
  f->access_key_id = parts[0];
  f->date_stamp = parts[1];
  f->region = parts[2];
  f->service = parts[3];
  return true;
}

// Parses "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…".
bool ParseAuthorization(std::string_view value, AuthFields* f) {
  std::string_view rest = common::Trim(value.substr(kSigV4Algorithm.size()));
  bool have_credential = false;
  for (const std::string& part : common::Split(rest, ',')) {
    std::string_view kv = common::Trim(part);
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) return false;
    std::string_view key = common::Trim(kv.substr(0, eq));
    std::string_view val = common::Trim(kv.substr(eq + 1));
    if (key == "Credential") {
      if (!ParseCredential(val, f)) return false;
      have_credential = true;
    } else if (key == "SignedHeaders") {
      f->signed_headers = std::string(val);
    } else if (key == "Signature") {
      f->signature = std::string(val);
    }
  }
  return have_credential && !f->signed_headers.empty() && !f->signature.empty();
}

// How a request carries its signature, and whose error codes it gets.
struct AuthStyle {
  bool s3 = false;         // S3's error codes and payload rules
  bool presigned = false;  // signature in the query (X-Amz-Signature), not in Authorization
};

using QueryParams = std::vector<std::pair<std::string, std::string>>;

std::optional<std::string> QueryValue(const QueryParams& query, std::string_view name) {
  for (const auto& [n, v] : query) {
    if (n == name) return v;
  }
  return std::nullopt;
}

AwsError Malformed(AuthStyle style, std::string message) {
  if (style.s3) {
    return AuthError(
        400, style.presigned ? "AuthorizationQueryParametersError" : "AuthorizationHeaderMalformed",
        std::move(message));
  }
  return AuthError(400, "IncompleteSignature", std::move(message));
}

// The fields of an Authorization header (and the x-amz-date and token headers).
Outcome<AuthFields> ReadHeaderAuth(const http::Request& request, const std::string& authorization,
                                   AuthStyle style) {
  if (!common::StartsWith(authorization, kSigV4Algorithm) ||
      (authorization.size() > kSigV4Algorithm.size() &&
       authorization[kSigV4Algorithm.size()] != ' ')) {
    if (style.s3) {
      return AuthError(400, "InvalidArgument",
                       "Unsupported Authorization Type; only AWS4-HMAC-SHA256 is supported");
    }
    return Malformed(style, "Authorization header requires the AWS4-HMAC-SHA256 algorithm.");
  }
  AuthFields f;
  if (!ParseAuthorization(authorization, &f)) {
    return Malformed(style,
                     "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
                     "parameters in the form AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/"
                     "<service>/aws4_request, SignedHeaders=<h1;h2>, Signature=<hex>.");
  }
  f.amz_date = request.headers.GetOr("x-amz-date", "");
  f.session_token = request.headers.GetOr("x-amz-security-token", "");
  return f;
}

// The fields of a presigned URL's X-Amz-* query parameters.
Outcome<AuthFields> ReadQueryAuth(const QueryParams& query, AuthStyle style) {
  if (QueryValue(query, "X-Amz-Algorithm").value_or("") != kSigV4Algorithm) {
    return Malformed(style, "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
  }
  AuthFields f;
  if (!ParseCredential(QueryValue(query, "X-Amz-Credential").value_or(""), &f)) {
    return Malformed(style, "Error parsing the X-Amz-Credential parameter");
  }
  f.signed_headers = QueryValue(query, "X-Amz-SignedHeaders").value_or("");
  f.signature = QueryValue(query, "X-Amz-Signature").value_or("");
  f.amz_date = QueryValue(query, "X-Amz-Date").value_or("");
  f.expires = QueryValue(query, "X-Amz-Expires").value_or("");
  f.session_token = QueryValue(query, "X-Amz-Security-Token").value_or("");
  if (f.signed_headers.empty() || f.expires.empty()) {
    return Malformed(
        style,
        "Query-string authentication requires the X-Amz-Algorithm, X-Amz-Credential, "
        "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.");
  }
  return f;
}

// The request's time (X-Amz-Date), which must be on the credential's date; the host header
// must be among the signed ones.
Outcome<common::SystemTime> CheckRequestDate(const AuthFields& f,
                                             const std::vector<std::string>& signed_names,
                                             AuthStyle style) {
  std::optional<common::SystemTime> request_time = common::ParseAmzDate(f.amz_date);
  if (!request_time) {
    return Malformed(style, "Authorization requires a valid X-Amz-Date (yyyyMMdd'T'HHmmss'Z').");
  }
  if (f.amz_date.substr(0, 8) != f.date_stamp) {
    return Malformed(style, "The credential date " + f.date_stamp +
                                " does not match the date of X-Amz-Date " + f.amz_date + ".");
  }
  if (std::find(signed_names.begin(), signed_names.end(), "host") == signed_names.end()) {
    return Malformed(style, "The host header must be signed.");
  }
  return *request_time;
}

AwsError UnknownAccessKey(AuthStyle style) {
  if (style.s3) {
    return AuthError(403, "InvalidAccessKeyId",
                     "The AWS Access Key Id you provided does not exist in our records.");
  }
  return AuthError(403, "InvalidClientTokenId",
                   "The security token included in the request is invalid.");
}

// A presigned request must be within its X-Amz-Expires (and not from the future); any other
// within max_skew of now.
std::optional<AwsError> CheckRequestTime(const AuthFields& f, common::SystemTime request_time,
                                         common::SystemTime now, std::chrono::seconds max_skew,
                                         AuthStyle style) {
  if (style.presigned) {
    long long expires = -1;
    try {
      expires = std::stoll(f.expires);
    } catch (...) {
    }
    if (expires < 1 || expires > 7 * 24 * 3600) {
      return Malformed(style, "X-Amz-Expires must be a number of seconds from 1 to 604800.");
    }
    if (now > request_time + std::chrono::seconds(expires)) {
      if (style.s3) return AuthError(403, "AccessDenied", "Request has expired");
      return AuthError(403, "SignatureExpired", "Signature expired: " + f.amz_date);
    }
    if (request_time > now + max_skew) {
      if (style.s3) return AuthError(403, "AccessDenied", "Request is not valid yet");
      return AuthError(403, "SignatureDoesNotMatch",
                       "Signature not yet current: " + f.amz_date + " is still later than " +
                           common::FormatAmzDate(now + max_skew));
    }
    return std::nullopt;
  }
  auto skew = now > request_time ? now - request_time : request_time - now;
  if (skew <= max_skew) return std::nullopt;
  if (style.s3) {
    return AuthError(403, "RequestTimeTooSkewed",
                     "The difference between the request time and the current time is too "
                     "large.");
  }
  return AuthError(403, "SignatureDoesNotMatch",
                   "Signature expired: " + f.amz_date + " is now earlier than " +
                       common::FormatAmzDate(now - max_skew) + " (" + common::FormatAmzDate(now) +
                       " - 15 min.)");
}

// The payload hash the client signed: its x-amz-content-sha256, else (S3 presigned)
// UNSIGNED-PAYLOAD, else (not S3) the body's hash; S3 requires the header otherwise.
Outcome<std::string> SignedPayloadHash(const http::Request& request,
                                       const std::string& content_sha256, AuthStyle style) {
  if (!content_sha256.empty()) return content_sha256;
  if (style.s3 && style.presigned) return std::string(kUnsignedPayload);
  if (style.s3) {
    return AuthError(400, "InvalidRequest",
                     "Missing required header for this request: x-amz-content-sha256");
  }
  return common::Sha256Hex(request.body);
}

// The headers the client says it signed, in its order; one signed but absent takes part
// with an empty value, so the signature fails as it does at AWS.
CanonicalHeaders SignedCanonicalHeaders(const http::Request& request, const AuthFields& f,
                                        const std::vector<std::string>& signed_names) {
  CanonicalHeaders headers;
  headers.signed_names = f.signed_headers;
  for (const std::string& name : signed_names) {
    headers.canonical += name;
    headers.canonical.push_back(':');
    bool first = true;
    for (const std::string& value : request.headers.GetAll(name)) {
      if (!first) headers.canonical.push_back(',');
      first = false;
      headers.canonical += CanonicalHeaderValue(value);
    }
    headers.canonical.push_back('\n');
  }
  return headers;
}

// What the signature covers, except the query (which a presigned URL's signer may have
// signed without its session token).
struct SignedContent {
  const http::Request& request;
  const AuthFields& fields;
  std::string canonical_uri;
  CanonicalHeaders headers;
  std::string payload_hash;
  std::string signing_key;
};

SigningResult ComputeSignature(const SignedContent& c, std::string canonical_query) {
  SigningResult r;
  r.amz_date = c.fields.amz_date;
  r.credential_scope = CredentialScope(c.fields.date_stamp, c.fields.region, c.fields.service);
  r.signed_headers = c.fields.signed_headers;
  r.canonical_request = BuildCanonicalRequest(c.request.method, c.canonical_uri, canonical_query,
                                              c.headers, c.payload_hash);
  r.string_to_sign = BuildStringToSign(r.amz_date, r.credential_scope, r.canonical_request);
  r.signature = common::HexEncode(common::HmacSha256(c.signing_key, r.string_to_sign));
  return r;
}

// The query without X-Amz-Security-Token: some signers add the token after signing (the
// suite's omit_session_token).
std::string QueryWithoutSessionToken(std::string_view raw_query) {
  std::string out;
  for (const std::string& part : common::Split(raw_query, '&')) {
    std::string name = part.substr(0, part.find('='));
    if (name == "X-Amz-Security-Token") continue;
    if (!out.empty()) out.push_back('&');
    out += part;
  }
  return out;
}

// S3 checks a hex x-amz-content-sha256 against the body and refuses values it does not know.
std::optional<AwsError> CheckS3ContentSha256(const std::string& content_sha256,
                                             const std::string& body) {
  const bool streaming = common::StartsWith(content_sha256, "STREAMING-");
  if (IsHex64(content_sha256)) {
    if (common::ToLower(content_sha256) != common::Sha256Hex(body)) {
      return AuthError(400, "XAmzContentSHA256Mismatch",
                       "The provided 'x-amz-content-sha256' header does not match what was "
                       "computed.");
    }
  } else if (content_sha256 != kUnsignedPayload && !streaming) {
    return AuthError(400, "InvalidArgument",
                     "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-… or a "
                     "SHA-256 hex digest");
  } else if (streaming && content_sha256 != kStreamingSignedPayload &&
             content_sha256 != kStreamingSignedPayloadTrailer &&
             content_sha256 != kStreamingUnsignedPayloadTrailer) {
    return AuthError(400, "InvalidArgument",
                     "Unsupported x-amz-content-sha256 value " + content_sha256);
  }
  return std::nullopt;
}

}  // namespace

SigV4Verifier::SigV4Verifier(SecretLookup lookup, const common::Clock& clock,
                             VerifierOptions options)
    : lookup_(std::move(lookup)), clock_(clock), options_(options) {}

Outcome<VerifiedRequest> SigV4Verifier::Verify(const http::Request& request) const {
  return Verify(request, nullptr);
}

Outcome<VerifiedRequest> SigV4Verifier::Verify(const http::Request& request,
                                               SigningResult* computed) const {
  std::optional<std::string> authorization = request.headers.Get("authorization");
  std::string_view raw_query = request.query();
  QueryParams query = http::ParseQuery(raw_query);
  AuthStyle style;
  style.s3 = options_.s3;
  style.presigned = !authorization && QueryValue(query, "X-Amz-Signature").has_value();
  if (!authorization && !style.presigned) {
    if (style.s3) return AuthError(403, "AccessDenied", "Access Denied");
    return AuthError(403, "MissingAuthenticationToken", "Request is missing Authentication Token");
  }
  Outcome<AuthFields> read =
      authorization ? ReadHeaderAuth(request, *authorization, style) : ReadQueryAuth(query, style);
  if (!read.ok()) return read.error();
  const AuthFields& f = *read;

  std::vector<std::string> signed_names = common::Split(f.signed_headers, ';');
  Outcome<common::SystemTime> request_time = CheckRequestDate(f, signed_names, style);
  if (!request_time.ok()) return request_time.error();
  std::optional<std::string> secret = lookup_(f.access_key_id);
  if (!secret) return UnknownAccessKey(style);
  if (auto late = CheckRequestTime(f, *request_time, clock_.Now(), options_.max_skew, style)) {
    return *late;
  }
  std::string content_sha256 = request.headers.GetOr("x-amz-content-sha256", "");
  Outcome<std::string> payload_hash = SignedPayloadHash(request, content_sha256, style);
  if (!payload_hash.ok()) return payload_hash.error();

  const bool normalize = !style.s3 && options_.normalize_path;
  SignedContent content{request,
                        f,
                        CanonicalUri(request.path(), normalize, /*double_encode=*/!style.s3),
                        SignedCanonicalHeaders(request, f, signed_names),
                        std::move(*payload_hash),
                        CachedSigningKey(*secret, f.date_stamp, f.region, f.service)};
  SigningResult r = ComputeSignature(
      content, CanonicalQuery(raw_query, style.presigned ? "X-Amz-Signature" : ""));
  bool match = SameSignature(r.signature, common::ToLower(f.signature));
  if (!match && style.presigned && !f.session_token.empty()) {
    SigningResult alt = ComputeSignature(
        content, CanonicalQuery(QueryWithoutSessionToken(raw_query), "X-Amz-Signature"));
    if (SameSignature(alt.signature, common::ToLower(f.signature))) {
      match = true;
      r = std::move(alt);
    }
  }
  if (computed) *computed = r;
  if (!match) {
    return AuthError(403, "SignatureDoesNotMatch",
                     "The request signature we calculated does not match the signature you "
                     "provided. Check your AWS Secret Access Key and signing method. Consult "
                     "the service documentation for details.");
  }
  if (style.s3 && !content_sha256.empty()) {
    if (auto bad = CheckS3ContentSha256(content_sha256, request.body)) return *bad;
  }

  VerifiedRequest v;
  v.access_key_id = f.access_key_id;
  v.session_token = f.session_token;
  v.region = f.region;
  v.service = f.service;
  v.amz_date = f.amz_date;
  v.credential_scope = r.credential_scope;
  v.signing_key = std::move(content.signing_key);
  v.signature = r.signature;
  v.content_sha256 = content_sha256;
  v.presigned = style.presigned;
  return v;
}

}  // namespace aws
