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
  // The AWS service sending it, checked against the queue's Policy as AWS does; an empty
  // service skips the check (localcloud-internal moves such as dead-lettering).
  std::string sender_service;         // "events.amazonaws.com", "s3.amazonaws.com"
  std::string sender_source_arn;      // aws:SourceArn (the rule, the bucket)
  std::string sender_source_account;  // aws:SourceAccount
};

// Delivers messages to queues by ARN. Implemented by the SQS service. Thread-safe.
class QueueDelivery {
 public:
  virtual ~QueueDelivery() = default;
  // Enqueues the message on the queue `queue_arn` ("arn:aws:sqs:REGION:ACCOUNT:NAME") as an
  // AWS service principal would. Returns the message id. NotFound when there is no such queue;
  // InvalidArgument for a message SQS would refuse (over 256 KiB, FIFO without a group id);
  // PermissionDenied when message.sender_service is set and the queue's Policy does not
  // allow it sqs:SendMessage (with the sender's aws:SourceArn and aws:SourceAccount).
  virtual common::Result<std::string> SendMessageToArn(const std::string& queue_arn,
                                                       OutgoingMessage message) = 0;
};

}  // namespace localcloud
