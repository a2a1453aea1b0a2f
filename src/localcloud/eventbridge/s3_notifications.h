// What S3 sends when objects change: with EventBridge enabled on a bucket, "Object Created"
// and "Object Deleted" events on the default bus (the shape of the S3 User Guide's
// "EventBridge event message structure"); for each matching <QueueConfiguration>, a classic
// S3 event notification record to the queue (keys form-encoded), and the s3:TestEvent when
// a configuration is stored.
#pragma once

#include "localcloud/core/queue_delivery.h"
#include "localcloud/core/s3_observer.h"
#include "localcloud/eventbridge/events_service.h"

namespace localcloud::eventbridge {

// Registered with the S3 service (S3Service::AddObserver). Thread-safe; never blocks (queue
// sends run on the context's timer thread).
class S3Notifications : public S3Observer {
 public:
  // All three must outlive this object.
  S3Notifications(CloudContext& context, EventsService& bus, QueueDelivery& queues);

  void OnObjectEvent(const S3ObjectEvent& event) override;
  common::Status OnNotificationConfiguration(const std::string& bucket,
                                             const S3NotificationConfiguration& config,
                                             const S3RequestInfo& request) override;

  // The EventBridge event for an object change (exposed for tests).
  nlohmann::json EventBridgeEvent(const S3ObjectEvent& event) const;
  // The classic notification record ({"Records": [ … ]}) for one queue configuration.
  nlohmann::json NotificationRecord(const S3ObjectEvent& event,
                                    const std::string& configuration_id) const;

 private:
  // A message sent as S3 sends it for `bucket` (checked against the queue's Policy).
  OutgoingMessage FromBucket(const std::string& bucket) const;

  CloudContext& context_;
  EventsService& bus_;
  QueueDelivery& queues_;
};

}  // namespace localcloud::eventbridge
