// The twitter binary against localcloud (S3 and the X sandbox), both started here: every
// event shape, both protocols, idempotency, auth failure, rate limits, bad input, downscaling.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "aws/client.h"
#include "aws/credentials.h"
#include "aws/s3_client.h"
#include "common/crypto.h"
#include "common/strings.h"
#include "common/subprocess.h"
#include "common/testing/test_data.h"
#include "http/client.h"
#include "image/test_images.h"
#include "image/watermark.h"
#include "localcloud/models/model_checker.h"

namespace twitter {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kBucket = "photos";

json LoadEvent(const std::string& name) {
  return json::parse(common::testing::ReadTestData("aws-events/" + name));
}

json EventBridgeEvent(const std::string& key, const std::string& etag, uint64_t size) {
  json e = LoadEvent("s3-eventbridge-object-created.json");
  e["id"] = common::NewUuid();
  e["region"] = "us-west-2";
  e["detail"]["bucket"]["name"] = kBucket;
  e["detail"]["object"] = {{"key", key}, {"size", size}, {"etag", etag}};
  return e;
}

json CloudTrailEvent(const std::string& key) {
  json e = LoadEvent("cloudtrail-s3-putobject.json");
  e["id"] = common::NewUuid();
  e["detail"]["awsRegion"] = "us-west-2";
  e["detail"]["requestParameters"]["bucketName"] = kBucket;
  e["detail"]["requestParameters"]["key"] = key;
  return e;
}

json NotificationEvent(const std::string& key, const std::string& etag) {
  json e = LoadEvent("s3-notification-record.json");
  e["Records"][0]["s3"]["bucket"]["name"] = kBucket;
  e["Records"][0]["s3"]["object"]["key"] = common::FormEncode(key);
  e["Records"][0]["s3"]["object"]["eTag"] = etag;
  return e;
}

class TwitterE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    common::SpawnOptions lc;
    // LOCALCLOUD_BIN overrides the binary (e.g. one built elsewhere while this tree builds).
    const char* bin = std::getenv("LOCALCLOUD_BIN");
    lc.argv = {bin != nullptr ? std::string(bin) : std::string(DAT_BIN_DIR) + "/localcloud",
               "--port", "0", "--log-level", "warn"};
    // The function's S3 requests are judged by AWS's models.
    for (const auto& f : localcloud::models::StrictModelsFlags()) lc.argv.push_back(f);
    lc.stdout_to = "pipe";
    auto p = common::Process::Spawn(lc);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    localcloud_ = new common::Process(std::move(*p));
    auto url = common::WaitForListening(*localcloud_, seconds(30));
    ASSERT_TRUE(url.ok()) << url.status().ToString();
    cloud_url_ = *url;

    aws::AwsConfig config;
    config.region = "us-west-2";
    config.endpoint_url = cloud_url_;
    credentials_ = new aws::StaticCredentialsProvider(aws::Credentials{"test", "test", "", {}});
    aws::ClientOptions options;
    options.config = config;
    options.credentials = credentials_;
    s3_ = new aws::S3Client(options);
    auto created = s3_->CreateBucket(kBucket);
    ASSERT_TRUE(created.ok()) << created.status().ToString();

    // The function, with secrets in its environment for CloudEvents requests (which carry
    // none); Dispatch requests bring theirs in the context.
    common::SpawnOptions fn;
    fn.argv = {std::string(DAT_BIN_DIR) + "/twitter", "--log-level", "warn", "--max-inline-wait-ms",
               "3000"};
    fn.env = {"PORT=0",
              "TWITTER_MAX_OBJECT_BYTES=268435456",
              "SECRET_AWS_AWS_ACCESS_KEY_ID=test",
              "SECRET_AWS_AWS_SECRET_ACCESS_KEY=test",
              "SECRET_AWS_ENDPOINT_URL=" + cloud_url_,
              "SECRET_AWS_REGION=us-west-2",
              "SECRET_TWITTER_APPKEY=test",
              "SECRET_TWITTER_APPSECRET=test",
              "SECRET_TWITTER_OATHTOKEN=test",
              "SECRET_TWITTER_OATHTOKENSECRET=test",
              "SECRET_TWITTER_APIBASE=" + cloud_url_ + "/x"};
    fn.stdout_to = "pipe";
    auto f = common::Process::Spawn(fn);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    function_ = new common::Process(std::move(*f));
    auto furl = common::WaitForListening(*function_, seconds(30));
    ASSERT_TRUE(furl.ok()) << furl.status().ToString();
    function_url_ = *furl;
  }

  static void TearDownTestSuite() {
    delete function_;
    delete localcloud_;
    delete s3_;
    delete credentials_;
    function_ = nullptr;
    localcloud_ = nullptr;
  }

  void SetUp() override {
    if (function_ == nullptr || localcloud_ == nullptr) GTEST_SKIP() << "setup failed";
  }

  static json Secrets(const std::string& token_secret = "test") {
    return {{"aws",
             {{"aws_access_key_id", "test"},
              {"aws_secret_access_key", "test"},
              {"endpoint_url", cloud_url_},
              {"region", "us-west-2"}}},
            {"twitter",
             {{"appKey", "test"},
              {"appSecret", "test"},
              {"oathToken", "test"},
              {"oathTokenSecret", token_secret},
              {"apiBase", cloud_url_ + "/x"}}}};
  }

  static http::Response Send(const std::string& method, const std::string& url,
                             std::string body = "", http::Headers headers = {}) {
    http::ClientRequest req;
    req.method = method;
    req.url = url;
    req.body = std::move(body);
    req.headers = std::move(headers);
    req.timeout = milliseconds(120'000);
    if (!req.headers.Has("Content-Type")) req.headers.Set("Content-Type", "application/json");
    auto r = http::DefaultHttpClient().Send(req);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : http::Response{599, {}, ""};
  }

  // Runs the function through the Dispatch protocol.
  static http::Response Invoke(const json& payload, const json& secrets = Secrets()) {
    json body = {{"context", {{"secrets", secrets}}}, {"payload", payload}};
    return Send("POST", function_url_ + "/", body.dump());
  }

  static std::string Put(const std::string& key, const std::string& data,
                         const std::string& content_type = "image/jpeg") {
    aws::PutObjectOptions opt;
    opt.content_type = content_type;
    auto r = s3_->PutObject(kBucket, key, data, opt);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::string etag = r.ok() ? r->etag : "";
    if (etag.size() >= 2 && etag.front() == '"') etag = etag.substr(1, etag.size() - 2);
    return etag;
  }

  static json Posts() {
    http::Response r = Send("GET", cloud_url_ + "/x/2/sandbox/posts");
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body)["data"];
  }

  static json FindPost(const std::string& id) {
    for (const json& p : Posts()) {
      if (p["id"] == id) return p;
    }
    return json();
  }

  static std::string Media(const std::string& media_id) {
    http::Response r = Send("GET", cloud_url_ + "/x/media/" + media_id);
    EXPECT_EQ(r.status, 200);
    return r.body;
  }

  static void FailNext(int status, int count, int reset_after_secs) {
    json body = {{"status", status}, {"count", count}, {"reset_after_secs", reset_after_secs}};
    http::Response r = Send("POST", cloud_url_ + "/x/2/sandbox/fail", body.dump());
    ASSERT_LT(r.status, 300) << r.body;
  }

  // Checks that the posted media is `input` with the logo: decoded, the pixels differ inside
  // the box the engine may change and are identical everywhere else.
  static void ExpectWatermarkedCopy(const std::string& input, const std::string& posted) {
    auto reference = image::Watermark(input, image::WatermarkOptions{});
    ASSERT_TRUE(reference.ok()) << reference.status().ToString();
    const image::Box box = reference->changed_box;
    ASSERT_FALSE(box.empty());
    auto a = image::testing::DecodeJpeg(input);
    auto b = image::testing::DecodeJpeg(posted);
    ASSERT_FALSE(b.pixels.empty()) << "the posted media is not a JPEG";
    ASSERT_EQ(a.width, b.width);
    ASSERT_EQ(a.height, b.height);
    ASSERT_EQ(a.channels, b.channels);
    size_t differ_inside = 0, differ_outside = 0;
    for (int y = 0; y < a.height; ++y) {
      for (int x = 0; x < a.width; ++x) {
        const bool inside =
            x >= box.x && x < box.x + box.width && y >= box.y && y < box.y + box.height;
        for (int c = 0; c < a.channels; ++c) {
          size_t i = (static_cast<size_t>(y) * a.width + x) * a.channels + c;
          if (a.pixels[i] != b.pixels[i]) ++(inside ? differ_inside : differ_outside);
        }
      }
    }
    EXPECT_EQ(differ_outside, 0u) << "pixels outside the logo box changed";
    EXPECT_GT(differ_inside, static_cast<size_t>(box.width * box.height / 10))
        << "the logo region is (almost) unchanged";
  }

  static std::string SmallJpeg(uint32_t seed) {
    image::testing::JpegSpec spec;
    spec.width = 640;
    spec.height = 480;
    spec.pattern = image::testing::Pattern::kPhoto;
    // Distinct bytes per test (a COM marker), so each upload is its own object version.
    spec.comment = "seed " + std::to_string(seed) + " " + common::NewUuid();
    return image::testing::MakeJpeg(spec);
  }

  static void ExpectPosted(const http::Response& r, const std::string& input) {
    ASSERT_EQ(r.status, 200) << r.body;
    json j = json::parse(r.body);
    ASSERT_EQ(j["status"], "posted") << r.body;
    json post = FindPost(j["tweet_id"]);
    ASSERT_TRUE(post.is_object()) << "no post " << j["tweet_id"];
    ASSERT_EQ(post["media_ids"].size(), 1u);
    ExpectWatermarkedCopy(input, Media(post["media_ids"][0]));
    EXPECT_EQ(j["bytes_in"], input.size());
    EXPECT_TRUE(j["ms"].contains("download") && j["ms"].contains("post"));
  }

  // The formats people upload: tools that write them, and a post of each.
  // Runs an encoder; its failure fails the test.
  static void RunTool(const std::vector<std::string>& argv) {
    common::SpawnOptions opt;
    opt.argv = argv;
    auto r = common::RunCommand(opt, seconds(60), "");
    EXPECT_TRUE(r.ok() && r->exit_code == 0) << (r.ok() ? r->err : r.status().ToString());
  }
  // Runs an encoder that writes `out` (a Tmp() file), returns the file's bytes and deletes it.
  static std::string Make(const std::vector<std::string>& argv, const std::string& out) {
    RunTool(argv);
    std::ifstream in(out, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), {});
    if (common::StartsWith(out, Tmp(""))) std::remove(out.c_str());
    return data;
  }
  static std::string Tmp(const std::string& name) {
    return "/tmp/twitter_formats_" + std::to_string(getpid()) + "_" + name;
  }
  // Uploads `data` under `key`, runs the function, returns its result and the posted media.
  static json PostAndFetch(const std::string& key, const std::string& data,
                           const std::string& content_type, http::Response* media) {
    const std::string etag = Put(key, data, content_type);
    http::Response r = Invoke(EventBridgeEvent(key, etag, data.size()));
    EXPECT_EQ(r.status, 200) << r.body;
    json j = json::parse(r.body, nullptr, false);
    EXPECT_EQ(j.value("status", ""), "posted") << r.body;
    json post = FindPost(j.value("tweet_id", ""));
    EXPECT_TRUE(post.is_object()) << r.body;
    if (post.is_object()) {
      *media = Send("GET", cloud_url_ + "/x/media/" + post["media_ids"][0].get<std::string>());
    }
    return j;
  }

  static common::Process* localcloud_;
  static common::Process* function_;
  static std::string cloud_url_;
  static std::string function_url_;
  static aws::CredentialsProvider* credentials_;
  static aws::S3Client* s3_;
};

common::Process* TwitterE2eTest::localcloud_ = nullptr;
common::Process* TwitterE2eTest::function_ = nullptr;
std::string TwitterE2eTest::cloud_url_;
std::string TwitterE2eTest::function_url_;
aws::CredentialsProvider* TwitterE2eTest::credentials_ = nullptr;
aws::S3Client* TwitterE2eTest::s3_ = nullptr;

TEST_F(TwitterE2eTest, Healthz) { EXPECT_EQ(Send("GET", function_url_ + "/healthz").status, 200); }

TEST_F(TwitterE2eTest, EventBridgeShapePostsTheWatermarkedImage) {
  std::string jpeg = SmallJpeg(1);
  std::string etag = Put("images/eventbridge.jpg", jpeg);
  http::Response r = Invoke(EventBridgeEvent("images/eventbridge.jpg", etag, jpeg.size()));
  ExpectPosted(r, jpeg);
  json j = json::parse(r.body);
  EXPECT_EQ(j["text"], "eventbridge.jpg");  // the default template: the file name
  EXPECT_EQ(FindPost(j["tweet_id"])["text"], "eventbridge.jpg");
}

TEST_F(TwitterE2eTest, CloudTrailShapePostsTheWatermarkedImage) {
  std::string jpeg = SmallJpeg(2);
  Put("images/cloud trail.jpg", jpeg);
  ExpectPosted(Invoke(CloudTrailEvent("images/cloud trail.jpg")), jpeg);
}

TEST_F(TwitterE2eTest, S3NotificationShapeWithEncodedKeyPostsTheWatermarkedImage) {
  std::string jpeg = SmallJpeg(3);
  const std::string key = "images/red flower ünï+1.jpg";
  std::string etag = Put(key, jpeg);
  ExpectPosted(Invoke(NotificationEvent(key, etag)), jpeg);
}

TEST_F(TwitterE2eTest, KeyOutsideTheFolderIsSkipped) {
  std::string jpeg = SmallJpeg(4);
  std::string etag = Put("other/a.jpg", jpeg);
  size_t before = Posts().size();
  http::Response r = Invoke(EventBridgeEvent("other/a.jpg", etag, jpeg.size()));
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["status"], "skipped");
  EXPECT_NE(j["reason"].get<std::string>().find("images/"), std::string::npos);
  EXPECT_EQ(Posts().size(), before);
}

TEST_F(TwitterE2eTest, NonImageContentTypeAndExtensionIsSkipped) {
  Put("images/notes.txt", "just text", "text/plain");
  http::Response r = Invoke(CloudTrailEvent("images/notes.txt"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["status"], "skipped");
}

TEST_F(TwitterE2eTest, DuplicateEventPostsOnce) {
  std::string jpeg = SmallJpeg(5);
  std::string etag = Put("images/dup.jpg", jpeg);
  json event = EventBridgeEvent("images/dup.jpg", etag, jpeg.size());
  size_t before = Posts().size();
  http::Response first = Invoke(event);
  ASSERT_EQ(first.status, 200) << first.body;
  ASSERT_EQ(json::parse(first.body)["status"], "posted");
  // The same object version again, as the same event and as another shape.
  http::Response again = Invoke(event);
  ASSERT_EQ(again.status, 200) << again.body;
  json j = json::parse(again.body);
  EXPECT_EQ(j["status"], "skipped");
  EXPECT_EQ(j["tweet_id"], json::parse(first.body)["tweet_id"]);
  http::Response other_shape = Invoke(CloudTrailEvent("images/dup.jpg"));
  EXPECT_EQ(json::parse(other_shape.body)["status"], "skipped");
  EXPECT_EQ(Posts().size(), before + 1);
  // The record the function keeps is not itself posted when its event arrives.
  aws::ListObjectsOptions list;
  list.prefix = ".dispatch-posted/";
  auto listed = s3_->ListObjectsV2(kBucket, list);
  ASSERT_TRUE(listed.ok());
  ASSERT_FALSE(listed->objects.empty());
  http::Response record_event = Invoke(CloudTrailEvent(listed->objects[0].key));
  EXPECT_EQ(json::parse(record_event.body)["status"], "skipped");
}

TEST_F(TwitterE2eTest, WrongTokenSecretIsAClearAuthErrorAndNoPost) {
  std::string jpeg = SmallJpeg(6);
  std::string etag = Put("images/auth.jpg", jpeg);
  size_t before = Posts().size();
  const std::string bad_secret = "not-the-token-secret-4242";
  http::Response r =
      Invoke(EventBridgeEvent("images/auth.jpg", etag, jpeg.size()), Secrets(bad_secret));
  EXPECT_EQ(r.status, 500) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["type"], "FunctionError");
  EXPECT_EQ(j["retryable"], false);
  EXPECT_NE(j["message"].get<std::string>().find("refused the credentials"), std::string::npos)
      << r.body;
  EXPECT_EQ(r.body.find(bad_secret), std::string::npos) << "the secret leaked";
  EXPECT_EQ(Posts().size(), before);
}

TEST_F(TwitterE2eTest, ShortRateLimitIsRetriedInProcess) {
  std::string jpeg = SmallJpeg(7);
  std::string etag = Put("images/ratelimited.jpg", jpeg);
  FailNext(429, 1, 1);
  ExpectPosted(Invoke(EventBridgeEvent("images/ratelimited.jpg", etag, jpeg.size())), jpeg);
}

TEST_F(TwitterE2eTest, LongRateLimitIsARetryableErrorWithTheWait) {
  std::string jpeg = SmallJpeg(8);
  std::string etag = Put("images/later.jpg", jpeg);
  json event = EventBridgeEvent("images/later.jpg", etag, jpeg.size());
  size_t before = Posts().size();
  FailNext(429, 1, 120);
  http::Response r = Invoke(event);
  EXPECT_EQ(r.status, 500) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["type"], "FunctionError");
  EXPECT_EQ(j["retryable"], true);
  ASSERT_TRUE(j.contains("retry_after_ms")) << r.body;
  EXPECT_GT(j["retry_after_ms"].get<int64_t>(), 60'000);
  EXPECT_FALSE(r.headers.GetOr("Retry-After", "").empty());
  EXPECT_EQ(Posts().size(), before);
  // The caller retries later: posted once.
  ExpectPosted(Invoke(event), jpeg);
}

TEST_F(TwitterE2eTest, ServerErrorFromXIsRetryable) {
  std::string jpeg = SmallJpeg(9);
  std::string etag = Put("images/503.jpg", jpeg);
  FailNext(503, 1, 0);
  http::Response r = Invoke(EventBridgeEvent("images/503.jpg", etag, jpeg.size()));
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_EQ(json::parse(r.body)["retryable"], true);
}

// X's outage with a Retry-After: the wait comes back to the runtime as retry_after_ms, and
// once X is back the retry posts the upload once.
TEST_F(TwitterE2eTest, ServerErrorWithRetryAfterCarriesTheWait) {
  std::string jpeg = SmallJpeg(10);
  std::string etag = Put("images/503-later.jpg", jpeg);
  json event = EventBridgeEvent("images/503-later.jpg", etag, jpeg.size());
  json fail = {{"status", 503}, {"seconds", 60}, {"retry_after_secs", 90}};
  ASSERT_LT(Send("POST", cloud_url_ + "/x/2/sandbox/fail", fail.dump()).status, 300);
  struct EndOutage {  // even when an assertion returns early: the other tests share X
    ~EndOutage() { FailNext(503, 0, 0); }
  } end_outage;
  size_t before = Posts().size();
  http::Response r = Invoke(event);
  EXPECT_EQ(r.status, 500) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["retryable"], true);
  ASSERT_TRUE(j.contains("retry_after_ms")) << r.body;
  EXPECT_EQ(j["retry_after_ms"], 90'000);
  EXPECT_EQ(Posts().size(), before);
  FailNext(503, 0, 0);  // X is back
  ExpectPosted(Invoke(event), jpeg);
  (void)end_outage;
}

TEST_F(TwitterE2eTest, ObjectThatIsNotAnImageIsInputError) {
  Put("images/fake.jpg", "this is not a JPEG at all", "image/jpeg");
  size_t before = Posts().size();
  http::Response r = Invoke(CloudTrailEvent("images/fake.jpg"));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(json::parse(r.body)["type"], "InputError");
  EXPECT_EQ(Posts().size(), before);
}

TEST_F(TwitterE2eTest, PayloadThatIsNotAnS3EventIsInputError) {
  http::Response r = Invoke(json{{"hello", "world"}});
  EXPECT_EQ(r.status, 400);
  json j = json::parse(r.body);
  EXPECT_EQ(j["type"], "InputError");
  EXPECT_NE(j["message"].get<std::string>().find("Object Created"), std::string::npos);
  r = Send("POST", function_url_ + "/", "{malformed");
  EXPECT_EQ(r.status, 400);
}

TEST_F(TwitterE2eTest, LargeJpegIsDownscaledUnderFiveMegabytesAndPosted) {
  image::testing::JpegSpec spec;
  spec.width = 6000;
  spec.height = 4500;
  spec.quality = 100;
  spec.h_samp = 1;
  spec.v_samp = 1;
  spec.pattern = image::testing::Pattern::kNoise;
  std::string jpeg = image::testing::MakeJpeg(spec);
  ASSERT_GT(jpeg.size(), 30u * 1000 * 1000) << "the generated JPEG should be over 30 MB";
  std::string etag = Put("images/huge.jpg", jpeg);
  http::Response r = Invoke(EventBridgeEvent("images/huge.jpg", etag, jpeg.size()));
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  ASSERT_EQ(j["status"], "posted") << r.body;
  EXPECT_EQ(j["downscaled"], true);
  EXPECT_LE(j["bytes_out"].get<uint64_t>(), 5u * 1024 * 1024);
  json post = FindPost(j["tweet_id"]);
  std::string media = Media(post["media_ids"][0]);
  EXPECT_LE(media.size(), 5u * 1024 * 1024);
  auto probe = image::Probe(media);
  ASSERT_TRUE(probe.ok());
  EXPECT_LT(probe->width, spec.width);
}

TEST_F(TwitterE2eTest, CloudEventsBinaryAndStructuredUseEnvironmentSecrets) {
  std::string jpeg = SmallJpeg(10);
  std::string etag = Put("images/ce-binary.jpg", jpeg);
  http::Headers h;
  h.Set("ce-specversion", "1.0");
  h.Set("ce-id", common::NewUuid());
  h.Set("ce-source", "aws");
  h.Set("ce-type", "aws.s3");
  h.Set("Content-Type", "application/json");
  http::Response r = Send("POST", function_url_ + "/",
                          EventBridgeEvent("images/ce-binary.jpg", etag, jpeg.size()).dump(), h);
  ExpectPosted(r, jpeg);

  std::string jpeg2 = SmallJpeg(11);
  std::string etag2 = Put("images/ce-structured.jpg", jpeg2);
  json ce = {{"specversion", "1.0"},
             {"id", common::NewUuid()},
             {"source", "aws"},
             {"type", "aws.s3"},
             {"datacontenttype", "application/json"},
             {"data", NotificationEvent("images/ce-structured.jpg", etag2)}};
  http::Headers hs;
  hs.Set("Content-Type", "application/cloudevents+json");
  ExpectPosted(Send("POST", function_url_ + "/", ce.dump(), hs), jpeg2);
}

TEST_F(TwitterE2eTest, DispatchCloudEvent01PayloadIsUnwrapped) {
  std::string jpeg = SmallJpeg(12);
  std::string etag = Put("images/dispatch-ce.jpg", jpeg);
  json ce = {{"namespace", "dispatchframework.io/aws-event"},
             {"eventType", "aws.s3"},
             {"cloudEventsVersion", "0.1"},
             {"sourceType", "aws"},
             {"sourceID", "test"},
             {"source", "aws"},
             {"eventID", common::NewUuid()},
             {"contentType", "application/json"},
             {"data", EventBridgeEvent("images/dispatch-ce.jpg", etag, jpeg.size())}};
  ExpectPosted(Invoke(ce), jpeg);
}

TEST_F(TwitterE2eTest, WriteBackStoresTheCopyAndIgnoresItsEvent) {
  // A second function configured to write back, acting on the whole bucket.
  common::SpawnOptions opt;
  opt.argv = {std::string(DAT_BIN_DIR) + "/twitter",
              "--log-level",
              "warn",
              "--folder",
              "",
              "--write-back-prefix",
              "watermarked/",
              "--text-template",
              "{bucket}: {key}"};
  opt.env = {"PORT=0"};
  opt.stdout_to = "pipe";
  auto p = common::Process::Spawn(opt);
  ASSERT_TRUE(p.ok());
  auto url = common::WaitForListening(*p, seconds(30));
  ASSERT_TRUE(url.ok());

  std::string jpeg = SmallJpeg(13);
  std::string etag = Put("wb/a.jpg", jpeg);
  json body = {{"context", {{"secrets", Secrets()}}},
               {"payload", EventBridgeEvent("wb/a.jpg", etag, jpeg.size())}};
  http::Response r = Send("POST", *url + "/", body.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  ASSERT_EQ(j["status"], "posted") << r.body;
  EXPECT_EQ(j["text"], std::string(kBucket) + ": wb/a.jpg");
  EXPECT_EQ(j["written_back"], "watermarked/wb/a.jpg");
  auto copy = s3_->GetObject(kBucket, "watermarked/wb/a.jpg");
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  EXPECT_EQ(copy->body, Media(FindPost(j["tweet_id"])["media_ids"][0]));
  EXPECT_EQ(copy->content_type, "image/jpeg");

  // The copy's own upload event comes back: ignored.
  body["payload"] = CloudTrailEvent("watermarked/wb/a.jpg");
  r = Send("POST", *url + "/", body.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["status"], "skipped");
  EXPECT_EQ(p->Terminate(), 0);
}

TEST(TwitterProcessTest, SigtermStopsGracefully) {
  common::SpawnOptions fn;
  fn.argv = {std::string(DAT_BIN_DIR) + "/twitter", "--log-level", "warn"};
  fn.env = {"PORT=0"};
  fn.stdout_to = "pipe";
  auto p = common::Process::Spawn(fn);
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(common::WaitForListening(*p, seconds(30)).ok());
  p->Signal(SIGTERM);
  auto code = p->Wait(milliseconds(15'000));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);
}

TEST(TwitterProcessTest, HelpDocumentsFlagsAndEnvironment) {
  common::SpawnOptions opt;
  opt.argv = {std::string(DAT_BIN_DIR) + "/twitter", "--help"};
  auto r = common::RunCommand(opt, milliseconds(15'000));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0);
  for (const char* s : {"--folder", "TWITTER_FOLDER", "--posted-prefix", "--write-back-prefix",
                        "--text-template", "SECRET_<SECRET>_<KEY>", "oauthTokenSecret", "PORT"}) {
    EXPECT_NE(r->out.find(s), std::string::npos) << s;
  }
}

}  // namespace
// The formats people upload: each is posted with the media type of what the engine wrote.
TEST_F(TwitterE2eTest, HeicIsPostedAsJpeg) {
  const std::string png = Tmp("base.png"), heic = Tmp("in.heic");
  RunTool({"convert", "-size", "640x480", "gradient:blue-yellow", png});
  std::string data = Make({"heif-enc", "-q", "60", png, "-o", heic}, heic);
  std::remove(png.c_str());
  http::Response media;
  json j = PostAndFetch("images/phone.heic", data, "image/heic", &media);
  EXPECT_EQ(j["format_in"], "heif");
  EXPECT_EQ(j["format"], "jpeg");
  EXPECT_EQ(j["media_category"], "tweet_image");
  EXPECT_EQ(media.headers.Get("Content-Type"), "image/jpeg");
  auto probe = image::Probe(media.body);
  ASSERT_TRUE(probe.ok());
  EXPECT_EQ(probe->width, 640);
}

TEST_F(TwitterE2eTest, AnimatedGifIsPostedAsGifWithTheGifCategory) {
  const std::string gif = Tmp("in.gif");
  std::string data = Make({"convert", "-delay", "20", "-size", "160x120", "xc:red", "xc:green",
                           "xc:blue", "-loop", "0", gif},
                          gif);
  http::Response media;
  json j = PostAndFetch("images/anim.gif", data, "image/gif", &media);
  EXPECT_EQ(j["format"], "gif");
  EXPECT_EQ(j["media_category"], "tweet_gif");
  EXPECT_EQ(media.headers.Get("Content-Type"), "image/gif");
}

TEST_F(TwitterE2eTest, WebpIsPostedAsWebpOrJpeg) {
  const std::string webp = Tmp("in.webp");
  std::string data = Make({"convert", "-size", "640x480", "plasma:", "-quality", "80", webp}, webp);
  http::Response media;
  json j = PostAndFetch("images/pic.webp", data, "image/webp", &media);
  const std::string format = j.value("format", "");
  EXPECT_TRUE(format == "webp" || format == "jpeg") << format;
  EXPECT_EQ(media.headers.Get("Content-Type"), "image/" + format);
}

TEST_F(TwitterE2eTest, AnimatedWebpIsPostedAsAnimatedWebp) {
  const std::string webp = Tmp("anim.webp");
  std::string data = Make({"convert", "-delay", "20", "-size", "160x120", "xc:red", "xc:green",
                           "xc:blue", "-loop", "0", webp},
                          webp);
  http::Response media;
  json j = PostAndFetch("images/anim.webp", data, "image/webp", &media);
  EXPECT_EQ(j["format"], "webp");
  EXPECT_EQ(media.headers.Get("Content-Type"), "image/webp");
  size_t frames = 0;  // ANMF chunks: one per frame
  for (size_t at = media.body.find("ANMF"); at != std::string::npos;
       at = media.body.find("ANMF", at + 4)) {
    ++frames;
  }
  EXPECT_EQ(frames, 3u);
}

TEST_F(TwitterE2eTest, PngOverFiveMegabytesIsPostedAsJpeg) {
  const std::string png = Tmp("noise.png");
  std::string data = Make({"convert", "-size", "1600x1300", "xc:", "+noise", "Random", png}, png);
  ASSERT_GT(data.size(), 5u * 1024 * 1024);
  http::Response media;
  json j = PostAndFetch("images/big.png", data, "image/png", &media);
  EXPECT_EQ(j["format_in"], "png");
  EXPECT_EQ(j["format"], "jpeg");
  EXPECT_LE(media.body.size(), 5u * 1024 * 1024);
  EXPECT_EQ(media.headers.Get("Content-Type"), "image/jpeg");
}

}  // namespace twitter
