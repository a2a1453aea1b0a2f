#include "twitter/twitter_function.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <cstdlib>
#include <memory>
#include <thread>

#include "aws/client.h"
#include "aws/config.h"
#include "aws/credentials.h"
#include "aws/s3_client.h"
#include "common/crypto.h"
#include "common/strings.h"
#include "x/client.h"

namespace twitter {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

int64_t MillisSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

std::string Basename(const std::string& key) {
  auto slash = key.rfind('/');
  return slash == std::string::npos ? key : key.substr(slash + 1);
}

std::string Extension(const std::string& key) {
  std::string name = Basename(key);
  auto dot = name.rfind('.');
  return dot == std::string::npos ? "" : common::ToLower(name.substr(dot + 1));
}

json Skipped(const S3ObjectRef& ref, std::string reason) {
  return json{{"status", "skipped"},
              {"reason", std::move(reason)},
              {"bucket", ref.bucket},
              {"key", ref.key}};
}

std::string PostUrl(const std::string& tweet_id) {
  return "https://x.com/i/web/status/" + tweet_id;
}

std::optional<std::string> Env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

common::Status ParseU64(const char* name, const std::string& s, uint64_t* out) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) {
    return common::InvalidArgument(std::string(name) + " is not a non-negative integer: " + s);
  }
  *out = v;
  return common::Status::Ok();
}

}  // namespace

common::Status Options::ApplyEnvironment() {
  if (auto v = Env("TWITTER_FOLDER")) folder = *v;
  if (auto v = Env("TWITTER_POSTED_PREFIX")) posted_prefix = *v;
  if (auto v = Env("TWITTER_WRITE_BACK_PREFIX")) write_back_prefix = *v;
  if (auto v = Env("TWITTER_TEXT_TEMPLATE")) text_template = *v;
  if (auto v = Env("TWITTER_API_BASE")) api_base = *v;
  if (auto v = Env("TWITTER_MAX_OBJECT_BYTES")) {
    DAT_RETURN_IF_ERROR(ParseU64("TWITTER_MAX_OBJECT_BYTES", *v, &max_object_bytes));
  }
  if (auto v = Env("TWITTER_KEEP_METADATA")) {
    const std::string flag = common::ToLower(*v);
    if (flag == "1" || flag == "true" || flag == "yes") {
      watermark.keep_metadata = true;
    } else if (flag == "0" || flag == "false" || flag == "no" || flag.empty()) {
      watermark.keep_metadata = false;
    } else {
      return common::InvalidArgument("TWITTER_KEEP_METADATA is not a boolean: " + *v);
    }
  }
  if (auto v = Env("TWITTER_MAX_INLINE_WAIT_MS")) {
    uint64_t ms = 0;
    DAT_RETURN_IF_ERROR(ParseU64("TWITTER_MAX_INLINE_WAIT_MS", *v, &ms));
    max_inline_wait = std::chrono::milliseconds(ms);
  }
  return common::Status::Ok();
}

std::string PostedRecordKey(const std::string& posted_prefix, const std::string& bucket,
                            const std::string& key, const std::string& etag,
                            const std::string& version_id) {
  std::string identity = bucket + "/" + key + "/" + etag;
  if (!version_id.empty()) identity += "/" + version_id;
  return posted_prefix + common::Sha256Hex(identity) + ".json";
}

std::string RenderText(const std::string& text_template, const std::string& bucket,
                       const std::string& key) {
  const std::string& text = text_template;
  // One pass over the template, so a key that itself contains "{key}" stays literal.
  std::string out;
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, 10, "{filename}") == 0) {
      out += Basename(key);
      i += 10;
    } else if (text.compare(i, 5, "{key}") == 0) {
      out += key;
      i += 5;
    } else if (text.compare(i, 8, "{bucket}") == 0) {
      out += bucket;
      i += 8;
    } else {
      out += text[i++];
    }
  }
  // X counts characters, not bytes: keep at most 280 code points, never half of one.
  size_t code_points = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if ((static_cast<unsigned char>(out[i]) & 0xC0) != 0x80 && ++code_points > 280) {
      out.resize(i);
      break;
    }
  }
  return out;
}

bool LooksLikeImage(const std::string& key, const std::string& content_type) {
  static const char* const kExtensions[] = {"jpg", "jpeg", "jpe",  "jfif", "png",  "gif", "webp",
                                            "bmp", "tif",  "tiff", "heic", "heif", "avif"};
  const std::string ext = Extension(key);
  for (const char* e : kExtensions) {
    if (ext == e) return true;
  }
  return common::StartsWith(common::ToLower(content_type), "image/");
}

const char* MediaCategory(image::ImageFormat format, int frames) {
  return format == image::ImageFormat::kGif && frames > 1 ? "tweet_gif" : "tweet_image";
}

// One call of the function: the clients built from this call's secrets and the steps.
class TwitterFunction::Run {
 public:
  Run(const TwitterFunction& fn, const function::Context& ctx) : fn_(fn), ctx_(ctx) {}

  // Builds the S3 client from the aws secret (or, without one, the environment as the SDKs
  // read it). `event_region` is used when the secret names none.
  std::optional<function::Error> InitS3(const std::string& event_region) {
    const std::string name = fn_.options_.aws_secret;
    auto key_id = ctx_.Secret(name, "aws_access_key_id");
    auto secret_key = ctx_.Secret(name, "aws_secret_access_key");
    aws::AwsConfig config;
    if (key_id || secret_key) {
      if (!key_id || !secret_key) {
        return function::Error::Function("the \"" + name +
                                         "\" secret needs both aws_access_key_id and "
                                         "aws_secret_access_key");
      }
      aws::Credentials creds;
      creds.access_key_id = *key_id;
      creds.secret_access_key = *secret_key;
      creds.session_token = ctx_.Secret(name, "aws_session_token").value_or("");
      credentials_ = std::make_unique<aws::StaticCredentialsProvider>(creds);
      config.endpoint_url = ctx_.Secret(name, "endpoint_url").value_or("");
      config.region = ctx_.Secret(name, "region").value_or("");
    } else {
      // No secret: the SDKs' environment (AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL, profiles, …).
      auto loaded = aws::LoadConfig();
      if (!loaded.ok()) return function::Error::Function(loaded.status().message());
      config = std::move(*loaded);
      credentials_ = aws::DefaultCredentialsChain(config, aws::ProcessEnv(), fn_.http_, fn_.clock_);
    }
    if (config.region.empty()) config.region = event_region;
    if (config.region.empty()) config.region = fn_.options_.default_region;
    // A private CA for https, as the SDKs take it (also with keys from the secret).
    if (const char* bundle = std::getenv("AWS_CA_BUNDLE"); config.ca_bundle.empty() && bundle) {
      config.ca_bundle = bundle;
    }
    aws::ClientOptions options;
    options.config = std::move(config);
    options.credentials = credentials_.get();
    options.http = &fn_.http_;
    options.clock = &fn_.clock_;
    s3_ = std::make_unique<aws::S3Client>(std::move(options));
    return std::nullopt;
  }

  // Builds the X client from the twitter secret.
  std::optional<function::Error> InitX() {
    const std::string name = fn_.options_.twitter_secret;
    x::XClientOptions options;
    options.api_base = ctx_.Secret(name, "apiBase").value_or(fn_.options_.api_base);
    while (!options.api_base.empty() && options.api_base.back() == '/') options.api_base.pop_back();
    std::vector<std::string> missing;
    auto need = [&](std::initializer_list<const char*> keys, std::string* out) {
      if (auto v = ctx_.SecretAny(name, keys)) {
        *out = *v;
      } else {
        missing.push_back(*keys.begin());
      }
    };
    need({"appKey"}, &options.credentials.consumer_key);
    need({"appSecret"}, &options.credentials.consumer_secret);
    need({"oathToken", "oauthToken"}, &options.credentials.token);
    need({"oathTokenSecret", "oauthTokenSecret"}, &options.credentials.token_secret);
    if (!missing.empty()) {
      return function::Error::Function("the \"" + name + "\" secret is missing " +
                                       common::Join(missing, ", "));
    }
    options.clock = &fn_.clock_;
    x_ = std::make_unique<x::XClient>(std::move(options), fn_.http_);
    return std::nullopt;
  }

  // Everything for one object: the posted result, a skipped result, or an error.
  function::Outcome Process(const S3ObjectRef& ref, const std::string& event_id) {
    const Options& opt = fn_.options_;
    if (!opt.posted_prefix.empty() && common::StartsWith(ref.key, opt.posted_prefix)) {
      return Skipped(
          ref, "the key is one of this function's posted records (" + opt.posted_prefix + ")");
    }
    if (!opt.write_back_prefix.empty() && common::StartsWith(ref.key, opt.write_back_prefix)) {
      return Skipped(
          ref, "the key is a watermarked copy this function wrote (" + opt.write_back_prefix + ")");
    }
    if (!common::StartsWith(ref.key, opt.folder)) {
      return Skipped(ref, "the key is not under the folder \"" + opt.folder + "\"");
    }
    if (ref.size && *ref.size > opt.max_object_bytes) return TooLarge(ref, *ref.size);

    auto t0 = Clock::now();
    auto head = s3_->HeadObject(ref.bucket, ref.key);
    if (!head.ok()) {
      if (head.status().code() == common::Code::kNotFound) {
        return Skipped(ref, "the object no longer exists");
      }
      return S3Error("reading s3://" + ref.bucket + "/" + ref.key, head.status());
    }
    if (!LooksLikeImage(ref.key, head->content_type)) {
      return Skipped(ref, "neither the extension nor the content type (\"" + head->content_type +
                              "\") says image");
    }
    if (head->content_length > opt.max_object_bytes) return TooLarge(ref, head->content_length);

    std::string etag = StripQuotes(head->etag);
    std::string version_id = head->version_id.empty() ? ref.version_id : head->version_id;
    std::string record_key =
        PostedRecordKey(opt.posted_prefix, ref.bucket, ref.key, etag, version_id);
    if (auto done = AlreadyPosted(ref, record_key)) return *done;

    aws::GetObjectOptions get;
    get.max_bytes = opt.max_object_bytes;
    auto object = s3_->GetObject(ref.bucket, ref.key, get);
    if (!object.ok()) {
      if (object.status().code() == common::Code::kResourceExhausted &&
          object.error().code == "EntityTooLarge") {
        return TooLarge(ref, opt.max_object_bytes + 1);
      }
      return S3Error("downloading s3://" + ref.bucket + "/" + ref.key, object.status());
    }
    // Overwritten between HEAD and GET: this run posts the version it downloaded.
    if (StripQuotes(object->etag) != etag) {
      etag = StripQuotes(object->etag);
      version_id = object->version_id.empty() ? version_id : object->version_id;
      record_key = PostedRecordKey(opt.posted_prefix, ref.bucket, ref.key, etag, version_id);
      if (auto done = AlreadyPosted(ref, record_key)) return *done;
    }
    const std::string& input = object->body;
    const int64_t download_ms = MillisSince(t0);

    auto t1 = Clock::now();
    auto marked = image::Watermark(input, opt.watermark);
    if (!marked.ok()) {
      return function::Error::Input(
          "s3://" + ref.bucket + "/" + ref.key +
          " is not an image this function can watermark: " + marked.status().message());
    }
    bool downscaled = false;
    if (auto error = FitForX(input, &*marked, &downscaled)) return *error;
    const std::string output = std::move(marked->data);
    const int64_t watermark_ms = MillisSince(t1);

    const std::string media_type = image::ImageMimeType(marked->format);
    const char* category = MediaCategory(marked->format, marked->frames);
    auto t2 = Clock::now();
    auto media_id =
        WithInlineRetry<std::string>([&] { return x_->UploadMedia(output, media_type, category); });
    if (!media_id.ok()) return XError("uploading the image to X", media_id.status());
    const int64_t upload_ms = MillisSince(t2);

    auto t3 = Clock::now();
    const std::string text = RenderText(opt.text_template, ref.bucket, ref.key);
    auto post = WithInlineRetry<x::Post>([&] { return x_->CreatePost(text, {*media_id}); });
    if (!post.ok()) return XError("posting on X", post.status());
    const int64_t post_ms = MillisSince(t3);

    json result = {{"status", "posted"},
                   {"tweet_id", post->id},
                   {"url", PostUrl(post->id)},
                   {"text", text},
                   {"bucket", ref.bucket},
                   {"key", ref.key},
                   {"bytes_in", input.size()},
                   {"bytes_out", output.size()},
                   {"format_in", image::ImageFormatName(marked->input_format)},
                   {"format", image::ImageFormatName(marked->format)},
                   {"media_category", category},
                   {"location_removed", marked->location_removed},
                   {"downscaled", downscaled},
                   {"ms",
                    {{"download", download_ms},
                     {"watermark", watermark_ms},
                     {"upload", upload_ms},
                     {"post", post_ms}}}};
    // The record is written after the post: a crash in between posts again on retry (see
    // README.md, "The window"). Failing to write it does not fail the run, which did post.
    json record = {{"tweet_id", post->id}, {"url", PostUrl(post->id)},
                   {"bucket", ref.bucket}, {"key", ref.key},
                   {"etag", etag},         {"version_id", version_id},
                   {"event_id", event_id}};
    aws::PutObjectOptions put;
    put.content_type = "application/json";
    auto recorded = s3_->PutObject(ref.bucket, record_key, record.dump(), put);
    result["recorded"] = recorded.ok();
    if (!recorded.ok()) {
      spdlog::error("posted {} but could not record it at s3://{}/{}: {}", post->id, ref.bucket,
                    record_key, recorded.status().ToString());
    }
    if (!opt.write_back_prefix.empty()) {
      aws::PutObjectOptions copy;
      copy.content_type = media_type;
      const std::string copy_key = opt.write_back_prefix + ref.key;
      auto written = s3_->PutObject(ref.bucket, copy_key, output, copy);
      if (written.ok()) {
        result["written_back"] = copy_key;
      } else {
        spdlog::warn("could not write the watermarked copy to s3://{}/{}: {}", ref.bucket, copy_key,
                     written.status().ToString());
      }
    }
    spdlog::info("posted s3://{}/{} as {} ({} -> {} bytes)", ref.bucket, ref.key, post->id,
                 input.size(), output.size());
    return result;
  }

 private:
  // Makes `marked` fit X's image limit: a JPEG is downscaled; a PNG or WebP is converted to
  // JPEG first (X's 5 MB image limit; GIFs have their own limit, applied by the engine).
  std::optional<function::Error> FitForX(std::string_view input, image::WatermarkResult* marked,
                                         bool* downscaled) const {
    const Options& opt = fn_.options_;
    if (marked->data.size() <= opt.max_upload_bytes || marked->format == image::ImageFormat::kGif) {
      return std::nullopt;
    }
    if (marked->format != image::ImageFormat::kJpeg) {
      image::WatermarkOptions as_jpeg = opt.watermark;
      as_jpeg.output_format = image::ImageFormat::kJpeg;
      auto converted = image::Watermark(input, as_jpeg);
      if (!converted.ok()) {
        return function::Error::Input("the watermarked " +
                                      std::string(image::ImageFormatName(marked->format)) +
                                      " is over X's image limit and cannot be converted to JPEG: " +
                                      converted.status().message());
      }
      *marked = std::move(*converted);
      if (marked->data.size() <= opt.max_upload_bytes) return std::nullopt;
    }
    auto shrunk =
        image::ShrinkJpegToFit(marked->data, opt.max_upload_bytes, opt.watermark.max_pixels);
    if (!shrunk.ok()) {
      return function::Error::Input("cannot fit the image under X's limit of " +
                                    std::to_string(opt.max_upload_bytes) +
                                    " bytes: " + shrunk.status().message());
    }
    marked->data = std::move(*shrunk);
    *downscaled = true;
    return std::nullopt;
  }

  // The skipped result when the record of this object version exists; an error when it
  // cannot be read (posting then could post twice); nullopt when it is absent.
  std::optional<function::Outcome> AlreadyPosted(const S3ObjectRef& ref,
                                                 const std::string& record_key) {
    aws::GetObjectOptions get;
    get.max_bytes = 64 * 1024;
    auto record = s3_->GetObject(ref.bucket, record_key, get);
    if (!record.ok()) {
      if (record.status().code() == common::Code::kNotFound) return std::nullopt;
      return function::Outcome(S3Error(
          "reading the posted record s3://" + ref.bucket + "/" + record_key, record.status()));
    }
    json j = json::parse(record->body, nullptr, /*allow_exceptions=*/false);
    json out = Skipped(ref, "already posted");
    if (j.is_object()) {
      if (j.contains("tweet_id")) out["tweet_id"] = j["tweet_id"];
      if (j.contains("url")) out["url"] = j["url"];
    }
    return function::Outcome(std::move(out));
  }

  function::Error TooLarge(const S3ObjectRef& ref, uint64_t size) const {
    return function::Error::Input("s3://" + ref.bucket + "/" + ref.key + " is " +
                                  std::to_string(size) + " bytes, over the limit of " +
                                  std::to_string(fn_.options_.max_object_bytes));
  }

  static function::Error S3Error(const std::string& what, const common::Status& status) {
    if (status.code() == common::Code::kPermissionDenied ||
        status.code() == common::Code::kUnauthenticated) {
      return function::Error::Function(what + ": S3 refused the credentials of the aws secret (" +
                                       status.message() + ")");
    }
    function::Error e = function::Error::FromStatus(status);
    // A bad argument here is S3's complaint about our request, not the caller's input.
    if (e.type == function::ErrorType::kInputError) e.type = function::ErrorType::kFunctionError;
    e.message = what + ": " + status.message();
    return e;
  }

  static function::Error XError(const std::string& what, const common::Status& status) {
    if (status.code() == common::Code::kPermissionDenied) {
      return function::Error::Function(
          what + ": X refused the credentials of the twitter secret (" + status.message() + ")");
    }
    if (auto wait = x::RetryAfter(status)) {
      return function::Error::Retryable(
          what + ": " + status.message(),
          std::chrono::duration_cast<std::chrono::milliseconds>(*wait));
    }
    if (x::IsRetryable(status)) return function::Error::Retryable(what + ": " + status.message());
    if (status.code() == common::Code::kInvalidArgument) {
      return function::Error::Input(what + ": " + status.message());
    }
    return function::Error::FromStatus(
        common::Status(status.code(), what + ": " + status.message()));
  }

  // Calls `call`; when X answers "rate limited" with a wait no longer than max_inline_wait,
  // waits and calls once more. Longer waits, and a second refusal, go back to the caller.
  template <typename T, typename F>
  common::Result<T> WithInlineRetry(F call) {
    common::Result<T> r = call();
    if (r.ok()) return r;
    auto wait = x::RetryAfter(r.status());
    if (!wait || *wait > fn_.options_.max_inline_wait) return r;
    spdlog::info("X rate limited; retrying in {} s", wait->count());
    std::this_thread::sleep_for(*wait);
    return call();
  }

  const TwitterFunction& fn_;
  const function::Context& ctx_;
  std::unique_ptr<aws::CredentialsProvider> credentials_;
  std::unique_ptr<aws::S3Client> s3_;
  std::unique_ptr<x::XClient> x_;
};

TwitterFunction::TwitterFunction(Options options, http::HttpClient& http,
                                 const common::Clock* clock)
    : options_(std::move(options)),
      http_(http),
      clock_(clock != nullptr ? *clock : common::SystemClock::Instance()) {}

function::Outcome TwitterFunction::Handle(const function::Context& context,
                                          const json& payload) const {
  auto parsed = ParseS3Event(payload);
  if (!parsed.ok()) return function::Error::Input(parsed.status().message());
  if (parsed->objects.empty()) {
    return json{{"status", "skipped"}, {"reason", parsed->ignored_reason}};
  }
  Run run(*this, context);
  if (auto error = run.InitS3(parsed->objects.front().region)) return *error;
  if (auto error = run.InitX()) return *error;

  if (parsed->objects.size() == 1) return run.Process(parsed->objects.front(), parsed->event_id);
  // Several records: post each; the first error fails the run, and a retry of the whole event
  // skips the objects already posted (their records exist).
  json results = json::array();
  bool any_posted = false;
  for (const S3ObjectRef& ref : parsed->objects) {
    function::Outcome one = run.Process(ref, parsed->event_id);
    if (!one.ok()) return one;
    any_posted = any_posted || one.value().value("status", "") == "posted";
    results.push_back(one.value());
  }
  return json{{"status", any_posted ? "posted" : "skipped"}, {"results", results}};
}

}  // namespace twitter
