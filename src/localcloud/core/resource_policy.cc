#include "localcloud/core/resource_policy.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "common/strings.h"

namespace localcloud {
namespace {

using nlohmann::json;

// A string or an array of strings as a list; nullopt for anything else.
std::optional<std::vector<std::string>> StringList(const json& v) {
  std::vector<std::string> out;
  if (v.is_string()) {
    out.push_back(v.get<std::string>());
    return out;
  }
  if (!v.is_array()) return std::nullopt;
  for (const json& e : v) {
    if (!e.is_string()) return std::nullopt;
    out.push_back(e.get<std::string>());
  }
  return out;
}

// IAM's wildcard match: '*' any run of characters, '?' one character.
bool GlobMatch(std::string_view pattern, std::string_view value, bool ignore_case) {
  size_t p = 0, v = 0, star = std::string_view::npos, mark = 0;
  auto same = [ignore_case](char a, char b) {
    if (!ignore_case) return a == b;
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  };
  while (v < value.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || same(pattern[p], value[v]))) {
      ++p;
      ++v;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = v;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      v = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

common::Status Malformed(const std::string& reason) { return common::InvalidArgument(reason); }

common::Status ValidateStatement(const json& st, const PolicyTarget& target) {
  if (!st.is_object()) return Malformed("Statement must be an object");
  auto effect = st.find("Effect");
  if (effect == st.end()) return Malformed("Missing required field Effect");
  if (!effect->is_string() || (*effect != "Allow" && *effect != "Deny")) {
    return Malformed("Invalid effect: " + effect->dump());
  }
  if (!st.contains("Principal") && !st.contains("NotPrincipal")) {
    return Malformed("Missing required field Principal");
  }
  if (!st.contains("Action") && !st.contains("NotAction")) {
    return Malformed("Missing required field Action");
  }
  if (!st.contains("Resource") && !st.contains("NotResource")) {
    return Malformed("Missing required field Resource");
  }
  const json& actions = st.contains("Action") ? st["Action"] : st["NotAction"];
  auto action_list = StringList(actions);
  if (!action_list || action_list->empty()) return Malformed("Policy has invalid action");
  for (const auto& a : *action_list) {
    if (a == "*") continue;
    auto colon = a.find(':');
    if (colon == std::string::npos || colon + 1 == a.size() ||
        !common::EqualsIgnoreCase(a.substr(0, colon), target.action_prefix)) {
      return Malformed("Policy has invalid action");
    }
  }
  const json& resources = st.contains("Resource") ? st["Resource"] : st["NotResource"];
  auto resource_list = StringList(resources);
  if (!resource_list || resource_list->empty()) return Malformed("Policy has invalid resource");
  for (const auto& r : *resource_list) {
    if (target.resource_prefix.empty()) continue;
    if (r != target.resource_prefix && !common::StartsWith(r, target.resource_prefix + "/")) {
      return Malformed("Policy has invalid resource");
    }
  }
  if (st.contains("Condition")) {
    const json& cond = st["Condition"];
    if (!cond.is_object()) return Malformed("Invalid Condition block");
    for (const auto& [op, body] : cond.items()) {
      if (!body.is_object()) return Malformed("Invalid Condition type : " + op);
    }
  }
  return common::Status::Ok();
}

bool PrincipalMatches(const json& principal, const std::string& service) {
  if (principal.is_string()) return principal == "*";
  if (!principal.is_object()) return false;
  for (const auto& [kind, value] : principal.items()) {
    auto list = StringList(value);
    if (!list) continue;
    for (const auto& p : *list) {
      if (kind == "AWS" && p == "*") return true;
      if (kind == "Service" && p == service) return true;
    }
  }
  return false;
}

bool AnyGlob(const json& patterns, const std::string& value, bool ignore_case) {
  auto list = StringList(patterns);
  if (!list) return false;
  for (const auto& p : *list) {
    if (GlobMatch(p, value, ignore_case)) return true;
  }
  return false;
}

std::optional<std::string> ContextValue(const ServiceRequest& r, const std::string& key) {
  for (const auto& [k, v] : r.context) {
    if (common::EqualsIgnoreCase(k, key)) return v;
  }
  return std::nullopt;
}

// One operator over its keys; nullopt for an operator this evaluator does not know.
std::optional<bool> OperatorHolds(std::string op, const json& keys, const ServiceRequest& r) {
  bool if_exists = common::EndsWith(op, "IfExists");
  if (if_exists) op.resize(op.size() - 8);
  bool negated = op == "StringNotEquals" || op == "StringNotLike" || op == "ArnNotEquals" ||
                 op == "ArnNotLike";
  bool glob = op == "StringLike" || op == "StringNotLike" || common::StartsWith(op, "Arn");
  bool ignore_case = op == "StringEqualsIgnoreCase";
  if (!(op == "StringEquals" || op == "StringEqualsIgnoreCase" || op == "StringLike" ||
        op == "ArnEquals" || op == "ArnLike" || negated)) {
    return std::nullopt;
  }
  for (const auto& [key, expected] : keys.items()) {
    auto actual = ContextValue(r, key);
    if (!actual) {
      if (if_exists || negated) continue;
      return false;
    }
    bool found = false;
    auto list = StringList(expected);
    if (!list) return false;
    for (const auto& e : *list) {
      found = found || (glob          ? GlobMatch(e, *actual, false)
                        : ignore_case ? common::EqualsIgnoreCase(e, *actual)
                                      : e == *actual);
    }
    if (found == negated) return false;
  }
  return true;
}

bool StatementMatches(const json& st, const ServiceRequest& r) {
  if (st.contains("Principal") && !PrincipalMatches(st["Principal"], r.service)) return false;
  if (st.contains("NotPrincipal") && PrincipalMatches(st["NotPrincipal"], r.service)) return false;
  if (st.contains("Action") && !AnyGlob(st["Action"], r.action, true)) return false;
  if (st.contains("NotAction") && AnyGlob(st["NotAction"], r.action, true)) return false;
  if (st.contains("Resource") && !AnyGlob(st["Resource"], r.resource, false)) return false;
  if (st.contains("NotResource") && AnyGlob(st["NotResource"], r.resource, false)) return false;
  if (st.contains("Condition") && st["Condition"].is_object()) {
    for (const auto& [op, keys] : st["Condition"].items()) {
      if (!keys.is_object()) return false;
      auto holds = OperatorHolds(op, keys, r);
      if (!holds || !*holds) return false;
    }
  }
  return true;
}

std::vector<json> Statements(const json& doc) {
  std::vector<json> out;
  if (!doc.is_object() || !doc.contains("Statement")) return out;
  const json& s = doc["Statement"];
  if (s.is_object()) out.push_back(s);
  if (s.is_array()) out.assign(s.begin(), s.end());
  return out;
}

}  // namespace

common::Status ValidateResourcePolicy(std::string_view policy, const PolicyTarget& target) {
  json doc = json::parse(policy, nullptr, false);
  if (!doc.is_object()) {
    return Malformed("Policies must be valid JSON and the first byte must be '{'");
  }
  if (doc.contains("Version") && doc["Version"] != "2012-10-17" && doc["Version"] != "2008-10-17") {
    return Malformed("Invalid Version");
  }
  if (!doc.contains("Statement")) return Malformed("Missing required field Statement");
  const json& statement = doc["Statement"];
  if (!statement.is_object() && !statement.is_array()) return Malformed("Invalid Statement");
  if (statement.is_array() && statement.empty()) {
    return Malformed("Could not parse the policy: Statement is empty!");
  }
  for (const json& st : Statements(doc)) DAT_RETURN_IF_ERROR(ValidateStatement(st, target));
  return common::Status::Ok();
}

bool ResourcePolicyAllows(std::string_view policy, const ServiceRequest& request) {
  json doc = json::parse(policy, nullptr, false);
  bool allowed = false;
  for (const json& st : Statements(doc)) {
    if (!st.is_object() || !StatementMatches(st, request)) continue;
    if (st.value("Effect", "") == "Deny") return false;
    if (st.value("Effect", "") == "Allow") allowed = true;
  }
  return allowed;
}

}  // namespace localcloud
