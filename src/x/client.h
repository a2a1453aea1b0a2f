// A client for the parts of the X API v2 the twitter function uses: media upload (simple
// and chunked) and creating a post. User-context OAuth 1.0a on every request.
//
// Errors (common::Status codes), so callers can decide on retries:
//   ResourceExhausted  429: rate limited. Retryable after RetryAfter(status) (from the
//                      x-rate-limit-reset header).
//   Unavailable        5xx or a transport failure. Retryable (after RetryAfter(status) when a
//                      5xx carried a Retry-After header).
//   PermissionDenied   401/403: "X refused the credentials". Not retryable. The message
//                      never contains a secret.
//   InvalidArgument    other 4xx (bad media, text too long…). Not retryable.
//   Internal           a 2xx answer that is not the documented JSON.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "http/client.h"
#include "x/oauth1.h"

namespace x {

struct XClientOptions {
  // API base without a trailing slash. The sandbox: "http://127.0.0.1:PORT/x".
  std::string api_base = "https://api.x.com";
  OAuthCredentials credentials;
  // Media larger than this goes through initialize/append/finalize; smaller in one request.
  size_t simple_upload_max_bytes = 5 * 1024 * 1024;
  // Append segment size for chunked uploads.
  size_t chunk_bytes = 1024 * 1024;
  // Per HTTP exchange.
  std::chrono::milliseconds timeout{30'000};
  // Longest total wait for asynchronous media processing (STATUS polling).
  std::chrono::seconds max_processing_wait{120};
  // Time source for oauth_timestamp and the rate-limit wait; nullptr = system clock.
  // Must outlive the client.
  const common::Clock* clock = nullptr;
};

// A created post as the API returned it.
struct Post {
  std::string id;
  std::string text;
};

// Talks to the X API over an HttpClient. Thread-safe when the HttpClient is (it holds no
// mutable state). The HttpClient must outlive the XClient.
class XClient {
 public:
  XClient(XClientOptions options, http::HttpClient& http);

  // Uploads media and returns its media id: one multipart request when the data is at most
  // simple_upload_max_bytes, otherwise the chunked flow. `media_type` e.g. "image/jpeg";
  // `media_category` e.g. "tweet_image".
  common::Result<std::string> UploadMedia(std::string_view data, std::string_view media_type,
                                          std::string_view media_category = "tweet_image");

  // POST /2/media/upload as multipart/form-data with fields media and media_category.
  common::Result<std::string> UploadMediaSimple(std::string_view data, std::string_view media_type,
                                                std::string_view media_category);

  // POST /2/media/upload/initialize, then /2/media/upload/{id}/append per chunk_bytes
  // segment, then /2/media/upload/{id}/finalize; polls GET /2/media/upload?command=STATUS
  // while processing_info says pending/in_progress (as check_after_secs says), up to
  // max_processing_wait; "failed" is InvalidArgument with X's reason.
  common::Result<std::string> UploadMediaChunked(std::string_view data, std::string_view media_type,
                                                 std::string_view media_category);

  // POST /2/tweets {"text": …, "media": {"media_ids": […]}} (media omitted when empty).
  common::Result<Post> CreatePost(std::string_view text,
                                  const std::vector<std::string>& media_ids = {});

 private:
  // Sends one signed request; maps non-2xx answers to the errors above.
  common::Result<http::Response> Call(const std::string& method, const std::string& path_and_query,
                                      const std::string& content_type, std::string body,
                                      const OAuthParams& form_params = {});
  const common::Clock& clock() const;

  XClientOptions options_;
  http::HttpClient& http_;
};

// True for errors worth retrying (rate limit, 5xx, transport failures).
bool IsRetryable(const common::Status& status);

// For a rate-limit error from XClient, or a 5xx that carried Retry-After: how long to wait
// before retrying (0 when the reset time already passed). nullopt for any other status.
std::optional<std::chrono::seconds> RetryAfter(const common::Status& status);

}  // namespace x
