// HTTP messages shared by the server and the client. Plain values; not thread-safe to mutate.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace http {

// Header fields in arrival order. Names compare case-insensitively; a name may repeat.
class Headers {
 public:
  using Entry = std::pair<std::string, std::string>;

  // Appends a field (keeps any existing field of the same name).
  void Add(std::string name, std::string value);
  // Replaces every field of this name with one field.
  void Set(std::string name, std::string value);
  // First value of the name, or nullopt.
  std::optional<std::string> Get(std::string_view name) const;
  // First value, or `fallback` when absent.
  std::string GetOr(std::string_view name, std::string_view fallback) const;
  std::vector<std::string> GetAll(std::string_view name) const;
  bool Has(std::string_view name) const;
  void Remove(std::string_view name);
  const std::vector<Entry>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }

 private:
  std::vector<Entry> entries_;
};

// A request as the server received it or as a client will send it.
struct Request {
  std::string method;        // "GET", "PUT", …
  std::string target = "/";  // raw request-target: percent-encoded path plus "?query"
  Headers headers;
  std::string body;
  std::string remote_address;  // server side: the peer's IP address ("127.0.0.1")

  // The raw, still percent-encoded path (target up to '?').
  std::string_view path() const;
  // The raw query string after '?', without the '?' ("" when none).
  std::string_view query() const;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;

  // A response with a body and its Content-Type.
  static Response Text(int status, std::string body,
                       std::string content_type = "text/plain; charset=utf-8");
  static Response Json(int status, std::string json_body) {
    return Text(status, std::move(json_body), "application/json");
  }
};

// Decodes a raw query string into (name, value) pairs in order; '+' stays '+'
// (AWS style) unless plus_as_space. Malformed escapes are kept verbatim.
std::vector<std::pair<std::string, std::string>> ParseQuery(std::string_view query,
                                                            bool plus_as_space = false);
// Value of the first query parameter `name`, decoded.
std::optional<std::string> QueryParam(std::string_view query, std::string_view name);

// Standard reason phrase for a status code ("Not Found"), "" when unknown.
const char* ReasonPhrase(int status);

}  // namespace http
