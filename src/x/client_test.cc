#include "x/client.h"

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "x/multipart.h"

namespace x {
namespace {

using nlohmann::json;

// The HttpClient seam: answers with a scripted function and records every request.
class FakeHttpClient : public http::HttpClient {
 public:
  std::function<common::Result<http::Response>(const http::ClientRequest&)> answer;
  std::vector<http::ClientRequest> sent;
  common::Result<http::Response> Send(const http::ClientRequest& request) override {
    sent.push_back(request);
    return answer(request);
  }
};

http::Response JsonResponse(int status, const json& body) {
  return http::Response::Json(status, body.dump());
}

class XClientTest : public ::testing::Test {
 protected:
  XClientTest() : clock_(common::FromUnixMillis(1'700'000'000'000)) {
    options_.api_base = "http://127.0.0.1:4566/x/";
    options_.credentials = {"ck", "SECRETCONSUMER", "at", "SECRETTOKEN"};
    options_.clock = &clock_;
    options_.simple_upload_max_bytes = 10;
    options_.chunk_bytes = 4;
  }

  // Every request must verify against the same secrets, as the sandbox checks it.
  void ExpectSigned(const http::ClientRequest& r) {
    OAuthVerifier verifier(
        {{{"ck", "SECRETCONSUMER"}}, {{"at", "SECRETTOKEN"}}, std::chrono::seconds(300), &clock_});
    OAuthRequest o{r.method, r.url, {}, r.headers.GetOr("Authorization", "")};
    if (r.headers.GetOr("Content-Type", "") == "application/x-www-form-urlencoded") {
      o.form_params = http::ParseQuery(r.body, true);
    }
    common::Status s = verifier.Verify(o);
    EXPECT_TRUE(s.ok()) << r.method << " " << r.url << ": " << s.ToString();
  }

  common::FakeClock clock_;
  XClientOptions options_;
  FakeHttpClient http_;
};

TEST_F(XClientTest, SimpleUploadIsOneSignedMultipartRequest) {
  http_.answer = [&](const http::ClientRequest& r) -> common::Result<http::Response> {
    ExpectSigned(r);
    return JsonResponse(200, {{"data", {{"id", "1880028106020515840"}, {"media_key", "3_1"}}}});
  };
  XClient client(options_, http_);
  auto id = client.UploadMedia("\xff\xd8jpeg", "image/jpeg");
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, "1880028106020515840");
  ASSERT_EQ(http_.sent.size(), 1u);
  EXPECT_EQ(http_.sent[0].url, "http://127.0.0.1:4566/x/2/media/upload");
  auto parts = ParseMultipart(http_.sent[0].headers.GetOr("Content-Type", ""), http_.sent[0].body);
  ASSERT_TRUE(parts.ok());
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].name, "media");
  EXPECT_EQ((*parts)[0].data, "\xff\xd8jpeg");
  EXPECT_EQ((*parts)[1].data, "tweet_image");
}

TEST_F(XClientTest, LargeMediaGoesThroughInitializeAppendFinalize) {
  std::string data = "0123456789ABC";  // 13 bytes: 4 segments of 4
  std::string assembled;
  std::vector<std::string> calls;
  const std::string base = "http://127.0.0.1:4566/x/2/media/upload";
  http_.answer = [&](const http::ClientRequest& r) -> common::Result<http::Response> {
    ExpectSigned(r);
    std::string path = r.url.substr(base.size());
    std::string type = r.headers.GetOr("Content-Type", "");
    if (path == "/initialize") {
      calls.push_back("initialize");
      EXPECT_EQ(type, "application/json");
      json body = json::parse(r.body);
      EXPECT_EQ(body["total_bytes"], 13);
      EXPECT_EQ(body["media_type"], "image/png");
      return JsonResponse(200, {{"data", {{"id", "77"}, {"expires_after_secs", 3600}}}});
    }
    if (path == "/77/finalize") {
      calls.push_back("finalize");
      return JsonResponse(200, {{"data", {{"id", "77"}, {"size", 13}}}});
    }
    EXPECT_EQ(path, "/77/append");
    auto parts = ParseMultipart(type, r.body);
    EXPECT_TRUE(parts.ok());
    calls.push_back("append:" + (*parts)[0].data);
    EXPECT_EQ((*parts)[1].name, "media");
    assembled += (*parts)[1].data;
    return JsonResponse(200, {{"data", {{"expires_at", 1}}}});
  };
  XClient client(options_, http_);
  auto id = client.UploadMedia(data, "image/png");
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, "77");
  EXPECT_EQ(assembled, data);
  EXPECT_EQ(calls, (std::vector<std::string>{"initialize", "append:0", "append:1", "append:2",
                                             "append:3", "finalize"}));
}

TEST_F(XClientTest, ChunkedUploadWaitsForProcessingAndReportsFailure) {
  int status_polls = 0;
  http_.answer = [&](const http::ClientRequest& r) -> common::Result<http::Response> {
    ExpectSigned(r);
    if (r.url.find("/initialize") != std::string::npos) {
      return JsonResponse(200, {{"data", {{"id", "5"}}}});
    }
    if (r.url.find("/finalize") != std::string::npos) {
      return JsonResponse(
          200,
          {{"data",
            {{"id", "5"}, {"processing_info", {{"state", "pending"}, {"check_after_secs", 0}}}}}});
    }
    if (r.method == "GET") {
      EXPECT_NE(r.url.find("command=STATUS&media_id=5"), std::string::npos) << r.url;
      ++status_polls;
      json info = status_polls < 2
                      ? json{{"state", "in_progress"}, {"check_after_secs", 0}}
                      : json{{"state", "failed"}, {"error", {{"message", "bad video"}}}};
      return JsonResponse(200, {{"data", {{"id", "5"}, {"processing_info", info}}}});
    }
    return JsonResponse(200, {{"data", {{"expires_at", 1}}}});
  };
  XClient client(options_, http_);
  auto id = client.UploadMedia("0123456789ABC", "video/mp4", "tweet_video");
  EXPECT_EQ(id.status().code(), common::Code::kInvalidArgument);
  EXPECT_NE(id.status().message().find("bad video"), std::string::npos);
  EXPECT_EQ(status_polls, 2);
}

TEST_F(XClientTest, CreatePostSendsTextAndMediaIds) {
  http_.answer = [&](const http::ClientRequest& r) -> common::Result<http::Response> {
    ExpectSigned(r);
    json body = json::parse(r.body);
    EXPECT_EQ(body["text"], "hello ☃");
    EXPECT_EQ(body["media"]["media_ids"], json::array({"1", "2"}));
    return JsonResponse(201, {{"data", {{"id", "99"}, {"text", "hello ☃"}}}});
  };
  XClient client(options_, http_);
  auto post = client.CreatePost("hello ☃", {"1", "2"});
  ASSERT_TRUE(post.ok()) << post.status().ToString();
  EXPECT_EQ(post->id, "99");
  EXPECT_EQ(http_.sent[0].url, "http://127.0.0.1:4566/x/2/tweets");
}

TEST_F(XClientTest, RateLimitCarriesTheWait) {
  http_.answer = [&](const http::ClientRequest&) -> common::Result<http::Response> {
    http::Response r = JsonResponse(429, {{"title", "Too Many Requests"}, {"status", 429}});
    r.headers.Set("x-rate-limit-reset", std::to_string(common::ToUnixSeconds(clock_.Now()) + 42));
    return r;
  };
  XClient client(options_, http_);
  auto post = client.CreatePost("x");
  ASSERT_FALSE(post.ok());
  EXPECT_EQ(post.status().code(), common::Code::kResourceExhausted);
  EXPECT_TRUE(IsRetryable(post.status()));
  ASSERT_TRUE(RetryAfter(post.status()).has_value());
  EXPECT_EQ(RetryAfter(post.status())->count(), 42);
}

TEST_F(XClientTest, ServerErrorsAndTransportFailuresAreRetryable) {
  http_.answer = [&](const http::ClientRequest&) -> common::Result<http::Response> {
    return JsonResponse(503, {{"title", "Service Unavailable"}});
  };
  XClient client(options_, http_);
  auto a = client.CreatePost("x");
  EXPECT_EQ(a.status().code(), common::Code::kUnavailable);
  EXPECT_TRUE(IsRetryable(a.status()));
  EXPECT_FALSE(RetryAfter(a.status()).has_value());

  http_.answer = [&](const http::ClientRequest&) -> common::Result<http::Response> {
    return common::Unavailable("connection refused");
  };
  auto b = client.UploadMedia("abc", "image/jpeg");
  EXPECT_EQ(b.status().code(), common::Code::kUnavailable);
}

TEST_F(XClientTest, RefusedCredentialsNeverEchoSecrets) {
  for (int code : {401, 403}) {
    http_.answer = [&](const http::ClientRequest&) -> common::Result<http::Response> {
      return JsonResponse(code, {{"title", "Unauthorized"},
                                 {"detail", "Unauthorized"},
                                 {"status", code},
                                 {"type", "about:blank"}});
    };
    XClient client(options_, http_);
    auto post = client.CreatePost("x");
    EXPECT_EQ(post.status().code(), common::Code::kPermissionDenied);
    EXPECT_FALSE(IsRetryable(post.status()));
    EXPECT_NE(post.status().message().find("refused the credentials"), std::string::npos);
    EXPECT_EQ(post.status().message().find("SECRET"), std::string::npos);
  }
}

TEST_F(XClientTest, OtherClientErrorsAreNotRetryable) {
  http_.answer = [&](const http::ClientRequest&) -> common::Result<http::Response> {
    return JsonResponse(400, {{"errors", {{{"message", "media type unsupported"}}}}});
  };
  XClient client(options_, http_);
  auto id = client.UploadMedia("abc", "image/tiff");
  EXPECT_EQ(id.status().code(), common::Code::kInvalidArgument);
  EXPECT_NE(id.status().message().find("media type unsupported"), std::string::npos);
}

}  // namespace
}  // namespace x
