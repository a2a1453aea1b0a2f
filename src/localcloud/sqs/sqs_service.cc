#include "localcloud/sqs/sqs_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/crypto.h"
#include "common/mutex.h"
#include "common/strings.h"
#include "localcloud/core/protocol.h"
#include "localcloud/core/query_protocol.h"
#include "localcloud/core/resource_policy.h"
#include "localcloud/sqs/sqs_protocol.h"

namespace localcloud::sqs {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr size_t kMaxMessageBytes = 262144;
constexpr int kMaxBatch = 10;
constexpr int64_t kDedupWindowMs = 5 * 60 * 1000;
constexpr int64_t kPurgeIntervalMs = 60 * 1000;

// JSON protocol error type -> legacy query protocol code (x-amzn-query-error).
std::string QueryCode(std::string_view type) {
  static const std::map<std::string_view, std::string_view> kCodes = {
      {"QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"},
      {"QueueNameExists", "QueueAlreadyExists"},
      {"MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight"},
      {"TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"},
      {"EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest"},
      {"BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"},
      {"BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong"},
      {"InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId"},
      {"PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress"},
      {"QueueDeletedRecently", "AWS.SimpleQueueService.QueueDeletedRecently"},
      {"UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation"},
  };
  auto it = kCodes.find(type);
  return std::string(it == kCodes.end() ? type : it->second);
}

aws::AwsError Error(std::string type, std::string message, int status = 400) {
  return ServiceError("sqs", std::move(type), std::move(message), status);
}

aws::AwsError InvalidParameter(std::string message) {
  return Error("InvalidParameterValue", std::move(message));
}
aws::AwsError Missing(std::string_view param) {
  return Error("MissingParameter",
               "The request must contain the parameter " + std::string(param) + ".");
}
aws::AwsError NoQueue() {
  return Error("QueueDoesNotExist", "The specified queue does not exist.");
}

// A queue URL (the QueueUrl parameter, or the request path of the query protocol) whose
// account is not ours: SQS answers AccessDenied (403) for another account's queue that does
// not grant us access, and localcloud grants none across accounts.
std::optional<aws::AwsError> ForeignQueue(const json& in, const http::Request& request,
                                          const std::string& account_id) {
  std::string url;
  if (auto it = in.find("QueueUrl"); it != in.end() && it->is_string()) {
    url = it->get<std::string>();
  } else {
    url = std::string(request.path());
  }
  std::string_view path = url;
  if (size_t scheme = path.find("://"); scheme != std::string_view::npos) {
    size_t slash = path.find('/', scheme + 3);
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
  }
  // "/<account>/<queue>"
  std::vector<std::string> parts = common::Split(path.substr(0, path.find('?')), '/');
  if (parts.size() != 3 || !parts[0].empty() || parts[1].size() != 12 ||
      parts[1].find_first_not_of("0123456789") != std::string::npos || parts[1] == account_id) {
    return std::nullopt;
  }
  return Error("AccessDenied", "Access to the resource " + url + " is denied.", 403);
}

// An integer member; error names the parameter as AWS does.
aws::Outcome<std::optional<int64_t>> GetInt(const json& in, const char* name) {
  auto s = ScalarMember(in, name);
  if (!s) return std::optional<int64_t>();
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s->c_str(), &end, 10);
  if (s->empty() || *end != '\0' || errno != 0) {
    return InvalidParameter("Value " + *s + " for parameter " + name +
                            " is invalid. Reason: " + "must be an integer.");
  }
  return std::optional<int64_t>(v);
}

bool ValidQueueName(std::string_view name) {
  std::string_view base = name;
  if (common::EndsWith(base, ".fifo")) base.remove_suffix(5);
  if (base.empty() || name.size() > 80) return false;
  return std::all_of(base.begin(), base.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

bool ValidBatchId(std::string_view id) {
  if (id.empty() || id.size() > 80) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

// SQS accepts #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF.
bool ValidMessageChars(std::string_view s) {
  if (!common::IsValidUtf8(s)) return false;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    uint32_t cp;
    int n;
    if (c < 0x80) {
      cp = c;
      n = 1;
    } else if ((c >> 5) == 6) {
      cp = c & 0x1f;
      n = 2;
    } else if ((c >> 4) == 14) {
      cp = c & 0x0f;
      n = 3;
    } else {
      cp = c & 0x07;
      n = 4;
    }
    for (int k = 1; k < n; ++k) cp = (cp << 6) | (s[i + k] & 0x3f);
    i += n;
    if (cp == 0x9 || cp == 0xA || cp == 0xD) continue;
    if (cp < 0x20 || cp == 0xFFFE || cp == 0xFFFF) return false;
  }
  return true;
}

struct Message {
  uint64_t seq = 0;
  std::string id;
  std::string body;
  std::string md5_body;
  std::map<std::string, MessageAttributeValue> attributes;
  std::string sender_id;
  std::string trace_header;  // AWSTraceHeader system attribute
  int64_t sent_ms = 0;
  int64_t visible_at_ms = 0;  // not receivable before this (delay or visibility timeout)
  int receive_count = 0;
  int64_t first_receive_ms = 0;
  std::string receipt_nonce;  // of the current receipt handle
  std::string group_id;
  std::string dedup_id;
  std::string sequence_number;  // FIFO

  bool InFlight(int64_t now) const { return receive_count > 0 && visible_at_ms > now; }
  bool Delayed(int64_t now) const { return receive_count == 0 && visible_at_ms > now; }
};

struct ReceiveOptions {
  int max = 1;
  int64_t visibility = -1;  // seconds; -1: the queue's
  std::vector<std::string> attribute_names;
  std::vector<std::string> message_attribute_names;
};

struct Waiter {
  uint64_t id = 0;
  std::string queue;
  ReceiveOptions options;
  std::function<void(json messages)> finish;  // renders and responds
  TimerQueue::TimerId deadline = 0;
};

struct Queue {
  std::string name;
  std::string arn;
  bool fifo = false;
  std::map<std::string, std::string> attributes;  // settable attributes, as strings
  std::map<std::string, std::string> tags;
  int64_t created_s = 0;
  int64_t modified_s = 0;
  int64_t last_purge_ms = 0;
  std::map<uint64_t, Message> messages;  // by arrival
  std::deque<std::shared_ptr<Waiter>> waiters;
  std::unordered_map<std::string, std::pair<int64_t, std::string>> dedup;  // id -> (expiry, msg id)
  TimerQueue::TimerId wake_timer = 0;
  int64_t wake_at_ms = 0;

  int64_t IntAttribute(const char* name) const {
    auto it = attributes.find(name);
    return it == attributes.end() ? 0 : std::strtoll(it->second.c_str(), nullptr, 10);
  }
};

const std::map<std::string, std::string>& DefaultAttributes() {
  static const std::map<std::string, std::string> kDefaults = {
      {"VisibilityTimeout", "30"},
      {"DelaySeconds", "0"},
      {"MaximumMessageSize", "262144"},
      {"MessageRetentionPeriod", "345600"},
      {"ReceiveMessageWaitTimeSeconds", "0"},
      {"SqsManagedSseEnabled", "true"},
  };
  return kDefaults;
}

bool IsSettable(std::string_view name) {
  static const std::set<std::string, std::less<>> kSettable = {"DelaySeconds",
                                                               "MaximumMessageSize",
                                                               "MessageRetentionPeriod",
                                                               "Policy",
                                                               "ReceiveMessageWaitTimeSeconds",
                                                               "VisibilityTimeout",
                                                               "RedrivePolicy",
                                                               "RedriveAllowPolicy",
                                                               "KmsMasterKeyId",
                                                               "KmsDataKeyReusePeriodSeconds",
                                                               "SqsManagedSseEnabled",
                                                               "FifoQueue",
                                                               "ContentBasedDeduplication",
                                                               "DeduplicationScope",
                                                               "FifoThroughputLimit"};
  return kSettable.count(name) > 0;
}

// Parses a message-attribute map of the request shape into values; validates as SQS does.
aws::Outcome<std::map<std::string, MessageAttributeValue>> ParseMessageAttributes(const json& in) {
  std::map<std::string, MessageAttributeValue> out;
  if (!in.is_object()) return out;
  if (in.size() > 10) {
    return InvalidParameter("Number of message attributes [" + std::to_string(in.size()) +
                            "] exceeds the allowed maximum [10].");
  }
  for (auto it = in.begin(); it != in.end(); ++it) {
    const std::string& name = it.key();
    if (name.empty() || name.size() > 256) {
      return InvalidParameter("Message attribute name '" + name + "' is invalid.");
    }
    MessageAttributeValue v;
    v.data_type = ScalarMember(it.value(), "DataType").value_or("");
    if (v.data_type.empty()) {
      return InvalidParameter("The message attribute '" + name +
                              "' must contain non-empty message attribute type.");
    }
    std::string base = v.data_type.substr(0, v.data_type.find('.'));
    if (base != "String" && base != "Number" && base != "Binary") {
      return InvalidParameter("The type of message attribute '" + name +
                              "' is invalid. You must use only the following supported type "
                              "prefixes: Binary, Number, String.");
    }
    if (base == "Binary") {
      std::string b64 = ScalarMember(it.value(), "BinaryValue").value_or("");
      if (b64.empty() || !common::Base64Decode(b64, &v.binary_value)) {
        return InvalidParameter("The message attribute '" + name +
                                "' with type 'Binary' must use field 'Binary'.");
      }
    } else {
      auto s = ScalarMember(it.value(), "StringValue");
      if (!s || s->empty()) {
        return InvalidParameter("The message attribute '" + name + "' with type '" + base +
                                "' must use field 'String'.");
      }
      v.string_value = *s;
    }
    out.emplace(name, std::move(v));
  }
  return out;
}

size_t AttributesSize(const std::map<std::string, MessageAttributeValue>& attrs) {
  size_t n = 0;
  for (const auto& [name, v] : attrs) {
    n += name.size() + v.data_type.size() + v.string_value.size() + v.binary_value.size();
  }
  return n;
}

json AttributeValueJson(const MessageAttributeValue& v) {
  json j = {{"DataType", v.data_type}};
  if (common::StartsWith(v.data_type, "Binary")) {
    j["BinaryValue"] = common::Base64Encode(v.binary_value);
  } else {
    j["StringValue"] = v.string_value;
  }
  return j;
}

bool NameSelected(const std::vector<std::string>& selectors, const std::string& name) {
  for (const std::string& s : selectors) {
    if (s == "All" || s == ".*" || s == name) return true;
    if (common::EndsWith(s, ".*") && common::StartsWith(name, s.substr(0, s.size() - 1))) {
      return true;
    }
  }
  return false;
}

std::vector<std::string> StringList(const json& in, const char* name) {
  std::vector<std::string> out;
  if (in.is_object() && in.contains(name) && in[name].is_array()) {
    for (const json& v : in[name]) {
      if (v.is_string()) out.push_back(v.get<std::string>());
    }
  }
  return out;
}

int64_t NowMs(const CloudContext& context) { return common::ToUnixMillis(context.clock().Now()); }

json MessageToJson(const Message& m) {
  json attrs = json::object();
  for (const auto& [name, v] : m.attributes) attrs[name] = AttributeValueJson(v);
  return {{"seq", m.seq},
          {"id", m.id},
          {"body", m.body},
          {"attributes", attrs},
          {"sender_id", m.sender_id},
          {"trace_header", m.trace_header},
          {"sent_ms", m.sent_ms},
          {"visible_at_ms", m.visible_at_ms},
          {"receive_count", m.receive_count},
          {"first_receive_ms", m.first_receive_ms},
          {"receipt_nonce", m.receipt_nonce},
          {"group_id", m.group_id},
          {"dedup_id", m.dedup_id},
          {"sequence_number", m.sequence_number}};
}

}  // namespace

// All state is guarded by mu_. Responses (Respond callbacks) are always called with mu_
// released: work that answers waiters collects them first and runs them after unlocking.
struct SqsService::Impl : std::enable_shared_from_this<SqsService::Impl> {
  explicit Impl(CloudContext& c) : context(c) {}

  using Deliveries = std::vector<std::pair<std::shared_ptr<Waiter>, json>>;

  CloudContext& context;
  common::Mutex mu;
  std::map<std::string, Queue> queues GUARDED_BY(mu);  // by name
  std::unordered_map<uint64_t, std::shared_ptr<Waiter>> waiters GUARDED_BY(mu);
  uint64_t next_seq GUARDED_BY(mu) = 1;
  uint64_t next_waiter GUARDED_BY(mu) = 1;
  uint64_t fifo_sequence GUARDED_BY(mu) = 0;
  bool dirty GUARDED_BY(mu) = false;
  bool shut_down GUARDED_BY(mu) = false;
  std::string snapshot_path;  // set by Load, before serving

  std::string QueueUrl(const std::string& host, const std::string& name) const {
    // The scheme localcloud serves (https with --tls-*), the host the client addressed.
    std::string scheme =
        common::StartsWith(context.config().endpoint, "https:") ? "https://" : "http://";
    std::string base = host.empty() ? context.config().endpoint : scheme + host;
    return base + "/" + context.config().account_id + "/" + name;
  }
  std::string QueueArn(const std::string& name) const {
    return "arn:aws:sqs:" + context.config().region + ":" + context.config().account_id + ":" +
           name;
  }

  // Name of the queue a QueueUrl (or the request path) names.
  static std::string NameFromUrl(std::string_view url) {
    size_t q = url.find('?');
    if (q != std::string_view::npos) url = url.substr(0, q);
    while (!url.empty() && url.back() == '/') url.remove_suffix(1);
    size_t slash = url.rfind('/');
    return std::string(slash == std::string_view::npos ? url : url.substr(slash + 1));
  }

  Queue* FindQueue(const json& in, const http::Request& request) REQUIRES(mu) {
    std::string name;
    if (auto url = ScalarMember(in, "QueueUrl")) {
      name = NameFromUrl(*url);
    } else {
      std::string_view path = request.path();
      if (path.size() > 1) name = NameFromUrl(path);
    }
    auto it = queues.find(name);
    return it == queues.end() ? nullptr : &it->second;
  }

  Queue* FindByArn(std::string_view arn) REQUIRES(mu) {
    std::vector<std::string> parts = common::Split(arn, ':');
    if (parts.size() != 6 || parts[2] != "sqs" || parts[4] != context.config().account_id) {
      return nullptr;
    }
    auto it = queues.find(parts[5]);
    return it == queues.end() ? nullptr : &it->second;
  }

  std::string ReceiptHandle(const Queue& q, const Message& m) const {
    return common::Base64Encode(q.name + " " + std::to_string(m.seq) + " " + m.receipt_nonce);
  }

  // (queue name, seq, nonce) of a receipt handle; nullopt when malformed.
  static std::optional<std::tuple<std::string, uint64_t, std::string>> ParseReceipt(
      std::string_view handle) {
    std::string raw;
    if (!common::Base64Decode(handle, &raw)) return std::nullopt;
    std::vector<std::string> parts = common::Split(raw, ' ');
    if (parts.size() != 3) return std::nullopt;
    char* end = nullptr;
    uint64_t seq = std::strtoull(parts[1].c_str(), &end, 10);
    if (parts[1].empty() || *end != '\0') return std::nullopt;
    return std::make_tuple(parts[0], seq, parts[2]);
  }

  // --- attributes ---

  aws::Outcome<aws::Empty> ValidateAttributes(const std::map<std::string, std::string>& attrs,
                                              bool fifo, bool creating) REQUIRES(mu) {
    auto range = [&](const std::string& name, int64_t lo,
                     int64_t hi) -> std::optional<aws::AwsError> {
      auto it = attrs.find(name);
      if (it == attrs.end()) return std::nullopt;
      char* end = nullptr;
      long long v = std::strtoll(it->second.c_str(), &end, 10);
      if (it->second.empty() || *end != '\0' || v < lo || v > hi) {
        return Error("InvalidAttributeValue", "Invalid value for the parameter " + name + ".");
      }
      return std::nullopt;
    };
    for (const auto& [name, value] : attrs) {
      if (!IsSettable(name)) {
        return Error("InvalidAttributeName", "Unknown Attribute " + name + ".");
      }
      if (!fifo && (name == "ContentBasedDeduplication" || name == "DeduplicationScope" ||
                    name == "FifoThroughputLimit")) {
        return Error("InvalidAttributeName", "Unknown Attribute " + name + ".");
      }
      if (name == "FifoQueue" && !creating) {
        return Error("InvalidAttributeName", "Unknown Attribute " + name + ".");
      }
    }
    for (auto [name, lo, hi] : std::vector<std::tuple<std::string, int64_t, int64_t>>{
             {"VisibilityTimeout", 0, 43200},
             {"DelaySeconds", 0, 900},
             {"MaximumMessageSize", 1024, 262144},
             {"MessageRetentionPeriod", 60, 1209600},
             {"ReceiveMessageWaitTimeSeconds", 0, 20}}) {
      if (auto e = range(name, lo, hi)) return *e;
    }
    if (auto it = attrs.find("Policy"); it != attrs.end() && !it->second.empty()) {
      if (!ValidateResourcePolicy(it->second, {"sqs", ""}).ok()) {
        return Error("InvalidAttributeValue", "Invalid value for the parameter Policy.");
      }
    }
    if (auto it = attrs.find("RedrivePolicy"); it != attrs.end() && !it->second.empty()) {
      json policy = json::parse(it->second, nullptr, false);
      auto invalid = [&](const std::string& reason) {
        return InvalidParameter("Value " + it->second +
                                " for parameter RedrivePolicy is invalid. Reason: " + reason);
      };
      if (!policy.is_object()) return invalid("Redrive policy is not a valid JSON map.");
      auto target = ScalarMember(policy, "deadLetterTargetArn");
      auto count = GetInt(policy, "maxReceiveCount");
      if (!target)
        return invalid("Redrive policy does not contain mandatory attribute: deadLetterTargetArn.");
      if (!count.ok() || !count.value())
        return invalid("Redrive policy does not contain mandatory attribute: maxReceiveCount.");
      if (**count < 1 || **count > 1000)
        return invalid("Invalid value for maxReceiveCount: " + std::to_string(**count) +
                       ", valid values are from 1 to 1000 both inclusive.");
      Queue* dlq = FindByArn(*target);
      if (dlq == nullptr) return invalid("Dead letter target does not exist.");
      if (dlq->fifo != fifo)
        return invalid("Dead-letter queue must be same type of queue as the source.");
    }
    return aws::Empty{};
  }

  json QueueAttributes(const Queue& q, const std::vector<std::string>& names,
                       aws::AwsError* error) {
    int64_t now = NowMs(context);
    size_t visible = 0, in_flight = 0, delayed = 0;
    for (const auto& [_, m] : q.messages) {
      if (m.InFlight(now))
        ++in_flight;
      else if (m.Delayed(now))
        ++delayed;
      else
        ++visible;
    }
    std::map<std::string, std::string> all = q.attributes;
    all["QueueArn"] = q.arn;
    all["ApproximateNumberOfMessages"] = std::to_string(visible);
    all["ApproximateNumberOfMessagesNotVisible"] = std::to_string(in_flight);
    all["ApproximateNumberOfMessagesDelayed"] = std::to_string(delayed);
    all["CreatedTimestamp"] = std::to_string(q.created_s);
    all["LastModifiedTimestamp"] = std::to_string(q.modified_s);
    json out = json::object();
    for (const std::string& name : names) {
      if (name == "All") {
        for (const auto& [k, v] : all) out[k] = v;
        continue;
      }
      auto it = all.find(name);
      if (it == all.end()) {
        if (IsSettable(name) || name == "QueueArn") continue;  // known but unset
        *error = Error("InvalidAttributeName", "Unknown Attribute " + name + ".");
        return nullptr;
      }
      out[name] = it->second;
    }
    return out;
  }

  // --- messages ---

  struct Accepted {
    std::string message_id;
    std::string md5_body;
    std::string md5_attributes;
    std::string sequence_number;
  };

  // Validates and enqueues one message. Collects waiters to answer in `deliveries`.
  aws::Outcome<Accepted> Enqueue(Queue& q, OutgoingMessage msg, const std::string& sender_id,
                                 const std::string& trace_header, Deliveries* deliveries)
      REQUIRES(mu) {
    if (msg.body.empty()) return Missing("MessageBody");
    if (!ValidMessageChars(msg.body)) {
      return Error("InvalidMessageContents",
                   "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | "
                   "#x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF");
    }
    size_t max_size = static_cast<size_t>(q.IntAttribute("MaximumMessageSize"));
    if (msg.body.size() + AttributesSize(msg.attributes) > max_size) {
      return InvalidParameter(
          "One or more parameters are invalid. Reason: Message must be "
          "shorter than " +
          std::to_string(max_size) + " bytes.");
    }
    int64_t now = NowMs(context);
    if (q.fifo) {
      if (msg.message_group_id.empty()) return Missing("MessageGroupId");
      if (msg.delay_seconds > 0) {
        return InvalidParameter("Value " + std::to_string(msg.delay_seconds) +
                                " for parameter DelaySeconds is invalid. Reason: The request "
                                "include parameter that is not valid for this queue type.");
      }
      if (msg.deduplication_id.empty()) {
        if (q.attributes["ContentBasedDeduplication"] != "true") {
          return InvalidParameter(
              "The queue should either have ContentBasedDeduplication "
              "enabled or MessageDeduplicationId provided explicitly");
        }
        msg.deduplication_id = common::Sha256Hex(msg.body);
      }
      for (auto it = q.dedup.begin(); it != q.dedup.end();) {
        it = it->second.first <= now ? q.dedup.erase(it) : std::next(it);
      }
      if (auto it = q.dedup.find(msg.deduplication_id); it != q.dedup.end()) {
        // A duplicate within the window: accepted, not enqueued again.
        return Accepted{it->second.second, common::Md5Hex(msg.body),
                        Md5OfMessageAttributes(msg.attributes), ""};
      }
    } else if (msg.delay_seconds > 900) {
      return InvalidParameter("Value " + std::to_string(msg.delay_seconds) +
                              " for parameter DelaySeconds is invalid. Reason: must be between "
                              "0 and 900, if provided.");
    }
    Message m;
    m.seq = next_seq++;
    m.id = common::NewUuid();
    m.md5_body = common::Md5Hex(msg.body);
    m.body = std::move(msg.body);
    m.attributes = std::move(msg.attributes);
    m.sender_id = sender_id;
    m.trace_header = trace_header;
    m.sent_ms = now;
    int64_t delay = msg.delay_seconds >= 0 ? msg.delay_seconds : q.IntAttribute("DelaySeconds");
    m.visible_at_ms = now + delay * 1000;
    m.group_id = std::move(msg.message_group_id);
    if (q.fifo) {
      m.dedup_id = msg.deduplication_id;
      char buf[32];
      std::snprintf(buf, sizeof buf, "%020llu",
                    static_cast<unsigned long long>(++fifo_sequence + 18000000000000000000ull));
      m.sequence_number = buf;
      q.dedup[m.dedup_id] = {now + kDedupWindowMs, m.id};
    }
    Accepted accepted{m.id, m.md5_body, Md5OfMessageAttributes(m.attributes), m.sequence_number};
    q.messages.emplace(m.seq, std::move(m));
    dirty = true;
    ServeWaiters(q, deliveries);
    return accepted;
  }

  json RenderMessage(const Queue& q, const Message& m, const ReceiveOptions& o) {
    json j = {{"MessageId", m.id},
              {"ReceiptHandle", ReceiptHandle(q, m)},
              {"MD5OfBody", m.md5_body},
              {"Body", m.body}};
    json attrs = json::object();
    auto want = [&](const char* name) { return NameSelected(o.attribute_names, name); };
    if (want("SenderId")) attrs["SenderId"] = m.sender_id;
    if (want("SentTimestamp")) attrs["SentTimestamp"] = std::to_string(m.sent_ms);
    if (want("ApproximateReceiveCount")) {
      attrs["ApproximateReceiveCount"] = std::to_string(m.receive_count);
    }
    if (want("ApproximateFirstReceiveTimestamp")) {
      attrs["ApproximateFirstReceiveTimestamp"] = std::to_string(m.first_receive_ms);
    }
    if (!m.trace_header.empty() && want("AWSTraceHeader")) attrs["AWSTraceHeader"] = m.trace_header;
    if (q.fifo) {
      if (want("SequenceNumber")) attrs["SequenceNumber"] = m.sequence_number;
      if (want("MessageDeduplicationId")) attrs["MessageDeduplicationId"] = m.dedup_id;
      if (want("MessageGroupId")) attrs["MessageGroupId"] = m.group_id;
    }
    if (!attrs.empty()) j["Attributes"] = std::move(attrs);
    std::map<std::string, MessageAttributeValue> selected;
    for (const auto& [name, v] : m.attributes) {
      if (NameSelected(o.message_attribute_names, name)) selected.emplace(name, v);
    }
    if (!selected.empty()) {
      j["MD5OfMessageAttributes"] = Md5OfMessageAttributes(selected);
      json mattrs = json::object();
      for (const auto& [name, v] : selected) mattrs[name] = AttributeValueJson(v);
      j["MessageAttributes"] = std::move(mattrs);
    }
    return j;
  }

  // Makes up to o.max messages in flight and renders them. Moves messages that exhausted
  // their receives to the dead-letter queue; drops messages past retention.
  json Take(Queue& q, const ReceiveOptions& o, Deliveries* deliveries) REQUIRES(mu) {
    json out = json::array();
    int64_t now = NowMs(context);
    int64_t retention_ms = q.IntAttribute("MessageRetentionPeriod") * 1000;
    int64_t visibility = o.visibility >= 0 ? o.visibility : q.IntAttribute("VisibilityTimeout");
    Queue* dlq = nullptr;
    int64_t max_receives = 0;
    if (auto it = q.attributes.find("RedrivePolicy");
        it != q.attributes.end() && !it->second.empty()) {
      json policy = json::parse(it->second, nullptr, false);
      if (auto target = ScalarMember(policy, "deadLetterTargetArn")) dlq = FindByArn(*target);
      auto count = GetInt(policy, "maxReceiveCount");
      if (count.ok() && count.value()) max_receives = **count;
      if (dlq == &q) dlq = nullptr;
    }
    std::unordered_set<std::string> blocked, taken_groups;
    if (q.fifo) {
      for (const auto& [_, m] : q.messages) {
        if (m.visible_at_ms > now) blocked.insert(m.group_id);
      }
    }
    for (auto it = q.messages.begin();
         it != q.messages.end() && static_cast<int>(out.size()) < o.max;) {
      Message& m = it->second;
      if (m.sent_ms + retention_ms <= now) {
        it = q.messages.erase(it);
        dirty = true;
        continue;
      }
      if (m.visible_at_ms > now) {
        ++it;
        continue;
      }
      if (q.fifo && blocked.count(m.group_id) && !taken_groups.count(m.group_id)) {
        ++it;
        continue;
      }
      if (dlq != nullptr && max_receives > 0 && m.receive_count >= max_receives) {
        Message moved = std::move(m);
        it = q.messages.erase(it);
        moved.seq = next_seq++;
        moved.receive_count = 0;
        moved.first_receive_ms = 0;
        moved.visible_at_ms = now;
        dlq->messages.emplace(moved.seq, std::move(moved));
        ServeWaiters(*dlq, deliveries);
        dirty = true;
        continue;
      }
      ++m.receive_count;
      if (m.first_receive_ms == 0) m.first_receive_ms = now;
      m.visible_at_ms = now + visibility * 1000;
      m.receipt_nonce = common::HexEncode(common::RandomBytes(8));
      if (q.fifo) {
        taken_groups.insert(m.group_id);
        blocked.insert(m.group_id);
      }
      out.push_back(RenderMessage(q, m, o));
      dirty = true;
      ++it;
    }
    return out;
  }

  // Hands available messages to waiting long polls, oldest waiter first.
  void ServeWaiters(Queue& q, Deliveries* deliveries) REQUIRES(mu) {
    while (!q.waiters.empty()) {
      std::shared_ptr<Waiter> w = q.waiters.front();
      json messages = Take(q, w->options, deliveries);
      if (messages.empty()) break;
      q.waiters.pop_front();
      waiters.erase(w->id);
      context.timers().Cancel(w->deadline);
      deliveries->emplace_back(std::move(w), std::move(messages));
    }
    ScheduleWake(q);
  }

  // With waiters pending, wakes up when the next delayed or in-flight message turns visible.
  void ScheduleWake(Queue& q) REQUIRES(mu) {
    if (q.waiters.empty()) return;
    int64_t now = NowMs(context);
    int64_t next = 0;
    for (const auto& [_, m] : q.messages) {
      if (m.visible_at_ms > now && (next == 0 || m.visible_at_ms < next)) next = m.visible_at_ms;
    }
    if (next == 0) return;
    if (q.wake_timer != 0 && q.wake_at_ms <= next) return;
    if (q.wake_timer != 0) context.timers().Cancel(q.wake_timer);
    q.wake_at_ms = next;
    std::weak_ptr<Impl> weak = weak_from_this();
    std::string name = q.name;
    q.wake_timer =
        context.timers().ScheduleAfter(std::chrono::milliseconds(next - now + 1), [weak, name] {
          auto self = weak.lock();
          if (!self) return;
          Deliveries deliveries;
          {
            common::MutexLock lock(self->mu);
            auto it = self->queues.find(name);
            if (it == self->queues.end()) return;
            it->second.wake_timer = 0;
            self->ServeWaiters(it->second, &deliveries);
          }
          Deliver(deliveries);
        });
  }

  static void Deliver(Deliveries& deliveries) {
    for (auto& [waiter, messages] : deliveries) waiter->finish(std::move(messages));
  }

  void ExpireWaiter(uint64_t id) EXCLUDES(mu) {
    std::shared_ptr<Waiter> w;
    {
      common::MutexLock lock(mu);
      auto it = waiters.find(id);
      if (it == waiters.end()) return;
      w = it->second;
      waiters.erase(it);
      auto q = queues.find(w->queue);
      if (q != queues.end()) {
        auto& list = q->second.waiters;
        list.erase(std::remove(list.begin(), list.end(), w), list.end());
      }
    }
    w->finish(json::array());
  }

  aws::AwsError InvalidReceipt(const std::string& handle) {
    return Error("ReceiptHandleIsInvalid",
                 "The input receipt handle \"" + handle + "\" is not a valid receipt handle.");
  }

  // Deletes the message a receipt handle names (also with a stale handle, as SQS does for a
  // message that still exists; a message already gone is not an error).
  aws::Outcome<aws::Empty> DeleteByReceipt(Queue& q, const std::string& handle,
                                           Deliveries* deliveries) REQUIRES(mu) {
    if (handle.empty()) return Missing("ReceiptHandle");
    auto parsed = ParseReceipt(handle);
    if (!parsed || std::get<0>(*parsed) != q.name) return InvalidReceipt(handle);
    if (q.messages.erase(std::get<1>(*parsed)) > 0) {
      dirty = true;
      if (q.fifo) ServeWaiters(q, deliveries);  // the message's group may be free now
    }
    return aws::Empty{};
  }

  aws::Outcome<aws::Empty> ChangeVisibility(Queue& q, const std::string& handle,
                                            const aws::Outcome<std::optional<int64_t>>& timeout,
                                            Deliveries* deliveries) REQUIRES(mu) {
    if (handle.empty()) return Missing("ReceiptHandle");
    if (!timeout.ok()) return timeout.error();
    if (!timeout.value()) return Missing("VisibilityTimeout");
    int64_t seconds = **timeout;
    if (seconds < 0 || seconds > 43200) {
      return InvalidParameter("Value " + std::to_string(seconds) +
                              " for parameter VisibilityTimeout is invalid. Reason: Must be "
                              "between 0 and 43200.");
    }
    auto parsed = ParseReceipt(handle);
    if (!parsed || std::get<0>(*parsed) != q.name) return InvalidReceipt(handle);
    int64_t now = NowMs(context);
    auto it = q.messages.find(std::get<1>(*parsed));
    if (it == q.messages.end() || !it->second.InFlight(now) ||
        it->second.receipt_nonce != std::get<2>(*parsed)) {
      return Error("MessageNotInflight",
                   "Value " + handle +
                       " for parameter ReceiptHandle is invalid. Reason: "
                       "Message does not exist or is not available for visibility timeout change.");
    }
    it->second.visible_at_ms = now + seconds * 1000;
    dirty = true;
    ServeWaiters(q, deliveries);
    return aws::Empty{};
  }

  // --- persistence ---

  json Snapshot() REQUIRES(mu) {
    json out = {
        {"next_seq", next_seq}, {"fifo_sequence", fifo_sequence}, {"queues", json::array()}};
    for (const auto& [name, q] : queues) {
      json messages = json::array();
      for (const auto& [_, m] : q.messages) messages.push_back(MessageToJson(m));
      out["queues"].push_back({{"name", name},
                               {"fifo", q.fifo},
                               {"attributes", q.attributes},
                               {"tags", q.tags},
                               {"created_s", q.created_s},
                               {"modified_s", q.modified_s},
                               {"messages", std::move(messages)}});
    }
    return out;
  }

  void SaveIfDirty(bool force) EXCLUDES(mu) {
    if (snapshot_path.empty()) return;
    std::string text;
    {
      common::MutexLock lock(mu);
      if (!dirty && !force) return;
      dirty = false;
      text = Snapshot().dump();
    }
    std::string tmp = snapshot_path + ".tmp";
    {
      std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
      f << text;
      if (!f) {
        spdlog::error("sqs: cannot write {}", tmp);
        return;
      }
    }
    std::error_code ec;
    fs::rename(tmp, snapshot_path, ec);
    if (ec) spdlog::error("sqs: cannot replace {}: {}", snapshot_path, ec.message());
  }

  void SchedulePeriodicSave() {
    std::weak_ptr<Impl> weak = weak_from_this();
    context.timers().ScheduleAfter(std::chrono::seconds(1), [weak] {
      auto self = weak.lock();
      if (!self) return;
      self->SaveIfDirty(false);
      self->SchedulePeriodicSave();
    });
  }

  common::Status LoadSnapshot(const std::string& text) REQUIRES(mu) {
    json root = json::parse(text, nullptr, false);
    if (!root.is_object()) return common::InvalidArgument("corrupt SQS snapshot " + snapshot_path);
    try {
      next_seq = root.value("next_seq", uint64_t{1});
      fifo_sequence = root.value("fifo_sequence", uint64_t{0});
      for (const json& jq : root.at("queues")) {
        Queue q;
        q.name = jq.at("name").get<std::string>();
        q.arn = QueueArn(q.name);
        q.fifo = jq.value("fifo", false);
        q.attributes = jq.at("attributes").get<std::map<std::string, std::string>>();
        q.tags = jq.at("tags").get<std::map<std::string, std::string>>();
        q.created_s = jq.value("created_s", int64_t{0});
        q.modified_s = jq.value("modified_s", int64_t{0});
        for (const json& jm : jq.at("messages")) {
          Message m;
          m.seq = jm.at("seq").get<uint64_t>();
          m.id = jm.at("id").get<std::string>();
          m.body = jm.at("body").get<std::string>();
          m.md5_body = common::Md5Hex(m.body);
          auto attrs = ParseMessageAttributes(jm.at("attributes"));
          if (attrs.ok()) m.attributes = std::move(attrs.value());
          m.sender_id = jm.value("sender_id", "");
          m.trace_header = jm.value("trace_header", "");
          m.sent_ms = jm.at("sent_ms").get<int64_t>();
          m.visible_at_ms = jm.at("visible_at_ms").get<int64_t>();
          m.receive_count = jm.at("receive_count").get<int>();
          m.first_receive_ms = jm.at("first_receive_ms").get<int64_t>();
          m.receipt_nonce = jm.value("receipt_nonce", "");
          m.group_id = jm.value("group_id", "");
          m.dedup_id = jm.value("dedup_id", "");
          m.sequence_number = jm.value("sequence_number", "");
          q.messages.emplace(m.seq, std::move(m));
        }
        std::string name = q.name;
        queues.emplace(name, std::move(q));
      }
    } catch (const json::exception& e) {
      return common::InvalidArgument("corrupt SQS snapshot " + snapshot_path + ": " + e.what());
    }
    return common::Status::Ok();
  }

  // --- operations (one function each; the table in SqsService's constructor) ---

  // What an operation leaves to do once mu is released: answer long polls that got
  // messages, end the polls of a deleted queue.
  struct Effects {
    Deliveries deliveries;
    std::vector<std::shared_ptr<Waiter>> orphaned;
  };
  // An operation on the queue the request names.
  using QueueOperation = OperationResult (Impl::*)(Queue& q, const json& in, const Call& call,
                                                   Effects& effects);

  // Runs `op` under mu on the queue the request names (QueueUrl, or the query protocol's
  // path), then its effects. MissingParameter without a QueueUrl, QueueDoesNotExist.
  OperationResult OnQueue(const json& in, const Call& call, QueueOperation op) EXCLUDES(mu);

  void ReceiveMessage(const json& in, const Call& call, Reply reply) EXCLUDES(mu);
  OperationResult ListQueues(const json& in, const Call& call) EXCLUDES(mu);
  OperationResult CreateQueue(const json& in, const Call& call) EXCLUDES(mu);
  OperationResult GetQueueUrl(const json& in, const Call& call) EXCLUDES(mu);
  OperationResult GetQueueAttributes(Queue& q, const json& in, const Call& call, Effects& effects)
      REQUIRES(mu);
  OperationResult SetQueueAttributes(Queue& q, const json& in, const Call& call, Effects& effects)
      REQUIRES(mu);
  OperationResult SendMessage(Queue& q, const json& in, const Call& call, Effects& effects)
      REQUIRES(mu);
  OperationResult SendMessageBatch(Queue& q, const json& in, const Call& call, Effects& effects)
      REQUIRES(mu);
  OperationResult DeleteMessage(Queue& q, const json& in, const Call& call, Effects& effects)
      REQUIRES(mu);
  OperationResult DeleteMessageBatch(Queue& q, const json& in, const Call& call, Effects& effects)
      REQUIRES(mu);
  OperationResult ChangeMessageVisibility(Queue& q, const json& in, const Call& call,
                                          Effects& effects) REQUIRES(mu);
  OperationResult ChangeMessageVisibilityBatch(Queue& q, const json& in, const Call& call,
                                               Effects& effects) REQUIRES(mu);
  OperationResult PurgeQueue(Queue& q, const json& in, const Call& call, Effects& effects)
      REQUIRES(mu);
  OperationResult DeleteQueue(Queue& q, const json& in, const Call& call, Effects& effects)
      REQUIRES(mu);
  OperationResult TagQueue(Queue& q, const json& in, const Call& call, Effects& effects)
      REQUIRES(mu);
  OperationResult UntagQueue(Queue& q, const json& in, const Call& call, Effects& effects)
      REQUIRES(mu);
  OperationResult ListQueueTags(Queue& q, const json& in, const Call& call, Effects& effects)
      REQUIRES(mu);
  OperationResult ListDeadLetterSourceQueues(Queue& q, const json& in, const Call& call,
                                             Effects& effects) REQUIRES(mu);

  // SendMessage of one message (a request or a batch entry): its result members.
  OperationResult SendOne(Queue& q, const json& in, const std::string& sender,
                          Deliveries* deliveries) REQUIRES(mu);
  // A batch operation: the request's entries checked as SQS does, `entry` run on each;
  // {"Successful": [{Id, …result}], "Failed": [{Id, SenderFault, Code, Message}]}.
  static OperationResult RunBatch(std::string_view action, const json& in,
                                  const std::function<OperationResult(const json& entry)>& entry);
};

namespace {

// AWS delivers for a service principal only when the queue's Policy allows it.
common::Status CheckSenderAllowed(const Queue& q, const OutgoingMessage& m) {
  if (m.sender_service.empty()) return common::Status::Ok();
  auto it = q.attributes.find("Policy");
  ServiceRequest request;
  request.service = m.sender_service;
  request.action = "sqs:SendMessage";
  request.resource = q.arn;
  if (!m.sender_source_arn.empty()) request.context["aws:SourceArn"] = m.sender_source_arn;
  if (!m.sender_source_account.empty()) {
    request.context["aws:SourceAccount"] = m.sender_source_account;
  }
  if (it != q.attributes.end() && ResourcePolicyAllows(it->second, request)) {
    return common::Status::Ok();
  }
  return common::PermissionDenied(
      "the Policy of queue " + q.arn + " does not allow " + m.sender_service + " to send messages" +
      (m.sender_source_arn.empty() ? "" : " from " + m.sender_source_arn));
}

OutgoingMessage ReadOutgoing(const json& in, int64_t delay) {
  OutgoingMessage m;
  m.body = ScalarMember(in, "MessageBody").value_or("");
  m.message_group_id = ScalarMember(in, "MessageGroupId").value_or("");
  m.deduplication_id = ScalarMember(in, "MessageDeduplicationId").value_or("");
  m.delay_seconds = static_cast<int>(delay);
  return m;
}

std::string TraceHeader(const json& in) {
  if (in.contains("MessageSystemAttributes") && in["MessageSystemAttributes"].is_object()) {
    const json& sys = in["MessageSystemAttributes"];
    if (sys.contains("AWSTraceHeader"))
      return ScalarMember(sys["AWSTraceHeader"], "StringValue").value_or("");
  }
  return "";
}

// The host the client addressed: queue URLs are answered on it.
std::string HostOf(const Call& call) { return call.request.headers.GetOr("host", ""); }

// A map member of string values ("Tags"); other scalars as their JSON text.
std::map<std::string, std::string> StringMap(const json& in, const char* name) {
  std::map<std::string, std::string> out;
  if (in.contains(name) && in[name].is_object()) {
    for (auto it = in[name].begin(); it != in[name].end(); ++it) {
      out[it.key()] = it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
    }
  }
  return out;
}

// ReceiveMessage's parameters, checked as SQS does; the wait (WaitTimeSeconds) apart.
aws::Outcome<std::pair<ReceiveOptions, std::optional<int64_t>>> ReadReceiveOptions(const json& in) {
  ReceiveOptions o;
  auto max = GetInt(in, "MaxNumberOfMessages");
  auto vis = GetInt(in, "VisibilityTimeout");
  auto wait = GetInt(in, "WaitTimeSeconds");
  if (!max.ok()) return max.error();
  if (!vis.ok()) return vis.error();
  if (!wait.ok()) return wait.error();
  o.max = static_cast<int>(max->value_or(1));
  if (o.max < 1 || o.max > kMaxBatch) {
    return InvalidParameter("Value " + std::to_string(o.max) +
                            " for parameter MaxNumberOfMessages is invalid. Reason: Must "
                            "be between 1 and 10, if provided.");
  }
  o.visibility = vis->value_or(-1);
  if (vis->has_value() && (o.visibility < 0 || o.visibility > 43200)) {
    return InvalidParameter("Value " + std::to_string(o.visibility) +
                            " for parameter VisibilityTimeout is invalid. Reason: Must "
                            "be between 0 and 43200, if provided.");
  }
  if (wait->has_value() && (**wait < 0 || **wait > 20)) {
    return InvalidParameter("Value " + std::to_string(**wait) +
                            " for parameter WaitTimeSeconds is invalid. Reason: Must be "
                            ">= 0 and <= 20, if provided.");
  }
  o.attribute_names = StringList(in, "AttributeNames");
  for (auto& n : StringList(in, "MessageSystemAttributeNames")) o.attribute_names.push_back(n);
  o.message_attribute_names = StringList(in, "MessageAttributeNames");
  return std::make_pair(std::move(o), *wait);
}

// The whole-request errors of a batch: empty, too many entries, bad or repeated ids, too
// many bytes (SendMessageBatch).
std::optional<aws::AwsError> CheckBatch(std::string_view action, const json& entries) {
  if (!entries.is_array() || entries.empty()) {
    return Error("EmptyBatchRequest", "There should be at least one " + std::string(action) +
                                          "RequestEntry in the request.");
  }
  if (entries.size() > kMaxBatch) {
    return Error("TooManyEntriesInBatchRequest",
                 "Maximum number of entries per request are 10. You have sent " +
                     std::to_string(entries.size()) + ".");
  }
  std::set<std::string> ids;
  size_t total = 0;
  for (const json& e : entries) {
    std::string id = ScalarMember(e, "Id").value_or("");
    if (!ValidBatchId(id)) {
      return Error("InvalidBatchEntryId",
                   "A batch entry id can only contain alphanumeric characters, "
                   "hyphens and underscores. It can be at most 80 letters long.");
    }
    if (!ids.insert(id).second) return Error("BatchEntryIdsNotDistinct", "Id " + id + " repeated.");
    total += ScalarMember(e, "MessageBody").value_or("").size();
  }
  if (action == "SendMessageBatch" && total > kMaxMessageBytes) {
    return Error("BatchRequestTooLong",
                 "Batch requests cannot be longer than 262144 bytes. You have sent " +
                     std::to_string(total) + " bytes.");
  }
  return std::nullopt;
}

}  // namespace

OperationResult SqsService::Impl::OnQueue(const json& in, const Call& call, QueueOperation op) {
  Effects effects;
  OperationResult result = [&]() -> OperationResult {
    common::MutexLock lock(mu);
    Queue* q = FindQueue(in, call.request);
    if (q == nullptr) return ScalarMember(in, "QueueUrl") ? NoQueue() : Missing("QueueUrl");
    return (this->*op)(*q, in, call, effects);
  }();
  Deliver(effects.deliveries);
  for (auto& w : effects.orphaned) w->finish(json::array());
  return result;
}

void SqsService::Impl::ReceiveMessage(const json& in, const Call& call, Reply reply) {
  auto options = ReadReceiveOptions(in);
  if (!options.ok()) return reply(options.error());
  auto& [o, wait] = *options;
  // Renders the messages taken now, or later by the long poll's waiter.
  std::function<void(json)> finish = [reply](json messages) {
    json result = json::object();
    if (!messages.empty()) result["Messages"] = std::move(messages);
    reply(std::move(result));
  };
  Deliveries deliveries;
  json taken;
  {
    common::MutexLock lock(mu);
    Queue* q = FindQueue(in, call.request);
    if (q == nullptr) {
      lock.Unlock();
      return reply(NoQueue());
    }
    int64_t wait_s = wait.value_or(q->IntAttribute("ReceiveMessageWaitTimeSeconds"));
    taken = Take(*q, o, &deliveries);
    if (taken.empty() && wait_s > 0 && !shut_down) {
      auto w = std::make_shared<Waiter>();
      w->id = next_waiter++;
      w->queue = q->name;
      w->options = std::move(o);
      w->finish = std::move(finish);
      std::weak_ptr<Impl> weak = weak_from_this();
      uint64_t id = w->id;
      w->deadline = context.timers().ScheduleAfter(std::chrono::seconds(wait_s), [weak, id] {
        if (auto self = weak.lock()) self->ExpireWaiter(id);
      });
      waiters.emplace(w->id, w);
      q->waiters.push_back(std::move(w));
      ScheduleWake(*q);
      finish = nullptr;
    }
  }
  Deliver(deliveries);
  if (finish) finish(std::move(taken));
}

OperationResult SqsService::Impl::ListQueues(const json& in, const Call& call) {
  std::string prefix = ScalarMember(in, "QueueNamePrefix").value_or("");
  auto max = GetInt(in, "MaxResults");
  if (!max.ok()) return max.error();
  if (max->has_value() && (**max < 1 || **max > 1000)) {
    return InvalidParameter("Value " + std::to_string(**max) +
                            " for parameter MaxResults is invalid. Reason: Must be "
                            "between 1 and 1000, if provided.");
  }
  std::string after;
  if (auto token = ScalarMember(in, "NextToken")) common::Base64Decode(*token, &after);
  json urls = json::array();
  std::string last;
  bool more = false;
  {
    common::MutexLock lock(mu);
    for (const auto& [name, q] : queues) {
      if (!common::StartsWith(name, prefix) || (!after.empty() && name <= after)) continue;
      if (max->has_value() && static_cast<int64_t>(urls.size()) == **max) {
        more = true;
        break;
      }
      urls.push_back(QueueUrl(HostOf(call), name));
      last = name;
    }
  }
  json result = json::object();
  if (!urls.empty()) result["QueueUrls"] = std::move(urls);
  if (more) result["NextToken"] = common::Base64Encode(last);
  return result;
}

OperationResult SqsService::Impl::CreateQueue(const json& in, const Call& call) {
  std::string name = ScalarMember(in, "QueueName").value_or("");
  if (name.empty()) return Missing("QueueName");
  if (!ValidQueueName(name)) {
    return InvalidParameter(
        "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length");
  }
  std::map<std::string, std::string> attrs = StringMap(in, "Attributes");
  bool fifo = attrs.count("FifoQueue") && attrs["FifoQueue"] == "true";
  if (fifo != common::EndsWith(name, ".fifo")) {
    return InvalidParameter(
        fifo ? "The name of a FIFO queue can only include alphanumeric characters, hyphens, "
               "or underscores, must end with .fifo suffix and be 1 to 80 in length."
             : "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in "
               "length");
  }
  std::map<std::string, std::string> tags = StringMap(in, "tags");
  for (auto& [k, v] : StringMap(in, "Tags")) tags[k] = v;
  common::MutexLock lock(mu);
  auto valid = ValidateAttributes(attrs, fifo, true);
  if (!valid.ok()) return valid.error();
  if (auto existing = queues.find(name); existing != queues.end()) {
    for (const auto& [k, v] : attrs) {
      auto have = existing->second.attributes.find(k);
      std::string current = have == existing->second.attributes.end() ? "" : have->second;
      if (current != v) {
        return Error("QueueNameExists",
                     "A queue already exists with the same name and a different value for "
                     "attribute " +
                         k);
      }
    }
    return json{{"QueueUrl", QueueUrl(HostOf(call), name)}};
  }
  Queue q;
  q.name = name;
  q.arn = QueueArn(name);
  q.fifo = fifo;
  q.attributes = DefaultAttributes();
  if (fifo) {
    q.attributes["FifoQueue"] = "true";
    q.attributes["ContentBasedDeduplication"] = "false";
    q.attributes["DeduplicationScope"] = "queue";
    q.attributes["FifoThroughputLimit"] = "perQueue";
  }
  for (auto& [k, v] : attrs) q.attributes[k] = v;
  q.tags = std::move(tags);
  q.created_s = q.modified_s = common::ToUnixSeconds(context.clock().Now());
  queues.emplace(name, std::move(q));
  dirty = true;
  return json{{"QueueUrl", QueueUrl(HostOf(call), name)}};
}

OperationResult SqsService::Impl::GetQueueUrl(const json& in, const Call& call) {
  std::string name = ScalarMember(in, "QueueName").value_or("");
  if (name.empty()) return Missing("QueueName");
  common::MutexLock lock(mu);
  if (!queues.count(name)) return NoQueue();
  return json{{"QueueUrl", QueueUrl(HostOf(call), name)}};
}

OperationResult SqsService::Impl::GetQueueAttributes(Queue& q, const json& in, const Call&,
                                                     Effects&) {
  aws::AwsError error;
  json attrs = QueueAttributes(q, StringList(in, "AttributeNames"), &error);
  if (attrs.is_null()) return error;
  return attrs.empty() ? json::object() : json{{"Attributes", attrs}};
}

OperationResult SqsService::Impl::SetQueueAttributes(Queue& q, const json& in, const Call&,
                                                     Effects&) {
  auto attrs = StringMap(in, "Attributes");
  auto valid = ValidateAttributes(attrs, q.fifo, false);
  if (!valid.ok()) return valid.error();
  for (auto& [k, v] : attrs) q.attributes[k] = v;
  q.modified_s = common::ToUnixSeconds(context.clock().Now());
  dirty = true;
  return json::object();
}

OperationResult SqsService::Impl::SendOne(Queue& q, const json& in, const std::string& sender,
                                          Deliveries* deliveries) {
  auto attrs = ParseMessageAttributes(in.value("MessageAttributes", json::object()));
  if (!attrs.ok()) return attrs.error();
  auto delay = GetInt(in, "DelaySeconds");
  if (!delay.ok()) return delay.error();
  OutgoingMessage m = ReadOutgoing(in, delay->value_or(-1));
  m.attributes = std::move(attrs.value());
  auto accepted = Enqueue(q, std::move(m), sender, TraceHeader(in), deliveries);
  if (!accepted.ok()) return accepted.error();
  json r = {{"MessageId", accepted->message_id}, {"MD5OfMessageBody", accepted->md5_body}};
  if (!accepted->md5_attributes.empty()) r["MD5OfMessageAttributes"] = accepted->md5_attributes;
  if (!accepted->sequence_number.empty()) r["SequenceNumber"] = accepted->sequence_number;
  return r;
}

OperationResult SqsService::Impl::SendMessage(Queue& q, const json& in, const Call& call,
                                              Effects& effects) {
  return SendOne(q, in, call.caller.principal_id, &effects.deliveries);
}

OperationResult SqsService::Impl::RunBatch(
    std::string_view action, const json& in,
    const std::function<OperationResult(const json& entry)>& entry) {
  const json entries = in.value("Entries", json::array());
  if (auto error = CheckBatch(action, entries)) return *error;
  json successful = json::array(), failed = json::array();
  for (const json& e : entries) {
    std::string id = ScalarMember(e, "Id").value_or("");
    OperationResult done = entry(e);
    if (done.ok()) {
      done->emplace("Id", id);
      successful.push_back(std::move(done.value()));
    } else {
      failed.push_back({{"Id", id},
                        {"SenderFault", true},
                        {"Code", QueryCode(done.error().code)},
                        {"Message", done.error().message}});
    }
  }
  return json{{"Successful", successful}, {"Failed", failed}};
}

OperationResult SqsService::Impl::SendMessageBatch(Queue& q, const json& in, const Call& call,
                                                   Effects& effects) {
  return RunBatch("SendMessageBatch", in, [&](const json& e) REQUIRES(mu) {
    return SendOne(q, e, call.caller.principal_id, &effects.deliveries);
  });
}

OperationResult SqsService::Impl::DeleteMessage(Queue& q, const json& in, const Call&,
                                                Effects& effects) {
  auto done =
      DeleteByReceipt(q, ScalarMember(in, "ReceiptHandle").value_or(""), &effects.deliveries);
  if (!done.ok()) return done.error();
  return json::object();
}

OperationResult SqsService::Impl::DeleteMessageBatch(Queue& q, const json& in, const Call& call,
                                                     Effects& effects) {
  return RunBatch("DeleteMessageBatch", in,
                  [&](const json& e) REQUIRES(mu) { return DeleteMessage(q, e, call, effects); });
}

OperationResult SqsService::Impl::ChangeMessageVisibility(Queue& q, const json& in, const Call&,
                                                          Effects& effects) {
  auto done = ChangeVisibility(q, ScalarMember(in, "ReceiptHandle").value_or(""),
                               GetInt(in, "VisibilityTimeout"), &effects.deliveries);
  if (!done.ok()) return done.error();
  return json::object();
}

OperationResult SqsService::Impl::ChangeMessageVisibilityBatch(Queue& q, const json& in,
                                                               const Call& call, Effects& effects) {
  return RunBatch("ChangeMessageVisibilityBatch", in, [&](const json& e) REQUIRES(mu) {
    return ChangeMessageVisibility(q, e, call, effects);
  });
}

OperationResult SqsService::Impl::PurgeQueue(Queue& q, const json&, const Call&, Effects&) {
  int64_t now = NowMs(context);
  if (q.last_purge_ms != 0 && now - q.last_purge_ms < kPurgeIntervalMs) {
    return Error("PurgeQueueInProgress",
                 "Only one PurgeQueue operation on " + q.name + " is allowed every 60 seconds.");
  }
  q.last_purge_ms = now;
  q.messages.clear();
  dirty = true;
  return json::object();
}

OperationResult SqsService::Impl::DeleteQueue(Queue& q, const json&, const Call&,
                                              Effects& effects) {
  for (auto& w : q.waiters) {
    waiters.erase(w->id);
    context.timers().Cancel(w->deadline);
    effects.orphaned.push_back(w);
  }
  if (q.wake_timer) context.timers().Cancel(q.wake_timer);
  std::string name = q.name;
  queues.erase(name);  // `q` is gone
  dirty = true;
  return json::object();
}

OperationResult SqsService::Impl::TagQueue(Queue& q, const json& in, const Call&, Effects&) {
  for (auto& [k, v] : StringMap(in, "Tags")) q.tags[k] = v;
  dirty = true;
  return json::object();
}

OperationResult SqsService::Impl::UntagQueue(Queue& q, const json& in, const Call&, Effects&) {
  for (const std::string& key : StringList(in, "TagKeys")) q.tags.erase(key);
  dirty = true;
  return json::object();
}

OperationResult SqsService::Impl::ListQueueTags(Queue& q, const json&, const Call&, Effects&) {
  return q.tags.empty() ? json::object() : json{{"Tags", q.tags}};
}

OperationResult SqsService::Impl::ListDeadLetterSourceQueues(Queue& q, const json&,
                                                             const Call& call, Effects&) {
  json urls = json::array();
  for (const auto& [name, source] : queues) {
    auto it = source.attributes.find("RedrivePolicy");
    if (it == source.attributes.end() || it->second.empty()) continue;
    json policy = json::parse(it->second, nullptr, false);
    if (ScalarMember(policy, "deadLetterTargetArn").value_or("") == q.arn) {
      urls.push_back(QueueUrl(HostOf(call), name));
    }
  }
  return json{{"queueUrls", urls}};
}

namespace {

using Impl = SqsService::Impl;

template <Impl::QueueOperation kOperation>
Operation QueueOp(Impl* impl) {
  return [impl](const json& in, const Call& call) { return impl->OnQueue(in, call, kOperation); };
}

// JSON 1.0 with SQS's types and, beside them, the query protocol's codes; the query
// protocol (kQueryNamespace) with the same codes.
JsonProtocolOptions ProtocolOptions() {
  JsonProtocolOptions o("sqs", "1.0", {"AmazonSQS."});
  o.error_type_prefix = "com.amazonaws.sqs#";
  o.query_error_code = QueryCode;
  return o;
}

}  // namespace

SqsService::SqsService(CloudContext& context)
    : impl_(std::make_shared<Impl>(context)),
      protocol_(ProtocolOptions(), std::string(kQueryNamespace)) {
  Impl* impl = impl_.get();
  operations_
      .AddAsync("ReceiveMessage",
                [impl](const json& in, const Call& call, Reply reply) {
                  impl->ReceiveMessage(in, call, std::move(reply));
                })
      .Add("ListQueues", BindOperation(impl, &Impl::ListQueues))
      .Add("CreateQueue", BindOperation(impl, &Impl::CreateQueue))
      .Add("GetQueueUrl", BindOperation(impl, &Impl::GetQueueUrl))
      .Add("GetQueueAttributes", QueueOp<&Impl::GetQueueAttributes>(impl))
      .Add("SetQueueAttributes", QueueOp<&Impl::SetQueueAttributes>(impl))
      .Add("SendMessage", QueueOp<&Impl::SendMessage>(impl))
      .Add("SendMessageBatch", QueueOp<&Impl::SendMessageBatch>(impl))
      .Add("DeleteMessage", QueueOp<&Impl::DeleteMessage>(impl))
      .Add("DeleteMessageBatch", QueueOp<&Impl::DeleteMessageBatch>(impl))
      .Add("ChangeMessageVisibility", QueueOp<&Impl::ChangeMessageVisibility>(impl))
      .Add("ChangeMessageVisibilityBatch", QueueOp<&Impl::ChangeMessageVisibilityBatch>(impl))
      .Add("PurgeQueue", QueueOp<&Impl::PurgeQueue>(impl))
      .Add("DeleteQueue", QueueOp<&Impl::DeleteQueue>(impl))
      .Add("TagQueue", QueueOp<&Impl::TagQueue>(impl))
      .Add("UntagQueue", QueueOp<&Impl::UntagQueue>(impl))
      .Add("ListQueueTags", QueueOp<&Impl::ListQueueTags>(impl))
      .Add("ListDeadLetterSourceQueues", QueueOp<&Impl::ListDeadLetterSourceQueues>(impl));
  // Another account's queue URL is refused whatever the operation.
  std::string account_id = context.config().account_id;
  operations_.GuardAll([account_id](const json& in, const Call& call) {
    return ForeignQueue(in, call.request, account_id);
  });
}

SqsService::~SqsService() = default;

common::Status SqsService::Load() {
  const std::string& dir = impl_->context.config().data_dir;
  if (dir.empty()) return common::Status::Ok();
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "sqs", ec);
  if (ec) return common::Unavailable("cannot create " + dir + "/sqs: " + ec.message());
  impl_->snapshot_path = (fs::path(dir) / "sqs" / "queues.json").string();
  std::ifstream f(impl_->snapshot_path, std::ios::binary);
  if (f) {
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    common::MutexLock lock(impl_->mu);
    DAT_RETURN_IF_ERROR(impl_->LoadSnapshot(text));
  }
  impl_->SchedulePeriodicSave();
  return common::Status::Ok();
}

bool SqsService::Accepts(const RouteInfo& route, const http::Request& /*request*/) const {
  if (!route.target.empty()) return protocol_.json().Accepts(route);
  if (route.signing_service == "sqs") return true;
  return route.signing_service.empty() && operations_.Contains(route.action);
}

http::Response SqsService::ErrorResponse(const Call& call, const aws::AwsError& error) const {
  return protocol_.RenderError(call, error);
}

void SqsService::Handle(Call call, http::Respond respond) {
  protocol_.Serve(operations_, std::move(call), std::move(respond));
}

void SqsService::Shutdown() {
  std::vector<std::shared_ptr<Waiter>> pending;
  {
    common::MutexLock lock(impl_->mu);
    impl_->shut_down = true;
    for (auto& [_, w] : impl_->waiters) pending.push_back(w);
    impl_->waiters.clear();
    for (auto& [_, q] : impl_->queues) q.waiters.clear();
  }
  for (auto& w : pending) w->finish(nlohmann::json::array());
  impl_->SaveIfDirty(true);
}

common::Result<std::string> SqsService::SendMessageToArn(const std::string& queue_arn,
                                                         OutgoingMessage message) {
  Impl::Deliveries deliveries;
  aws::Outcome<Impl::Accepted> accepted = aws::AwsError{};
  {
    common::MutexLock lock(impl_->mu);
    Queue* q = impl_->FindByArn(queue_arn);
    if (q == nullptr) return common::NotFound("no SQS queue " + queue_arn);
    DAT_RETURN_IF_ERROR(CheckSenderAllowed(*q, message));
    accepted = impl_->Enqueue(*q, std::move(message), "AIDAIT2UOQQY3AUEKVGXU", "", &deliveries);
  }
  Impl::Deliver(deliveries);
  if (!accepted.ok()) {
    return common::InvalidArgument(accepted.error().code + ": " + accepted.error().message);
  }
  return accepted->message_id;
}

}  // namespace localcloud::sqs
