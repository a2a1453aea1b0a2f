// AWS configuration as the SDKs read it: environment variables and the shared
// ~/.aws/config and ~/.aws/credentials files (profiles), region and endpoint overrides.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace aws {

// Reads one environment variable; nullopt when unset. The seam tests replace.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// The process environment (getenv).
EnvLookup ProcessEnv();
// A fixed environment, for tests.
EnvLookup MapEnv(std::map<std::string, std::string> vars);

// key → value of one profile section.
using ProfileValues = std::map<std::string, std::string>;

// Parses an INI file as the AWS CLI does: "[name]" sections, "key = value" lines, '#' and
// ';' comments, indented continuation lines ("sub = value" under a key, e.g. `s3 =` blocks)
// stored as "key.sub". In the config file a section is "[profile name]" (except "default"),
// "[sso-session x]" and "[services x]" are kept with their full names. Returns
// section name → values; InvalidArgument on a line that is neither.
common::Result<std::map<std::string, ProfileValues>> ParseIniFile(std::string_view text,
                                                                  bool is_config_file);

// The settings an AWS client needs, resolved once.
struct AwsConfig {
  std::string profile = "default";  // AWS_PROFILE / AWS_DEFAULT_PROFILE
  std::string region;               // "" when nothing set it
  std::string credentials_file;     // resolved paths (may not exist)
  std::string config_file;
  // Merged values of the active profile: credentials file first, config file filling gaps.
  ProfileValues profile_values;
  bool profile_found = false;  // the profile has a section in either file
  // AWS_ENDPOINT_URL or the profile's endpoint_url; "" when none.
  std::string endpoint_url;
  // Per-service overrides, keyed by lower-case service key ("s3", "sqs", "eventbridge",
  // "cloudtrail", "sts"): AWS_ENDPOINT_URL_<SERVICE> or the profile's services section.
  std::map<std::string, std::string> service_endpoints;
  // AWS_CA_BUNDLE or the profile's ca_bundle: a PEM file of CAs to trust for https instead
  // of the system's, as the SDKs and the CLI honour it; "" = the system trust store.
  std::string ca_bundle;

  // The endpoint to call for `service_key` ("sqs", "s3", "eventbridge", "cloudtrail", "sts"):
  // the service override, else the global override, else the public AWS endpoint
  // ("https://sqs.us-west-2.amazonaws.com"). No trailing slash.
  std::string EndpointFor(std::string_view service_key) const;
  // True when EndpointFor(service_key) comes from an override (S3 then uses path style).
  bool HasEndpointOverride(std::string_view service_key) const;
};

// Resolves the configuration from the environment and the shared files:
//   profile: AWS_PROFILE, else AWS_DEFAULT_PROFILE, else "default";
//   files:   AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/credentials),
//            AWS_CONFIG_FILE (default ~/.aws/config), "~" being $HOME;
//   region:  AWS_REGION, else AWS_DEFAULT_REGION, else the profile's `region`;
//   endpoints: AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, the profile's `services`
//            section (`<service> = \n  endpoint_url = …`) and `endpoint_url`
//            (all ignored when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true).
// Missing files are fine; an unreadable or malformed file is an InvalidArgument naming it.
// A profile that exists in neither file is not an error here (profile_found says so);
// the profile credentials provider then reports NotFound.
common::Result<AwsConfig> LoadConfig(const EnvLookup& env = ProcessEnv());

// Reads a whole file; NotFound when it does not exist.
common::Result<std::string> ReadFileToString(const std::string& path);

}  // namespace aws
