#include "driver/provisioner.h"

#include <spdlog/spdlog.h>

#include <optional>

#include "aws/clients.h"
#include "common/strings.h"

namespace driver {
namespace {

using nlohmann::json;

constexpr const char* kOwnerTagKey = "dispatch-events-aws:owner";
constexpr const char* kSourceTagKey = "dispatch-events-aws:source-id";
constexpr size_t kMaxQueueName = 80;
constexpr size_t kMaxRuleName = 64;
// Where CloudTrail writes a trail's log files when the trail has no S3KeyPrefix.
constexpr const char* kTrailLogPrefix = "AWSLogs/";

// Prefixes a failing call's error with the call's name, as the user will read it.
common::Status Failed(const std::string& call, const common::Status& status) {
  return common::Status(status.code(), call + " failed: " + status.message());
}

std::string DeadLetterArnOfRedrivePolicy(const std::string& redrive_policy) {
  json redrive = json::parse(redrive_policy, nullptr, false);
  if (!redrive.is_object() || !redrive.contains("deadLetterTargetArn") ||
      !redrive["deadLetterTargetArn"].is_string()) {
    return "";
  }
  return redrive["deadLetterTargetArn"].get<std::string>();
}

// A policy document's statements as an array (a single statement may be written bare);
// nullopt when `text` is not a policy document.
std::optional<json> PolicyStatements(const std::string& text) {
  json doc = json::parse(text, nullptr, false);
  if (!doc.is_object() || !doc.contains("Statement")) return std::nullopt;
  if (doc["Statement"].is_object()) return json::array({doc["Statement"]});
  if (!doc["Statement"].is_array()) return std::nullopt;
  return doc["Statement"];
}

std::string Sanitize(std::string s, size_t max) {
  for (char& c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) c = '-';
  }
  return s.substr(0, max);
}

}  // namespace

Provisioner::Provisioner(AwsClients clients, const DriverOptions& options)
    : clients_(clients), options_(options), suffix_(Sanitize(options.source_id, 40)) {}

std::string Provisioner::QueueName() const {
  std::string base = Sanitize(options_.queue_name, kMaxQueueName - suffix_.size() - 5);
  return base + "-" + suffix_;
}
std::string Provisioner::DeadLetterQueueName() const { return QueueName() + "-dlq"; }
std::string Provisioner::RuleName(const std::string& what) const {
  return Sanitize("dispatch-" + suffix_ + "-" + what, kMaxRuleName);
}
std::string Provisioner::TrailName() const { return Sanitize("dispatch-" + suffix_, 128); }

std::string Provisioner::AccountFromArn(const std::string& arn) const {
  auto parts = common::Split(arn, ':');
  return parts.size() > 4 ? parts[4] : "";
}

common::Result<std::string> DeadLetterQueueArn(const aws::SqsClient& sqs,
                                               const std::string& queue_url) {
  auto attrs = sqs.GetQueueAttributes(queue_url, {"RedrivePolicy"});
  if (!attrs.ok()) return Failed("GetQueueAttributes(" + queue_url + ")", attrs.status());
  auto it = attrs->find("RedrivePolicy");
  return it == attrs->end() ? std::string() : DeadLetterArnOfRedrivePolicy(it->second);
}

std::string Provisioner::QueuePolicySid() const {
  std::string sid = "DispatchEventsAws";
  for (char c : suffix_) {
    if (std::isalnum(static_cast<unsigned char>(c))) sid += c;
  }
  return sid;
}

common::Result<Provisioned> Provisioner::Provision() {
  Provisioned p;
  p.visibility_timeout = options_.visibility_timeout;
  common::Status s = ProvisionQueue(&p);
  if (s.ok()) s = ProvisionBucket(&p);
  if (s.ok()) s = ProvisionRules(&p);
  if (s.ok()) s = SetQueuePolicy(&p);
  if (!s.ok()) {
    spdlog::error("{}; removing what was created", s.message());
    common::Status c = CleanUp(p);
    if (!c.ok()) spdlog::error("roll-back incomplete: {}", c.message());
    return s;
  }
  return p;
}

common::Status Provisioner::ProvisionQueue(Provisioned* p) {
  const aws::SqsClient& sqs = *clients_.sqs;
  std::map<std::string, std::string> tags = {{kOwnerTagKey, "dispatch-events-aws"},
                                             {kSourceTagKey, options_.source_id}};
  if (!options_.queue_url.empty()) {
    // An existing queue: read what we need, change nothing.
    p->queue_url = options_.queue_url;
    auto attrs = sqs.GetQueueAttributes(p->queue_url, {"All"});
    if (!attrs.ok()) return Failed("GetQueueAttributes(" + p->queue_url + ")", attrs.status());
    p->queue_arn = (*attrs)["QueueArn"];
    p->fifo = (*attrs)["FifoQueue"] == "true";
    if (auto it = attrs->find("VisibilityTimeout"); it != attrs->end())
      p->visibility_timeout = std::max(1, std::atoi(it->second.c_str()));
    if (auto it = attrs->find("RedrivePolicy"); it != attrs->end() && !it->second.empty()) {
      std::string dlq_arn = DeadLetterArnOfRedrivePolicy(it->second);
      if (!dlq_arn.empty()) {
        auto url = sqs.GetQueueUrl(dlq_arn.substr(dlq_arn.rfind(':') + 1), AccountFromArn(dlq_arn));
        if (url.ok()) {
          p->dlq_arn = dlq_arn;
          p->dlq_url = *url;
        }
      }
    }
    return common::Status::Ok();
  }

  if (options_.max_receive_count > 0) {
    auto existing = sqs.GetQueueUrl(DeadLetterQueueName());
    auto url = existing.ok() ? existing
                             : sqs.CreateQueue(DeadLetterQueueName(),
                                               {{"MessageRetentionPeriod", "1209600"}}, tags);
    if (!url.ok()) return Failed("CreateQueue(" + DeadLetterQueueName() + ")", url.status());
    p->dlq_url = *url;
    // Named after our source id: if it exists, an earlier run of this same driver instance
    // (e.g. before a restart) created it, so it is ours to remove.
    p->created_dlq = true;
    auto attrs = sqs.GetQueueAttributes(p->dlq_url, {"QueueArn"});
    if (!attrs.ok()) return Failed("GetQueueAttributes(dead-letter queue)", attrs.status());
    p->dlq_arn = (*attrs)["QueueArn"];
  }
  std::map<std::string, std::string> attributes = {
      {"ReceiveMessageWaitTimeSeconds", std::to_string(options_.duration)},
      {"VisibilityTimeout", std::to_string(options_.visibility_timeout)}};
  if (!p->dlq_arn.empty()) {
    attributes["RedrivePolicy"] =
        json{{"deadLetterTargetArn", p->dlq_arn},
             {"maxReceiveCount", std::to_string(options_.max_receive_count)}}
            .dump();
  }
  auto existing = sqs.GetQueueUrl(QueueName());
  if (existing.ok()) {
    // Re-run with the same names: reuse the queue and bring its settings up to date.
    p->queue_url = *existing;
    p->created_queue = true;  // ours by name (see the dead-letter queue above)
    auto set = sqs.SetQueueAttributes(p->queue_url, attributes);
    if (!set.ok()) return Failed("SetQueueAttributes(" + QueueName() + ")", set.status());
  } else {
    auto url = sqs.CreateQueue(QueueName(), attributes, tags);
    if (!url.ok()) return Failed("CreateQueue(" + QueueName() + ")", url.status());
    p->queue_url = *url;
    p->created_queue = true;
  }
  auto attrs = sqs.GetQueueAttributes(p->queue_url, {"QueueArn"});
  if (!attrs.ok()) return Failed("GetQueueAttributes(" + QueueName() + ")", attrs.status());
  p->queue_arn = (*attrs)["QueueArn"];
  spdlog::info("queue {} ({})", p->queue_url, existing.ok() ? "reused" : "created");
  return common::Status::Ok();
}

common::Status Provisioner::ProvisionBucket(Provisioned* p) {
  if (options_.bucket_name.empty()) return common::Status::Ok();
  const aws::S3Client& s3 = *clients_.s3;
  const std::string& bucket = options_.bucket_name;
  auto head = s3.HeadBucket(bucket);
  if (!head.ok()) {
    if (head.error().http_status != 404) {
      return Failed("HeadBucket(" + bucket + ")", head.status());
    }
    auto created = s3.CreateBucket(bucket);
    if (!created.ok()) return Failed("CreateBucket(" + bucket + ")", created.status());
    p->created_bucket = true;
    spdlog::info("bucket {} created", bucket);
  }

  if (options_.s3_events == S3EventsMode::kEventBridge) {
    auto config = s3.GetBucketNotificationConfiguration(bucket);
    if (!config.ok())
      return Failed("GetBucketNotificationConfiguration(" + bucket + ")", config.status());
    if (!config->eventbridge) {
      aws::NotificationConfiguration updated = *config;
      updated.eventbridge = true;  // other configurations are kept as they are
      auto put = s3.PutBucketNotificationConfiguration(bucket, updated);
      if (!put.ok())
        return Failed("PutBucketNotificationConfiguration(" + bucket + ")", put.status());
      p->enabled_bucket_eventbridge = true;
      spdlog::info("bucket {}: EventBridge notifications turned on", bucket);
    }
    return common::Status::Ok();
  }

  // CloudTrail: a trail logging the bucket's S3 data events, its log files in the bucket
  // (which needs the bucket policy CloudTrail documents).
  std::string account = AccountFromArn(p->queue_arn);
  auto policy = s3.GetBucketPolicy(bucket);
  json doc = json{{"Version", "2012-10-17"}, {"Statement", json::array()}};
  if (policy.ok()) {
    p->original_bucket_policy = *policy;
    doc = json::parse(*policy, nullptr, false);
    if (!doc.is_object() || !doc.contains("Statement") || !doc["Statement"].is_array()) {
      return common::FailedPrecondition("the bucket policy of " + bucket +
                                        " is not a policy document this driver can extend");
    }
  } else if (policy.error().http_status != 404) {
    return Failed("GetBucketPolicy(" + bucket + ")", policy.status());
  }
  bool present = false;
  for (const auto& st : doc["Statement"]) {
    if (st.is_object() && st.value("Sid", "") == "DispatchCloudTrailWrite") present = true;
  }
  if (!present) {
    std::string trail_arn = "arn:aws:cloudtrail:" + clients_.s3->caller().region() + ":" + account +
                            ":trail/" + TrailName();
    doc["Statement"].push_back({{"Sid", "DispatchCloudTrailAclCheck"},
                                {"Effect", "Allow"},
                                {"Principal", {{"Service", "cloudtrail.amazonaws.com"}}},
                                {"Action", "s3:GetBucketAcl"},
                                {"Resource", "arn:aws:s3:::" + bucket},
                                {"Condition", {{"StringEquals", {{"aws:SourceArn", trail_arn}}}}}});
    doc["Statement"].push_back(
        {{"Sid", "DispatchCloudTrailWrite"},
         {"Effect", "Allow"},
         {"Principal", {{"Service", "cloudtrail.amazonaws.com"}}},
         {"Action", "s3:PutObject"},
         {"Resource", "arn:aws:s3:::" + bucket + "/" + kTrailLogPrefix + account + "/*"},
         {"Condition",
          {{"StringEquals",
            {{"s3:x-amz-acl", "bucket-owner-full-control"}, {"aws:SourceArn", trail_arn}}}}}});
    auto put = s3.PutBucketPolicy(bucket, doc.dump());
    if (!put.ok()) return Failed("PutBucketPolicy(" + bucket + ")", put.status());
    p->changed_bucket_policy = true;
  }

  const aws::CloudTrailClient& ct = *clients_.cloudtrail;
  p->trail_name = TrailName();
  aws::CreateTrailRequest req;
  req.name = p->trail_name;
  req.s3_bucket_name = bucket;
  req.tags = {{kOwnerTagKey, "dispatch-events-aws"}, {kSourceTagKey, options_.source_id}};
  auto trail = ct.CreateTrail(req);
  if (!trail.ok() && trail.error().code != "TrailAlreadyExistsException") {
    return Failed("CreateTrail(" + p->trail_name + ")", trail.status());
  }
  p->created_trail = true;  // new, or ours by name from an earlier run of this instance
  DAT_RETURN_IF_ERROR(PutTrailSelectors(bucket));
  auto start = ct.StartLogging(p->trail_name);
  if (!start.ok()) return Failed("StartLogging(" + p->trail_name + ")", start.status());
  spdlog::info(
      "trail {} logging S3 data events of {} (real CloudTrail delivers them minutes later)",
      p->trail_name, bucket);
  return common::Status::Ok();
}

common::Status Provisioner::PutTrailSelectors(const std::string& bucket) {
  // The trail's own log files (AWSLogs/ in the same bucket) are object writes too: logging
  // them would log the log deliveries, recursively. Advanced selectors leave them out.
  const std::string objects = "arn:aws:s3:::" + bucket + "/";
  json selectors = json::array({{{"Name", "dispatch: object writes, not the trail's own log files"},
                                 {"FieldSelectors",
                                  {{{"Field", "eventCategory"}, {"Equals", {"Data"}}},
                                   {{"Field", "resources.type"}, {"Equals", {"AWS::S3::Object"}}},
                                   {{"Field", "readOnly"}, {"Equals", {"false"}}},
                                   {{"Field", "resources.ARN"},
                                    {"StartsWith", {objects}},
                                    {"NotStartsWith", {objects + kTrailLogPrefix}}}}}}});
  auto sel = clients_.cloudtrail->PutAdvancedEventSelectors(TrailName(), selectors);
  if (!sel.ok()) return Failed("PutEventSelectors(" + TrailName() + ")", sel.status());
  return common::Status::Ok();
}

common::Status Provisioner::PutRuleTargetingQueue(Provisioned* p, const std::string& name,
                                                  const std::string& pattern,
                                                  const std::string& schedule) {
  const aws::EventBridgeClient& eb = *clients_.events;
  aws::PutRuleRequest req;
  req.name = name;
  req.event_pattern = pattern;
  req.schedule_expression = schedule;
  req.description = "dispatch-events-aws " + options_.source_id;
  req.tags = {{kOwnerTagKey, "dispatch-events-aws"}, {kSourceTagKey, options_.source_id}};
  auto arn = eb.PutRule(req);
  if (!arn.ok()) return Failed("PutRule(" + name + ")", arn.status());
  // Created now or by an earlier run of this instance (the name carries our source id).
  p->rules_created.push_back(name);
  aws::EventBridgeTarget target;
  target.id = "dispatch-queue";
  target.arn = p->queue_arn;
  if (p->fifo) target.message_group_id = name;
  auto failed = eb.PutTargets(name, {target});
  if (!failed.ok()) return Failed("PutTargets(" + name + ")", failed.status());
  if (!failed->empty()) {
    return common::Unavailable("PutTargets(" + name + ") failed: " + (*failed)[0].error_code + " " +
                               (*failed)[0].error_message);
  }
  if (!pattern.empty()) p->rule_patterns.push_back(json::parse(pattern, nullptr, false));
  return common::Status::Ok();
}

json S3RulePattern(const DriverOptions& options) {
  json keys = json::array();
  for (const auto& prefix : options.key_prefixes) keys.push_back({{"prefix", prefix}});
  if (options.s3_events == S3EventsMode::kEventBridge) {
    json detail = {{"bucket", {{"name", {options.bucket_name}}}}};
    if (!keys.empty()) detail["object"] = {{"key", keys}};
    return {{"source", {"aws.s3"}}, {"detail", detail}};
  }
  json request = {{"bucketName", {options.bucket_name}}};
  if (!keys.empty()) request["key"] = keys;
  return {{"source", {"aws.s3"}},
          {"detail-type", {"AWS API Call via CloudTrail"}},
          {"detail",
           {{"eventSource", {"s3.amazonaws.com"}},
            {"eventName", {"PutObject", "CompleteMultipartUpload", "CopyObject"}},
            {"requestParameters", request}}}};
}

common::Status Provisioner::ProvisionRules(Provisioned* p) {
  if (!options_.bucket_name.empty()) {
    json pattern = S3RulePattern(options_);
    DAT_RETURN_IF_ERROR(PutRuleTargetingQueue(p, RuleName("s3"), pattern.dump(), ""));
  }
  if (!options_.event_patterns.empty()) {
    json patterns = json::parse(options_.event_patterns, nullptr, false);
    for (size_t i = 0; i < patterns.size(); ++i) {
      DAT_RETURN_IF_ERROR(PutRuleTargetingQueue(p, RuleName("pattern-" + std::to_string(i + 1)),
                                                patterns[i].dump(), ""));
    }
  }
  if (!options_.schedule_expression.empty()) {
    std::string name = RuleName("schedule");
    DAT_RETURN_IF_ERROR(PutRuleTargetingQueue(p, name, "", options_.schedule_expression));
    // Scheduled events carry the rule's ARN in resources: match on it locally.
    std::string rule_arn = "arn:aws:events:" + clients_.events->caller().region() + ":" +
                           AccountFromArn(p->queue_arn) + ":rule/" + name;
    p->rule_patterns.push_back({{"source", {"aws.events"}},
                                {"detail-type", {"Scheduled Event"}},
                                {"resources", {rule_arn}}});
  }
  return common::Status::Ok();
}

common::Status Provisioner::SetQueuePolicy(Provisioned* p) {
  // EventBridge may send to the queue only from this driver's rules. An existing queue keeps
  // every statement it had; ours (by Sid) is added or replaced.
  json arns = json::array();
  std::string account = AccountFromArn(p->queue_arn);
  for (const auto& name : p->rules_created) {
    arns.push_back("arn:aws:events:" + clients_.events->caller().region() + ":" + account +
                   ":rule/" + name);
  }
  if (arns.empty()) return common::Status::Ok();
  json statements = json::array();
  if (!p->created_queue) {
    auto current = QueuePolicyWithout(p->queue_url);
    if (!current.ok()) return current.status();
    if (!current->empty()) statements = *PolicyStatements(*current);
  }
  statements.push_back({{"Sid", QueuePolicySid()},
                        {"Effect", "Allow"},
                        {"Principal", {{"Service", "events.amazonaws.com"}}},
                        {"Action", "sqs:SendMessage"},
                        {"Resource", p->queue_arn},
                        {"Condition", {{"ArnEquals", {{"aws:SourceArn", arns}}}}}});
  json policy = {{"Version", "2012-10-17"}, {"Statement", statements}};
  auto set = clients_.sqs->SetQueueAttributes(p->queue_url, {{"Policy", policy.dump()}});
  if (!set.ok()) return Failed("SetQueueAttributes(Policy)", set.status());
  if (!p->created_queue) p->changed_queue_policy = true;
  return common::Status::Ok();
}

common::Result<std::string> Provisioner::QueuePolicyWithout(const std::string& queue_url) const {
  auto attrs = clients_.sqs->GetQueueAttributes(queue_url, {"Policy"});
  if (!attrs.ok()) return Failed("GetQueueAttributes(" + queue_url + ")", attrs.status());
  auto it = attrs->find("Policy");
  if (it == attrs->end() || it->second.empty()) return std::string();
  auto statements = PolicyStatements(it->second);
  if (!statements) {
    return common::FailedPrecondition("the Policy of queue " + queue_url +
                                      " is not a policy document this driver can extend");
  }
  json kept = json::array();
  for (const json& st : *statements) {
    if (!(st.is_object() && st.value("Sid", "") == QueuePolicySid())) kept.push_back(st);
  }
  if (kept.empty()) return std::string();
  json doc = json::parse(it->second);
  doc["Statement"] = kept;
  return doc.dump();
}

void Provisioner::RestoreBucketPolicy(
    const Provisioned& p,
    const std::function<void(const std::string&, const common::Status&)>& note) {
  const std::string& bucket = options_.bucket_name;
  if (!p.original_bucket_policy.empty()) {
    note("PutBucketPolicy(" + bucket + ")",
         clients_.s3->PutBucketPolicy(bucket, p.original_bucket_policy).status());
    return;
  }
  // There was none: remove ours, keeping statements others added since.
  auto current = clients_.s3->GetBucketPolicy(bucket);
  if (!current.ok()) {
    if (current.status().code() != common::Code::kNotFound) {
      note("GetBucketPolicy(" + bucket + ")", current.status());
    }
    return;
  }
  json kept = json::array();
  for (const json& st : PolicyStatements(*current).value_or(json::array())) {
    std::string sid = st.is_object() ? st.value("Sid", "") : "";
    if (sid.rfind("DispatchCloudTrail", 0) != 0) kept.push_back(st);
  }
  if (kept.empty()) {
    // S3 refuses a policy without statements (MalformedPolicy): delete it.
    note("DeleteBucketPolicy(" + bucket + ")", clients_.s3->DeleteBucketPolicy(bucket).status());
    return;
  }
  json doc = json::parse(*current);
  doc["Statement"] = kept;
  note("PutBucketPolicy(" + bucket + ")",
       clients_.s3->PutBucketPolicy(bucket, doc.dump()).status());
}

common::Status Provisioner::CleanUp(const Provisioned& p) {
  common::Status first;
  auto note = [&first](const std::string& call, const common::Status& s) {
    if (s.ok()) return;
    spdlog::warn("clean-up: {} failed: {}", call, s.message());
    if (first.ok()) first = Failed(call, s);
  };
  for (const auto& name : p.rules_created) {
    auto removed = clients_.events->RemoveTargets(name, {"dispatch-queue"});
    note("RemoveTargets(" + name + ")", removed.status());
    note("DeleteRule(" + name + ")", clients_.events->DeleteRule(name).status());
  }
  if (!p.trail_name.empty() && p.created_trail) {
    note("StopLogging(" + p.trail_name + ")",
         clients_.cloudtrail->StopLogging(p.trail_name).status());
    note("DeleteTrail(" + p.trail_name + ")",
         clients_.cloudtrail->DeleteTrail(p.trail_name).status());
  }
  const std::string& bucket = options_.bucket_name;
  if (p.enabled_bucket_eventbridge) {
    auto config = clients_.s3->GetBucketNotificationConfiguration(bucket);
    if (config.ok()) {
      config->eventbridge = false;
      note("PutBucketNotificationConfiguration(" + bucket + ")",
           clients_.s3->PutBucketNotificationConfiguration(bucket, *config).status());
    } else {
      note("GetBucketNotificationConfiguration(" + bucket + ")", config.status());
    }
  }
  if (p.changed_bucket_policy) RestoreBucketPolicy(p, note);
  if (p.changed_queue_policy) {
    auto rest = QueuePolicyWithout(p.queue_url);
    if (rest.ok()) {
      note("SetQueueAttributes(Policy)",
           clients_.sqs->SetQueueAttributes(p.queue_url, {{"Policy", *rest}}).status());
    } else {
      note("GetQueueAttributes(Policy)", rest.status());
    }
  }
  if (p.created_queue)
    note("DeleteQueue(" + p.queue_url + ")", clients_.sqs->DeleteQueue(p.queue_url).status());
  if (p.created_dlq)
    note("DeleteQueue(" + p.dlq_url + ")", clients_.sqs->DeleteQueue(p.dlq_url).status());
  if (p.created_bucket) {
    // Only an empty bucket: objects people uploaded are never deleted.
    auto list = clients_.s3->ListObjectsV2(bucket, {.prefix = "",
                                                    .delimiter = "",
                                                    .continuation_token = "",
                                                    .start_after = "",
                                                    .max_keys = 1});
    if (list.ok() && list->objects.empty()) {
      note("DeleteBucket(" + bucket + ")", clients_.s3->DeleteBucket(bucket).status());
    } else if (list.ok()) {
      spdlog::info("clean-up: bucket {} was created by this driver but holds objects; keeping it",
                   bucket);
    }
  }
  return first;
}

}  // namespace driver
