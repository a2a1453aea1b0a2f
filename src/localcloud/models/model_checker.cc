#include "localcloud/models/model_checker.h"

#include <spdlog/spdlog.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <pugixml.hpp>
#include <set>
#include <sstream>

#include "common/strings.h"

namespace localcloud::models {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kServices[] = {"s3", "sqs", "events", "cloudtrail", "sts"};

// A file's bytes, gunzipped when it ends in .gz.
common::Result<std::string> ReadModelFile(const fs::path& path) {
  if (path.extension() != ".gz") {
    std::ifstream in(path, std::ios::binary);
    if (!in) return common::NotFound("cannot open " + path.string());
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) return common::NotFound("cannot open " + path.string());
  std::string out;
  char buf[65536];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  gzclose(f);
  if (n < 0) return common::InvalidArgument("cannot decompress " + path.string());
  return out;
}

// dir/<service>/<newest version>/service-2.json[.gz]
common::Result<fs::path> ModelPath(const fs::path& dir, const std::string& service) {
  std::error_code ec;
  fs::path newest;
  for (const auto& entry : fs::directory_iterator(dir / service, ec)) {
    for (const char* file : {"service-2.json", "service-2.json.gz"}) {
      if (fs::exists(entry.path() / file) && (newest.empty() || entry.path() / file > newest)) {
        newest = entry.path() / file;
      }
    }
  }
  if (newest.empty()) {
    return common::NotFound("no service-2.json for " + service + " under " +
                            (dir / service).string());
  }
  return newest;
}

// The SigV4 service of a request (Authorization header or presigned query); "" unsigned.
std::string SigningService(const http::Request& r) {
  std::string credential;
  std::string auth = r.headers.GetOr("authorization", "");
  if (size_t at = auth.find("Credential="); at != std::string::npos) {
    credential = auth.substr(at + 11, auth.find_first_of(", ", at) - at - 11);
  } else if (auto q = http::QueryParam(r.query(), "X-Amz-Credential")) {
    credential = *q;
  }
  auto parts = common::Split(credential, '/');
  return parts.size() >= 5 ? parts[3] : "";
}

// Validates one value against a shape; appends violations prefixed with `path`.
class ShapeValidator {
 public:
  ShapeValidator(const json& shapes, std::vector<std::string>* out) : shapes_(shapes), out_(out) {}

  void Value(const json& v, const std::string& shape_name, const std::string& path) {
    auto it = shapes_.find(shape_name);
    if (it == shapes_.end()) return;
    const json& shape = *it;
    const std::string type = shape.value("type", "");
    if (type == "structure") return Structure(v, shape, path);
    if (type == "list") return List(v, shape, path);
    if (type == "map") return Map(v, shape, path);
    if (type == "string") return String(v, shape, path);
    if (type == "integer" || type == "long") return Integer(v, shape, path);
    if (type == "boolean" && !v.is_boolean()) return Violation(path, "must be a boolean");
    if ((type == "double" || type == "float") && !v.is_number()) {
      return Violation(path, "must be a number");
    }
    if (type == "blob" && !v.is_string()) return Violation(path, "must be base64 text");
    if (type == "timestamp" && !v.is_number() && !v.is_string()) {
      return Violation(path, "must be a timestamp");
    }
  }

  // A string value of a scalar shape (query parameters, headers).
  void Text(const std::string& text, const std::string& shape_name, const std::string& path) {
    auto it = shapes_.find(shape_name);
    if (it == shapes_.end()) return;
    const std::string type = it->value("type", "");
    if (type == "string") return String(json(text), *it, path);
    if (type == "integer" || type == "long") {
      char* end = nullptr;
      long long n = std::strtoll(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0') return Violation(path, "must be an integer");
      return Integer(json(n), *it, path);
    }
    if (type == "boolean" && text != "true" && text != "false") {
      return Violation(path, "must be true or false");
    }
  }

  void Violation(const std::string& path, const std::string& what) {
    out_->push_back(path + " " + what);
  }

 private:
  void Structure(const json& v, const json& shape, const std::string& path) {
    if (!v.is_object()) return Violation(path, "must be an object");
    const json& members = shape["members"];
    for (const auto& [name, value] : v.items()) {
      if (!members.contains(name)) {
        Violation(path.empty() ? name : path + "." + name, "is not a member of " + path_or(path));
        continue;
      }
      Value(value, members[name]["shape"].get<std::string>(),
            path.empty() ? name : path + "." + name);
    }
    for (const json& required : shape.value("required", json::array())) {
      if (!v.contains(required.get<std::string>())) {
        std::string name = required.get<std::string>();
        Violation(path.empty() ? name : path + "." + name, "is required");
      }
    }
  }
  static std::string path_or(const std::string& path) { return path.empty() ? "the input" : path; }
  void List(const json& v, const json& shape, const std::string& path) {
    if (!v.is_array()) return Violation(path, "must be a list");
    Bounds(v.size(), shape, path, "items");
    for (size_t i = 0; i < v.size(); ++i) {
      Value(v[i], shape["member"]["shape"].get<std::string>(),
            path + "[" + std::to_string(i) + "]");
    }
  }
  void Map(const json& v, const json& shape, const std::string& path) {
    if (!v.is_object()) return Violation(path, "must be a map");
    Bounds(v.size(), shape, path, "entries");
    for (const auto& [key, value] : v.items()) {
      Text(key, shape["key"]["shape"].get<std::string>(), path + " key");
      Value(value, shape["value"]["shape"].get<std::string>(), path + "." + key);
    }
  }
  void String(const json& v, const json& shape, const std::string& path) {
    if (!v.is_string()) return Violation(path, "must be a string");
    const std::string& s = v.get_ref<const std::string&>();
    if (shape.contains("enum")) {
      bool known = false;
      for (const json& e : shape["enum"]) known = known || e == s;
      if (!known) {
        std::string allowed;
        for (size_t i = 0; i < shape["enum"].size() && i < 4; ++i) {
          allowed += (i ? ", " : "") + shape["enum"][i].get<std::string>();
        }
        if (shape["enum"].size() > 4) allowed += ", …";
        return Violation(path, "\"" + s + "\" is not one of the model's values (" + allowed + ")");
      }
    }
    size_t chars = 0;
    for (unsigned char c : s) chars += (c & 0xC0) != 0x80;
    Bounds(chars, shape, path, "characters");
  }
  void Integer(const json& v, const json& shape, const std::string& path) {
    if (!v.is_number_integer()) return Violation(path, "must be an integer");
    long long n = v.get<long long>();
    if (shape.contains("min") && n < shape["min"].get<long long>()) {
      Violation(path, "must be at least " + shape["min"].dump());
    }
    if (shape.contains("max") && n > shape["max"].get<long long>()) {
      Violation(path, "must be at most " + shape["max"].dump());
    }
  }
  void Bounds(size_t n, const json& shape, const std::string& path, const char* unit) {
    if (shape.contains("min") && n < shape["min"].get<size_t>()) {
      Violation(path, std::string("needs at least ") + shape["min"].dump() + " " + unit);
    }
    if (shape.contains("max") && n > shape["max"].get<size_t>()) {
      Violation(path, std::string("allows at most ") + shape["max"].dump() + " " + unit);
    }
  }

  const json& shapes_;
  std::vector<std::string>* out_;
};

// The operation of `model` whose X-Amz-Target is `target` ("" when none).
std::string JsonOperation(const ServiceModel& s, const std::string& target) {
  std::string prefix = s.model["metadata"].value("targetPrefix", "");
  if (s.name == "sqs") prefix = "AmazonSQS";  // models before SQS's JSON protocol lack it
  size_t dot = target.rfind('.');
  if (dot == std::string::npos) return "";
  std::string given = target.substr(0, dot);
  // The short form (CloudTrail_20131101) is the prefix's last segment; AWS accepts both.
  std::string short_prefix = prefix.substr(prefix.rfind('.') + 1);
  if (given != prefix && given != short_prefix) return "";
  std::string op = target.substr(dot + 1);
  return s.model["operations"].contains(op) ? op : "";
}

std::vector<std::string> CheckJson(const ServiceModel& s, const std::string& op,
                                   const http::Request& r) {
  std::vector<std::string> out;
  const json& operation = s.model["operations"][op];
  json body = r.body.empty() ? json::object() : json::parse(r.body, nullptr, false);
  if (body.is_discarded()) return {"the body is not JSON"};
  if (!operation.contains("input")) {
    if (!body.empty()) out.push_back("the operation takes no input");
    return out;
  }
  ShapeValidator(s.model["shapes"], &out)
      .Value(body, operation["input"]["shape"].get<std::string>(), "");
  return out;
}

// Query protocol: Action=Op&Member.1.Sub=…; the first segment of each name is a member
// (or its flattened locationName).
std::vector<std::string> CheckQuery(
    const ServiceModel& s, const std::string& op,
    const std::vector<std::pair<std::string, std::string>>& params) {
  std::vector<std::string> out;
  const json& operation = s.model["operations"][op];
  if (!operation.contains("input")) return out;
  const json& shapes = s.model["shapes"];
  const json& input = shapes[operation["input"]["shape"].get<std::string>()];
  std::map<std::string, std::string> by_wire_name;  // wire name -> member name
  for (const auto& [name, m] : input["members"].items()) {
    by_wire_name[name] = name;
    if (m.contains("locationName")) by_wire_name[m["locationName"].get<std::string>()] = name;
    // A flattened list is sent under its member's name ("AttributeName.1").
    auto shape = shapes.find(m["shape"].get<std::string>());
    if (shape != shapes.end() && shape->value("flattened", false) && shape->contains("member") &&
        (*shape)["member"].contains("locationName")) {
      by_wire_name[(*shape)["member"]["locationName"].get<std::string>()] = name;
    }
  }
  std::set<std::string> present;
  ShapeValidator validator(shapes, &out);
  for (const auto& [name, value] : params) {
    if (name == "Action" || name == "Version" || common::StartsWith(name, "X-Amz-")) continue;
    std::string first = name.substr(0, name.find('.'));
    auto it = by_wire_name.find(first);
    if (it == by_wire_name.end()) {
      out.push_back(name + " is not a parameter of " + op);
      continue;
    }
    present.insert(it->second);
    if (first == name)
      validator.Text(value, input["members"][it->second]["shape"].get<std::string>(), name);
  }
  for (const json& required : input.value("required", json::array())) {
    if (!present.count(required.get<std::string>()))
      out.push_back(required.get<std::string>() + " is required");
  }
  return out;
}

// S3 REST: the request's bucket, whether it names a key, and its query parameter names.
struct RestTarget {
  std::string bucket;
  bool has_key = false;
  std::set<std::string> query;
};

RestTarget ParseRestTarget(const http::Request& r) {
  RestTarget t;
  std::string host = common::ToLower(r.headers.GetOr("host", ""));
  host =
      host.substr(0, host.rfind(':') == std::string::npos || host.back() == ']' ? host.size()
                                                                                : host.rfind(':'));
  std::string path(r.path());
  bool virtual_host = false;
  for (const char* suffix : {".localhost", ".amazonaws.com"}) {
    size_t s3 = host.find(".s3.");
    if (common::EndsWith(host, suffix) &&
        (std::string(suffix) == ".localhost" || s3 != std::string::npos)) {
      std::string first =
          host.substr(0, std::string(suffix) == ".localhost" ? host.size() - 10 : s3);
      if (!first.empty() && first != "s3") {
        t.bucket = first;
        virtual_host = true;
      }
    }
  }
  std::string rest = path.size() > 1 ? path.substr(1) : "";
  if (virtual_host) {
    t.has_key = !rest.empty();
  } else {
    size_t slash = rest.find('/');
    t.bucket = rest.substr(0, slash);
    t.has_key = slash != std::string::npos && slash + 1 < rest.size();
  }
  for (const auto& [name, _] : http::ParseQuery(r.query())) t.query.insert(name);
  return t;
}

// How well `op` fits the request: -1 when it cannot be it; more matched markers and
// required members is a closer fit.
int RestFit(const json& op, const json& shapes, const http::Request& r, const RestTarget& t) {
  const json& h = op["http"];
  if (h.value("method", "") != r.method) return -1;
  std::string uri = h.value("requestUri", "");
  std::string uri_path = uri.substr(0, uri.find('?'));
  bool wants_key = uri_path.find("{Key+}") != std::string::npos;
  bool wants_bucket = uri_path.find("{Bucket}") != std::string::npos;
  if (wants_key != t.has_key || wants_bucket != !t.bucket.empty()) return -1;
  int score = 0;
  if (size_t q = uri.find('?'); q != std::string::npos) {
    for (const std::string& marker : common::Split(uri.substr(q + 1), '&')) {
      std::string name = marker.substr(0, marker.find('='));
      if (!t.query.count(name)) return -1;
      ++score;
    }
  }
  if (!op.contains("input")) return score;
  const json& input = shapes[op["input"]["shape"].get<std::string>()];
  for (const json& req : input.value("required", json::array())) {
    const json& m = input["members"][req.get<std::string>()];
    std::string where = m.value("location", "");
    std::string wire = m.value("locationName", req.get<std::string>());
    if (where == "header") {
      if (!r.headers.Has(wire)) return -1;
      ++score;
    } else if (where == "querystring") {
      if (!t.query.count(wire)) return -1;
      ++score;
    }
  }
  return score;
}

bool HasChecksum(const http::Request& r) {
  if (r.headers.Has("content-md5")) return true;
  for (const auto& [name, _] : r.headers.entries()) {
    std::string lower = common::ToLower(name);
    if (common::StartsWith(lower, "x-amz-checksum-") && lower != "x-amz-checksum-mode" &&
        lower != "x-amz-checksum-algorithm" && lower != "x-amz-checksum-type") {
      return true;
    }
  }
  return common::ToLower(r.headers.GetOr("x-amz-trailer", "")).find("x-amz-checksum-") !=
         std::string::npos;
}

std::vector<std::string> CheckRest(const ServiceModel& s, const http::Request& r,
                                   std::string* op_name) {
  const json& shapes = s.model["shapes"];
  RestTarget t = ParseRestTarget(r);
  // Deprecated operations (PutBucketNotification, …) share their successors' URIs: they
  // are the answer only when nothing current fits.
  int best = -1;
  for (bool deprecated : {false, true}) {
    for (const auto& [name, op] : s.model["operations"].items()) {
      if (op.value("deprecated", false) != deprecated) continue;
      int fit = RestFit(op, shapes, r, t);
      if (fit > best) {
        best = fit;
        *op_name = name;
      }
    }
    if (best >= 0) break;
  }
  if (best < 0) return {r.method + " " + std::string(r.path()) + " is no operation of the model"};
  std::vector<std::string> out;
  const json& op = s.model["operations"][*op_name];
  bool checksum_required =
      op.value("httpChecksumRequired", false) ||
      (op.contains("httpChecksum") && op["httpChecksum"].value("requestChecksumRequired", false));
  if (checksum_required && !HasChecksum(r)) {
    out.push_back("the model requires a checksum (Content-MD5 or x-amz-checksum-*)");
  }
  if (!op.contains("input")) return out;
  const json& input = shapes[op["input"]["shape"].get<std::string>()];
  ShapeValidator validator(shapes, &out);
  for (const auto& [name, m] : input["members"].items()) {
    std::string where = m.value("location", "");
    std::string wire = m.value("locationName", name);
    if (where == "header") {
      if (auto v = r.headers.Get(wire)) validator.Text(*v, m["shape"].get<std::string>(), wire);
    } else if (where == "querystring") {
      if (auto v = http::QueryParam(r.query(), wire))
        validator.Text(*v, m["shape"].get<std::string>(), wire);
    }
  }
  return out;
}

std::string ViolationResponseBody(const std::string& protocol, const std::string& message) {
  if (protocol == "json") {
    return json{{"__type", "ModelViolation"}, {"message", message}}.dump();
  }
  pugi::xml_document doc;
  pugi::xml_node e = protocol == "query" ? doc.append_child("ErrorResponse").append_child("Error")
                                         : doc.append_child("Error");
  e.append_child("Code").text().set("ModelViolation");
  e.append_child("Message").text().set(message.c_str());
  std::ostringstream ss;
  doc.save(ss, "", pugi::format_raw);
  return ss.str();
}

}  // namespace

common::Result<std::unique_ptr<ModelChecker>> ModelChecker::Load(const std::string& dir) {
  auto checker = std::unique_ptr<ModelChecker>(new ModelChecker());
  for (const char* service : kServices) {
    auto path = ModelPath(dir, service);
    if (!path.ok()) return path.status();
    auto text = ReadModelFile(*path);
    if (!text.ok()) return text.status();
    ServiceModel m;
    m.name = service;
    m.model = json::parse(*text, nullptr, false);
    if (!m.model.is_object() || !m.model.contains("operations") || !m.model.contains("shapes")) {
      return common::InvalidArgument(path->string() + " is not a service model");
    }
    m.protocol = m.model["metadata"].value("protocol", "");
    checker->services_[service] = std::move(m);
  }
  return checker;
}

std::vector<std::string> ModelChecker::Check(const http::Request& r) const {
  std::string target = r.headers.GetOr("x-amz-target", "");
  std::string signing = SigningService(r);
  auto prefixed = [](const std::string& service, const std::string& op,
                     std::vector<std::string> violations) {
    for (auto& v : violations) v = service + (op.empty() ? "" : " " + op) + ": " + v;
    return violations;
  };
  if (!target.empty()) {
    for (const auto& [name, s] : services_) {
      std::string op = JsonOperation(s, target);
      if (!op.empty()) return prefixed(name, op, CheckJson(s, op, r));
    }
    return {"X-Amz-Target " + target + " names no operation of the models"};
  }
  if (signing.empty()) return {};  // not an AWS API request (X sandbox, IMDS, health)
  auto service = services_.find(signing);
  if (service == services_.end()) return {};
  const ServiceModel& s = service->second;
  if (s.name == "s3") {
    std::string op;
    auto v = CheckRest(s, r, &op);
    return prefixed("s3", op, std::move(v));
  }
  auto params = http::ParseQuery(r.query());
  if (common::StartsWith(common::ToLower(r.headers.GetOr("content-type", "")),
                         "application/x-www-form-urlencoded")) {
    auto form = http::ParseQuery(r.body, true);
    params.insert(params.end(), form.begin(), form.end());
  }
  std::string action;
  for (const auto& [k, v] : params) {
    if (k == "Action") action = v;
  }
  if (action.empty()) return {};
  if (!s.model["operations"].contains(action))
    return {s.name + ": Action " + action + " is no operation of the model"};
  return prefixed(s.name, action, CheckQuery(s, action, params));
}

http::Handler ModelChecker::Wrap(http::Handler next) const {
  return [this, next = std::move(next)](http::Request&& request, http::Respond respond) {
    std::vector<std::string> violations = Check(request);
    if (violations.empty()) return next(std::move(request), std::move(respond));
    std::string message = common::Join(violations, "; ");
    spdlog::error("--strict-models: {} {}: {}", request.method, std::string(request.path()),
                  message);
    std::string protocol = "rest-xml";
    if (request.headers.Has("x-amz-target")) {
      protocol = "json";
    } else if (auto s = services_.find(SigningService(request)); s != services_.end()) {
      protocol = s->second.protocol;
    }
    http::Response r = http::Response::Text(
        400, ViolationResponseBody(protocol, "localcloud --strict-models: " + message),
        protocol == "json" ? "application/x-amz-json-1.1" : "application/xml");
    respond(std::move(r));
  };
}

}  // namespace localcloud::models
