// The X sandbox served in-process on a loopback port, driven by the project's XClient (the
// same code the twitter function uses) and by hand-signed requests.
#include "localcloud/xsandbox/xsandbox_service.h"

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/strings.h"
#include "http/client.h"
#include "http/server.h"
#include "x/client.h"

namespace localcloud::xsandbox {
namespace {

using nlohmann::json;

// A tiny valid PNG header is enough for the sandbox's type sniffing.
const std::string kPng = std::string("\x89PNG\r\n\x1a\n", 8) + std::string(64, '\x01');

class XSandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    XSandboxOptions options;
    options.consumer_key = "ck";
    options.consumer_secret = "cs";
    options.access_token = "at";
    options.access_token_secret = "ats";
    service_ = std::make_shared<XSandboxService>(context_, options);
    server_ = std::make_unique<http::HttpServer>(
        http::ServerOptions{}, [this](http::Request&& request, http::Respond respond) {
          Call call;
          call.request = std::move(request);
          call.request_id = "req-1";
          call.time = context_.clock().Now();
          service_->Handle(std::move(call), std::move(respond));
        });
    ASSERT_TRUE(server_->Start().ok());
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override { server_->Stop(std::chrono::milliseconds(100)); }

  x::XClient Client(x::OAuthCredentials creds = {"ck", "cs", "at", "ats"}) {
    x::XClientOptions o;
    o.api_base = base_ + "/x";
    o.credentials = creds;
    o.simple_upload_max_bytes = 32;
    o.chunk_bytes = 30;
    return x::XClient(o, http_);
  }

  // A raw signed request with a chosen nonce/timestamp.
  http::Response Raw(const std::string& method, const std::string& path, const std::string& body,
                     const std::string& nonce, int64_t timestamp,
                     x::OAuthCredentials creds = {"ck", "cs", "at", "ats"}) {
    http::ClientRequest r;
    r.method = method;
    r.url = base_ + path;
    r.body = body;
    r.headers.Set("Content-Type", "application/json");
    r.headers.Set("Authorization",
                  x::SignRequest(creds, method, r.url, {}, nonce, std::to_string(timestamp)));
    auto resp = http_.Send(r);
    EXPECT_TRUE(resp.ok()) << resp.status().ToString();
    return resp.ok() ? *resp : http::Response{};
  }

  http::Response Get(const std::string& path) {
    http::ClientRequest r;
    r.url = base_ + path;
    auto resp = http_.Send(r);
    EXPECT_TRUE(resp.ok()) << resp.status().ToString();
    return resp.ok() ? *resp : http::Response{};
  }

  int64_t Now() { return common::ToUnixSeconds(common::SystemClock::Instance().Now()); }

  CloudContext context_{CloudConfig{}, common::SystemClock::Instance()};
  std::shared_ptr<XSandboxService> service_;
  std::unique_ptr<http::HttpServer> server_;
  http::CurlHttpClient http_;
  std::string base_;
};

TEST_F(XSandboxTest, UploadedImagePostedAppearsInPostsAndTimeline) {
  x::XClient client = Client();
  auto media = client.UploadMedia(kPng, "image/png");
  ASSERT_TRUE(media.ok()) << media.status().ToString();
  auto post = client.CreatePost("Hello <sandbox> & friends", {*media});
  ASSERT_TRUE(post.ok()) << post.status().ToString();
  EXPECT_EQ(post->text, "Hello <sandbox> & friends");

  json posts = json::parse(Get("/x/2/sandbox/posts").body);
  ASSERT_EQ(posts["data"].size(), 1u);
  const json& p = posts["data"][0];
  EXPECT_EQ(p["id"], post->id);
  EXPECT_EQ(p["text"], "Hello <sandbox> & friends");
  EXPECT_EQ(p["media_ids"], json::array({*media}));
  EXPECT_TRUE(common::ParseIso8601(p["created_at"].get<std::string>()).has_value());
  std::string url = p["image_url"];
  EXPECT_EQ(url, base_ + "/x/media/" + *media);
  http::Response image = Get(url.substr(base_.size()));
  EXPECT_EQ(image.status, 200);
  EXPECT_EQ(image.body, kPng);
  EXPECT_EQ(image.headers.GetOr("Content-Type", ""), "image/png");

  http::Response page = Get("/x/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("Hello &lt;sandbox&gt; &amp; friends"), std::string::npos);
  EXPECT_NE(page.body.find("<img src=\"/x/media/" + *media + "\""), std::string::npos);
}

TEST_F(XSandboxTest, ChunkedUploadReassemblesTheBytes) {
  std::string big = kPng + std::string(100, 'z');  // > simple_upload_max_bytes: chunked
  x::XClient client = Client();
  auto media = client.UploadMedia(big, "image/png");
  ASSERT_TRUE(media.ok()) << media.status().ToString();
  ASSERT_TRUE(client.CreatePost("", {*media}).ok());
  EXPECT_EQ(Get("/x/media/" + *media).body, big);
}

TEST_F(XSandboxTest, TimelineIsNewestFirst) {
  x::XClient client = Client();
  ASSERT_TRUE(client.CreatePost("first").ok());
  ASSERT_TRUE(client.CreatePost("second").ok());
  std::string page = Get("/x/").body;
  EXPECT_LT(page.find("second"), page.find("first"));
  json posts = json::parse(Get("/x/2/sandbox/posts").body);
  EXPECT_EQ(posts["data"][0]["text"], "second");
  EXPECT_GT(posts["data"][0]["id"].get<std::string>().size(), 15u);
}

TEST_F(XSandboxTest, OAuthFreshAcceptedAndBadRequestsRefused) {
  EXPECT_EQ(Raw("POST", "/x/2/tweets", R"({"text":"fresh"})", "n-fresh", Now()).status, 201);

  http::Response wrong =
      Raw("POST", "/x/2/tweets", R"({"text":"a"})", "n-wrong", Now(), {"ck", "WRONG", "at", "ats"});
  EXPECT_EQ(wrong.status, 401);
  json body = json::parse(wrong.body);
  EXPECT_EQ(body["title"], "Unauthorized");
  EXPECT_EQ(body["status"], 401);
  EXPECT_NE(body["detail"].get<std::string>().find("signature"), std::string::npos);

  EXPECT_EQ(Raw("POST", "/x/2/tweets", R"({"text":"b"})", "n-stale", Now() - 600).status, 401);

  EXPECT_EQ(Raw("POST", "/x/2/tweets", R"({"text":"c"})", "n-reuse", Now()).status, 201);
  http::Response replay = Raw("POST", "/x/2/tweets", R"({"text":"c"})", "n-reuse", Now());
  EXPECT_EQ(replay.status, 401);
  EXPECT_NE(replay.body.find("nonce"), std::string::npos);

  http::ClientRequest unsigned_request;
  unsigned_request.method = "POST";
  unsigned_request.url = base_ + "/x/2/tweets";
  unsigned_request.body = R"({"text":"d"})";
  EXPECT_EQ(http_.Send(unsigned_request)->status, 401);

  // Only the fresh and the first reused-nonce requests made posts.
  EXPECT_EQ(json::parse(Get("/x/2/sandbox/posts").body)["data"].size(), 2u);

  auto refused = Client({"ck", "cs", "at", "WRONG"}).CreatePost("x");
  EXPECT_EQ(refused.status().code(), common::Code::kPermissionDenied);
  EXPECT_EQ(refused.status().message().find("WRONG"), std::string::npos);
}

TEST_F(XSandboxTest, FailSwitchAnswers429ThenRecovers) {
  http::ClientRequest fail;
  fail.method = "POST";
  fail.url = base_ + "/x/2/sandbox/fail";
  fail.body = R"({"status":429,"count":1,"reset_after_secs":7})";
  ASSERT_EQ(http_.Send(fail)->status, 200);
  x::XClient client = Client();
  auto first = client.CreatePost("retry me");
  ASSERT_EQ(first.status().code(), common::Code::kResourceExhausted);
  ASSERT_TRUE(x::RetryAfter(first.status()).has_value());
  EXPECT_GE(x::RetryAfter(first.status())->count(), 5);
  EXPECT_LE(x::RetryAfter(first.status())->count(), 7);
  EXPECT_TRUE(client.CreatePost("retry me").ok());

  fail.body = R"({"status":503,"count":2})";
  ASSERT_EQ(http_.Send(fail)->status, 200);
  EXPECT_EQ(client.CreatePost("a").status().code(), common::Code::kUnavailable);
  EXPECT_EQ(client.UploadMedia(kPng, "image/png").status().code(), common::Code::kUnavailable);
  EXPECT_TRUE(client.CreatePost("a").ok());
}

// Test-only fault injection: an outage of a few seconds rather than a count of requests,
// with X's Retry-After on the 503s.
TEST_F(XSandboxTest, FailSwitchOutageWindowEnds) {
  http::ClientRequest fail;
  fail.method = "POST";
  fail.url = base_ + "/x/2/sandbox/fail";
  fail.body = R"({"status":503,"seconds":1,"retry_after_secs":2})";
  ASSERT_EQ(http_.Send(fail)->status, 200);
  x::XClient client = Client();
  auto start = std::chrono::steady_clock::now();
  int failures = 0;
  common::Status last = client.CreatePost("during").status();
  while (!last.ok() && std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
    ASSERT_EQ(last.code(), common::Code::kUnavailable) << last.ToString();
    ASSERT_TRUE(x::RetryAfter(last).has_value()) << last.ToString();
    EXPECT_EQ(x::RetryAfter(last)->count(), 2);
    ++failures;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    last = client.CreatePost("during").status();
  }
  EXPECT_TRUE(last.ok()) << last.ToString();
  EXPECT_GE(failures, 3);  // every request of the window failed, not a count of them
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900));

  fail.body = R"({"status":503,"seconds":-1})";
  EXPECT_EQ(http_.Send(fail)->status, 400);
}

TEST_F(XSandboxTest, RejectsBadMediaAndUnknownMediaIds) {
  x::XClient client = Client();
  auto not_image = client.UploadMedia("plain text", "image/png");
  EXPECT_EQ(not_image.status().code(), common::Code::kInvalidArgument);
  auto post = client.CreatePost("x", {"123"});
  EXPECT_EQ(post.status().code(), common::Code::kInvalidArgument);
  EXPECT_EQ(client.CreatePost(std::string(281, 'a')).status().code(),
            common::Code::kInvalidArgument);
  EXPECT_TRUE(client.CreatePost(std::string(280, 'a')).ok());
}

// v1.1 as stock clients (twitter-api-v2) use it: media/upload.json (simple and chunked,
// media_id_string) and statuses/update.json, form-encoded and OAuth-signed with the form.
TEST_F(XSandboxTest, V1MediaUploadAndStatusUpdate) {
  int nonce = 0;
  auto form = [&](const std::string& path, const x::OAuthParams& params) {
    http::ClientRequest r;
    r.method = "POST";
    r.url = base_ + path;
    std::string body;
    for (const auto& [k, v] : params) {
      body += (body.empty() ? "" : "&") + common::FormEncode(k) + "=" + common::FormEncode(v);
    }
    r.body = body;
    r.headers.Set("Content-Type", "application/x-www-form-urlencoded");
    r.headers.Set("Authorization",
                  x::SignRequest({"ck", "cs", "at", "ats"}, "POST", r.url, params,
                                 "n" + std::to_string(++nonce), std::to_string(Now())));
    auto resp = http_.Send(r);
    EXPECT_TRUE(resp.ok()) << resp.status().ToString();
    return resp.ok() ? *resp : http::Response{};
  };
  const std::string media = "/x/1.1/media/upload.json";
  // Simple: base64 media_data in the form.
  http::Response simple = form(media, {{"media_data", common::Base64Encode(kPng)}});
  ASSERT_EQ(simple.status, 200) << simple.body;
  json simple_json = json::parse(simple.body);
  std::string simple_id = simple_json["media_id_string"];
  EXPECT_EQ(simple_json["media_id"].get<uint64_t>(), std::stoull(simple_id));
  // Chunked: INIT, APPEND (204), FINALIZE.
  http::Response init = form(media, {{"command", "INIT"},
                                     {"total_bytes", std::to_string(kPng.size())},
                                     {"media_type", "image/png"}});
  ASSERT_EQ(init.status, 200) << init.body;
  std::string id = json::parse(init.body)["media_id_string"];
  http::Response append = form(media, {{"command", "APPEND"},
                                       {"media_id", id},
                                       {"segment_index", "0"},
                                       {"media_data", common::Base64Encode(kPng)}});
  EXPECT_EQ(append.status, 204) << append.body;
  http::Response fin = form(media, {{"command", "FINALIZE"}, {"media_id", id}});
  ASSERT_EQ(fin.status, 200) << fin.body;
  EXPECT_EQ(json::parse(fin.body)["size"], kPng.size());
  // A post with both.
  http::Response post = form("/x/1.1/statuses/update.json",
                             {{"status", "hello v1.1"}, {"media_ids", simple_id + "," + id}});
  ASSERT_EQ(post.status, 200) << post.body;
  json tweet = json::parse(post.body);
  EXPECT_EQ(tweet["text"], "hello v1.1");
  EXPECT_FALSE(tweet["id_str"].get<std::string>().empty());
  json posts = json::parse(Get("/x/2/sandbox/posts").body);
  EXPECT_EQ(posts["data"][0]["media_ids"], json::array({simple_id, id}));
  // Unknown media is refused as v1.1 clients expect (an errors array).
  http::Response bad = form("/x/1.1/statuses/update.json", {{"status", "x"}, {"media_ids", "1"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_TRUE(json::parse(bad.body).contains("errors"));
}

}  // namespace
}  // namespace localcloud::xsandbox
