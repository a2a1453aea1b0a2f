// Reading members of untrusted JSON objects without exceptions. Header-only, thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace common {

// The string member `key` of `object`; "" when `object` is not an object, or the member is
// absent or not a string (a number is not converted: callers that accept scalars say so).
inline std::string JsonString(const nlohmann::json& object, std::string_view key) {
  if (!object.is_object()) return std::string();
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace common
