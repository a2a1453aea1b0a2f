#include "x/client.h"

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/strings.h"
#include "x/multipart.h"

namespace x {
namespace {

using nlohmann::json;

constexpr std::string_view kRetryMarker = "retry-after=";

// Short, secret-free description of an X error body: v2 problem JSON ("title"/"detail"),
// v1.1 {"errors":[{"message"}]}, else a clipped copy of the text.
std::string DescribeErrorBody(const std::string& body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object()) {
    std::string out;
    if (j.contains("title") && j["title"].is_string()) out = j["title"].get<std::string>();
    if (j.contains("detail") && j["detail"].is_string()) {
      out += (out.empty() ? "" : ": ") + j["detail"].get<std::string>();
    }
    if (out.empty() && j.contains("errors") && j["errors"].is_array() && !j["errors"].empty()) {
      const json& e = j["errors"][0];
      if (e.is_object() && e.contains("message") && e["message"].is_string()) {
        out = e["message"].get<std::string>();
      }
    }
    if (!out.empty()) return out;
  }
  std::string clipped = body.substr(0, 200);
  return common::IsValidUtf8(clipped) ? clipped : "(binary body)";
}

std::string FormBody(const OAuthParams& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out += '&';
    out += common::UriEncode(name) + "=" + common::UriEncode(value);
  }
  return out;
}

// The media id from an upload answer: v2 {"data":{"id"}} or v1.1 {"media_id_string"}.
common::Result<std::string> MediaIdFrom(const json& j) {
  if (j.is_object() && j.contains("data") && j["data"].is_object()) {
    const json& d = j["data"];
    if (d.contains("id") && d["id"].is_string()) return d["id"].get<std::string>();
  }
  if (j.is_object() && j.contains("media_id_string") && j["media_id_string"].is_string()) {
    return j["media_id_string"].get<std::string>();
  }
  return common::Internal("X media upload answer has no media id");
}

common::Result<json> ParseJson(const http::Response& response, std::string_view what) {
  json j = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return common::Internal(std::string(what) + ": answer is not JSON");
  return j;
}

// processing_info of a FINALIZE/STATUS answer (v2 inside "data", v1.1 at the top).
json ProcessingInfo(const json& j) {
  if (j.is_object() && j.contains("data") && j["data"].is_object() &&
      j["data"].contains("processing_info")) {
    return j["data"]["processing_info"];
  }
  if (j.is_object() && j.contains("processing_info")) return j["processing_info"];
  return json();
}

}  // namespace

XClient::XClient(XClientOptions options, http::HttpClient& http)
    : options_(std::move(options)), http_(http) {
  while (!options_.api_base.empty() && options_.api_base.back() == '/')
    options_.api_base.pop_back();
  options_.chunk_bytes = std::max<size_t>(options_.chunk_bytes, 1);
}

const common::Clock& XClient::clock() const {
  return options_.clock ? *options_.clock : common::SystemClock::Instance();
}

common::Result<http::Response> XClient::Call(const std::string& method,
                                             const std::string& path_and_query,
                                             const std::string& content_type, std::string body,
                                             const OAuthParams& form_params) {
  http::ClientRequest request;
  request.method = method;
  request.url = options_.api_base + path_and_query;
  request.timeout = options_.timeout;
  std::string timestamp = std::to_string(common::ToUnixSeconds(clock().Now()));
  request.headers.Set("Authorization", SignRequest(options_.credentials, method, request.url,
                                                   form_params, "", timestamp));
  if (!content_type.empty()) request.headers.Set("Content-Type", content_type);
  request.headers.Set("User-Agent", "dispatch-aws-twitter/0.1");
  request.body = std::move(body);

  auto sent = http_.Send(request);
  if (!sent.ok()) {
    return common::Status(
        sent.status().code() == common::Code::kInvalidArgument ? common::Code::kInvalidArgument
                                                               : common::Code::kUnavailable,
        "X API " + method + " " + path_and_query + ": " + sent.status().message());
  }
  http::Response response = std::move(sent).value();
  const int status = response.status;
  if (status >= 200 && status < 300) return response;

  const std::string what = "X API " + method + " " +
                           path_and_query.substr(0, path_and_query.find('?')) + " answered " +
                           std::to_string(status);
  if (status == 429) {
    int64_t wait = 0;
    if (auto reset = response.headers.Get("x-rate-limit-reset")) {
      int64_t reset_at = std::strtoll(reset->c_str(), nullptr, 10);
      wait = std::max<int64_t>(0, reset_at - common::ToUnixSeconds(clock().Now()));
    } else if (auto retry = response.headers.Get("retry-after")) {
      wait = std::max<int64_t>(0, std::strtoll(retry->c_str(), nullptr, 10));
    }
    return common::ResourceExhausted(what + " (rate limited; " + std::string(kRetryMarker) +
                                     std::to_string(wait) + "s)");
  }
  if (status >= 500) {
    // X may say when to come back (Retry-After in seconds); the caller's retry honours it.
    std::string when;
    if (auto retry = response.headers.Get("retry-after")) {
      int64_t wait = std::strtoll(retry->c_str(), nullptr, 10);
      if (wait > 0) when = " (" + std::string(kRetryMarker) + std::to_string(wait) + "s)";
    }
    return common::Unavailable(what + ": " + DescribeErrorBody(response.body) + when);
  }
  if (status == 401 || status == 403) {
    // The body is X's own text; it cannot contain our secrets, which never leave this process.
    return common::PermissionDenied(what + ": X refused the credentials (" +
                                    DescribeErrorBody(response.body) + ")");
  }
  return common::InvalidArgument(what + ": " + DescribeErrorBody(response.body));
}

common::Result<std::string> XClient::UploadMedia(std::string_view data, std::string_view media_type,
                                                 std::string_view media_category) {
  if (data.size() <= options_.simple_upload_max_bytes) {
    return UploadMediaSimple(data, media_type, media_category);
  }
  return UploadMediaChunked(data, media_type, media_category);
}

common::Result<std::string> XClient::UploadMediaSimple(std::string_view data,
                                                       std::string_view media_type,
                                                       std::string_view media_category) {
  MultipartBody form = BuildMultipart({
      {"media", "media", std::string(media_type), std::string(data)},
      {"media_category", "", "", std::string(media_category)},
  });
  DAT_ASSIGN_OR_RETURN(http::Response response,
                       Call("POST", "/2/media/upload", form.content_type, std::move(form.body)));
  DAT_ASSIGN_OR_RETURN(json j, ParseJson(response, "media upload"));
  return MediaIdFrom(j);
}

common::Result<std::string> XClient::UploadMediaChunked(std::string_view data,
                                                        std::string_view media_type,
                                                        std::string_view media_category) {
  // X's current chunked flow (the command=INIT|APPEND|FINALIZE form is being retired):
  // POST /2/media/upload/initialize (JSON), /2/media/upload/{id}/append (multipart),
  // /2/media/upload/{id}/finalize; GET /2/media/upload?command=STATUS while processing.
  const std::string path = "/2/media/upload";
  json init = {{"media_type", std::string(media_type)},
               {"total_bytes", data.size()},
               {"media_category", std::string(media_category)}};
  DAT_ASSIGN_OR_RETURN(http::Response init_response,
                       Call("POST", path + "/initialize", "application/json", init.dump()));
  DAT_ASSIGN_OR_RETURN(json init_json, ParseJson(init_response, "media upload initialize"));
  DAT_ASSIGN_OR_RETURN(std::string media_id, MediaIdFrom(init_json));
  const std::string media_path = path + "/" + common::UriEncode(media_id);

  size_t segment = 0;
  for (size_t offset = 0; offset < data.size(); offset += options_.chunk_bytes, ++segment) {
    MultipartBody form = BuildMultipart({
        {"segment_index", "", "", std::to_string(segment)},
        {"media", "blob", "application/octet-stream",
         std::string(data.substr(offset, options_.chunk_bytes))},
    });
    DAT_RETURN_IF_ERROR(
        Call("POST", media_path + "/append", form.content_type, std::move(form.body)).status());
  }

  DAT_ASSIGN_OR_RETURN(http::Response fin_response, Call("POST", media_path + "/finalize", "", ""));
  DAT_ASSIGN_OR_RETURN(json status_json, ParseJson(fin_response, "media upload finalize"));

  // Asynchronous processing (video, GIF): poll STATUS as check_after_secs says.
  auto deadline = std::chrono::steady_clock::now() + options_.max_processing_wait;
  while (true) {
    json info = ProcessingInfo(status_json);
    if (!info.is_object()) break;
    std::string state = info.value("state", "");
    if (state == "succeeded") break;
    if (state == "failed") {
      std::string reason = "media processing failed";
      if (info.contains("error") && info["error"].is_object()) {
        reason += ": " + info["error"].value("message", "");
      }
      return common::InvalidArgument(reason);
    }
    int64_t after = info.value("check_after_secs", 1);
    auto wake =
        std::chrono::steady_clock::now() + std::chrono::seconds(std::max<int64_t>(after, 0));
    if (wake > deadline) return common::DeadlineExceeded("media processing did not finish in time");
    std::this_thread::sleep_until(wake);
    DAT_ASSIGN_OR_RETURN(
        http::Response st,
        Call("GET", path + "?command=STATUS&media_id=" + common::UriEncode(media_id), "", ""));
    DAT_ASSIGN_OR_RETURN(status_json, ParseJson(st, "media upload STATUS"));
  }
  return media_id;
}

common::Result<Post> XClient::CreatePost(std::string_view text,
                                         const std::vector<std::string>& media_ids) {
  json body = {{"text", std::string(text)}};
  if (!media_ids.empty()) body["media"] = {{"media_ids", media_ids}};
  DAT_ASSIGN_OR_RETURN(http::Response response,
                       Call("POST", "/2/tweets", "application/json",
                            body.dump(-1, ' ', false, json::error_handler_t::replace)));
  DAT_ASSIGN_OR_RETURN(json j, ParseJson(response, "create post"));
  if (!j.is_object() || !j.contains("data") || !j["data"].is_object() ||
      !j["data"].contains("id") || !j["data"]["id"].is_string()) {
    return common::Internal("X create post answer has no data.id");
  }
  Post post;
  post.id = j["data"]["id"].get<std::string>();
  post.text = j["data"].value("text", std::string(text));
  return post;
}

bool IsRetryable(const common::Status& status) {
  return status.code() == common::Code::kResourceExhausted ||
         status.code() == common::Code::kUnavailable ||
         status.code() == common::Code::kDeadlineExceeded;
}

std::optional<std::chrono::seconds> RetryAfter(const common::Status& status) {
  if (status.code() != common::Code::kResourceExhausted &&
      status.code() != common::Code::kUnavailable) {
    return std::nullopt;
  }
  auto p = status.message().rfind(kRetryMarker);
  if (p == std::string::npos) return std::nullopt;
  return std::chrono::seconds(
      std::strtoll(status.message().c_str() + p + kRetryMarker.size(), nullptr, 10));
}

}  // namespace x
