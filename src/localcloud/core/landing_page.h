// What a browser sees at localcloud's root: a page listing the services, buckets, queues and
// EventBridge rules, the most recent requests, and a link to the X sandbox timeline.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "common/time.h"
#include "http/message.h"
#include "http/server.h"
#include "localcloud/core/cloud.h"

namespace localcloud {

// True for a request the landing page answers instead of S3: GET / from a browser (it accepts
// text/html) that carries no AWS signature. A signed GET / stays S3's ListBuckets.
bool IsLandingPageRequest(const http::Request& request);

// Keeps the last requests and renders the page. Thread-safe.
class LandingPage {
 public:
  // One line of the "recent requests" table.
  struct Entry {
    common::SystemTime time;
    std::string service;    // "s3", "sqs", …
    std::string operation;  // "ReceiveMessage", "PUT /bucket/key", …
    int status = 0;
  };

  // Remembers one answered request (the newest kMaxEntries are kept).
  void Record(Entry entry);
  std::vector<Entry> Recent() const;

  // Answers the page: asks the services themselves (ListBuckets, ListQueues, ListRules, as the
  // root principal) and responds once all have answered. `services` must outlive the call.
  void Render(CloudContext& context, const std::vector<std::shared_ptr<Service>>& services,
              http::Respond respond) const;

  // The operation's readable name for a request routed to `service`.
  static std::string OperationName(const RouteInfo& route, const http::Request& request);

  static constexpr size_t kMaxEntries = 50;

 private:
  mutable common::Mutex mu_;
  std::deque<Entry> recent_ GUARDED_BY(mu_);  // newest first
};

}  // namespace localcloud
