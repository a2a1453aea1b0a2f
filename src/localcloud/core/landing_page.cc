#include "localcloud/core/landing_page.h"

#include <atomic>
#include <nlohmann/json.hpp>

#include "common/strings.h"
#include "localcloud/core/dispatcher.h"
#include "localcloud/core/xml_writer.h"

namespace localcloud {
namespace {

using nlohmann::json;

// An internal, already-authenticated call of one service (as the root principal).
struct InternalCall {
  std::string label;  // what the page calls it
  http::Request request;
};

InternalCall JsonCall(const std::string& label, const std::string& target,
                      const std::string& content_type) {
  InternalCall c{label, {}};
  c.request.method = "POST";
  c.request.target = "/";
  c.request.headers.Set("X-Amz-Target", target);
  c.request.headers.Set("Content-Type", content_type);
  c.request.body = "{}";
  return c;
}

std::vector<InternalCall> OverviewCalls() {
  InternalCall buckets{"buckets", {}};
  buckets.request.method = "GET";
  buckets.request.target = "/";
  return {std::move(buckets),
          JsonCall("queues", "AmazonSQS.ListQueues", "application/x-amz-json-1.0"),
          JsonCall("rules", "AWSEvents.ListRules", "application/x-amz-json-1.1")};
}

// The <Name>s of an S3 ListBuckets answer.
std::vector<std::string> BucketNames(const std::string& xml) {
  std::vector<std::string> names;
  size_t at = 0;
  while ((at = xml.find("<Bucket>", at)) != std::string::npos) {
    size_t open = xml.find("<Name>", at);
    size_t close = xml.find("</Name>", open);
    if (open == std::string::npos || close == std::string::npos) break;
    names.push_back(xml.substr(open + 6, close - open - 6));
    at = close;
  }
  return names;
}

std::string Escape(const std::string& s) { return XmlEscape(s); }

std::string Section(const std::string& id, const std::string& title, const std::string& body) {
  return "<section id=\"" + id + "\"><h2>" + title + "</h2>\n" + body + "</section>\n";
}

std::string List(const std::string& cls, const std::vector<std::string>& items,
                 const std::string& empty) {
  if (items.empty()) return "<p class=\"empty\">" + empty + "</p>\n";
  std::string out = "<ul class=\"" + cls + "\">\n";
  for (const auto& item : items) out += "<li>" + item + "</li>\n";
  return out + "</ul>\n";
}

std::string ReadableTime(common::SystemTime t) {
  std::string iso = common::FormatIso8601Millis(t);  // 2026-12-03T13:40:01.123Z
  return iso.size() >= 19 ? iso.substr(11, 8) : iso;
}

}  // namespace

bool IsLandingPageRequest(const http::Request& request) {
  if (request.method != "GET" || request.path() != "/") return false;
  if (request.headers.Get("authorization") || !request.query().empty()) return false;
  return request.headers.GetOr("accept", "").find("text/html") != std::string::npos;
}

void LandingPage::Record(Entry entry) {
  common::MutexLock lock(mu_);
  recent_.push_front(std::move(entry));
  if (recent_.size() > kMaxEntries) recent_.pop_back();
}

std::vector<LandingPage::Entry> LandingPage::Recent() const {
  common::MutexLock lock(mu_);
  return {recent_.begin(), recent_.end()};
}

std::string LandingPage::OperationName(const RouteInfo& route, const http::Request& request) {
  if (!route.target.empty()) {
    size_t dot = route.target.rfind('.');
    return dot == std::string::npos ? route.target : route.target.substr(dot + 1);
  }
  if (!route.action.empty()) return route.action;
  std::string path(request.path());
  if (path.size() > 80) path = path.substr(0, 77) + "...";
  return request.method + " " + path;
}

void LandingPage::Render(CloudContext& context,
                         const std::vector<std::shared_ptr<Service>>& services,
                         http::Respond respond) const {
  // Answers arrive on any thread, in any order; the last one renders the page.
  struct Gather {
    common::Mutex mu;
    json answers GUARDED_BY(mu) = json::object();  // label -> parsed answer
    std::atomic<int> pending{0};
    std::vector<std::string> service_names;
    std::vector<Entry> recent;
    http::Respond respond;
  };
  auto gather = std::make_shared<Gather>();
  for (const auto& s : services) gather->service_names.emplace_back(s->name());
  gather->recent = Recent();
  gather->respond = std::move(respond);

  auto finish = [](Gather& g) {
    g.mu.AssertHeld();  // every caller holds it (a lambda's REQUIRES cannot name g)
    for (const char* label : {"queues", "rules"}) {
      if (!g.answers[label].is_object()) g.answers[label] = json::object();
    }
    std::string html =
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>localcloud</title>\n"
        "<meta http-equiv=\"refresh\" content=\"5\">\n"
        "<style>body{font-family:sans-serif;margin:24px;max-width:960px}"
        "table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left}"
        "tr:nth-child(even){background:#f4f4f4}.empty{color:#777}"
        "code{background:#f4f4f4;padding:1px 4px}</style></head>\n<body>\n"
        "<h1>localcloud</h1>\n<p>AWS (S3, SQS, EventBridge, CloudTrail, STS) and the X API on "
        "this machine. <a id=\"timeline\" href=\"/x/\">X sandbox timeline</a> &middot; "
        "<a href=\"/_localcloud/health\">health</a> &middot; this page refreshes every 5 s.</p>\n";
    std::vector<std::string> services;
    for (const auto& name : g.service_names) {
      services.push_back("<code>" + Escape(name) + "</code> running");
    }
    html += Section("services", "Services", List("services", services, "none"));
    std::vector<std::string> buckets;
    for (const auto& name : BucketNames(
             g.answers["buckets"].is_string() ? g.answers["buckets"].get<std::string>() : "")) {
      buckets.push_back("<code>" + Escape(name) + "</code>");
    }
    html += Section("buckets", "Buckets", List("buckets", buckets, "No buckets."));
    std::vector<std::string> queues;
    for (const auto& url : g.answers["queues"].value("QueueUrls", json::array())) {
      if (url.is_string()) queues.push_back("<code>" + Escape(url.get<std::string>()) + "</code>");
    }
    html += Section("queues", "SQS queues", List("queues", queues, "No queues."));
    std::vector<std::string> rules;
    for (const auto& r : g.answers["rules"].value("Rules", json::array())) {
      std::string what = r.value("EventPattern", r.value("ScheduleExpression", ""));
      rules.push_back("<code>" + Escape(r.value("Name", "")) + "</code> " +
                      Escape(r.value("State", "")) + " <small>" + Escape(what) + "</small>");
    }
    html += Section("rules", "EventBridge rules", List("rules", rules, "No rules."));
    std::string recent;
    if (g.recent.empty()) {
      recent = "<p class=\"empty\">No requests yet.</p>\n";
    } else {
      recent =
          "<table class=\"recent\"><tr><th>time (UTC)</th><th>service</th><th>operation</th>"
          "<th>status</th></tr>\n";
      for (const auto& e : g.recent) {
        recent += "<tr><td>" + ReadableTime(e.time) + "</td><td>" + Escape(e.service) +
                  "</td><td>" + Escape(e.operation) + "</td><td>" + std::to_string(e.status) +
                  "</td></tr>\n";
      }
      recent += "</table>\n";
    }
    html += Section("recent", "Recent requests", recent);
    html += "</body></html>\n";
    g.respond(http::Response::Text(200, std::move(html), "text/html; charset=utf-8"));
  };

  std::vector<std::pair<Service*, InternalCall>> calls;
  for (auto& c : OverviewCalls()) {
    RouteInfo route = ComputeRouteInfo(c.request);
    for (const auto& s : services) {
      if (s->Accepts(route, c.request)) {
        calls.emplace_back(s.get(), std::move(c));
        break;
      }
    }
  }
  gather->pending = static_cast<int>(calls.size());
  if (calls.empty()) {
    common::MutexLock lock(gather->mu);
    return finish(*gather);
  }
  for (auto& [service, c] : calls) {
    Call call;
    call.route = ComputeRouteInfo(c.request);
    call.request_id = service->NewRequestId();
    call.time = context.clock().Now();
    call.caller = context.RootPrincipal();
    call.source_ip = "127.0.0.1";
    call.request = std::move(c.request);
    std::string label = c.label;
    service->Handle(std::move(call), [gather, label, finish](http::Response response) {
      {
        common::MutexLock lock(gather->mu);
        if (label == "buckets") {
          gather->answers[label] = response.body;
        } else {
          json parsed = json::parse(response.body, nullptr, false);
          gather->answers[label] = parsed.is_object() ? parsed : json::object();
        }
      }
      if (--gather->pending == 0) {
        common::MutexLock lock(gather->mu);
        finish(*gather);
      }
    });
  }
}

}  // namespace localcloud
