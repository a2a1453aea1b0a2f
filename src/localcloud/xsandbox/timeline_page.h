// The X sandbox's timeline page (GET /x/): the posts, newest first, each image as a small
// thumbnail linking to the original, readable times, and a script that reloads the page when a
// new post appears.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/mutex.h"
#include "common/time.h"

namespace localcloud::xsandbox {

// One post as the page shows it. The media bytes are borrowed for the call.
struct TimelinePost {
  struct Image {
    std::string id;
    std::string_view media_type;
    std::string_view data;
  };
  std::string id;
  std::string text;
  common::SystemTime created;
  std::vector<Image> images;
};

// Thumbnails made so far, by media id (media never change once finalized). Thread-safe.
class ThumbnailCache {
 public:
  // A data: URI of a copy at most kMaxWidth pixels wide (JPEGs, downscaled in the DCT domain),
  // or "" when the original is small enough to show as it is (or is not a JPEG).
  std::string Get(const std::string& id, std::string_view media_type, std::string_view data);

  static constexpr int kMaxWidth = 480;

 private:
  common::Mutex mu_;
  std::map<std::string, std::string> uris_ GUARDED_BY(mu_);
};

// "3 Dec 2026, 13:40:01 UTC".
std::string ReadableTime(common::SystemTime t);

// The whole page. `posts` newest first; media are linked as /x/media/<id>.
std::string RenderTimeline(const std::vector<TimelinePost>& posts, ThumbnailCache& thumbnails);

}  // namespace localcloud::xsandbox
