#include "localcloud/eventbridge/input_transformer.h"

namespace localcloud::eventbridge {
namespace {

std::string Placeholder(const std::optional<nlohmann::json>& value, bool json_template,
                        bool in_quotes) {
  if (!value) return json_template && !in_quotes ? "null" : "";
  if (!value->is_string()) return value->dump();
  const std::string& text = value->get_ref<const std::string&>();
  if (!json_template) return text;
  std::string dumped = value->dump();
  return in_quotes ? dumped.substr(1, dumped.size() - 2) : dumped;
}

}  // namespace

std::string RenderInputTemplate(const std::string& tmpl,
                                const std::map<std::string, std::optional<nlohmann::json>>& vars) {
  size_t first = tmpl.find_first_not_of(" \t\r\n");
  bool json_template = first != std::string::npos && (tmpl[first] == '{' || tmpl[first] == '[');
  std::string out;
  bool in_quotes = false;
  for (size_t i = 0; i < tmpl.size();) {
    char c = tmpl[i];
    if (c == '<') {
      size_t close = tmpl.find('>', i);
      if (close != std::string::npos) {
        auto v = vars.find(tmpl.substr(i + 1, close - i - 1));
        if (v != vars.end()) {
          out += Placeholder(v->second, json_template, in_quotes);
          i = close + 1;
          continue;
        }
      }
    }
    if (c == '\\' && i + 1 < tmpl.size()) {  // an escaped character never closes a string
      out.append(tmpl, i, 2);
      i += 2;
      continue;
    }
    if (c == '"') in_quotes = !in_quotes;
    out += c;
    ++i;
  }
  return out;
}

}  // namespace localcloud::eventbridge
