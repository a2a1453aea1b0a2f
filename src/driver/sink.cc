#include "driver/sink.h"

#include "cloudevents/dispatch_format.h"
#include "cloudevents/http_binding.h"
#include "common/strings.h"

namespace driver {

DeliveryResult ClassifyDelivery(const common::Result<http::Response>& response) {
  DeliveryResult r;
  if (!response.ok()) {
    r.outcome = DeliveryOutcome::kRetry;
    r.reason = response.status().ToString();
    return r;
  }
  r.http_status = response->status;
  if (r.http_status >= 200 && r.http_status < 300) return r;
  std::string body = response->body.substr(0, 300);
  r.reason = "sink answered " + std::to_string(r.http_status) + (body.empty() ? "" : ": " + body);
  if (r.http_status == 408 || r.http_status == 429 || r.http_status >= 500) {
    r.outcome = DeliveryOutcome::kRetry;
  } else {
    r.outcome = DeliveryOutcome::kRejected;
  }
  return r;
}

static std::string NormalizeUrl(std::string endpoint) {
  if (!common::StartsWith(endpoint, "http://") && !common::StartsWith(endpoint, "https://")) {
    endpoint = "http://" + endpoint;
  }
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  return endpoint;
}

HttpSink::HttpSink(http::HttpClient& client, OutputFormat format, std::string endpoint,
                   std::string token, std::string org, std::chrono::milliseconds timeout)
    : client_(client),
      format_(format),
      base_url_(NormalizeUrl(std::move(endpoint))),
      url_(base_url_),
      token_(std::move(token)),
      org_(std::move(org)),
      timeout_(timeout) {
  if (format_ == OutputFormat::kDispatch) url_ += "/v1/event/";
}

std::string HttpSink::Describe() const { return std::string(ToString(format_)) + " sink " + url_; }

std::vector<DeliveryResult> Sink::DeliverEach(
    const std::vector<const std::vector<cloudevents::CloudEvent>*>& messages) {
  std::vector<DeliveryResult> results;
  results.reserve(messages.size());
  for (const auto* events : messages) results.push_back(Deliver(*events));
  return results;
}

void HttpSink::Prepare(http::ClientRequest& request) const {
  request.method = "POST";
  request.url = url_;
  request.timeout = timeout_;
  request.connect_timeout = std::min(timeout_, std::chrono::milliseconds(3000));
  if (!token_.empty()) request.headers.Set("Authorization", "Bearer " + token_);
  if (!org_.empty()) request.headers.Set("X-Dispatch-Org", org_);
}

DeliveryResult HttpSink::Post(http::ClientRequest request) {
  Prepare(request);
  return ClassifyDelivery(client_.Send(request));
}

common::Result<http::ClientRequest> HttpSink::EventRequest(const cloudevents::CloudEvent& e) const {
  http::ClientRequest req;
  common::Status s =
      cloudevents::WriteHttp(e,
                             format_ == OutputFormat::kBinary ? cloudevents::HttpMode::kBinary
                                                              : cloudevents::HttpMode::kStructured,
                             &req.headers, &req.body, cloudevents::Validation::kAlreadyValid);
  if (!s.ok()) return s;
  Prepare(req);
  return req;
}

std::vector<DeliveryResult> HttpSink::DeliverEach(
    const std::vector<const std::vector<cloudevents::CloudEvent>*>& messages) {
  if (format_ == OutputFormat::kDispatch) return Sink::DeliverEach(messages);
  std::vector<DeliveryResult> results(messages.size());
  std::vector<http::ClientRequest> requests;
  std::vector<size_t> owner;  // request index → message index
  for (size_t m = 0; m < messages.size(); ++m) {
    for (const auto& e : *messages[m]) {
      auto req = EventRequest(e);
      if (!req.ok()) {
        results[m] = {DeliveryOutcome::kRejected, 0, req.status().message()};
        break;
      }
      requests.push_back(std::move(*req));
      owner.push_back(m);
    }
  }
  // Each event has its own id, so a request a broken pipeline leaves unanswered may go again.
  auto answers = client_.SendPipelined(requests);
  for (size_t i = 0; i < answers.size(); ++i) {
    DeliveryResult& r = results[owner[i]];
    if (r.outcome != DeliveryOutcome::kAccepted) continue;  // keep the message's first failure
    r = ClassifyDelivery(answers[i]);
  }
  return results;
}

DeliveryResult HttpSink::Deliver(const std::vector<cloudevents::CloudEvent>& events) {
  if (events.empty()) return {};
  if (format_ == OutputFormat::kDispatch) {
    // One event as an object, several as an array; data_json goes in as it came.
    http::ClientRequest req;
    req.headers.Set("Content-Type", "application/json");
    if (events.size() > 1) req.body.push_back('[');
    for (size_t i = 0; i < events.size(); ++i) {
      auto encoded =
          cloudevents::EncodeDispatchJson(events[i], cloudevents::Validation::kAlreadyValid);
      if (!encoded.ok()) return {DeliveryOutcome::kRejected, 0, encoded.status().message()};
      if (i > 0) req.body.push_back(',');
      req.body += *encoded;
    }
    if (events.size() > 1) req.body.push_back(']');
    return Post(std::move(req));
  }
  for (const auto& e : events) {
    auto req = EventRequest(e);
    if (!req.ok()) return {DeliveryOutcome::kRejected, 0, req.status().message()};
    DeliveryResult r = ClassifyDelivery(client_.Send(*req));
    // A partial success is retried whole: the sink recognises the repeated ids.
    if (r.outcome != DeliveryOutcome::kAccepted) return r;
  }
  return {};
}

common::Status HttpSink::Probe() {
  http::ClientRequest req;
  req.method = "GET";
  req.url = format_ == OutputFormat::kDispatch ? base_url_ + "/healthz" : url_;
  req.timeout = std::chrono::milliseconds(2000);
  req.connect_timeout = std::chrono::milliseconds(1000);
  auto r = client_.Send(req);
  if (!r.ok()) return r.status();
  return common::Status::Ok();
}

}  // namespace driver
