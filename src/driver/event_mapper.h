// Turns one SQS message into the CloudEvent(s) it carries (README: "Event mapping").
// Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cloudevents/cloudevent.h"
#include "driver/queue.h"
#include "eventpattern/pattern.h"

namespace driver {

struct MapperConfig {
  std::string namespace_ = "dispatchframework.io/aws-event";
  std::string source_id;
  bool strict = false;  // non-AWS bodies are poison instead of aws.sqs.message
  size_t max_event_bytes = 1 << 20;
  // When non-empty, only AWS events matching at least one pattern are relayed.
  const std::vector<eventpattern::Pattern>* patterns = nullptr;
};

enum class Disposition {
  kDeliver,     // deliver `events`, then delete the message
  kSkip,        // nothing to deliver (no pattern matched, S3 test event): delete it
  kDeadLetter,  // cannot become an event: move to the DLQ with `reason`
};

struct MappedMessage {
  Disposition disposition = Disposition::kDeliver;
  // Each satisfies cloudevents::Validate: the mapper checks what it builds, once, so the sink
  // encodes them with cloudevents::Validation::kAlreadyValid.
  std::vector<cloudevents::CloudEvent> events;
  std::string reason;  // for kSkip / kDeadLetter
};

// Maps a message: an EventBridge event (also CloudTrail events delivered by a rule) → one
// event with type = its `source`, id = its `id` and the body, as received, as data_json; classic S3
// notification records → one event per record; an SNS notification → its Message, unwrapped and
// mapped again; anything else → an `aws.sqs.message` event (or poison with `strict`). Invalid
// UTF-8, bodies over max_event_bytes and bodies (or SNS messages) nested deeper than
// common::kMaxJsonDepth are poison.
MappedMessage MapMessage(const QueueMessage& message, const MapperConfig& config);

}  // namespace driver
