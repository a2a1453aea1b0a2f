// The seam between the relay and SQS: what the relay needs of a queue, nothing more.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace driver {

// One received message. Plain value.
struct QueueMessage {
  std::string message_id;
  std::string receipt_handle;
  std::string body;
  int64_t sent_timestamp_ms = 0;  // SentTimestamp attribute
  int receive_count = 0;          // ApproximateReceiveCount
  std::string group_id;           // MessageGroupId (FIFO queues), "" otherwise
  // Message attributes of type String (and Number, as text).
  std::map<std::string, std::string> attributes;
};

// A queue the relay receives from. Implementations are thread-safe.
class MessageQueue {
 public:
  virtual ~MessageQueue() = default;
  // Receives up to `max` (1–10) messages, waiting up to `wait_seconds` for the first.
  // An empty vector when none arrived. Errors are transport/AWS failures.
  virtual common::Result<std::vector<QueueMessage>> Receive(int max, int wait_seconds) = 0;
  // Deletes messages by receipt handle (≤ 10 per call). Returns the handles that failed.
  virtual common::Result<std::vector<std::string>> DeleteBatch(
      const std::vector<std::string>& receipt_handles) = 0;
  // DeleteBatch(to_delete) (skipped when empty; its result in *deleted), then Receive. A
  // queue that can send both in one round trip overrides this.
  virtual common::Result<std::vector<QueueMessage>> DeleteThenReceive(
      const std::vector<std::string>& to_delete, common::Result<std::vector<std::string>>* deleted,
      int max, int wait_seconds) {
    if (!to_delete.empty()) *deleted = DeleteBatch(to_delete);
    return Receive(max, wait_seconds);
  }
  // Sets the visibility timeout of in-flight messages (≤ 10 per call); 0 releases them.
  virtual common::Status ChangeVisibilityBatch(const std::vector<std::string>& receipt_handles,
                                               int seconds) = 0;
  // Copies the message to the dead-letter queue (with a reason attribute). FailedPrecondition
  // when this queue has none.
  virtual common::Status SendToDeadLetter(const QueueMessage& message,
                                          const std::string& reason) = 0;
  // A flag that, once true, ends a Receive waiting in a long poll at once (an empty result or
  // an error): a stopping relay does not wait out the poll. Set before the first Receive; the
  // flag must outlive the queue's use. Queues that cannot be interrupted ignore it.
  virtual void SetInterrupt(const std::atomic<bool>* flag) { (void)flag; }
  // ApproximateNumberOfMessages (for the backlog gauge).
  virtual common::Result<int64_t> ApproximateBacklog() = 0;
  // The visibility timeout in seconds messages are received with.
  virtual int visibility_timeout() const = 0;
  virtual bool is_fifo() const = 0;
};

}  // namespace driver
