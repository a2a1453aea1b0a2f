// The X API sandbox: the parts of X's API v2 the twitter function uses, under the path
// prefix /x on localcloud's port (API base "http://HOST:PORT/x"), with OAuth 1.0a
// verification of every API request, stored posts, and a timeline page.
//
// API (OAuth 1.0a HMAC-SHA1 required; 401 with X's problem JSON when it fails):
//   POST /x/2/media/upload            simple upload (multipart "media" or "media_data"), or
//                                     command=INIT|APPEND|FINALIZE (form, multipart or query)
//   GET  /x/2/media/upload?command=STATUS&media_id=…
//   POST /x/2/media/upload/initialize, /x/2/media/upload/{id}/append, …/{id}/finalize
//                                     (the newer dedicated endpoints, same semantics)
//   POST /x/2/tweets                  {"text": …, "media": {"media_ids": […]}}
// Sandbox endpoints (no OAuth; for tests and people):
//   GET  /x/                          timeline page (HTML), newest post first
//   GET  /x/media/{id}                the stored media bytes
//   GET  /x/2/sandbox/posts           {"data": [{id, text, media_ids, created_at, image_url,
//                                     image_urls}]}, newest first
//   POST /x/2/sandbox/fail            {"status": 429|503|500, "count": N, "reset_after_secs": S}
//                                     makes the next N API requests (after OAuth) fail so
//                                     retries can be tested; with "seconds": T instead, every
//                                     API request fails for T seconds (an outage; test-only
//                                     fault injection), 5xx answers carrying "Retry-After: R"
//                                     when "retry_after_secs": R is given
//   POST /x/2/sandbox/reset           forgets posts, media and pending failures
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "localcloud/core/cloud.h"
#include "localcloud/xsandbox/timeline_page.h"
#include "x/oauth1.h"

namespace localcloud::xsandbox {

struct XSandboxOptions {
  std::string consumer_key = "test";
  std::string consumer_secret = "test";
  std::string access_token = "test";
  std::string access_token_secret = "test";
  std::chrono::seconds timestamp_window{300};
  size_t max_media_bytes = 512 * 1024 * 1024;  // INIT total_bytes above this: 400
};

// Serves the sandbox. Thread-safe (one mutex over the store; handlers never block on I/O).
class XSandboxService : public Service {
 public:
  XSandboxService(CloudContext& context, XSandboxOptions options);

  std::string_view name() const override { return "x"; }
  bool Accepts(const RouteInfo& route, const http::Request& request) const override;
  bool NeedsSignature(const RouteInfo&, const http::Request&) const override { return false; }
  // Media uploads: the server's limit.
  size_t MaxBodyBytes(const RouteInfo&, const http::Request&) const override { return 0; }
  http::Response ErrorResponse(const Call& call, const aws::AwsError& error) const override;
  void Handle(Call call, http::Respond respond) override;

 private:
  struct Media {
    std::string id;
    std::string media_type;
    std::string category;
    uint64_t total_bytes = 0;             // declared at INIT
    std::map<int, std::string> segments;  // APPEND segment_index -> bytes
    std::string data;                     // assembled bytes (after FINALIZE or simple upload)
    bool finalized = false;
    common::SystemTime created;
  };
  struct Post {
    std::string id;
    std::string text;
    std::vector<std::string> media_ids;
    common::SystemTime created;
  };
  using Fields = std::vector<std::pair<std::string, std::string>>;

  http::Response HandleApi(const Call& call, const std::string& path);
  http::Response MediaUpload(const Call& call, const std::string& path, const Fields& fields,
                             const std::string* media);
  http::Response SimpleUpload(const std::string& media_type, const std::string& category,
                              std::string data);
  http::Response Init(const Fields& fields);
  http::Response Append(const std::string& media_id, const Fields& fields,
                        const std::string* media);
  http::Response Finalize(const std::string& media_id);
  http::Response Status(const std::string& media_id);
  http::Response CreatePost(const Call& call);
  http::Response CreatePostFrom(const nlohmann::json& body);
  static bool IsXHost(const std::string& host);
  http::Response V1MediaAnswer(http::Response v2);
  http::Response V1StatusUpdate(const Fields& fields);
  http::Response ListPosts(const Call& call);
  http::Response Timeline(const Call& call);
  http::Response ServeMedia(const std::string& id);
  http::Response SetFailures(const Call& call);
  // A post/media id in X's style (a 19-digit snowflake), increasing.
  std::string NextId() REQUIRES(mu_);
  std::string BaseUrl(const Call& call) const;
  nlohmann::json MediaJson(const Media& media) const;

  CloudContext& context_;
  XSandboxOptions options_;
  x::OAuthVerifier verifier_;

  common::Mutex mu_;
  std::map<std::string, Media> media_ GUARDED_BY(mu_);
  std::vector<Post> posts_ GUARDED_BY(mu_);  // oldest first
  uint64_t last_id_ GUARDED_BY(mu_) = 0;
  int fail_status_ GUARDED_BY(mu_) = 0;
  int fail_count_ GUARDED_BY(mu_) = 0;
  int fail_reset_after_secs_ GUARDED_BY(mu_) = 1;
  ThumbnailCache thumbnails_;                      // the timeline page's (thread-safe itself)
  int64_t fail_until_ms_ GUARDED_BY(mu_) = 0;      // test-only outage window end
  int fail_retry_after_secs_ GUARDED_BY(mu_) = 0;  // Retry-After on 5xx, 0 = none
};

}  // namespace localcloud::xsandbox
