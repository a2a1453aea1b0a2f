// The twitter function: an S3 upload event in, the uploaded image watermarked and posted on
// X out. See README.md for the flags, secrets, results and the idempotency record.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"
#include "common/time.h"
#include "function/function.h"
#include "http/client.h"
#include "image/watermark.h"
#include "twitter/s3_event.h"

namespace twitter {

// What the function does, fixed at start (flags / environment). Plain value.
struct Options {
  // Only keys under this prefix are posted ("" = the whole bucket). The seed's `images/`.
  std::string folder = "images/";
  // Where the "posted" records live, in the object's bucket. Keys under it are never posted.
  std::string posted_prefix = ".dispatch-posted/";
  // When non-empty, the watermarked copy is written back to `<write_back_prefix><key>` in
  // the same bucket; keys under it are never posted (the copy's own event is ignored).
  std::string write_back_prefix;
  // Post text. {filename} (the key's last segment), {key}, {bucket} are replaced.
  std::string text_template = "{filename}";
  // Names of the secrets the function reads.
  std::string aws_secret = "aws";
  std::string twitter_secret = "twitter";
  // Used when the twitter secret has no apiBase.
  std::string api_base = "https://api.x.com";
  // Objects larger than this are refused (InputError) before downloading.
  uint64_t max_object_bytes = 64ull << 20;
  // X's size limit for images; larger JPEGs are downscaled until they fit, larger PNGs and
  // WebPs are converted to JPEG (then downscaled if needed).
  uint64_t max_upload_bytes = 5ull << 20;
  // When X says "rate limited, retry in W" with W at most this, the function waits and
  // retries once itself; longer waits come back as a retryable FunctionError carrying W.
  std::chrono::milliseconds max_inline_wait{3000};
  // Watermark placement (the logo bytes, when replaced, must outlive the function), limits,
  // and keep_metadata (false: GPS data is removed from what is posted and written back).
  // watermark.max_gif_bytes is X's GIF limit (15 MB): a bigger animated GIF is posted as a
  // JPEG of its first frame.
  image::WatermarkOptions watermark;
  // Region when neither the aws secret nor the event names one.
  std::string default_region = "us-west-2";

  // Reads TWITTER_FOLDER, TWITTER_POSTED_PREFIX, TWITTER_WRITE_BACK_PREFIX,
  // TWITTER_TEXT_TEMPLATE, TWITTER_MAX_OBJECT_BYTES, TWITTER_MAX_INLINE_WAIT_MS,
  // TWITTER_API_BASE, TWITTER_KEEP_METADATA (1/true/0/false) over the defaults.
  // InvalidArgument on a malformed number or flag.
  common::Status ApplyEnvironment();
};

// Runs the function. Thread-safe: calls share only the (thread-safe) HTTP client; each call
// builds its own S3 and X clients from the call's secrets.
class TwitterFunction {
 public:
  // `http` must outlive the function. `clock` (nullptr: system clock) too.
  TwitterFunction(Options options, http::HttpClient& http, const common::Clock* clock = nullptr);

  // The function::Handler: parses the event, then posts each object it names. One object
  // gives {"status": "posted"|"skipped", …}; several give {"status": …, "results": [...]}.
  function::Outcome Handle(const function::Context& context, const nlohmann::json& payload) const;

  const Options& options() const { return options_; }

 private:
  class Run;
  Options options_;
  http::HttpClient& http_;
  const common::Clock& clock_;
};

// The key of the "posted" record for an object version:
// <posted_prefix><sha256hex(bucket "/" key "/" etag [ "/" version_id ])>.json
std::string PostedRecordKey(const std::string& posted_prefix, const std::string& bucket,
                            const std::string& key, const std::string& etag,
                            const std::string& version_id);

// The post text for a key from a template ({filename}, {key}, {bucket}), cut to X's 280
// characters (code points) without splitting a UTF-8 sequence.
std::string RenderText(const std::string& text_template, const std::string& bucket,
                       const std::string& key);

// True when the key's extension or the content type says "image" (a cheap filter before the
// download; the format itself is then read from the content).
bool LooksLikeImage(const std::string& key, const std::string& content_type);

// The media category X wants for a watermarked file: "tweet_gif" for an animated GIF,
// "tweet_image" otherwise.
const char* MediaCategory(image::ImageFormat format, int frames);

}  // namespace twitter
