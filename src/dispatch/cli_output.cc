#include "dispatch/cli_output.h"

#include <algorithm>
#include <cctype>

namespace dispatch {

using nlohmann::json;

std::string FormatTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(headers.size());
  for (size_t c = 0; c < headers.size(); ++c) width[c] = headers[c].size();
  for (const auto& row : rows) {
    for (size_t c = 0; c < headers.size() && c < row.size(); ++c) {
      width[c] = std::max(width[c], row[c].size());
    }
  }
  std::string out, line;
  size_t total = 0;
  for (size_t c = 0; c < headers.size(); ++c) {
    size_t w = width[c] + 2;
    size_t left = (w - headers[c].size()) / 2;
    line += std::string(left, ' ') + headers[c] + std::string(w - left - headers[c].size(), ' ');
    if (c + 1 < headers.size()) line += "|";
    total += w + 1;
  }
  out = line + "\n" + std::string(total > 0 ? total - 1 : 0, '-') + "\n";
  for (const auto& row : rows) {
    line.clear();
    for (size_t c = 0; c < headers.size(); ++c) {
      std::string cell = c < row.size() ? row[c] : "";
      line += " " + cell + std::string(width[c] - cell.size() + 1, ' ');
      if (c + 1 < headers.size()) line += "|";
    }
    out += line + "\n";
  }
  return out;
}

namespace {

// True when a plain (unquoted) YAML scalar would read back as this same string.
bool PlainYamlSafe(const std::string& s) {
  if (s.empty() || s.front() == ' ' || s.back() == ' ') return false;
  static const char* kWords[] = {"true", "false", "yes", "no", "on", "off", "null", "~", "y", "n"};
  std::string lower = s;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* w : kWords) {
    if (lower == w) return false;
  }
  if (std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-' || s[0] == '+' || s[0] == '.') {
    return false;  // could read as a number (or a list item, or a document marker)
  }
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) return false;
    if (std::string_view(":#{}[],&*!|>'\"%@`?").find(c) != std::string_view::npos) return false;
  }
  return true;
}

std::string YamlScalar(const json& v) {
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    // A JSON string is a valid YAML double-quoted scalar.
    return PlainYamlSafe(s) ? s : v.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  if (v.is_object()) return "{}";
  if (v.is_array()) return "[]";
  return v.dump();
}

bool NonEmptyContainer(const json& v) { return (v.is_object() || v.is_array()) && !v.empty(); }

void AppendYaml(const json& v, size_t indent, std::string* out) {
  const std::string pad(indent, ' ');
  if (v.is_object()) {
    for (const auto& [key, item] : v.items()) {
      *out += pad + YamlScalar(json(key)) + ":";
      if (NonEmptyContainer(item)) {
        *out += "\n";
        AppendYaml(item, indent + 2, out);
      } else {
        *out += " " + YamlScalar(item) + "\n";
      }
    }
    return;
  }
  for (const auto& item : v) {
    if (NonEmptyContainer(item)) {
      std::string nested;
      AppendYaml(item, indent + 2, &nested);
      *out += pad + "- " + nested.substr(indent + 2);
    } else {
      *out += pad + "- " + YamlScalar(item) + "\n";
    }
  }
}

std::string StringAt(const json& j, const char* pointer) {
  json::json_pointer p(pointer);
  if (!j.contains(p)) return "";
  const json& v = j.at(p);
  return v.is_string() ? v.get<std::string>() : "";
}

}  // namespace

std::string ToYaml(const json& value) {
  if (!NonEmptyContainer(value)) return YamlScalar(value) + "\n";
  std::string out;
  AppendYaml(value, 0, &out);
  return out;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  // Optimal string alignment: insertions, deletions, substitutions and adjacent swaps ("lgos").
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::string Suggest(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::max<size_t>(1, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    if (!word.empty() && c.size() > word.size() && c.compare(0, word.size(), word) == 0 &&
        best.empty()) {
      best = c;
      best_distance = c.size() - word.size();
      continue;
    }
    size_t d = EditDistance(word, c);
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

std::string RunSubject(const json& run) {
  auto it = run.find("input");
  if (it == run.end() || !it->is_object()) return "";
  const json& in = *it;
  for (const char* p : {"/detail/object/key", "/detail/requestParameters/key",
                        "/Records/0/s3/object/key", "/data/detail/object/key", "/subject"}) {
    std::string key = StringAt(in, p);
    if (!key.empty()) return key;
  }
  return "";
}

std::string RunOutcome(const json& run) {
  std::string status = run.value("status", "");
  if (status == "failed") {
    std::string message = StringAt(run, "/error/message");
    return message.empty() ? "failed" : "failed: " + message;
  }
  if (status != "succeeded") return status;
  auto out = run.find("output");
  if (out == run.end() || !out->is_object()) return status;
  std::string reported = StringAt(*out, "/status");
  if (reported.empty()) return status;
  std::string detail = StringAt(*out, "/reason");
  if (detail.empty()) detail = StringAt(*out, "/tweet_id");
  if (detail.empty() && out->contains("results") && (*out)["results"].is_array()) {
    detail = std::to_string((*out)["results"].size()) + " objects";
  }
  return detail.empty() ? reported
                        : reported + " " + (reported == "posted" ? "" : "(") + detail +
                              (reported == "posted" ? "" : ")");
}

std::string ReadableTime(std::string_view iso) {
  if (iso.size() < 19 || iso[10] != 'T') return std::string(iso);
  std::string out(iso.substr(0, 19));
  out[10] = ' ';
  return out;
}

}  // namespace dispatch
