#include "twitter/iam_policy.h"

#include <nlohmann/json.hpp>

namespace twitter {

std::string FunctionIamPolicy(const Options& options, const std::string& bucket) {
  using nlohmann::ordered_json;
  const std::string objects = "arn:aws:s3:::" + bucket + "/";
  ordered_json statements = ordered_json::array();
  // HeadObject is authorised by s3:GetObject too.
  statements.push_back({{"Sid", "ReadUploads"},
                        {"Effect", "Allow"},
                        {"Action", "s3:GetObject"},
                        {"Resource", objects + options.folder + "*"}});
  ordered_json own = ordered_json::array({objects + options.posted_prefix + "*"});
  if (!options.write_back_prefix.empty()) own.push_back(objects + options.write_back_prefix + "*");
  statements.push_back({{"Sid", "PostedRecordsAndWriteBack"},
                        {"Effect", "Allow"},
                        {"Action", {"s3:GetObject", "s3:PutObject"}},
                        {"Resource", own}});
  ordered_json policy = {{"Version", "2012-10-17"}, {"Statement", statements}};
  return policy.dump(2);
}

}  // namespace twitter
