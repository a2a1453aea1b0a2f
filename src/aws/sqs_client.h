// Amazon SQS over the AWS JSON 1.0 protocol (X-Amz-Target: AmazonSQS.<Operation>), as current
// SDKs speak it. https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/
// Thread-safe: one client may serve many threads.
#pragma once

#include <atomic>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "aws/client.h"

namespace aws {

// A message attribute: DataType "String", "Number" or "Binary" (optionally ".custom").
struct MessageAttributeValue {
  std::string data_type = "String";
  std::string string_value;  // String and Number
  std::string binary_value;  // Binary: raw bytes (base64 on the wire)
};
using MessageAttributes = std::map<std::string, MessageAttributeValue>;

struct SqsMessage {
  std::string message_id;
  std::string receipt_handle;
  std::string body;
  std::string md5_of_body;
  std::string md5_of_message_attributes;          // "" when the message has none
  std::map<std::string, std::string> attributes;  // SentTimestamp, ApproximateReceiveCount, …
  MessageAttributes message_attributes;
};

struct SendMessageOptions {
  std::optional<int> delay_seconds;
  MessageAttributes message_attributes;
  std::string message_group_id;          // FIFO
  std::string message_deduplication_id;  // FIFO
};

struct SendMessageResult {
  std::string message_id;
  std::string md5_of_body;
  std::string md5_of_message_attributes;
  std::string sequence_number;  // FIFO
};

struct SendMessageBatchEntry {
  std::string id;  // unique within the batch
  std::string body;
  SendMessageOptions options;
};

// The per-entry failure of a batch call.
struct BatchResultError {
  std::string id;
  std::string code;
  std::string message;
  bool sender_fault = true;
};

struct SendMessageBatchResult {
  std::vector<std::pair<std::string, SendMessageResult>> successful;  // (entry id, result)
  std::vector<BatchResultError> failed;
};

struct ReceiveMessageOptions {
  int max_number_of_messages = 1;  // 1–10
  int wait_time_seconds = 0;       // 0–20, long polling
  std::optional<int> visibility_timeout;
  // System attributes wanted; non-empty asks for all of them (AttributeNames ["All"], which
  // every model version of ReceiveMessage accepts), empty for none.
  std::vector<std::string> attribute_names = {"All"};
  std::vector<std::string> message_attribute_names = {"All"};
  std::string receive_request_attempt_id;  // FIFO
  // Ends the long poll early (Aborted) once true; see http::ClientRequest::cancel.
  const std::atomic<bool>* cancel = nullptr;
};

struct DeleteMessageBatchEntry {
  std::string id;
  std::string receipt_handle;
};

struct ChangeVisibilityBatchEntry {
  std::string id;
  std::string receipt_handle;
  int visibility_timeout = 0;
};

// Ids that succeeded and the entries that failed.
struct BatchResult {
  std::vector<std::string> successful;
  std::vector<BatchResultError> failed;
};

// MD5OfMessageAttributes as SQS computes it: attributes sorted by name, each as
// length-prefixed (4-byte big-endian) name, data type, a transport byte (1 String/Number,
// 2 Binary) and length-prefixed value; hex MD5 of the whole. "" for no attributes.
std::string Md5OfMessageAttributes(const MessageAttributes& attributes);

class SqsClient {
 public:
  explicit SqsClient(ClientOptions options);

  // Returns the queue URL. An existing queue with the same attributes is returned as is
  // (SQS semantics); different attributes give QueueAlreadyExists / QueueNameExists.
  Outcome<std::string> CreateQueue(const std::string& name,
                                   const std::map<std::string, std::string>& attributes = {},
                                   const std::map<std::string, std::string>& tags = {}) const;
  // NotFound-mapped error (QueueDoesNotExist / AWS.SimpleQueueService.NonExistentQueue) when
  // absent.
  Outcome<std::string> GetQueueUrl(const std::string& name,
                                   const std::string& owner_account_id = "") const;
  Outcome<std::vector<std::string>> ListQueues(const std::string& prefix = "") const;
  // `names` empty means {"All"}.
  Outcome<std::map<std::string, std::string>> GetQueueAttributes(
      const std::string& queue_url, const std::vector<std::string>& names = {}) const;
  AwsStatus SetQueueAttributes(const std::string& queue_url,
                               const std::map<std::string, std::string>& attributes) const;
  AwsStatus DeleteQueue(const std::string& queue_url) const;
  AwsStatus PurgeQueue(const std::string& queue_url) const;
  AwsStatus TagQueue(const std::string& queue_url,
                     const std::map<std::string, std::string>& tags) const;

  // Verifies MD5OfMessageBody and MD5OfMessageAttributes of the answer (an AwsError
  // "ChecksumMismatch" if either differs).
  Outcome<SendMessageResult> SendMessage(const std::string& queue_url, const std::string& body,
                                         const SendMessageOptions& options = {}) const;
  Outcome<SendMessageBatchResult> SendMessageBatch(
      const std::string& queue_url, const std::vector<SendMessageBatchEntry>& entries) const;
  // Long polls up to options.wait_time_seconds (the HTTP timeout is extended to match).
  // Verifies each message's MD5OfBody and MD5OfMessageAttributes; a mismatch fails the call
  // ("ChecksumMismatch"), as the SDKs do.
  Outcome<std::vector<SqsMessage>> ReceiveMessage(const std::string& queue_url,
                                                  const ReceiveMessageOptions& options = {}) const;
  // DeleteMessageBatch and then ReceiveMessage, written together on one connection: the
  // service deletes before it receives, and a poller that deletes one batch as it asks for
  // the next waits for one round trip instead of two.
  std::pair<Outcome<BatchResult>, Outcome<std::vector<SqsMessage>>> DeleteMessageBatchThenReceive(
      const std::string& queue_url, const std::vector<DeleteMessageBatchEntry>& entries,
      const ReceiveMessageOptions& options) const;
  AwsStatus DeleteMessage(const std::string& queue_url, const std::string& receipt_handle) const;
  Outcome<BatchResult> DeleteMessageBatch(
      const std::string& queue_url, const std::vector<DeleteMessageBatchEntry>& entries) const;
  AwsStatus ChangeMessageVisibility(const std::string& queue_url, const std::string& receipt_handle,
                                    int visibility_timeout) const;
  Outcome<BatchResult> ChangeMessageVisibilityBatch(
      const std::string& queue_url, const std::vector<ChangeVisibilityBatchEntry>& entries) const;

  const ServiceCaller& caller() const { return caller_; }

 private:
  Outcome<nlohmann::json> Call(const char* operation, const nlohmann::json& body,
                               const SendOptions& send = {}) const;
  // The same with the request already serialized, returning the response text ("{}" for an
  // empty body) for a simdjson parse.
  Outcome<std::string> CallText(const char* operation, std::string body,
                                const SendOptions& send = {}) const;
  ServiceCaller caller_;
};

}  // namespace aws
