#include "aws/config.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/strings.h"

namespace aws {
namespace {

// The services this project calls, by the key of their AWS_ENDPOINT_URL_<KEY> variable
// (lower-case) and the host prefix of their public endpoint.
struct ServiceEndpoint {
  std::string_view key;
  std::string_view host_prefix;
};
constexpr ServiceEndpoint kServices[] = {
    {"s3", "s3"},   {"sqs", "sqs"}, {"eventbridge", "events"}, {"cloudtrail", "cloudtrail"},
    {"sts", "sts"},
};

std::string StripTrailingSlash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

bool IsTrue(std::string_view v) { return common::EqualsIgnoreCase(common::Trim(v), "true"); }

}  // namespace

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

EnvLookup MapEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

common::Result<std::string> ReadFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return common::NotFound("cannot open " + path);
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return common::InvalidArgument("error reading " + path);
  return out.str();
}

common::Result<std::map<std::string, ProfileValues>> ParseIniFile(std::string_view text,
                                                                  bool is_config_file) {
  std::map<std::string, ProfileValues> sections;
  ProfileValues* current = nullptr;
  bool skipping = false;  // inside a section that is not a profile
  std::string last_key;   // for indented sub-keys
  int line_no = 0;
  for (const std::string& raw : common::Split(text, '\n')) {
    ++line_no;
    std::string_view line = raw;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::string_view trimmed = common::Trim(line);
    if (trimmed.empty() || trimmed.front() == '#' || trimmed.front() == ';') continue;
    const bool indented = line.front() == ' ' || line.front() == '\t';
    if (trimmed.front() == '[') {
      if (trimmed.back() != ']') {
        return common::InvalidArgument("line " + std::to_string(line_no) + ": bad section header");
      }
      std::string name(common::Trim(trimmed.substr(1, trimmed.size() - 2)));
      skipping = false;
      if (is_config_file) {
        if (common::StartsWith(name, "profile ")) {
          name = std::string(common::Trim(std::string_view(name).substr(8)));
        } else if (name != "default" && !common::StartsWith(name, "sso-session ") &&
                   !common::StartsWith(name, "services ")) {
          skipping = true;  // the CLI ignores "[name]" in the config file
        }
      }
      current = skipping ? nullptr : &sections[name];
      last_key.clear();
      continue;
    }
    if (current == nullptr && !skipping) {
      return common::InvalidArgument("line " + std::to_string(line_no) +
                                     ": key outside of any [section]");
    }
    size_t eq = trimmed.find('=');
    if (indented && !last_key.empty()) {
      if (skipping) continue;
      if (eq != std::string_view::npos) {
        std::string sub(common::Trim(trimmed.substr(0, eq)));
        (*current)[last_key + "." + sub] = std::string(common::Trim(trimmed.substr(eq + 1)));
      } else {
        std::string& v = (*current)[last_key];
        if (!v.empty()) v.push_back('\n');
        v += trimmed;
      }
      continue;
    }
    if (eq == std::string_view::npos) {
      return common::InvalidArgument("line " + std::to_string(line_no) + ": expected key = value");
    }
    last_key = std::string(common::Trim(trimmed.substr(0, eq)));
    if (skipping) continue;
    (*current)[last_key] = std::string(common::Trim(trimmed.substr(eq + 1)));
  }
  return sections;
}

std::string AwsConfig::EndpointFor(std::string_view service_key) const {
  std::string key = common::ToLower(service_key);
  if (auto it = service_endpoints.find(key); it != service_endpoints.end()) return it->second;
  if (!endpoint_url.empty()) return endpoint_url;
  std::string prefix = key;
  for (const auto& s : kServices) {
    if (s.key == key) prefix = std::string(s.host_prefix);
  }
  std::string r = region.empty() ? std::string("us-east-1") : region;
  std::string domain = common::StartsWith(r, "cn-") ? "amazonaws.com.cn" : "amazonaws.com";
  return "https://" + prefix + "." + r + "." + domain;
}

bool AwsConfig::HasEndpointOverride(std::string_view service_key) const {
  return !endpoint_url.empty() || service_endpoints.count(common::ToLower(service_key)) > 0;
}

common::Result<AwsConfig> LoadConfig(const EnvLookup& env) {
  auto get = [&env](const std::string& name) -> std::string {
    std::optional<std::string> v = env(name);
    return v ? *v : std::string();
  };
  AwsConfig config;
  if (std::string p = get("AWS_PROFILE"); !p.empty()) {
    config.profile = p;
  } else if (std::string d = get("AWS_DEFAULT_PROFILE"); !d.empty()) {
    config.profile = d;
  }
  const std::string home = get("HOME");
  auto expand = [&home](std::string path) {
    if (common::StartsWith(path, "~/") && !home.empty()) path = home + path.substr(1);
    return path;
  };
  config.credentials_file = get("AWS_SHARED_CREDENTIALS_FILE");
  if (config.credentials_file.empty()) config.credentials_file = home + "/.aws/credentials";
  config.credentials_file = expand(config.credentials_file);
  config.config_file = get("AWS_CONFIG_FILE");
  if (config.config_file.empty()) config.config_file = home + "/.aws/config";
  config.config_file = expand(config.config_file);

  std::map<std::string, ProfileValues> config_sections;
  for (bool is_config : {false, true}) {
    const std::string& path = is_config ? config.config_file : config.credentials_file;
    if (home.empty() && common::StartsWith(path, "/.aws/")) continue;
    common::Result<std::string> text = ReadFileToString(path);
    if (!text.ok()) {
      if (text.status().code() == common::Code::kNotFound) continue;
      return text.status();
    }
    auto sections = ParseIniFile(*text, is_config);
    if (!sections.ok()) return sections.status().WithContext(path);
    auto it = sections->find(config.profile);
    if (it != sections->end()) {
      config.profile_found = true;
      for (const auto& [k, v] : it->second) config.profile_values.try_emplace(k, v);
    }
    if (is_config) config_sections = std::move(*sections);
  }

  auto profile_value = [&config](const std::string& key) -> std::string {
    auto it = config.profile_values.find(key);
    return it == config.profile_values.end() ? std::string() : it->second;
  };
  config.region = get("AWS_REGION");
  if (config.region.empty()) config.region = get("AWS_DEFAULT_REGION");
  if (config.region.empty()) config.region = profile_value("region");
  config.ca_bundle = get("AWS_CA_BUNDLE");
  if (config.ca_bundle.empty()) config.ca_bundle = profile_value("ca_bundle");

  const bool ignore_endpoints = IsTrue(get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")) ||
                                IsTrue(profile_value("ignore_configure_endpoint_urls"));
  if (!ignore_endpoints) {
    config.endpoint_url = get("AWS_ENDPOINT_URL");
    if (config.endpoint_url.empty()) config.endpoint_url = profile_value("endpoint_url");
    config.endpoint_url = StripTrailingSlash(config.endpoint_url);
    // The profile's `services = name` section: "[services name]\nsqs =\n  endpoint_url = …".
    const ProfileValues* services = nullptr;
    if (std::string name = profile_value("services"); !name.empty()) {
      auto it = config_sections.find("services " + name);
      if (it != config_sections.end()) services = &it->second;
    }
    for (const auto& s : kServices) {
      std::string key(s.key);
      std::string url = get("AWS_ENDPOINT_URL_" + common::ToUpper(key));
      if (url.empty() && services != nullptr) {
        auto it = services->find(key + ".endpoint_url");
        if (it != services->end()) url = it->second;
      }
      if (!url.empty()) config.service_endpoints[key] = StripTrailingSlash(url);
    }
  }
  return config;
}

}  // namespace aws
