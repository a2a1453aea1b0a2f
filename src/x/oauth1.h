// OAuth 1.0a (RFC 5849) with HMAC-SHA1, as the X API uses it for user-context requests:
// signing on the client side (XClient) and verification on the server side (the X sandbox
// in localcloud). Secrets never appear in a returned error message.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "common/time.h"

namespace x {

// Name/value pairs in order; a name may repeat (RFC 5849 3.4.1.3).
using OAuthParams = std::vector<std::pair<std::string, std::string>>;

// The four values a user-context request is signed with.
struct OAuthCredentials {
  std::string consumer_key;
  std::string consumer_secret;
  std::string token;  // access token ("oauth_token"); may be empty (two-legged)
  std::string token_secret;
};

// RFC 5849 3.6: unreserved characters (ALPHA, DIGIT, '-', '.', '_', '~') kept, every other
// byte as upper-case %XX.
std::string OAuthPercentEncode(std::string_view s);

// RFC 5849 3.4.1.2: "scheme://host[:port]/path" with scheme and host lower-cased, the
// default port (80/443) dropped, and query and fragment removed. The path is kept as given.
std::string BaseStringUri(std::string_view url);

// RFC 5849 3.4.1.3.2: every name and value percent-encoded, sorted by name then value,
// joined as "n=v&n=v". `params` holds the query, form-body and oauth_* parameters
// (oauth_signature excluded by the caller).
std::string NormalizeParameters(const OAuthParams& params);

// "METHOD&enc(base-uri)&enc(normalized-params)". `url` may carry a query; its parameters
// are added to `params` (decoded) before normalizing.
std::string SignatureBaseString(std::string_view method, std::string_view url,
                                const OAuthParams& params);

// "enc(consumer_secret)&enc(token_secret)".
std::string SigningKey(std::string_view consumer_secret, std::string_view token_secret);

// Base64 of HMAC-SHA1(signing key, base string).
std::string HmacSha1Signature(std::string_view base_string, std::string_view signing_key);

// `OAuth k="v", k="v"` with names and values percent-encoded, in the order given.
std::string BuildAuthorizationHeader(const OAuthParams& oauth_params);

// Parses an `Authorization: OAuth …` value into its (decoded) parameters; "realm" is
// dropped. InvalidArgument when the scheme is not OAuth or a parameter is malformed.
common::Result<OAuthParams> ParseAuthorizationHeader(std::string_view header);

// Signs one request. `url` is the full request URL (its query is signed);
// `form_params` are the decoded fields of an application/x-www-form-urlencoded body
// (empty for JSON and multipart bodies, which OAuth does not sign). `nonce` and
// `timestamp` are generated when empty. Returns the Authorization header value.
// The oauth parameters used are appended to `*used` when non-null (tests read them).
std::string SignRequest(const OAuthCredentials& credentials, std::string_view method,
                        std::string_view url, const OAuthParams& form_params,
                        std::string nonce = "", std::string timestamp = "",
                        OAuthParams* used = nullptr);

// A fresh random nonce: 32 alphanumeric characters.
std::string NewNonce();

// Server side: what the verifier accepts.
struct OAuthVerifierOptions {
  std::map<std::string, std::string> consumer_secrets;  // consumer key -> secret
  std::map<std::string, std::string> token_secrets;     // access token -> secret
  // Requests whose oauth_timestamp is further than this from now are refused.
  std::chrono::seconds timestamp_window{300};
  // Time source; nullptr means the system clock. Must outlive the verifier.
  const common::Clock* clock = nullptr;
};

// One request as the server saw it.
struct OAuthRequest {
  std::string method;
  std::string url;            // "http://host:port/path?query" as the client addressed it
  OAuthParams form_params;    // decoded x-www-form-urlencoded body fields, else empty
  std::string authorization;  // the Authorization header value ("" when absent)
};

// Verifies OAuth 1.0a HMAC-SHA1 requests: known consumer and token, a signature made with
// their secrets, a timestamp within the window, and a nonce not seen before within the
// window (replay cache). Thread-safe.
class OAuthVerifier {
 public:
  explicit OAuthVerifier(OAuthVerifierOptions options);

  // OK when the request is authentic. Otherwise Unauthenticated with a reason that names
  // what was wrong ("unknown consumer key", "signature mismatch", "stale timestamp",
  // "nonce already used", …) and never a secret. A nonce is remembered only when the
  // rest of the request verified.
  common::Status Verify(const OAuthRequest& request);

 private:
  OAuthVerifierOptions options_;
  common::Mutex mu_;
  // (consumer|token|nonce) -> oauth_timestamp (seconds).
  std::unordered_map<std::string, int64_t> seen_nonces_ GUARDED_BY(mu_);
  int64_t last_prune_ GUARDED_BY(mu_) = 0;
};

}  // namespace x
