#include "localcloud/xsandbox/timeline_page.h"

#include <ctime>

#include "common/strings.h"
#include "image/watermark.h"
#include "localcloud/core/xml_writer.h"

namespace localcloud::xsandbox {

std::string ThumbnailCache::Get(const std::string& id, std::string_view media_type,
                                std::string_view data) {
  {
    common::MutexLock lock(mu_);
    if (auto it = uris_.find(id); it != uris_.end()) return it->second;
  }
  std::string uri;
  auto info = image::Probe(data);
  if (media_type == "image/jpeg" && info.ok() && info->width > kMaxWidth) {
    int denom = 2;
    while (denom < 8 && info->width / denom > kMaxWidth) denom *= 2;
    auto small = image::DownscaleJpeg(data, denom, 80);
    if (small.ok()) uri = "data:image/jpeg;base64," + common::Base64Encode(*small);
  }
  common::MutexLock lock(mu_);
  uris_[id] = uri;
  return uri;
}

std::string ReadableTime(common::SystemTime t) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%-d %b %Y, %H:%M:%S UTC", &tm);
  return buf;
}

std::string RenderTimeline(const std::vector<TimelinePost>& posts, ThumbnailCache& thumbnails) {
  std::string newest = posts.empty() ? "" : posts.front().id;
  std::string html =
      "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>X sandbox timeline</title>\n"
      "<style>body{margin:0;font-family:sans-serif;background:#fff}"
      "header{padding:12px;border-bottom:1px solid #ccc}"
      "article{border-bottom:1px solid #ccc;padding:12px}"
      "article img{display:block;max-width:" +
      std::to_string(ThumbnailCache::kMaxWidth) +
      "px;margin-top:8px}"
      ".meta{color:#666;font-size:12px}</style></head>\n<body data-newest=\"" +
      newest +
      "\">\n<header><h1>X sandbox</h1><p class=\"meta\">Refreshes by itself when a post "
      "arrives. Click an image for the original. <a href=\"/\">localcloud</a></p></header>\n";
  if (posts.empty()) html += "<p class=\"empty\">No posts yet.</p>\n";
  for (const auto& post : posts) {
    html += "<article class=\"post\" id=\"post-" + post.id + "\">\n<p class=\"text\">" +
            XmlEscape(post.text) + "</p>\n";
    for (const auto& image : post.images) {
      std::string thumb = thumbnails.Get(image.id, image.media_type, image.data);
      std::string original = "/x/media/" + image.id;
      html += "<a class=\"original\" href=\"" + original + "\"><img src=\"" +
              (thumb.empty() ? original : thumb) + "\" class=\"thumb\" alt=\"media " + image.id +
              "\"></a>\n";
    }
    html += "<p class=\"meta\"><time datetime=\"" + common::FormatIso8601Millis(post.created) +
            "\">" + ReadableTime(post.created) + "</time> &middot; " + post.id +
            "</p>\n</article>\n";
  }
  // Reload when the newest post changes (checked every 2 s; no reload while nothing happens).
  html +=
      "<script>\n"
      "setInterval(function () {\n"
      "  fetch('/x/2/sandbox/posts', {cache: 'no-store'}).then(function (r) { return r.json(); })\n"
      "    .then(function (j) {\n"
      "      var newest = (j.data && j.data.length) ? j.data[0].id : '';\n"
      "      if (newest !== document.body.dataset.newest) location.reload();\n"
      "    }).catch(function () {});\n"
      "}, 2000);\n"
      "</script>\n</body></html>\n";
  return html;
}

}  // namespace localcloud::xsandbox
