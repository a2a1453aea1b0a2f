// Where relayed events go: Dispatch's event API (CloudEvents 0.1 JSON) or any CloudEvents
// 1.0 HTTP sink (binary or structured mode), e.g. a Knative broker via K_SINK.
#pragma once

#include <string>
#include <vector>

#include "cloudevents/cloudevent.h"
#include "common/status.h"
#include "driver/options.h"
#include "http/client.h"

namespace driver {

enum class DeliveryOutcome {
  kAccepted,  // 2xx: the sink durably accepted every event
  kRetry,     // 408/429/5xx, timeout, refused: try again later
  kRejected,  // another 4xx: the sink will never take it
};

struct DeliveryResult {
  DeliveryOutcome outcome = DeliveryOutcome::kAccepted;
  int http_status = 0;  // 0 when there was no HTTP answer
  std::string reason;
};

// Delivers events. Thread-safe.
class Sink {
 public:
  virtual ~Sink() = default;
  // Delivers all events of one message; kAccepted only when every one was accepted. The
  // events must satisfy cloudevents::Validate (MapMessage's do): they are not checked again.
  virtual DeliveryResult Deliver(const std::vector<cloudevents::CloudEvent>& events) = 0;
  // OK when the sink answers HTTP at all (any status): for /readyz.
  virtual common::Status Probe() = 0;
  virtual std::string Describe() const = 0;
  // Delivers the events of several messages at once (concurrently where the sink can); one
  // result per message, as Deliver would give it. The default calls Deliver for each in turn.
  virtual std::vector<DeliveryResult> DeliverEach(
      const std::vector<const std::vector<cloudevents::CloudEvent>*>& messages);
  // True when one Deliver call may carry the events of many messages efficiently.
  virtual bool batches() const { return false; }
};

// Sink over HTTP. Dispatch format: one POST of a JSON array to <endpoint>/v1/event/ with the
// bearer token (and X-Dispatch-Org). CloudEvents 1.0: one POST per event to the sink URL;
// DeliverEach sends a batch's POSTs in parallel (HttpClient::SendAll).
class HttpSink : public Sink {
 public:
  // `endpoint` is a URL or host:port (http:// assumed). Does not own `client`.
  HttpSink(http::HttpClient& client, OutputFormat format, std::string endpoint, std::string token,
           std::string org, std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000));
  DeliveryResult Deliver(const std::vector<cloudevents::CloudEvent>& events) override;
  std::vector<DeliveryResult> DeliverEach(
      const std::vector<const std::vector<cloudevents::CloudEvent>*>& messages) override;
  common::Status Probe() override;
  std::string Describe() const override;
  bool batches() const override { return format_ == OutputFormat::kDispatch; }

 private:
  void Prepare(http::ClientRequest& request) const;
  DeliveryResult Post(http::ClientRequest request);
  // A CloudEvents 1.0 POST of one event (binary or structured), or the reason it cannot be.
  common::Result<http::ClientRequest> EventRequest(const cloudevents::CloudEvent& event) const;
  http::HttpClient& client_;
  OutputFormat format_;
  std::string base_url_;  // endpoint without a trailing slash
  std::string url_;       // where events are POSTed
  std::string token_;
  std::string org_;
  std::chrono::milliseconds timeout_;
};

// Classifies an HTTP answer (or its absence) as the relay needs it.
DeliveryResult ClassifyDelivery(const common::Result<http::Response>& response);

}  // namespace driver
