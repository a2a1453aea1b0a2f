#include "event_services.h"

#include "localcloud/cloudtrail/cloudtrail_service.h"
#include "localcloud/eventbridge/events_service.h"
#include "localcloud/eventbridge/s3_notifications.h"
#include "localcloud/xsandbox/xsandbox_service.h"

namespace localcloud {

void AddEventServicesFlags(CLI::App& app, EventServicesFlags* f) {
  app.add_option("--x-consumer-key", f->x_consumer_key, "X sandbox: consumer (API) key")
      ->capture_default_str();
  app.add_option("--x-consumer-secret", f->x_consumer_secret, "X sandbox: consumer secret");
  app.add_option("--x-access-token", f->x_access_token, "X sandbox: access token")
      ->capture_default_str();
  app.add_option("--x-access-token-secret", f->x_access_token_secret,
                 "X sandbox: access token secret");
  app.add_option("--cloudtrail-delay", f->cloudtrail_delay_seconds,
                 "seconds between an S3 data call and its CloudTrail event on the bus")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--schedule-minute-ms", f->schedule_minute_ms,
                 "real milliseconds one EventBridge schedule minute lasts (tests: a few hundred)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{10}, int64_t{3'600'000}));
}

struct EventServices::Impl {
  std::shared_ptr<xsandbox::XSandboxService> x;
  std::shared_ptr<eventbridge::EventsService> events;
  std::shared_ptr<cloudtrail::CloudTrailService> cloudtrail;
  std::unique_ptr<eventbridge::S3Notifications> notifications;
};

EventServices::EventServices(CloudContext& context, QueueDelivery& queues,
                             const EventServicesFlags& flags)
    : impl_(std::make_unique<Impl>()) {
  xsandbox::XSandboxOptions x;
  x.consumer_key = flags.x_consumer_key;
  x.consumer_secret = flags.x_consumer_secret;
  x.access_token = flags.x_access_token;
  x.access_token_secret = flags.x_access_token_secret;
  impl_->x = std::make_shared<xsandbox::XSandboxService>(context, x);
  eventbridge::EventsOptions events_options;
  events_options.schedule_minute_ms = flags.schedule_minute_ms;
  impl_->events = std::make_shared<eventbridge::EventsService>(context, queues, events_options);
  cloudtrail::CloudTrailOptions ct;
  ct.delivery_delay =
      std::chrono::milliseconds(static_cast<int64_t>(flags.cloudtrail_delay_seconds * 1000));
  impl_->cloudtrail = std::make_shared<cloudtrail::CloudTrailService>(context, *impl_->events, ct);
  impl_->notifications =
      std::make_unique<eventbridge::S3Notifications>(context, *impl_->events, queues);
}

EventServices::~EventServices() = default;

void EventServices::Register(Dispatcher& dispatcher,
                             const std::function<void(S3Observer*)>& add_s3_observer) {
  dispatcher.AddService(impl_->x);
  dispatcher.AddService(impl_->events);
  dispatcher.AddService(impl_->cloudtrail);
  add_s3_observer(impl_->notifications.get());
  add_s3_observer(impl_->cloudtrail.get());
}

}  // namespace localcloud
