#include "function/function.h"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace function {

const char* ErrorTypeName(ErrorType type) {
  switch (type) {
    case ErrorType::kInputError:
      return "InputError";
    case ErrorType::kFunctionError:
      return "FunctionError";
    case ErrorType::kSystemError:
      return "SystemError";
  }
  return "SystemError";
}

int ErrorTypeHttpStatus(ErrorType type) {
  switch (type) {
    case ErrorType::kInputError:
      return 400;
    case ErrorType::kFunctionError:
      return 500;
    case ErrorType::kSystemError:
      return 502;
  }
  return 502;
}

Error Error::Input(std::string message) {
  return Error{ErrorType::kInputError, std::move(message), false, std::nullopt};
}
Error Error::Function(std::string message) {
  return Error{ErrorType::kFunctionError, std::move(message), false, std::nullopt};
}
Error Error::System(std::string message) {
  return Error{ErrorType::kSystemError, std::move(message), false, std::nullopt};
}
Error Error::Retryable(std::string message, std::optional<std::chrono::milliseconds> retry_after) {
  return Error{ErrorType::kFunctionError, std::move(message), true, retry_after};
}

Error Error::FromStatus(const common::Status& status) {
  switch (status.code()) {
    case common::Code::kInvalidArgument:
      return Input(status.message());
    case common::Code::kUnavailable:
    case common::Code::kDeadlineExceeded:
    case common::Code::kResourceExhausted:
    case common::Code::kAborted:
      return Retryable(status.message());
    case common::Code::kInternal:
      return System(status.message());
    default:
      return Function(status.message());
  }
}

nlohmann::json Error::ToJson() const {
  nlohmann::json j = {{"type", ErrorTypeName(type)},
                      {"message", message},
                      {"stacktrace", nlohmann::json::array()},
                      {"retryable", retryable}};
  if (retry_after) j["retry_after_ms"] = retry_after->count();
  return j;
}

std::string SecretFallback::EnvName(const std::string& name, const std::string& key) {
  std::string out = "SECRET_";
  auto append = [&out](const std::string& s) {
    for (unsigned char c : s)
      out.push_back(std::isalnum(c) ? static_cast<char>(std::toupper(c)) : '_');
  };
  append(name);
  out.push_back('_');
  append(key);
  return out;
}

namespace {

// A path component a secret name or key may safely form: no separators, not "." or "..".
bool SafeComponent(const std::string& s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos &&
         s.find('\0') == std::string::npos;
}

}  // namespace

std::optional<std::string> SecretFallback::Lookup(const std::string& name,
                                                  const std::string& key) const {
  if (!dir.empty() && SafeComponent(name) && SafeComponent(key)) {
    std::ifstream in(dir + "/" + name + "/" + key, std::ios::binary);
    if (in) {
      std::ostringstream ss;
      ss << in.rdbuf();
      std::string value = ss.str();
      // Files written with `echo` end in a newline that is not part of the value.
      while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
      return value;
    }
  }
  std::string env = EnvName(name, key);
  if (getenv) return getenv(env);
  const char* v = std::getenv(env.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

const nlohmann::json& Context::event() const {
  static const nlohmann::json kNull;
  auto it = json_.find("event");
  return it == json_.end() ? kNull : *it;
}

std::optional<std::string> Context::Secret(const std::string& name, const std::string& key) const {
  auto secrets = json_.find("secrets");
  if (secrets != json_.end() && secrets->is_object()) {
    auto secret = secrets->find(name);
    if (secret != secrets->end() && secret->is_object()) {
      auto value = secret->find(key);
      if (value != secret->end() && value->is_string()) return value->get<std::string>();
      return std::nullopt;  // the secret is here; do not mix in values from elsewhere
    }
  }
  if (fallback_ == nullptr) return std::nullopt;
  return fallback_->Lookup(name, key);
}

std::optional<std::string> Context::SecretAny(const std::string& name,
                                              std::initializer_list<const char*> keys) const {
  for (const char* key : keys) {
    if (auto v = Secret(name, key)) return v;
  }
  return std::nullopt;
}

}  // namespace function
