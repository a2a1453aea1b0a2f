// Amazon SQS on localcloud: both wire protocols (AWS JSON 1.0 with X-Amz-Target
// "AmazonSQS.*", and the query/XML protocol of older SDKs), standard and FIFO queues,
// long polling without a thread per waiter, visibility timeouts, dead-letter redrive.
#pragma once

#include <memory>
#include <string>

#include "localcloud/core/cloud.h"
#include "localcloud/core/protocol.h"
#include "localcloud/core/query_protocol.h"
#include "localcloud/core/queue_delivery.h"

namespace localcloud::sqs {

// The SQS service: one function per operation in a table, served by the JSON and query
// protocol adapters. Thread-safe: all queue state sits behind one mutex; long polls wait as
// entries in their queue (their reply kept) with a deadline on the context's TimerQueue.
//
// Persistence (with a data dir): every queue with its attributes, tags and messages (in
// flight or not) is written to DATA_DIR/sqs/queues.json at most once a second while it
// changes, and on Shutdown; Load reads it back. Messages in flight stay in flight across a
// restart until their visibility timeout ends.
class SqsService : public Service, public QueueDelivery {
 public:
  // `context` must outlive the service.
  explicit SqsService(CloudContext& context);
  ~SqsService() override;

  // Reads the snapshot from the data dir (no-op without one, or when absent) and starts the
  // periodic snapshot. Call once before serving. InvalidArgument for a corrupt snapshot.
  common::Status Load();

  std::string_view name() const override { return "sqs"; }
  // X-Amz-Target "AmazonSQS.*", a SigV4 scope for "sqs", or a query Action SQS knows.
  bool Accepts(const RouteInfo& route, const http::Request& request) const override;
  http::Response ErrorResponse(const Call& call, const aws::AwsError& error) const override;
  void Handle(Call call, http::Respond respond) override;
  // Answers pending long polls (empty) and writes the snapshot.
  void Shutdown() override;

  common::Result<std::string> SendMessageToArn(const std::string& queue_arn,
                                               OutgoingMessage message) override;

  struct Impl;  // the queues and the operations

 private:
  std::shared_ptr<Impl> impl_;
  OperationTable operations_;  // filled by the constructor
  JsonOrQueryProtocol protocol_;
};

}  // namespace localcloud::sqs
