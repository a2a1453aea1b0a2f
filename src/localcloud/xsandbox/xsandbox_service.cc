#include "localcloud/xsandbox/xsandbox_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "common/strings.h"
#include "localcloud/core/xml_writer.h"
#include "x/multipart.h"

namespace localcloud::xsandbox {
namespace {

using nlohmann::json;

constexpr int64_t kTwitterEpochMs = 1288834974657;  // snowflake epoch
constexpr int kMediaExpiresAfterSecs = 86400;

// X's problem JSON (API v2), with the v1.1 "errors" array that older clients read.
http::Response Problem(int status, const std::string& title, const std::string& detail,
                       const std::string& type = "about:blank", int v1_code = 0) {
  json body = {{"title", title}, {"detail", detail}, {"type", type}, {"status", status}};
  if (v1_code != 0) body["errors"] = json::array({{{"code", v1_code}, {"message", detail}}});
  return http::Response::Json(status, body.dump());
}

http::Response InvalidRequest(const std::string& message) {
  json body = {{"errors", json::array({{{"message", message}}})},
               {"title", "Invalid Request"},
               {"detail", "One or more parameters to your request was invalid."},
               {"type", "https://api.twitter.com/2/problems/invalid-request"}};
  return http::Response::Json(400, body.dump());
}

std::string FieldOr(const std::vector<std::pair<std::string, std::string>>& fields,
                    const std::string& name, const std::string& fallback = "") {
  for (const auto& [k, v] : fields) {
    if (k == name) return v;
  }
  return fallback;
}

// What the bytes are, by their magic numbers; "" when not a supported image.
std::string SniffImageType(std::string_view data) {
  if (common::StartsWith(data, "\xff\xd8\xff")) return "image/jpeg";
  if (common::StartsWith(data, "\x89PNG\r\n\x1a\n")) return "image/png";
  if (common::StartsWith(data, "GIF87a") || common::StartsWith(data, "GIF89a")) return "image/gif";
  if (data.size() >= 12 && data.substr(0, 4) == "RIFF" && data.substr(8, 4) == "WEBP") {
    return "image/webp";
  }
  return "";
}

// Length of the text as X counts it (code points; X weighs some ranges double, ignored).
size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

XSandboxService::XSandboxService(CloudContext& context, XSandboxOptions options)
    : context_(context),
      options_(std::move(options)),
      verifier_(x::OAuthVerifierOptions{{{options_.consumer_key, options_.consumer_secret}},
                                        {{options_.access_token, options_.access_token_secret}},
                                        options_.timestamp_window,
                                        &context.clock()}) {}

bool XSandboxService::Accepts(const RouteInfo& route, const http::Request& request) const {
  if (!route.target.empty()) return false;
  if (IsXHost(route.host)) return true;
  std::string_view path = request.path();
  return path == "/x" || common::StartsWith(path, "/x/");
}

bool XSandboxService::IsXHost(const std::string& host) {
  // X's own host names (resolved here by tests of the production path): the API at the root.
  return host == "api.x.com" || host == "upload.x.com" || host == "api.twitter.com" ||
         host == "upload.twitter.com";
}

http::Response XSandboxService::ErrorResponse(const Call&, const aws::AwsError& error) const {
  return Problem(error.http_status, error.code, error.message);
}

std::string XSandboxService::BaseUrl(const Call& call) const {
  std::string host = call.request.headers.GetOr("Host", "");
  if (host.empty()) return context_.config().endpoint;
  std::string scheme =
      common::StartsWith(context_.config().endpoint, "https:") ? "https://" : "http://";
  return scheme + host;
}

void XSandboxService::Handle(Call call, http::Respond respond) {
  std::string path(call.request.path());
  // On X's host names the API is at the root: /2/tweets there is /x/2/tweets here.
  if (IsXHost(call.route.host) && !common::StartsWith(path, "/x/")) path = "/x" + path;
  const std::string& method = call.request.method;
  http::Response response;
  if (path == "/x" || path == "/x/") {
    response = method == "GET" ? Timeline(call) : Problem(405, "Method Not Allowed", "GET only");
  } else if (common::StartsWith(path, "/x/media/")) {
    response = method == "GET" ? ServeMedia(path.substr(9))
                               : Problem(405, "Method Not Allowed", "GET only");
  } else if (path == "/x/2/sandbox/posts") {
    response = ListPosts(call);
  } else if (path == "/x/2/sandbox/fail" && method == "POST") {
    response = SetFailures(call);
  } else if (path == "/x/2/sandbox/reset" && method == "POST") {
    common::MutexLock lock(mu_);
    media_.clear();
    posts_.clear();
    fail_count_ = 0;
    fail_until_ms_ = 0;
    response = http::Response::Json(200, "{}");
  } else if (common::StartsWith(path, "/x/2/") || common::StartsWith(path, "/x/1.1/")) {
    response = HandleApi(call, path.substr(2));  // "/2/…", "/1.1/…"
  } else {
    response = Problem(404, "Not Found Error", "Sorry, that page does not exist",
                       "https://api.twitter.com/2/problems/resource-not-found", 34);
  }
  response.headers.Set("x-transaction-id", call.request_id);
  respond(std::move(response));
}

http::Response XSandboxService::HandleApi(const Call& call, const std::string& path) {
  const http::Request& req = call.request;
  std::string content_type = common::ToLower(req.headers.GetOr("Content-Type", ""));
  bool form = common::StartsWith(content_type, "application/x-www-form-urlencoded");

  // Every API request is OAuth 1.0a verified: the URL as the client addressed it.
  x::OAuthRequest oauth;
  oauth.method = req.method;
  oauth.url = BaseUrl(call) + req.target;
  if (form) oauth.form_params = http::ParseQuery(req.body, /*plus_as_space=*/true);
  oauth.authorization = req.headers.GetOr("Authorization", "");
  if (common::Status s = verifier_.Verify(oauth); !s.ok()) {
    spdlog::info("x sandbox: {} {} refused: {}", req.method, path, s.message());
    // X answers "Unauthorized"; the reason is added so a person can see what was wrong.
    http::Response r =
        Problem(401, "Unauthorized", "Unauthorized: " + s.message(), "about:blank", 32);
    r.headers.Set("WWW-Authenticate", "OAuth realm=\"x-sandbox\"");
    return r;
  }

  {
    common::MutexLock lock(mu_);
    const bool outage = common::ToUnixMillis(context_.clock().Now()) < fail_until_ms_;
    if (fail_count_ > 0 || outage) {
      if (!outage) --fail_count_;
      if (fail_status_ == 429) {
        http::Response r =
            Problem(429, "Too Many Requests", "Too Many Requests", "about:blank", 88);
        int64_t reset = common::ToUnixSeconds(context_.clock().Now()) + fail_reset_after_secs_;
        r.headers.Set("x-rate-limit-limit", "300");
        r.headers.Set("x-rate-limit-remaining", "0");
        r.headers.Set("x-rate-limit-reset", std::to_string(reset));
        return r;
      }
      http::Response r = Problem(fail_status_, http::ReasonPhrase(fail_status_),
                                 "the sandbox was told to fail this request", "about:blank", 131);
      if (fail_status_ >= 500 && fail_retry_after_secs_ > 0) {
        r.headers.Set("Retry-After", std::to_string(fail_retry_after_secs_));
      }
      return r;
    }
  }

  if (path == "/2/tweets") {
    if (req.method != "POST") return Problem(405, "Method Not Allowed", "POST only");
    return CreatePost(call);
  }
  if (path == "/1.1/statuses/update.json") {
    if (req.method != "POST") return Problem(405, "Method Not Allowed", "POST only");
    return V1StatusUpdate(form ? http::ParseQuery(req.body, true)
                               : http::ParseQuery(req.query(), true));
  }
  const bool v1_media = path == "/1.1/media/upload.json";
  if (common::StartsWith(path, "/2/media/upload") || v1_media) {
    Fields fields = http::ParseQuery(req.query(), /*plus_as_space=*/true);
    std::string media;
    bool has_media = false;
    if (form) {
      for (auto& kv : http::ParseQuery(req.body, true)) fields.push_back(std::move(kv));
    } else if (common::StartsWith(content_type, "multipart/")) {
      auto parts = x::ParseMultipart(req.headers.GetOr("Content-Type", ""), req.body);
      if (!parts.ok()) return InvalidRequest(parts.status().message());
      for (auto& part : *parts) {
        if (part.name == "media") {
          media = std::move(part.data);
          has_media = true;
          if (!part.content_type.empty() && part.content_type != "application/octet-stream") {
            fields.emplace_back("media_type", part.content_type);
          }
        } else {
          fields.emplace_back(part.name, std::move(part.data));
        }
      }
    } else if (common::StartsWith(content_type, "application/json")) {
      json j = json::parse(req.body, nullptr, false);
      if (!j.is_object()) return InvalidRequest("body is not a JSON object");
      for (auto& [k, v] : j.items()) {
        fields.emplace_back(k, v.is_string() ? v.get<std::string>() : v.dump());
      }
    }
    std::string media_data = FieldOr(fields, "media_data");
    if (!has_media && !media_data.empty()) {
      if (!common::Base64Decode(media_data, &media))
        return InvalidRequest("media_data is not base64");
      has_media = true;
    }
    http::Response r = MediaUpload(call, v1_media ? "/2/media/upload" : path, fields,
                                   has_media ? &media : nullptr);
    return v1_media ? V1MediaAnswer(std::move(r)) : r;
  }
  return Problem(404, "Not Found Error", "Sorry, that page does not exist",
                 "https://api.twitter.com/2/problems/resource-not-found", 34);
}

http::Response XSandboxService::MediaUpload(const Call& call, const std::string& path,
                                            const Fields& fields, const std::string* media) {
  // Newer dedicated endpoints: /2/media/upload/initialize, /2/media/upload/{id}/append|finalize.
  std::string rest = path.substr(std::string("/2/media/upload").size());
  std::string command = FieldOr(fields, "command");
  std::string media_id = FieldOr(fields, "media_id");
  if (rest == "/initialize") {
    command = "INIT";
  } else if (!rest.empty()) {
    auto parts = common::Split(rest.substr(1), '/');
    if (parts.size() != 2) return Problem(404, "Not Found Error", "no such endpoint");
    media_id = parts[0];
    command = common::ToUpper(parts[1]);
  }
  if (call.request.method == "GET") {
    if (command != "STATUS") return InvalidRequest("GET needs command=STATUS");
    return Status(media_id);
  }
  if (call.request.method != "POST") return Problem(405, "Method Not Allowed", "POST only");
  if (command.empty()) {
    if (!media) return InvalidRequest("media is required");
    return SimpleUpload(FieldOr(fields, "media_type"),
                        FieldOr(fields, "media_category", "tweet_image"), *media);
  }
  if (command == "INIT") return Init(fields);
  if (command == "APPEND") return Append(media_id, fields, media);
  if (command == "FINALIZE") return Finalize(media_id);
  if (command == "STATUS") return Status(media_id);
  return InvalidRequest("unknown command " + command);
}

json XSandboxService::MediaJson(const Media& m) const {
  json data = {{"id", m.id},
               {"media_key", "3_" + m.id},
               {"size", m.finalized ? m.data.size() : m.total_bytes},
               {"expires_after_secs", kMediaExpiresAfterSecs}};
  if (common::StartsWith(m.media_type, "image/")) {
    data["image"] = {{"image_type", m.media_type}};
  } else if (m.finalized) {
    // Video and animated media are processed asynchronously by X; the sandbox is done at once.
    data["processing_info"] = {{"state", "succeeded"}, {"progress_percent", 100}};
  }
  return data;
}

http::Response XSandboxService::SimpleUpload(const std::string& declared_type,
                                             const std::string& category, std::string data) {
  std::string sniffed = SniffImageType(data);
  if (sniffed.empty()) {
    return InvalidRequest(
        "media is not a supported image (JPEG, PNG, GIF, WEBP); use the "
        "chunked upload for other media");
  }
  if (data.size() > 5 * 1024 * 1024) return InvalidRequest("image over 5 MB");
  common::MutexLock lock(mu_);
  Media m;
  m.id = NextId();
  // The bytes decide the type, as X does; a declared type is only a hint.
  (void)declared_type;
  m.media_type = sniffed;
  m.category = category;
  m.total_bytes = data.size();
  m.data = std::move(data);
  m.finalized = true;
  m.created = context_.clock().Now();
  json body = {{"data", MediaJson(m)}};
  media_[m.id] = std::move(m);
  return http::Response::Json(200, body.dump());
}

http::Response XSandboxService::Init(const Fields& fields) {
  std::string type = FieldOr(fields, "media_type");
  std::string total = FieldOr(fields, "total_bytes");
  if (type.empty() || total.empty())
    return InvalidRequest("media_type and total_bytes are required");
  char* end = nullptr;
  unsigned long long bytes = std::strtoull(total.c_str(), &end, 10);
  if (*end != '\0' || bytes == 0) return InvalidRequest("total_bytes must be a positive integer");
  if (bytes > options_.max_media_bytes) return InvalidRequest("total_bytes over the limit");
  common::MutexLock lock(mu_);
  Media m;
  m.id = NextId();
  m.media_type = type;
  m.category = FieldOr(fields, "media_category");
  m.total_bytes = bytes;
  m.created = context_.clock().Now();
  json body = {
      {"data",
       {{"id", m.id}, {"media_key", "3_" + m.id}, {"expires_after_secs", kMediaExpiresAfterSecs}}}};
  media_[m.id] = std::move(m);
  return http::Response::Json(200, body.dump());
}

http::Response XSandboxService::Append(const std::string& media_id, const Fields& fields,
                                       const std::string* media) {
  if (!media) return InvalidRequest("APPEND needs media");
  std::string index_text = FieldOr(fields, "segment_index");
  char* end = nullptr;
  long index = std::strtol(index_text.c_str(), &end, 10);
  if (index_text.empty() || *end != '\0' || index < 0 || index > 999) {
    return InvalidRequest("segment_index must be 0-999");
  }
  common::MutexLock lock(mu_);
  auto it = media_.find(media_id);
  if (it == media_.end()) return InvalidRequest("unknown media_id");
  if (it->second.finalized) return InvalidRequest("media already finalized");
  it->second.segments[static_cast<int>(index)] = *media;
  int64_t expires = common::ToUnixSeconds(it->second.created) + kMediaExpiresAfterSecs;
  return http::Response::Json(200, json({{"data", {{"expires_at", expires}}}}).dump());
}

http::Response XSandboxService::Finalize(const std::string& media_id) {
  common::MutexLock lock(mu_);
  auto it = media_.find(media_id);
  if (it == media_.end()) return InvalidRequest("unknown media_id");
  Media& m = it->second;
  if (!m.finalized) {
    std::string data;
    for (auto& [index, bytes] : m.segments) data += bytes;
    if (data.size() != m.total_bytes) {
      return InvalidRequest("File size mismatch: INIT said " + std::to_string(m.total_bytes) +
                            " bytes, APPEND sent " + std::to_string(data.size()));
    }
    if (common::StartsWith(m.media_type, "image/") && SniffImageType(data).empty()) {
      return InvalidRequest("media is not a valid " + m.media_type);
    }
    m.segments.clear();
    m.data = std::move(data);
    m.finalized = true;
  }
  return http::Response::Json(200, json({{"data", MediaJson(m)}}).dump());
}

http::Response XSandboxService::Status(const std::string& media_id) {
  common::MutexLock lock(mu_);
  auto it = media_.find(media_id);
  if (it == media_.end()) return InvalidRequest("unknown media_id");
  json data = MediaJson(it->second);
  if (!it->second.finalized)
    data["processing_info"] = {{"state", "pending"}, {"check_after_secs", 1}};
  return http::Response::Json(200, json({{"data", data}}).dump());
}

http::Response XSandboxService::V1MediaAnswer(http::Response v2) {
  // v1.1 media/upload.json: the v2 fields at top level, the id also as a number and as
  // media_id_string (what v1.1 clients read); APPEND answers 204 with no body.
  if (v2.status >= 300) return v2;
  json j = json::parse(v2.body, nullptr, false);
  if (!j.is_object() || !j.contains("data") || !j["data"].is_object()) {
    http::Response empty;
    empty.status = 204;
    return empty;
  }
  json data = j["data"];
  if (!data.contains("id")) {
    http::Response empty;
    empty.status = 204;
    return empty;
  }
  std::string id = data["id"].get<std::string>();
  json out = {{"media_id", std::stoull(id)}, {"media_id_string", id}};
  for (const char* k : {"media_key", "size", "expires_after_secs", "image", "processing_info"}) {
    if (data.contains(k)) out[k] = data[k];
  }
  return http::Response::Json(v2.status == 201 ? 200 : v2.status, out.dump());
}

http::Response XSandboxService::V1StatusUpdate(const Fields& fields) {
  // v1.1 statuses/update.json: status=<text>&media_ids=<id,id>; answers a v1.1 Tweet.
  json body = {{"text", FieldOr(fields, "status")}};
  std::string ids = FieldOr(fields, "media_ids");
  if (!ids.empty()) body["media"] = {{"media_ids", common::Split(ids, ',')}};
  http::Response v2 = CreatePostFrom(body);
  if (v2.status >= 300) return v2;
  json data = json::parse(v2.body)["data"];
  std::string id = data["id"].get<std::string>();
  json tweet = {{"id", std::stoull(id)},
                {"id_str", id},
                {"text", data["text"]},
                {"created_at", common::FormatHttpDate(context_.clock().Now())},
                {"user", {{"id_str", "1"}, {"screen_name", "sandbox"}}}};
  return http::Response::Json(200, tweet.dump());
}

http::Response XSandboxService::CreatePost(const Call& call) {
  return CreatePostFrom(json::parse(call.request.body, nullptr, false));
}

http::Response XSandboxService::CreatePostFrom(const json& body) {
  if (!body.is_object()) return InvalidRequest("body is not a JSON object");
  std::string text;
  if (body.contains("text")) {
    if (!body["text"].is_string()) return InvalidRequest("text must be a string");
    text = body["text"].get<std::string>();
  }
  if (!common::IsValidUtf8(text)) return InvalidRequest("text is not UTF-8");
  std::vector<std::string> media_ids;
  if (body.contains("media")) {
    const json& media = body["media"];
    if (!media.is_object() || !media.contains("media_ids") || !media["media_ids"].is_array()) {
      return InvalidRequest("media.media_ids must be an array");
    }
    for (const json& id : media["media_ids"]) {
      if (!id.is_string()) return InvalidRequest("media ids must be strings");
      media_ids.push_back(id.get<std::string>());
    }
    if (media_ids.empty() || media_ids.size() > 4) return InvalidRequest("1 to 4 media ids");
  }
  if (text.empty() && media_ids.empty()) return InvalidRequest("text or media is required");
  if (CodePoints(text) > 280) {
    return InvalidRequest("Your Tweet text is too long.");
  }
  common::MutexLock lock(mu_);
  for (const std::string& id : media_ids) {
    auto it = media_.find(id);
    if (it == media_.end() || !it->second.finalized)
      return InvalidRequest("Your media IDs are invalid.");
  }
  Post post;
  post.id = NextId();
  post.text = text;
  post.media_ids = media_ids;
  post.created = context_.clock().Now();
  json answer = {
      {"data",
       {{"id", post.id}, {"text", post.text}, {"edit_history_tweet_ids", json::array({post.id})}}}};
  spdlog::info("x sandbox: post {} with {} media", post.id, post.media_ids.size());
  posts_.push_back(std::move(post));
  return http::Response::Json(201, answer.dump());
}

http::Response XSandboxService::ListPosts(const Call& call) {
  std::string base = BaseUrl(call);
  common::MutexLock lock(mu_);
  json data = json::array();
  for (auto it = posts_.rbegin(); it != posts_.rend(); ++it) {
    json urls = json::array();
    for (const auto& id : it->media_ids) urls.push_back(base + "/x/media/" + id);
    json post = {{"id", it->id},
                 {"text", it->text},
                 {"media_ids", it->media_ids},
                 {"created_at", common::FormatIso8601Millis(it->created)},
                 {"image_urls", urls},
                 {"image_url", urls.empty() ? json(nullptr) : urls[0]}};
    data.push_back(std::move(post));
  }
  return http::Response::Json(
      200, json({{"data", data}, {"meta", {{"result_count", data.size()}}}}).dump());
}

http::Response XSandboxService::Timeline(const Call& call) {
  (void)call;
  common::MutexLock lock(mu_);
  std::vector<TimelinePost> posts;
  for (auto it = posts_.rbegin(); it != posts_.rend(); ++it) {
    TimelinePost post{it->id, it->text, it->created, {}};
    for (const auto& id : it->media_ids) {
      auto m = media_.find(id);
      if (m == media_.end()) continue;
      post.images.push_back({id, m->second.media_type, m->second.data});
    }
    posts.push_back(std::move(post));
  }
  return http::Response::Text(200, RenderTimeline(posts, thumbnails_), "text/html; charset=utf-8");
}

http::Response XSandboxService::ServeMedia(const std::string& id) {
  common::MutexLock lock(mu_);
  auto it = media_.find(id);
  if (it == media_.end() || !it->second.finalized) {
    return Problem(404, "Not Found Error", "no such media");
  }
  http::Response r = http::Response::Text(200, it->second.data, it->second.media_type);
  r.headers.Set("Cache-Control", "no-store");
  return r;
}

http::Response XSandboxService::SetFailures(const Call& call) {
  json body = json::parse(call.request.body, nullptr, false);
  if (!body.is_object()) return InvalidRequest("body is not a JSON object");
  int status = body.value("status", 503);
  int count = body.value("count", 1);
  int reset = body.value("reset_after_secs", 1);
  int seconds = body.value("seconds", 0);
  int retry_after = body.value("retry_after_secs", 0);
  if (status < 400 || status > 599 || count < 0 || reset < 0 || seconds < 0 || seconds > 86400 ||
      retry_after < 0) {
    return InvalidRequest(
        "status 400-599, count >= 0, reset_after_secs >= 0, seconds 0-86400, "
        "retry_after_secs >= 0");
  }
  common::MutexLock lock(mu_);
  fail_status_ = status;
  fail_count_ = seconds > 0 ? 0 : count;
  fail_reset_after_secs_ = reset;
  fail_retry_after_secs_ = retry_after;
  fail_until_ms_ =
      seconds > 0 ? common::ToUnixMillis(context_.clock().Now()) + seconds * 1000LL : 0;
  return http::Response::Json(200, json({{"status", status}, {"count", count}}).dump());
}

std::string XSandboxService::NextId() {
  // Snowflake layout: milliseconds since X's epoch << 22, strictly increasing.
  uint64_t ms =
      static_cast<uint64_t>(common::ToUnixMillis(context_.clock().Now()) - kTwitterEpochMs);
  uint64_t id = std::max(ms << 22, last_id_ + 1);
  last_id_ = id;
  return std::to_string(id);
}

}  // namespace localcloud::xsandbox
