// Checks requests against AWS's own service models (botocore's data/<service>/<version>/
// service-2.json, as Debian's python3-botocore ships them; .json.gz read too): the operation
// exists, members are known, required members are present, values have the model's type,
// enum, length and range, and operations whose checksum the model requires carry one.
// What a client sends that the model does not allow is a violation, whatever localcloud
// would otherwise accept. Immutable after Load; thread-safe.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "http/message.h"
#include "http/server.h"

namespace localcloud::models {

// Where Debian's python3-botocore keeps the models; tests pass it as --strict-models.
inline constexpr const char* kDebianModelsDir = "/usr/lib/python3/dist-packages/botocore/data";

// The --strict-models arguments for a test's localcloud: {"--strict-models", dir} when the
// models are installed, {} otherwise (the test then runs unchecked). Header-only.
inline std::vector<std::string> StrictModelsFlags() {
  std::error_code ec;
  if (!std::filesystem::exists(std::string(kDebianModelsDir) + "/s3", ec)) return {};
  return {"--strict-models", kDebianModelsDir};
}

// One service model: its shapes and operations.
struct ServiceModel {
  std::string name;      // "s3", "sqs", "events", "cloudtrail", "sts"
  std::string protocol;  // "rest-xml", "json", "query"
  nlohmann::json model;  // the whole service-2.json
};

class ModelChecker {
 public:
  // Loads the models of s3, sqs, events, cloudtrail and sts from `dir` (botocore's data
  // directory; the newest version directory of each service). NotFound naming the path when
  // a model is missing; InvalidArgument when one does not parse.
  static common::Result<std::unique_ptr<ModelChecker>> Load(const std::string& dir);

  // The violations of one request ("" entries never); empty when the request conforms or is
  // not an AWS API request (unsigned paths such as the X sandbox or the health check).
  // Each names the service and operation: "sqs SendMessage: QueueUrl is required".
  std::vector<std::string> Check(const http::Request& request) const;

  // Wraps `next`: requests with violations are answered 400 (code "ModelViolation", in the
  // wire format of the request's protocol) and logged; others go to `next`. The checker
  // must outlive the handler.
  http::Handler Wrap(http::Handler next) const;

 private:
  std::map<std::string, ServiceModel> services_;  // by name
};

}  // namespace localcloud::models
