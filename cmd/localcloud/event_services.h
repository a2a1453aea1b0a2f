// How localcloud's main adds EventBridge, CloudTrail, S3 notifications and the X sandbox:
// their flags, and one object that owns the services and registers them. Keeps main.cc thin.
// (The binary wires them: the service libraries do not depend on each other in a cycle.)
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "localcloud/core/cloud.h"
#include "localcloud/core/dispatcher.h"
#include "localcloud/core/queue_delivery.h"
#include "localcloud/core/s3_observer.h"

namespace localcloud {

struct EventServicesFlags {
  std::string x_consumer_key = "test";
  std::string x_consumer_secret = "test";
  std::string x_access_token = "test";
  std::string x_access_token_secret = "test";
  double cloudtrail_delay_seconds = 0;
  int64_t schedule_minute_ms = 60'000;
};

// Adds --x-consumer-key, --x-consumer-secret, --x-access-token, --x-access-token-secret,
// --cloudtrail-delay and --schedule-minute-ms to `app`. `flags` must outlive parsing.
void AddEventServicesFlags(CLI::App& app, EventServicesFlags* flags);

// Owns the X sandbox, EventBridge, CloudTrail and S3-notification services.
class EventServices {
 public:
  // `context` and `queues` (the SQS service) must outlive this object.
  EventServices(CloudContext& context, QueueDelivery& queues, const EventServicesFlags& flags);
  ~EventServices();

  // Adds the services to the dispatcher (call before adding S3, which takes any path) and
  // the S3 observers through `add_s3_observer` (S3Service::AddObserver). Once, before serving.
  void Register(Dispatcher& dispatcher, const std::function<void(S3Observer*)>& add_s3_observer);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace localcloud
