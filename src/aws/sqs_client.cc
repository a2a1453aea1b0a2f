#include "aws/sqs_client.h"

#include <simdjson.h>

#include "common/crypto.h"
#include "common/json_fields.h"
#include "common/strings.h"

namespace aws {
namespace {

using nlohmann::json;

json StringMap(const std::map<std::string, std::string>& m) {
  json out = json::object();
  for (const auto& [k, v] : m) out[k] = v;
  return out;
}

std::map<std::string, std::string> ToStringMap(const json& j) {
  std::map<std::string, std::string> out;
  if (!j.is_object()) return out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.value().is_string()) out[it.key()] = it.value().get<std::string>();
  }
  return out;
}

json AttributesJson(const MessageAttributes& attributes) {
  json out = json::object();
  for (const auto& [name, value] : attributes) {
    json a = {{"DataType", value.data_type}};
    if (common::StartsWith(value.data_type, "Binary")) {
      a["BinaryValue"] = common::Base64Encode(value.binary_value);
    } else {
      a["StringValue"] = value.string_value;
    }
    out[name] = std::move(a);
  }
  return out;
}

void AddSendOptions(const SendMessageOptions& o, json* j) {
  if (o.delay_seconds) (*j)["DelaySeconds"] = *o.delay_seconds;
  if (!o.message_attributes.empty())
    (*j)["MessageAttributes"] = AttributesJson(o.message_attributes);
  if (!o.message_group_id.empty()) (*j)["MessageGroupId"] = o.message_group_id;
  if (!o.message_deduplication_id.empty()) {
    (*j)["MessageDeduplicationId"] = o.message_deduplication_id;
  }
}

// Responses on the relay's hot path (ReceiveMessage and the batch calls) are read with
// simdjson: a validating parse with no per-value allocation.
using Element = simdjson::dom::element;

// The string member `key` of an object, "" when absent or not a string.
std::string StrOf(Element object, const char* key) {
  std::string_view v;
  if (object[key].get(v) != simdjson::SUCCESS) return std::string();
  return std::string(v);
}

std::string Compact(const json& body) {
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A 2xx JSON body as text ("{}" when empty), or the call's error.
Outcome<std::string> BodyText(Outcome<http::Response> response) {
  if (!response.ok()) return response.error();
  if (response->body.empty()) return std::string("{}");
  return std::move(response->body);
}

// One parser per thread: its buffers are reused from response to response.
Outcome<Element> ParseResponse(const std::string& text, const char* operation) {
  thread_local simdjson::dom::parser parser;
  Element doc;
  if (parser.parse(text.data(), text.size()).get(doc) != simdjson::SUCCESS) {
    return AwsError::Local("sqs", common::Code::kInternal,
                           std::string(operation) + ": the response is not JSON");
  }
  return doc;
}

std::vector<BatchResultError> ParseFailed(Element j) {
  std::vector<BatchResultError> out;
  simdjson::dom::array failed;
  if (j["Failed"].get(failed) != simdjson::SUCCESS) return out;
  for (Element f : failed) {
    BatchResultError e;
    e.id = StrOf(f, "Id");
    e.code = StrOf(f, "Code");
    e.message = StrOf(f, "Message");
    bool sender_fault = true;
    if (f["SenderFault"].get(sender_fault) != simdjson::SUCCESS) sender_fault = true;
    e.sender_fault = sender_fault;
    out.push_back(std::move(e));
  }
  return out;
}

BatchResult ParseBatch(Element j) {
  BatchResult r;
  simdjson::dom::array successful;
  if (j["Successful"].get(successful) == simdjson::SUCCESS) {
    for (Element s : successful) r.successful.push_back(StrOf(s, "Id"));
  }
  r.failed = ParseFailed(j);
  return r;
}

AwsError ChecksumMismatch(const std::string& what, const std::string& expected,
                          const std::string& got) {
  return AwsError::Local(
      "sqs", common::Code::kInternal,
      "ChecksumMismatch: MD5 of " + what + " is " + expected + " but the service said " + got);
}

void AppendLengthPrefixed(std::string_view bytes, std::string* out) {
  uint32_t n = static_cast<uint32_t>(bytes.size());
  out->push_back(static_cast<char>((n >> 24) & 0xff));
  out->push_back(static_cast<char>((n >> 16) & 0xff));
  out->push_back(static_cast<char>((n >> 8) & 0xff));
  out->push_back(static_cast<char>(n & 0xff));
  out->append(bytes);
}

// Checks the MD5 of attributes when the service sent one.
std::optional<AwsError> CheckAttributesMd5(const MessageAttributes& attributes,
                                           const std::string& service_md5,
                                           const std::string& what) {
  if (attributes.empty() || service_md5.empty()) return std::nullopt;
  std::string expected = Md5OfMessageAttributes(attributes);
  if (common::ToLower(service_md5) == expected) return std::nullopt;
  return ChecksumMismatch("the message attributes of " + what, expected, service_md5);
}

}  // namespace

std::string Md5OfMessageAttributes(const MessageAttributes& attributes) {
  if (attributes.empty()) return "";
  std::string buffer;
  for (const auto& [name, value] : attributes) {  // std::map: sorted by name
    AppendLengthPrefixed(name, &buffer);
    AppendLengthPrefixed(value.data_type, &buffer);
    if (common::StartsWith(value.data_type, "Binary")) {
      buffer.push_back(2);
      AppendLengthPrefixed(value.binary_value, &buffer);
    } else {
      buffer.push_back(1);
      AppendLengthPrefixed(value.string_value, &buffer);
    }
  }
  return common::Md5Hex(buffer);
}

SqsClient::SqsClient(ClientOptions options) : caller_(std::move(options), "sqs", "sqs") {}

Outcome<json> SqsClient::Call(const char* operation, const json& body,
                              const SendOptions& send) const {
  return caller_.CallJson(std::string("AmazonSQS.") + operation, body, "1.0", send);
}

Outcome<std::string> SqsClient::CallText(const char* operation, std::string body,
                                         const SendOptions& send) const {
  return BodyText(caller_.Send(
      caller_.JsonRequest(std::string("AmazonSQS.") + operation, std::move(body), "1.0"), send));
}

Outcome<std::string> SqsClient::CreateQueue(const std::string& name,
                                            const std::map<std::string, std::string>& attributes,
                                            const std::map<std::string, std::string>& tags) const {
  json body = {{"QueueName", name}};
  if (!attributes.empty()) body["Attributes"] = StringMap(attributes);
  if (!tags.empty()) body["tags"] = StringMap(tags);
  Outcome<json> r = Call("CreateQueue", body);
  if (!r.ok()) return r.error();
  return common::JsonString(*r, "QueueUrl");
}

Outcome<std::string> SqsClient::GetQueueUrl(const std::string& name,
                                            const std::string& owner_account_id) const {
  json body = {{"QueueName", name}};
  if (!owner_account_id.empty()) body["QueueOwnerAWSAccountId"] = owner_account_id;
  Outcome<json> r = Call("GetQueueUrl", body);
  if (!r.ok()) return r.error();
  return common::JsonString(*r, "QueueUrl");
}

Outcome<std::vector<std::string>> SqsClient::ListQueues(const std::string& prefix) const {
  std::vector<std::string> urls;
  std::string next;
  do {
    json body = {{"MaxResults", 1000}};
    if (!prefix.empty()) body["QueueNamePrefix"] = prefix;
    if (!next.empty()) body["NextToken"] = next;
    Outcome<json> r = Call("ListQueues", body);
    if (!r.ok()) return r.error();
    if (auto it = r->find("QueueUrls"); it != r->end() && it->is_array()) {
      for (const json& u : *it) {
        if (u.is_string()) urls.push_back(u.get<std::string>());
      }
    }
    next = common::JsonString(*r, "NextToken");
  } while (!next.empty());
  return urls;
}

Outcome<std::map<std::string, std::string>> SqsClient::GetQueueAttributes(
    const std::string& queue_url, const std::vector<std::string>& names) const {
  json body = {{"QueueUrl", queue_url},
               {"AttributeNames", names.empty() ? std::vector<std::string>{"All"} : names}};
  Outcome<json> r = Call("GetQueueAttributes", body);
  if (!r.ok()) return r.error();
  auto it = r->find("Attributes");
  return it == r->end() ? std::map<std::string, std::string>() : ToStringMap(*it);
}

AwsStatus SqsClient::SetQueueAttributes(
    const std::string& queue_url, const std::map<std::string, std::string>& attributes) const {
  Outcome<json> r =
      Call("SetQueueAttributes", {{"QueueUrl", queue_url}, {"Attributes", StringMap(attributes)}});
  if (!r.ok()) return r.error();
  return Empty{};
}

AwsStatus SqsClient::DeleteQueue(const std::string& queue_url) const {
  Outcome<json> r = Call("DeleteQueue", {{"QueueUrl", queue_url}});
  if (!r.ok()) return r.error();
  return Empty{};
}

AwsStatus SqsClient::PurgeQueue(const std::string& queue_url) const {
  Outcome<json> r = Call("PurgeQueue", {{"QueueUrl", queue_url}});
  if (!r.ok()) return r.error();
  return Empty{};
}

AwsStatus SqsClient::TagQueue(const std::string& queue_url,
                              const std::map<std::string, std::string>& tags) const {
  Outcome<json> r = Call("TagQueue", {{"QueueUrl", queue_url}, {"Tags", StringMap(tags)}});
  if (!r.ok()) return r.error();
  return Empty{};
}

Outcome<SendMessageResult> SqsClient::SendMessage(const std::string& queue_url,
                                                  const std::string& body,
                                                  const SendMessageOptions& options) const {
  json request = {{"QueueUrl", queue_url}, {"MessageBody", body}};
  AddSendOptions(options, &request);
  Outcome<json> r = Call("SendMessage", request);
  if (!r.ok()) return r.error();
  SendMessageResult out;
  out.message_id = common::JsonString(*r, "MessageId");
  out.md5_of_body = common::JsonString(*r, "MD5OfMessageBody");
  out.md5_of_message_attributes = common::JsonString(*r, "MD5OfMessageAttributes");
  out.sequence_number = common::JsonString(*r, "SequenceNumber");
  std::string expected = common::Md5Hex(body);
  if (common::ToLower(out.md5_of_body) != expected) {
    return ChecksumMismatch("the sent body", expected, out.md5_of_body);
  }
  if (auto e = CheckAttributesMd5(options.message_attributes, out.md5_of_message_attributes,
                                  "the sent message")) {
    return *e;
  }
  return out;
}

Outcome<SendMessageBatchResult> SqsClient::SendMessageBatch(
    const std::string& queue_url, const std::vector<SendMessageBatchEntry>& entries) const {
  json list = json::array();
  std::map<std::string, const SendMessageBatchEntry*> by_id;
  for (const SendMessageBatchEntry& e : entries) {
    json entry = {{"Id", e.id}, {"MessageBody", e.body}};
    AddSendOptions(e.options, &entry);
    list.push_back(std::move(entry));
    by_id[e.id] = &e;
  }
  Outcome<std::string> text =
      CallText("SendMessageBatch", Compact({{"QueueUrl", queue_url}, {"Entries", list}}));
  if (!text.ok()) return text.error();
  Outcome<Element> r = ParseResponse(*text, "SendMessageBatch");
  if (!r.ok()) return r.error();
  SendMessageBatchResult out;
  simdjson::dom::array successful;
  if ((*r)["Successful"].get(successful) == simdjson::SUCCESS) {
    for (Element s : successful) {
      SendMessageResult m;
      std::string id = StrOf(s, "Id");
      m.message_id = StrOf(s, "MessageId");
      m.md5_of_body = StrOf(s, "MD5OfMessageBody");
      m.md5_of_message_attributes = StrOf(s, "MD5OfMessageAttributes");
      m.sequence_number = StrOf(s, "SequenceNumber");
      auto entry = by_id.find(id);
      if (entry != by_id.end()) {
        std::string expected = common::Md5Hex(entry->second->body);
        if (common::ToLower(m.md5_of_body) != expected) {
          return ChecksumMismatch("batch entry " + id, expected, m.md5_of_body);
        }
        if (auto e = CheckAttributesMd5(entry->second->options.message_attributes,
                                        m.md5_of_message_attributes, "batch entry " + id)) {
          return *e;
        }
      }
      out.successful.emplace_back(std::move(id), std::move(m));
    }
  }
  out.failed = ParseFailed(*r);
  return out;
}

namespace {

// The relay's two calls build their JSON as text: no DOM, a few appends.
void AppendMember(std::string* out, std::string_view name) {
  if (out->size() > 1) out->push_back(',');
  common::AppendJsonString(out, name);
  out->push_back(':');
}

void AppendStringArray(std::string* out, const std::vector<std::string>& items) {
  out->push_back('[');
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out->push_back(',');
    common::AppendJsonString(out, items[i]);
  }
  out->push_back(']');
}

std::string ReceiveBody(const std::string& queue_url, const ReceiveMessageOptions& options) {
  std::string body = "{";
  AppendMember(&body, "QueueUrl");
  common::AppendJsonString(&body, queue_url);
  AppendMember(&body, "MaxNumberOfMessages");
  body += std::to_string(options.max_number_of_messages);
  AppendMember(&body, "WaitTimeSeconds");
  body += std::to_string(options.wait_time_seconds);
  if (options.visibility_timeout) {
    AppendMember(&body, "VisibilityTimeout");
    body += std::to_string(*options.visibility_timeout);
  }
  if (!options.attribute_names.empty()) {
    // "All" is the one value every version of AWS's model allows here: AttributeNames's enum
    // is the queue-attribute list (SentTimestamp is not in it) and MessageSystemAttributeNames
    // is newer than many models (Debian's botocore among them). It returns every system
    // attribute, the requested ones included.
    AppendMember(&body, "AttributeNames");
    body += "[\"All\"]";
  }
  if (!options.message_attribute_names.empty()) {
    AppendMember(&body, "MessageAttributeNames");
    AppendStringArray(&body, options.message_attribute_names);
  }
  if (!options.receive_request_attempt_id.empty()) {
    AppendMember(&body, "ReceiveRequestAttemptId");
    common::AppendJsonString(&body, options.receive_request_attempt_id);
  }
  body.push_back('}');
  return body;
}

SendOptions ReceiveSendOptions(const ReceiveMessageOptions& options) {
  SendOptions send;
  // The service holds a long poll for up to WaitTimeSeconds; give the exchange room beyond it.
  send.timeout = std::chrono::seconds(std::max(0, options.wait_time_seconds) + 15);
  send.cancel = options.cancel;
  return send;
}

std::string DeleteBatchBody(const std::string& queue_url,
                            const std::vector<DeleteMessageBatchEntry>& entries) {
  std::string body = "{";
  AppendMember(&body, "QueueUrl");
  common::AppendJsonString(&body, queue_url);
  AppendMember(&body, "Entries");
  body.push_back('[');
  for (size_t i = 0; i < entries.size(); ++i) {
    body += i > 0 ? ",{\"Id\":" : "{\"Id\":";
    common::AppendJsonString(&body, entries[i].id);
    body += ",\"ReceiptHandle\":";
    common::AppendJsonString(&body, entries[i].receipt_handle);
    body.push_back('}');
  }
  body += "]}";
  return body;
}

Outcome<BatchResult> ParseBatchText(const Outcome<std::string>& text, const char* operation) {
  if (!text.ok()) return text.error();
  Outcome<Element> r = ParseResponse(*text, operation);
  if (!r.ok()) return r.error();
  return ParseBatch(*r);
}

// ReceiveMessage's answer: the messages, each checked against its MD5s.
Outcome<std::vector<SqsMessage>> ParseReceive(const Outcome<std::string>& text) {
  if (!text.ok()) return text.error();
  Outcome<Element> r = ParseResponse(*text, "ReceiveMessage");
  if (!r.ok()) return r.error();
  std::vector<SqsMessage> out;
  simdjson::dom::array messages;
  if ((*r)["Messages"].get(messages) != simdjson::SUCCESS) return out;
  out.reserve(messages.size());
  for (Element m : messages) {
    SqsMessage msg;
    msg.message_id = StrOf(m, "MessageId");
    msg.receipt_handle = StrOf(m, "ReceiptHandle");
    msg.body = StrOf(m, "Body");
    msg.md5_of_body = StrOf(m, "MD5OfBody");
    msg.md5_of_message_attributes = StrOf(m, "MD5OfMessageAttributes");
    simdjson::dom::object attributes;
    if (m["Attributes"].get(attributes) == simdjson::SUCCESS) {
      for (auto field : attributes) {
        std::string_view v;
        if (field.value.get(v) == simdjson::SUCCESS) msg.attributes.emplace(field.key, v);
      }
    }
    if (m["MessageAttributes"].get(attributes) == simdjson::SUCCESS) {
      for (auto field : attributes) {
        MessageAttributeValue v;
        v.data_type = StrOf(field.value, "DataType");
        v.string_value = StrOf(field.value, "StringValue");
        std::string b64 = StrOf(field.value, "BinaryValue");
        if (!b64.empty() && !common::Base64Decode(b64, &v.binary_value)) v.binary_value.clear();
        msg.message_attributes[std::string(field.key)] = std::move(v);
      }
    }
    std::string expected = common::Md5Hex(msg.body);
    if (common::ToLower(msg.md5_of_body) != expected) {
      return ChecksumMismatch("message " + msg.message_id, expected, msg.md5_of_body);
    }
    if (auto e = CheckAttributesMd5(msg.message_attributes, msg.md5_of_message_attributes,
                                    "message " + msg.message_id)) {
      return *e;
    }
    out.push_back(std::move(msg));
  }
  return out;
}

}  // namespace

Outcome<std::vector<SqsMessage>> SqsClient::ReceiveMessage(
    const std::string& queue_url, const ReceiveMessageOptions& options) const {
  return ParseReceive(
      CallText("ReceiveMessage", ReceiveBody(queue_url, options), ReceiveSendOptions(options)));
}

std::pair<Outcome<BatchResult>, Outcome<std::vector<SqsMessage>>>
SqsClient::DeleteMessageBatchThenReceive(const std::string& queue_url,
                                         const std::vector<DeleteMessageBatchEntry>& entries,
                                         const ReceiveMessageOptions& options) const {
  const ServiceCaller& c = caller_;
  std::vector<http::ClientRequest> requests = {
      c.JsonRequest("AmazonSQS.DeleteMessageBatch", DeleteBatchBody(queue_url, entries), "1.0"),
      c.JsonRequest("AmazonSQS.ReceiveMessage", ReceiveBody(queue_url, options), "1.0")};
  SendOptions receive_send = ReceiveSendOptions(options);
  // One deadline covers the pair: the long poll's.
  std::vector<SendOptions> sends = {receive_send, receive_send};
  std::vector<Outcome<http::Response>> answers = c.SendPipelined(std::move(requests), sends);
  return {ParseBatchText(BodyText(std::move(answers[0])), "DeleteMessageBatch"),
          ParseReceive(BodyText(std::move(answers[1])))};
}

AwsStatus SqsClient::DeleteMessage(const std::string& queue_url,
                                   const std::string& receipt_handle) const {
  Outcome<json> r =
      Call("DeleteMessage", {{"QueueUrl", queue_url}, {"ReceiptHandle", receipt_handle}});
  if (!r.ok()) return r.error();
  return Empty{};
}

Outcome<BatchResult> SqsClient::DeleteMessageBatch(
    const std::string& queue_url, const std::vector<DeleteMessageBatchEntry>& entries) const {
  return ParseBatchText(CallText("DeleteMessageBatch", DeleteBatchBody(queue_url, entries)),
                        "DeleteMessageBatch");
}

AwsStatus SqsClient::ChangeMessageVisibility(const std::string& queue_url,
                                             const std::string& receipt_handle,
                                             int visibility_timeout) const {
  Outcome<json> r = Call("ChangeMessageVisibility", {{"QueueUrl", queue_url},
                                                     {"ReceiptHandle", receipt_handle},
                                                     {"VisibilityTimeout", visibility_timeout}});
  if (!r.ok()) return r.error();
  return Empty{};
}

Outcome<BatchResult> SqsClient::ChangeMessageVisibilityBatch(
    const std::string& queue_url, const std::vector<ChangeVisibilityBatchEntry>& entries) const {
  json list = json::array();
  for (const auto& e : entries) {
    list.push_back({{"Id", e.id},
                    {"ReceiptHandle", e.receipt_handle},
                    {"VisibilityTimeout", e.visibility_timeout}});
  }
  return ParseBatchText(CallText("ChangeMessageVisibilityBatch",
                                 Compact({{"QueueUrl", queue_url}, {"Entries", list}})),
                        "ChangeMessageVisibilityBatch");
}

}  // namespace aws
