#include "http/message.h"

#include "common/strings.h"

namespace http {

void Headers::Add(std::string name, std::string value) {
  entries_.emplace_back(std::move(name), std::move(value));
}

void Headers::Set(std::string name, std::string value) {
  Remove(name);
  Add(std::move(name), std::move(value));
}

std::optional<std::string> Headers::Get(std::string_view name) const {
  for (const auto& [n, v] : entries_) {
    if (common::EqualsIgnoreCase(n, name)) return v;
  }
  return std::nullopt;
}

std::string Headers::GetOr(std::string_view name, std::string_view fallback) const {
  auto v = Get(name);
  return v ? *v : std::string(fallback);
}

std::vector<std::string> Headers::GetAll(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [n, v] : entries_) {
    if (common::EqualsIgnoreCase(n, name)) out.push_back(v);
  }
  return out;
}

bool Headers::Has(std::string_view name) const { return Get(name).has_value(); }

void Headers::Remove(std::string_view name) {
  std::erase_if(entries_, [&](const Entry& e) { return common::EqualsIgnoreCase(e.first, name); });
}

std::string_view Request::path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

std::string_view Request::query() const {
  std::string_view t = target;
  size_t q = t.find('?');
  return q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
}

Response Response::Text(int status, std::string body, std::string content_type) {
  Response r;
  r.status = status;
  r.headers.Set("Content-Type", std::move(content_type));
  r.body = std::move(body);
  return r;
}

std::vector<std::pair<std::string, std::string>> ParseQuery(std::string_view query,
                                                            bool plus_as_space) {
  std::vector<std::pair<std::string, std::string>> out;
  if (query.empty()) return out;
  for (const std::string& part : common::Split(query, '&')) {
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string raw_name = part.substr(0, eq);
    std::string raw_value = eq == std::string::npos ? "" : part.substr(eq + 1);
    std::string name, value;
    if (!common::UriDecode(raw_name, &name, plus_as_space)) name = raw_name;
    if (!common::UriDecode(raw_value, &value, plus_as_space)) value = raw_value;
    out.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

std::optional<std::string> QueryParam(std::string_view query, std::string_view name) {
  for (auto& [n, v] : ParseQuery(query)) {
    if (n == name) return v;
  }
  return std::nullopt;
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Payload Too Large";
    case 416:
      return "Range Not Satisfiable";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
  }
  return "";
}

}  // namespace http
