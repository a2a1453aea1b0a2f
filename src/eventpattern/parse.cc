// Pattern validation and compilation into clauses. The error texts are the ones EventBridge
// returns in InvalidEventPatternException (recorded against real AWS where the shared test
// data has them; the few it does not cover follow the same style).
#include <algorithm>
#include <set>

#include "common/json_limits.h"
#include "eventpattern/machine.h"
#include "eventpattern/pattern.h"

namespace eventpattern {

namespace {

using common::Result;
using common::Status;
using nlohmann::json;
using Kind = ValueMatcher::Kind;

// EventBridge rejects a wildcard pattern when too many of its prefixes can be live at once
// for some input (event-ruler's machine complexity); it admits at most this many.
constexpr int kMaxWildcardComplexity = 10;
// $or expansion is bounded so a pathological pattern cannot explode memory.
constexpr size_t kMaxClauses = 1024;

Status Invalid(std::string reason) {
  return common::InvalidArgument(std::string(kInvalidPatternPrefix) + reason);
}

// --- wildcard -------------------------------------------------------------------------

// A wildcard pattern as tokens: a byte 0..255, or kStar. Surrounding quotes are included
// because EventBridge evaluates the quoted JSON string (and reports positions in it).
constexpr int kStar = 256;

Result<std::vector<int>> WildcardTokens(const std::string& text) {
  std::vector<int> tokens;
  tokens.push_back('"');
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '*') {
      if (i + 1 < text.size() && text[i + 1] == '*') {
        return Invalid("Consecutive wildcard characters at pos " + std::to_string(i + 1));
      }
      tokens.push_back(kStar);
    } else if (c == '\\') {
      if (i + 1 < text.size() && (text[i + 1] == '*' || text[i + 1] == '\\')) {
        tokens.push_back(static_cast<unsigned char>(text[++i]));
      } else {
        return Invalid("Invalid escape character at pos " + std::to_string(i + 1));
      }
    } else {
      tokens.push_back(c);
    }
  }
  tokens.push_back('"');
  return tokens;
}

// The largest number of NFA positions that can be live at once while matching the glob
// against any input: explores the subset construction over the glob's own bytes plus one
// byte standing for all others. Bounded exploration (the answer is capped anyway).
int WildcardComplexity(const std::vector<int>& tokens) {
  const int n = static_cast<int>(tokens.size());
  auto close = [&](std::vector<char>* set) {
    for (int k = 0; k < n; ++k) {
      if ((*set)[k] && tokens[k] == kStar) (*set)[k + 1] = 1;
    }
  };
  std::vector<int> alphabet = {-1};
  for (int t : tokens) {
    if (t != kStar && std::find(alphabet.begin(), alphabet.end(), t) == alphabet.end()) {
      alphabet.push_back(t);
    }
  }
  std::vector<char> start(n + 1, 0);
  start[0] = 1;
  close(&start);
  std::set<std::vector<char>> seen = {start};
  std::vector<std::vector<char>> pending = {start};
  int maximum = 0;
  while (!pending.empty() && seen.size() < 4096) {
    std::vector<char> active = std::move(pending.back());
    pending.pop_back();
    for (int byte : alphabet) {
      std::vector<char> next(n + 1, 0);
      bool any = false;
      for (int k = 0; k < n; ++k) {
        if (!active[k]) continue;
        if (tokens[k] == kStar) {
          next[k] = 1;
          any = true;
        } else if (tokens[k] == byte) {
          next[k + 1] = 1;
          any = true;
        }
      }
      if (!any) continue;
      close(&next);
      int live = 0;
      for (int k = 0; k < n; ++k) live += next[k];
      maximum = std::max(maximum, live);
      if (maximum > kMaxWildcardComplexity) return maximum;
      if (seen.insert(next).second) pending.push_back(std::move(next));
    }
  }
  return maximum;
}

// Compiles a wildcard string; *complexity accumulates its measure.
Result<Wildcard> CompileWildcard(const std::string& text, int* complexity) {
  DAT_ASSIGN_OR_RETURN(std::vector<int> tokens, WildcardTokens(text));
  *complexity += WildcardComplexity(tokens);
  Wildcard w;
  w.segments.emplace_back();
  for (size_t i = 1; i + 1 < tokens.size(); ++i) {
    if (tokens[i] == kStar) {
      w.segments.emplace_back();
    } else {
      w.segments.back().push_back(static_cast<char>(tokens[i]));
    }
  }
  return w;
}

// --- the grammar -----------------------------------------------------------------------

class Compiler {
 public:
  Result<std::vector<ParsedClause>> Object(const json& object, const std::string& prefix);

 private:
  Result<std::vector<ParsedClause>> Or(const json& value, const std::string& prefix);
  Result<ParsedField> FieldList(const json& array, const std::string& path);
  Status MatchExpression(const json& object, ParsedField* field, int* complexity);
  Status AnythingBut(const json& value, ParsedField* field, int* complexity);
  Status Numeric(const json& value, ParsedField* field);
  Status PrefixOrSuffix(const std::string& name, const json& value, ParsedField* field);
};

Result<std::vector<ParsedClause>> CrossProduct(const std::vector<ParsedClause>& left,
                                               const std::vector<ParsedClause>& right) {
  if (left.size() * right.size() > kMaxClauses) {
    return Invalid("Too many combinations of $or; simplify the pattern");
  }
  std::vector<ParsedClause> out;
  out.reserve(left.size() * right.size());
  for (const auto& a : left) {
    for (const auto& b : right) {
      ParsedClause merged = a;
      merged.insert(merged.end(), b.begin(), b.end());
      out.push_back(std::move(merged));
    }
  }
  return out;
}

Result<std::vector<ParsedClause>> Compiler::Object(const json& object, const std::string& prefix) {
  if (object.empty()) return Invalid("Empty objects are not allowed");
  std::vector<ParsedClause> clauses = {ParsedClause{}};
  for (const auto& [key, value] : object.items()) {
    std::vector<ParsedClause> alternatives;
    if (key == "$or") {
      DAT_ASSIGN_OR_RETURN(alternatives, Or(value, prefix));
    } else {
      std::string path = prefix.empty() ? key : prefix + "." + key;
      if (value.is_array()) {
        DAT_ASSIGN_OR_RETURN(ParsedField field, FieldList(value, path));
        alternatives.push_back(ParsedClause{std::move(field)});
      } else if (value.is_object()) {
        DAT_ASSIGN_OR_RETURN(alternatives, Object(value, path));
      } else {
        return Invalid("\"" + key + "\" must be an object or an array");
      }
    }
    DAT_ASSIGN_OR_RETURN(clauses, CrossProduct(clauses, alternatives));
  }
  return clauses;
}

Result<std::vector<ParsedClause>> Compiler::Or(const json& value, const std::string& prefix) {
  if (!value.is_array() || value.size() < 2) {
    return Invalid("Or relationship must be an array of at least two objects");
  }
  std::vector<ParsedClause> alternatives;
  for (const auto& member : value) {
    if (!member.is_object()) {
      return Invalid("Or relationship must be an array of at least two objects");
    }
    DAT_ASSIGN_OR_RETURN(std::vector<ParsedClause> sub, Object(member, prefix));
    for (auto& clause : sub) alternatives.push_back(std::move(clause));
    if (alternatives.size() > kMaxClauses) {
      return Invalid("Too many combinations of $or; simplify the pattern");
    }
  }
  return alternatives;
}

Result<ParsedField> Compiler::FieldList(const json& array, const std::string& path) {
  if (array.empty()) return Invalid("Empty arrays are not allowed");
  ParsedField field;
  field.path = path;
  ValueMatcher strings, numbers;
  strings.kind = Kind::kStrings;
  numbers.kind = Kind::kNumbers;
  int complexity = 0;
  for (const auto& element : array) {
    switch (element.type()) {
      case json::value_t::string:
        strings.strings.push_back(element.get<std::string>());
        break;
      case json::value_t::number_integer:
      case json::value_t::number_unsigned:
      case json::value_t::number_float:
        numbers.numbers.push_back(element.get<double>());
        break;
      case json::value_t::boolean: {
        ValueMatcher m;
        m.kind = element.get<bool>() ? Kind::kTrue : Kind::kFalse;
        field.matchers.push_back(std::move(m));
        break;
      }
      case json::value_t::null: {
        ValueMatcher m;
        m.kind = Kind::kNull;
        field.matchers.push_back(std::move(m));
        break;
      }
      case json::value_t::object:
        DAT_RETURN_IF_ERROR(MatchExpression(element, &field, &complexity));
        break;
      default:
        return Invalid("Match value must be String, number, true, false, or null");
    }
  }
  if (complexity > kMaxWildcardComplexity) {
    return Invalid(
        "Rule is too complex - try using fewer wildcard characters or fewer repeating "
        "character sequences after a wildcard character");
  }
  if (!strings.strings.empty()) {
    std::sort(strings.strings.begin(), strings.strings.end());
    strings.strings.erase(std::unique(strings.strings.begin(), strings.strings.end()),
                          strings.strings.end());
    field.matchers.push_back(std::move(strings));
  }
  if (!numbers.numbers.empty()) field.matchers.push_back(std::move(numbers));
  return field;
}

Status Compiler::PrefixOrSuffix(const std::string& name, const json& value, ParsedField* field) {
  bool prefix = name == "prefix";
  ValueMatcher m;
  if (value.is_string()) {
    m.kind = prefix ? Kind::kPrefix : Kind::kSuffix;
    m.strings.push_back(value.get<std::string>());
  } else if (value.is_object() && value.size() == 1 && value.contains("equals-ignore-case")) {
    const json& inner = value["equals-ignore-case"];
    if (!inner.is_string()) return Invalid("equals-ignore-case match pattern must be a string");
    m.kind = prefix ? Kind::kPrefixIgnoreCase : Kind::kSuffixIgnoreCase;
    m.strings.push_back(FoldCase(inner.get<std::string>()));
  } else if (value.is_object()) {
    return Invalid("Unsupported " + name + " pattern: " + value.dump());
  } else {
    return Invalid(name + " match pattern must be a string");
  }
  field->matchers.push_back(std::move(m));
  return Status::Ok();
}

Status Compiler::MatchExpression(const json& object, ParsedField* field, int* complexity) {
  if (object.empty()) return Invalid("Empty objects are not allowed");
  if (object.size() > 1) {
    return Invalid("Only one key allowed in match expression");
  }
  const std::string& key = object.begin().key();
  const json& value = object.begin().value();
  if (key == "prefix" || key == "suffix") return PrefixOrSuffix(key, value, field);
  if (key == "equals-ignore-case") {
    if (!value.is_string()) return Invalid("equals-ignore-case match pattern must be a string");
    ValueMatcher m;
    m.kind = Kind::kEqualsIgnoreCase;
    m.strings.push_back(FoldCase(value.get<std::string>()));
    field->matchers.push_back(std::move(m));
    return Status::Ok();
  }
  if (key == "wildcard") {
    if (!value.is_string()) return Invalid("wildcard match pattern must be a string");
    ValueMatcher m;
    m.kind = Kind::kWildcard;
    DAT_ASSIGN_OR_RETURN(Wildcard w, CompileWildcard(value.get<std::string>(), complexity));
    m.wildcards.push_back(std::move(w));
    field->matchers.push_back(std::move(m));
    return Status::Ok();
  }
  if (key == "exists") {
    if (!value.is_boolean()) return Invalid("exists match pattern must be either true or false.");
    if (value.get<bool>()) {
      ValueMatcher m;
      m.kind = Kind::kExists;
      field->matchers.push_back(std::move(m));
    } else {
      field->exists_false = true;
    }
    return Status::Ok();
  }
  if (key == "cidr") {
    // Sic: AWS reports a non-string CIDR with the prefix message.
    if (!value.is_string()) return Invalid("prefix match pattern must be a string");
    const std::string text = value.get<std::string>();
    auto slash = text.find('/');
    if (slash == std::string::npos || text.find('/', slash + 1) != std::string::npos) {
      return Invalid("Malformed CIDR, one '/' required");
    }
    std::string address = text.substr(0, slash);
    std::string bits = text.substr(slash + 1);
    if (bits.empty() || bits.size() > 3 ||
        !std::all_of(bits.begin(), bits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return Invalid("Malformed CIDR, mask bits must be an integer");
    }
    ValueMatcher m;
    m.kind = Kind::kCidr;
    if (!ParseIp(address, &m.cidr.v6, &m.cidr.network)) {
      return Invalid("Nonstandard IP address: " + address);
    }
    int prefix_bits = std::stoi(bits);
    int max_bits = m.cidr.v6 ? 128 : 32;
    if (prefix_bits > max_bits) {
      return Invalid("Malformed CIDR, mask bits must be between 0 and " + std::to_string(max_bits));
    }
    m.cidr.prefix_bits = prefix_bits;
    for (int i = 0; i < 16; ++i) {
      int keep = std::clamp(prefix_bits - i * 8, 0, 8);
      m.cidr.network[i] &= static_cast<uint8_t>(keep == 0 ? 0 : (0xff << (8 - keep)) & 0xff);
    }
    field->matchers.push_back(std::move(m));
    return Status::Ok();
  }
  if (key == "numeric") return Numeric(value, field);
  if (key == "anything-but") return AnythingBut(value, field, complexity);
  return Invalid("Unrecognized match type " + key);
}

Status Compiler::AnythingBut(const json& value, ParsedField* field, int* complexity) {
  static const std::string kBadValue =
      "Value of anything-but must be an array or single string/number value.";
  ValueMatcher m;
  m.kind = Kind::kAnythingBut;
  if (value.is_string()) {
    m.strings.push_back(value.get<std::string>());
  } else if (value.is_number()) {
    m.numbers.push_back(value.get<double>());
  } else if (value.is_array()) {
    if (value.empty()) return Invalid("Empty arrays are not allowed");
    for (const auto& item : value) {
      if (item.is_string()) {
        m.strings.push_back(item.get<std::string>());
      } else if (item.is_number()) {
        m.numbers.push_back(item.get<double>());
      } else {
        return Invalid("Inside anything but list, start|null|boolean is not supported.");
      }
    }
    std::sort(m.strings.begin(), m.strings.end());
  } else if (value.is_object()) {
    if (value.size() != 1) return Invalid(kBadValue);
    const std::string& key = value.begin().key();
    const json& inner = value.begin().value();
    // Each operand is a string or a non-empty list of strings.
    std::vector<std::string> operands;
    auto collect = [&](const std::string& type_error) -> Status {
      if (inner.is_string()) {
        operands.push_back(inner.get<std::string>());
      } else if (inner.is_array() && !inner.empty()) {
        for (const auto& item : inner) {
          if (!item.is_string()) return Invalid(type_error);
          operands.push_back(item.get<std::string>());
        }
      } else if (inner.is_object()) {
        return Invalid(kBadValue);
      } else {
        return Invalid(type_error);
      }
      return Status::Ok();
    };
    if (key == "prefix" || key == "suffix") {
      DAT_RETURN_IF_ERROR(collect("prefix/suffix match pattern must be a string"));
      for (const auto& s : operands) {
        if (s.empty()) return Invalid("Null prefix/suffix not allowed");
      }
      m.kind = key == "prefix" ? Kind::kAnythingButPrefix : Kind::kAnythingButSuffix;
      m.strings = std::move(operands);
    } else if (key == "equals-ignore-case") {
      DAT_RETURN_IF_ERROR(
          collect("Inside anything-but/equals-ignore-case list, number|start|null|boolean is not "
                  "supported."));
      m.kind = Kind::kAnythingButIgnoreCase;
      for (const auto& s : operands) m.strings.push_back(FoldCase(s));
    } else if (key == "wildcard") {
      DAT_RETURN_IF_ERROR(collect("wildcard match pattern must be a string"));
      m.kind = Kind::kAnythingButWildcard;
      for (const auto& s : operands) {
        DAT_ASSIGN_OR_RETURN(Wildcard w, CompileWildcard(s, complexity));
        m.wildcards.push_back(std::move(w));
      }
    } else {
      return Invalid("Unsupported anything-but pattern: " + key);
    }
  } else {
    return Invalid(kBadValue);
  }
  field->matchers.push_back(std::move(m));
  return Status::Ok();
}

Status Compiler::Numeric(const json& value, ParsedField* field) {
  if (!value.is_array()) return Invalid("Value of numeric must be an array.");
  if (value.empty()) return Invalid("Empty arrays are not allowed");
  ValueMatcher m;
  m.kind = Kind::kNumeric;
  enum Side { kNone, kLower, kUpper, kEqual };
  Side first = kNone;
  size_t i = 0;
  while (i < value.size()) {
    const json& op_token = value[i];
    std::string op = op_token.is_string() ? op_token.get<std::string>() : op_token.dump();
    Side side = op == "="                   ? kEqual
                : (op == ">" || op == ">=") ? kLower
                : (op == "<" || op == "<=") ? kUpper
                                            : kNone;
    if (!op_token.is_string() || side == kNone) {
      return Invalid("Unrecognized numeric range operator: " + op);
    }
    if (first != kNone && (side == first || side == kEqual || first == kEqual)) {
      return Invalid("Bad numeric range operator: " + op);
    }
    if (i + 1 >= value.size() || !value[i + 1].is_number()) {
      return Invalid("Value of " + op + " must be numeric");
    }
    double operand = value[i + 1].get<double>();
    if (side == kEqual) {
      m.low = m.high = operand;
      m.low_inclusive = m.high_inclusive = true;
    } else if (side == kLower) {
      m.low = operand;
      m.low_inclusive = op == ">=";
    } else {
      m.high = operand;
      m.high_inclusive = op == "<=";
    }
    if (first != kNone && i + 2 < value.size()) {
      return Invalid("Too many elements in numeric expression");
    }
    if (first == kNone) first = side;
    i += 2;
  }
  if (m.low > m.high || (m.low == m.high && !(m.low_inclusive && m.high_inclusive))) {
    return Invalid("Bottom must be less than top");
  }
  field->matchers.push_back(std::move(m));
  return Status::Ok();
}

}  // namespace

Result<std::vector<ParsedClause>> ParsePattern(std::string_view text) {
  // Before the parser and the compiler, which recurse per level.
  if (!common::CheckJsonDepth(text, kMaxPatternDepth).ok()) {
    return Invalid("Pattern nesting exceeds the maximum of " + std::to_string(kMaxPatternDepth) +
                   " levels");
  }
  json pattern;
  try {
    pattern = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    // nlohmann's text stands in for Jackson's; the reason differs in wording only.
    std::string what = e.what();
    auto bracket = what.find("] ");
    return Invalid(bracket == std::string::npos ? what : what.substr(bracket + 2));
  }
  if (!pattern.is_object()) return Invalid("Filter is not an object");
  Compiler compiler;
  return compiler.Object(pattern, "");
}

}  // namespace eventpattern
