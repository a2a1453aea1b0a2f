// CloudTrail (JSON 1.1, X-Amz-Target "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.*"):
// trails with basic or advanced event selectors, logging on/off. While a trail logs and its
// selectors pick an S3 data call, the call becomes an "AWS API Call via CloudTrail" event on
// the EventBridge default bus, after a configurable delay (the real service takes minutes).
//
// UNFINISHED: management events (bucket-level calls) are not put on the bus, and no log
// files are written to the trail's S3 bucket.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/mutex.h"
#include "localcloud/core/cloud.h"
#include "localcloud/core/json_protocol.h"
#include "localcloud/core/protocol.h"
#include "localcloud/core/s3_observer.h"
#include "localcloud/eventbridge/events_service.h"

namespace localcloud::cloudtrail {

struct CloudTrailOptions {
  // Between an S3 call and its event on the bus (flag --cloudtrail-delay, seconds).
  std::chrono::milliseconds delivery_delay{0};
};

// One function per operation in a table, served by the JSON protocol adapter. Thread-safe:
// one mutex over the trails; events are published through the timer queue.
class CloudTrailService : public Service, public S3Observer {
 public:
  // `context` and `bus` must outlive the service.
  CloudTrailService(CloudContext& context, eventbridge::EventsService& bus,
                    CloudTrailOptions options = {});

  std::string_view name() const override { return "cloudtrail"; }
  bool Accepts(const RouteInfo& route, const http::Request& request) const override;
  http::Response ErrorResponse(const Call& call, const aws::AwsError& error) const override;
  void Handle(Call call, http::Respond respond) override;

  // S3Observer: every S3 call; selected data calls go to the bus while a trail logs.
  void OnApiCall(const S3ApiCall& call) override EXCLUDES(mu_);

  // The EventBridge event for an S3 call (exposed for tests).
  nlohmann::json ApiCallEvent(const S3ApiCall& call) const;

 private:
  struct Trail {
    std::string name;
    std::string arn;
    std::string s3_bucket;
    std::string s3_key_prefix;
    bool include_global_service_events = true;
    bool multi_region = false;
    bool log_file_validation = false;
    bool logging = false;
    std::optional<common::SystemTime> start_logging_time;
    std::optional<common::SystemTime> stop_logging_time;
    nlohmann::json event_selectors;           // basic; default: management events only
    nlohmann::json advanced_event_selectors;  // null unless set
  };
  // The operations (the table in the constructor).
  using Json = nlohmann::json;
  OperationResult CreateTrail(const Json& in, const Call& call) EXCLUDES(mu_);
  OperationResult DescribeTrails(const Json& in, const Call& call) EXCLUDES(mu_);
  OperationResult ListTrails(const Json& in, const Call& call) EXCLUDES(mu_);
  OperationResult GetTrail(const Json& in, const Call& call) EXCLUDES(mu_);
  OperationResult DeleteTrail(const Json& in, const Call& call) EXCLUDES(mu_);
  OperationResult StartLogging(const Json& in, const Call& call) EXCLUDES(mu_);
  OperationResult StopLogging(const Json& in, const Call& call) EXCLUDES(mu_);
  OperationResult GetTrailStatus(const Json& in, const Call& call) EXCLUDES(mu_);
  OperationResult PutEventSelectors(const Json& in, const Call& call) EXCLUDES(mu_);
  OperationResult GetEventSelectors(const Json& in, const Call& call) EXCLUDES(mu_);

  // The trails named in "trailNameList" (names or ARNs; all when absent), each as `render`
  // makes it.
  Json MatchingTrails(const Json& in, const std::function<Json(const Trail&)>& render)
      EXCLUDES(mu_);
  OperationResult SetLogging(const Json& in, bool logging) EXCLUDES(mu_);
  // Finds a trail by name or ARN.
  Trail* FindTrail(const std::string& name_or_arn) REQUIRES(mu_);
  nlohmann::json TrailJson(const Trail& trail) const;
  static bool Selects(const Trail& trail, const S3ApiCall& call);

  CloudContext& context_;
  eventbridge::EventsService& bus_;
  CloudTrailOptions options_;
  OperationTable operations_;  // filled by the constructor
  JsonProtocol protocol_;
  common::Mutex mu_;
  std::map<std::string, Trail> trails_ GUARDED_BY(mu_);  // by name
};

}  // namespace localcloud::cloudtrail
