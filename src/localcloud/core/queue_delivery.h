// How other services (EventBridge targets, S3 notifications) put messages on SQS queues.
#pragma once

#include <map>
#include <string>

#include "common/status.h"

namespace localcloud {

// An SQS message attribute value ("String", "Number", "Binary", or "<type>.<label>").
struct MessageAttributeValue {
  std::string data_type;
  std::string string_value;  // String and Number
  std::string binary_value;  // raw bytes for Binary
};

struct OutgoingMessage {
  std::string body;
  std::map<std::string, MessageAttributeValue> attributes;
  std::string message_group_id;  // required for FIFO queues
  std::string deduplication_id;  // FIFO; optional with content-based deduplication
  int delay_seconds = -1;        // -1: the queue's DelaySeconds
};

// Delivers messages to queues by ARN. Implemented by the SQS service. Thread-safe.
class QueueDelivery {
 public:
  virtual ~QueueDelivery() = default;
  // Enqueues the message on the queue `queue_arn` ("arn:aws:sqs:REGION:ACCOUNT:NAME") as an
  // AWS service principal would. Returns the message id. NotFound when there is no such queue;
  // InvalidArgument for a message SQS would refuse (over 256 KiB, FIFO without a group id).
  // The queue's Policy is NOT evaluated: AWS would require it to allow the service principal
  // (events.amazonaws.com, s3.amazonaws.com); localcloud always delivers.
  virtual common::Result<std::string> SendMessageToArn(const std::string& queue_arn,
                                                       OutgoingMessage message) = 0;
};

}  // namespace localcloud
