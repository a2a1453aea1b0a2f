#include "driver/sqs_queue.h"

#include <cstdlib>

#include "common/strings.h"

namespace driver {

SqsMessageQueue::SqsMessageQueue(const aws::SqsClient& sqs, std::string queue_url,
                                 std::string dlq_url, int visibility_timeout, bool fifo)
    : sqs_(sqs),
      queue_url_(std::move(queue_url)),
      dlq_url_(std::move(dlq_url)),
      visibility_timeout_(visibility_timeout),
      fifo_(fifo) {}

namespace {

std::vector<QueueMessage> ToQueueMessages(std::vector<aws::SqsMessage>& received) {
  std::vector<QueueMessage> out;
  out.reserve(received.size());
  for (auto& m : received) {
    QueueMessage q;
    q.message_id = std::move(m.message_id);
    q.receipt_handle = std::move(m.receipt_handle);
    q.body = std::move(m.body);
    if (auto it = m.attributes.find("SentTimestamp"); it != m.attributes.end())
      q.sent_timestamp_ms = std::strtoll(it->second.c_str(), nullptr, 10);
    if (auto it = m.attributes.find("ApproximateReceiveCount"); it != m.attributes.end())
      q.receive_count = std::atoi(it->second.c_str());
    if (auto it = m.attributes.find("MessageGroupId"); it != m.attributes.end())
      q.group_id = it->second;
    for (auto& [name, value] : m.message_attributes) {
      if (value.data_type.rfind("String", 0) == 0 || value.data_type.rfind("Number", 0) == 0)
        q.attributes[name] = value.string_value;
    }
    out.push_back(std::move(q));
  }
  return out;
}

std::vector<aws::DeleteMessageBatchEntry> DeleteEntries(const std::vector<std::string>& handles) {
  std::vector<aws::DeleteMessageBatchEntry> entries;
  entries.reserve(handles.size());
  for (size_t i = 0; i < handles.size(); ++i) entries.push_back({std::to_string(i), handles[i]});
  return entries;
}

// The handles whose entries failed (entry ids are indexes into `handles`).
common::Result<std::vector<std::string>> FailedHandles(const aws::Outcome<aws::BatchResult>& r,
                                                       const std::vector<std::string>& handles) {
  if (!r.ok()) return r.status();
  std::vector<std::string> failed;
  for (const auto& f : r->failed) {
    size_t index = static_cast<size_t>(std::atoi(f.id.c_str()));
    if (index < handles.size()) failed.push_back(handles[index]);
  }
  return failed;
}

}  // namespace

aws::ReceiveMessageOptions SqsMessageQueue::ReceiveOptions(int max, int wait_seconds) const {
  aws::ReceiveMessageOptions options;
  options.max_number_of_messages = max;
  options.wait_time_seconds = wait_seconds;
  // Only the system attributes the relay reads: a smaller response to parse.
  options.attribute_names = {"SentTimestamp", "ApproximateReceiveCount", "MessageGroupId"};
  options.cancel = interrupt_;
  options.message_attribute_names = {"All"};
  return options;
}

common::Result<std::vector<QueueMessage>> SqsMessageQueue::Receive(int max, int wait_seconds) {
  auto received = sqs_.ReceiveMessage(queue_url_, ReceiveOptions(max, wait_seconds));
  if (!received.ok()) return received.status();
  return ToQueueMessages(*received);
}

common::Result<std::vector<QueueMessage>> SqsMessageQueue::DeleteThenReceive(
    const std::vector<std::string>& to_delete, common::Result<std::vector<std::string>>* deleted,
    int max, int wait_seconds) {
  if (to_delete.empty()) return Receive(max, wait_seconds);
  auto [deletion, received] = sqs_.DeleteMessageBatchThenReceive(
      queue_url_, DeleteEntries(to_delete), ReceiveOptions(max, wait_seconds));
  *deleted = FailedHandles(deletion, to_delete);
  if (!received.ok()) return received.status();
  return ToQueueMessages(*received);
}

common::Result<std::vector<std::string>> SqsMessageQueue::DeleteBatch(
    const std::vector<std::string>& receipt_handles) {
  return FailedHandles(sqs_.DeleteMessageBatch(queue_url_, DeleteEntries(receipt_handles)),
                       receipt_handles);
}

common::Status SqsMessageQueue::ChangeVisibilityBatch(const std::vector<std::string>& handles,
                                                      int seconds) {
  std::vector<aws::ChangeVisibilityBatchEntry> entries;
  for (size_t i = 0; i < handles.size(); ++i)
    entries.push_back({std::to_string(i), handles[i], seconds});
  auto r = sqs_.ChangeMessageVisibilityBatch(queue_url_, entries);
  if (!r.ok()) return r.status();
  if (!r->failed.empty()) {
    return common::Unavailable(
        std::to_string(r->failed.size()) + " of " + std::to_string(handles.size()) +
        " entries failed: " + r->failed[0].code + " " + r->failed[0].message);
  }
  return common::Status::Ok();
}

common::Status SqsMessageQueue::SendToDeadLetter(const QueueMessage& message,
                                                 const std::string& reason) {
  if (dlq_url_.empty()) return common::FailedPrecondition("this queue has no dead-letter queue");
  aws::SendMessageOptions options;
  for (const auto& [name, value] : message.attributes) {
    if (options.message_attributes.size() >= 8) break;  // SQS allows 10 attributes
    options.message_attributes[name] = aws::MessageAttributeValue{"String", value, ""};
  }
  options.message_attributes["DispatchDeadLetterReason"] =
      aws::MessageAttributeValue{"String", reason.substr(0, 1000), ""};
  options.message_attributes["DispatchSourceMessageId"] =
      aws::MessageAttributeValue{"String", message.message_id, ""};
  if (fifo_) {
    options.message_group_id = message.group_id.empty() ? "dead-letter" : message.group_id;
    options.message_deduplication_id = message.message_id;
  }
  // SQS takes only valid UTF-8: a poison body that is not travels base64-encoded.
  std::string body = message.body;
  if (!common::IsValidUtf8(body)) {
    body = common::Base64Encode(body);
    options.message_attributes["DispatchBodyEncoding"] =
        aws::MessageAttributeValue{"String", "base64", ""};
  }
  auto r = sqs_.SendMessage(dlq_url_, body.empty() ? std::string("(empty body)") : body, options);
  if (!r.ok()) return r.status();
  return common::Status::Ok();
}

common::Result<int64_t> SqsMessageQueue::ApproximateBacklog() {
  auto r = sqs_.GetQueueAttributes(queue_url_, {"ApproximateNumberOfMessages"});
  if (!r.ok()) return r.status();
  auto it = r->find("ApproximateNumberOfMessages");
  if (it == r->end()) return common::NotFound("no ApproximateNumberOfMessages");
  return static_cast<int64_t>(std::strtoll(it->second.c_str(), nullptr, 10));
}

}  // namespace driver
