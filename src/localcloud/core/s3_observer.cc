#include "localcloud/core/s3_observer.h"

#include "common/strings.h"

namespace localcloud {

bool S3EventSelected(std::string_view configured, std::string_view event_name) {
  if (!common::StartsWith(configured, "s3:")) return false;
  configured.remove_prefix(3);
  if (common::EndsWith(configured, "*")) {
    configured.remove_suffix(1);
    return common::StartsWith(event_name, configured);
  }
  return configured == event_name;
}

bool S3KeyMatchesFilter(const std::vector<S3FilterRule>& rules, std::string_view key) {
  for (const S3FilterRule& rule : rules) {
    std::string name = common::ToLower(rule.name);
    if (name == "prefix" && !common::StartsWith(key, rule.value)) return false;
    if (name == "suffix" && !common::EndsWith(key, rule.value)) return false;
  }
  return true;
}

}  // namespace localcloud
