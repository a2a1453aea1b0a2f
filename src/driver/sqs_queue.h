// MessageQueue over Amazon SQS (the project's SqsClient, JSON protocol).
#pragma once

#include <atomic>
#include <string>

#include "aws/sqs_client.h"
#include "driver/queue.h"

namespace driver {

// Thread-safe (SqsClient is).
class SqsMessageQueue : public MessageQueue {
 public:
  // Does not own `sqs`. `dlq_url` may be empty (no dead-letter queue).
  SqsMessageQueue(const aws::SqsClient& sqs, std::string queue_url, std::string dlq_url,
                  int visibility_timeout, bool fifo);

  common::Result<std::vector<QueueMessage>> Receive(int max, int wait_seconds) override;
  common::Result<std::vector<std::string>> DeleteBatch(
      const std::vector<std::string>& receipt_handles) override;
  // One round trip: DeleteMessageBatch and ReceiveMessage pipelined on one connection.
  common::Result<std::vector<QueueMessage>> DeleteThenReceive(
      const std::vector<std::string>& to_delete, common::Result<std::vector<std::string>>* deleted,
      int max, int wait_seconds) override;
  common::Status ChangeVisibilityBatch(const std::vector<std::string>& receipt_handles,
                                       int seconds) override;
  common::Status SendToDeadLetter(const QueueMessage& message, const std::string& reason) override;
  common::Result<int64_t> ApproximateBacklog() override;
  void SetInterrupt(const std::atomic<bool>* flag) override { interrupt_ = flag; }
  int visibility_timeout() const override { return visibility_timeout_; }
  bool is_fifo() const override { return fifo_; }

 private:
  aws::ReceiveMessageOptions ReceiveOptions(int max, int wait_seconds) const;

  const aws::SqsClient& sqs_;
  const std::string queue_url_;
  const std::string dlq_url_;
  const int visibility_timeout_;
  const bool fifo_;
  const std::atomic<bool>* interrupt_ = nullptr;  // set before the pollers start
};

}  // namespace driver
