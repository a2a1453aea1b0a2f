// The REST API handlers of DispatchServer (see server.h for the routes).
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>

#include "common/crypto.h"
#include "common/files.h"
#include "common/strings.h"
#include "common/time.h"
#include "dispatch/api_json.h"
#include "dispatch/names.h"
#include "dispatch/server.h"

namespace dispatch {

namespace fs = std::filesystem;
using common::NowMs;
using common::Result;
using common::Status;
using common::WriteFile;
using nlohmann::json;
using store::Entity;
using store::Kind;

namespace {

// "secrets" → kSecret, …: the collection names of the API.
std::optional<Kind> KindForCollection(const std::string& collection) {
  static const std::pair<const char*, Kind> kCollections[] = {
      {"secrets", Kind::kSecret},
      {"eventdrivertypes", Kind::kEventDriverType},
      {"eventdrivers", Kind::kEventDriver},
      {"baseimages", Kind::kBaseImage},
      {"images", Kind::kImage},
      {"functions", Kind::kFunction},
      {"subscriptions", Kind::kSubscription}};
  for (const auto& [name, kind] : kCollections) {
    if (collection == name) return kind;
  }
  return std::nullopt;
}

// A string member: absent → `fallback` (or an error when required); not a string → error.
Result<std::string> StringField(const json& body, const char* key, bool required,
                                const std::string& fallback = "") {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) {
    if (required) return common::InvalidArgument(std::string("missing field \"") + key + "\"");
    return fallback;
  }
  if (!it->is_string()) {
    return common::InvalidArgument(std::string("field \"") + key + "\" must be a string");
  }
  return it->get<std::string>();
}

// An array of strings (absent → empty).
Result<std::vector<std::string>> StringList(const json& body, const char* key) {
  std::vector<std::string> out;
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return out;
  if (!it->is_array()) {
    return common::InvalidArgument(std::string("field \"") + key + "\" must be an array");
  }
  for (const json& v : *it) {
    if (!v.is_string()) {
      return common::InvalidArgument(std::string("field \"") + key + "\" must hold only strings");
    }
    out.push_back(v.get<std::string>());
  }
  return out;
}

// A positive integer member, 0 when absent.
Result<int64_t> PositiveInt(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return int64_t{0};
  if (!it->is_number_integer() || it->get<int64_t>() <= 0) {
    return common::InvalidArgument(std::string("field \"") + key + "\" must be a positive integer");
  }
  return it->get<int64_t>();
}

Result<json> Tags(const json& body) {
  auto it = body.find("tags");
  if (it == body.end() || it->is_null()) return json::object();
  if (!it->is_object()) return common::InvalidArgument("field \"tags\" must be an object");
  for (auto& [k, v] : it->items()) {
    if (!v.is_string()) return common::InvalidArgument("tag " + k + " must be a string");
  }
  return *it;
}

// A function's "env": an object of string values under environment variable names.
Result<json> EnvObject(const json& body) {
  auto it = body.find("env");
  if (it == body.end() || it->is_null()) return json::object();
  if (!it->is_object()) return common::InvalidArgument("field \"env\" must be an object");
  for (auto& [k, v] : it->items()) {
    bool valid = !k.empty() && !std::isdigit(static_cast<unsigned char>(k[0]));
    for (char c : k) valid = valid && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    if (!valid)
      return common::InvalidArgument("env name \"" + k + "\" must be [A-Za-z_][A-Za-z0-9_]*");
    if (!v.is_string()) return common::InvalidArgument("env " + k + " must be a string");
  }
  return *it;
}

Status CheckExists(store::Store& store, Kind kind, const std::string& name) {
  auto e = store.GetEntity(kind, name);
  if (e.ok()) return Status::Ok();
  if (e.status().code() == common::Code::kNotFound) {
    return common::InvalidArgument(std::string(store::KindName(kind)) + " " + name + " not found");
  }
  return e.status();
}

bool IsSafeFileName(const std::string& name) {
  return IsValidName(name) && name != "." && name != "..";
}

// Body limits per route: function code (inline sources, archives) may be large; every other
// API body is a small JSON document. Events have their own limit (EventManagerOptions).
constexpr size_t kMaxCodeBodyBytes = 256ull << 20;
constexpr size_t kMaxApiBodyBytes = 1 << 20;
// Outside /v1 (health checks, unknown paths): nothing worth a body.
constexpr size_t kMaxOtherBodyBytes = 4096;

// True when the request carries the bearer token, compared in constant time.
bool HasToken(const http::Request& request, const std::string& token) {
  std::string auth = request.headers.GetOr("Authorization", "");
  std::string presented =
      common::StartsWith(auth, "Bearer ") ? std::string(common::Trim(auth.substr(7))) : "";
  return presented.size() == token.size() &&
         CRYPTO_memcmp(presented.data(), token.data(), token.size()) == 0;
}

http::Response Unauthorized() {
  http::Response r = ErrorResponse(401, "missing or invalid bearer token");
  r.headers.Set("WWW-Authenticate", "Bearer");
  return r;
}

#define API_ASSIGN(lhs, expr)                                    \
  auto DAT_CONCAT(api_r_, __LINE__) = (expr);                    \
  if (!DAT_CONCAT(api_r_, __LINE__).ok())                        \
    return ErrorResponse(DAT_CONCAT(api_r_, __LINE__).status()); \
  lhs = std::move(DAT_CONCAT(api_r_, __LINE__)).value()

}  // namespace

http::Admission DispatchServer::AdmitApi(const http::Request& head) const {
  http::Admission admission;
  std::string_view path = head.path();
  if (path != "/v1" && !common::StartsWith(path, "/v1/")) {
    admission.max_body_bytes = kMaxOtherBodyBytes;
    return admission;
  }
  if (!HasToken(head, token_)) {
    admission.refusal = Unauthorized();
    return admission;
  }
  std::string_view rest = path.size() > 4 ? path.substr(4) : std::string_view();
  std::string_view collection = rest.substr(0, rest.find('/'));
  if (collection == "event") {
    admission.max_body_bytes = config_.events.max_event_bytes;
  } else if (collection == "functions" || collection == "images" || collection == "baseimages") {
    admission.max_body_bytes = kMaxCodeBodyBytes;
  } else {
    admission.max_body_bytes = kMaxApiBodyBytes;
  }
  return admission;
}

void DispatchServer::HandleApi(http::Request&& request, http::Respond respond) {
  // Checked by AdmitApi before the body was read; again here for listeners without it.
  if (!HasToken(request, token_)) {
    respond(Unauthorized());
    return;
  }
  std::string path(request.path());
  std::vector<std::string> parts;
  for (const std::string& p : common::Split(path, '/')) {
    if (p.empty()) continue;
    std::string decoded;
    parts.push_back(common::UriDecode(p, &decoded) ? decoded : p);
  }
  // parts[0] == "v1"
  const std::string& method = request.method;
  try {
    if (parts.size() < 2) {
      respond(ErrorResponse(404, "no such API path " + path));
      return;
    }
    const std::string& collection = parts[1];
    if (collection == "event" && parts.size() == 2) {
      if (method != "POST") {
        respond(ErrorResponse(405, "use POST to send events"));
        return;
      }
      events_->Ingest(request, std::move(respond));
      return;
    }
    if (collection == "runs") {
      HandleRuns(method, parts, request, std::move(respond));
      return;
    }
    if (collection == "events") {
      if (method != "GET") {
        respond(ErrorResponse(405, "events are read-only here; POST to /v1/event/ to send one"));
        return;
      }
      respond(HandleEvents(parts, request));
      return;
    }
    auto kind = KindForCollection(collection);
    if (!kind) {
      respond(ErrorResponse(404, "no such API path " + path));
      return;
    }
    respond(HandleEntities(*kind, method, parts, request));
  } catch (const std::exception& e) {
    // Nothing here should throw; if something does, answer rather than drop the connection.
    spdlog::error("API {} {}: {}", method, path, e.what());
    respond(ErrorResponse(500, "internal error"));
  }
}

http::Response DispatchServer::HandleEntities(Kind kind, const std::string& method,
                                              const std::vector<std::string>& parts,
                                              const http::Request& request) {
  if (parts.size() == 2) {
    if (method == "GET") {
      API_ASSIGN(auto list, store_->ListEntities(kind));
      json out = json::array();
      for (const auto& e : list) out.push_back(EntityView(e, false));
      return JsonResponse(200, out);
    }
    if (method == "POST") {
      API_ASSIGN(json body, ParseJson(request.body));
      if (!body.is_object()) return ErrorResponse(400, "request body must be a JSON object");
      return CreateEntity(kind, body);
    }
    return ErrorResponse(405, "method " + method + " not allowed here");
  }
  const std::string& name = parts[2];
  if (parts.size() == 4 && kind == Kind::kEventDriver && parts[3] == "ready") {
    if (method != "POST") return ErrorResponse(405, "use POST");
    json body = json::object();
    if (!common::Trim(request.body).empty()) {
      API_ASSIGN(body, ParseJson(request.body));
      if (!body.is_object()) return ErrorResponse(400, "request body must be a JSON object");
    }
    API_ASSIGN(std::string status, StringField(body, "status", false, store::kReady));
    API_ASSIGN(std::string reason, StringField(body, "reason", false));
    if (Status st = drivers_->Report(name, status, reason); !st.ok()) return ErrorResponse(st);
    return JsonResponse(200, {{"name", name}, {"status", status}});
  }
  if (parts.size() == 4 && parts[3] == "logs" &&
      (kind == Kind::kEventDriver || kind == Kind::kFunction)) {
    if (method != "GET") return ErrorResponse(405, "use GET");
    // The log outlives the entity, so a deleted driver's clean-up can still be read.
    auto e = store_->GetEntity(kind, name);
    std::string logs = !IsValidName(name)           ? ""
                       : kind == Kind::kEventDriver ? drivers_->Logs(name, 1 << 20)
                                                    : runner_->Logs(name, 1 << 20);
    if (!e.ok() && logs.empty()) return ErrorResponse(e.status());
    return http::Response::Text(200, std::move(logs));
  }
  if (parts.size() != 3) return ErrorResponse(404, "no such API path");
  if (method == "GET") {
    API_ASSIGN(auto e, store_->GetEntity(kind, name));
    bool show = http::QueryParam(request.query(), "showValues").value_or("") == "true";
    return JsonResponse(200, EntityView(e, show));
  }
  if (method == "PUT") {
    API_ASSIGN(json body, ParseJson(request.body));
    if (!body.is_object()) return ErrorResponse(400, "request body must be a JSON object");
    return UpdateEntity(kind, name, body);
  }
  if (method == "DELETE") return DeleteEntity(kind, name);
  return ErrorResponse(405, "method " + method + " not allowed here");
}

Status DispatchServer::WriteFunctionCode(const std::string& name, json* spec, const json& body) {
  if (body.contains("path")) {
    // Referenced in place (a native executable on the server's machine): nothing is copied.
    DAT_ASSIGN_OR_RETURN(std::string path, StringField(body, "path", true));
    std::error_code ec;
    if (!fs::path(path).is_absolute() || !fs::is_regular_file(path, ec) ||
        ::access(path.c_str(), X_OK) != 0) {
      return common::InvalidArgument(
          "field \"path\" must name an executable file by its "
          "absolute path on the server's machine: " +
          path);
    }
    fs::create_directories(runner_->FunctionDir(name), ec);  // the process's working dir
    if (ec) return common::Internal("cannot create " + runner_->FunctionDir(name));
    (*spec)["path"] = path;
    (*spec)["file"] = fs::path(path).filename().string();
    (*spec)["size"] = static_cast<int64_t>(fs::file_size(path, ec));
    spec->erase("sha256");
    return Status::Ok();
  }
  spec->erase("path");
  DAT_ASSIGN_OR_RETURN(std::string code_b64, StringField(body, "code", true));
  DAT_ASSIGN_OR_RETURN(std::string file, StringField(body, "file", false, "function"));
  file = fs::path(file).filename().string();
  if (!IsSafeFileName(file)) return common::InvalidArgument("bad function file name " + file);
  std::string code;
  if (!common::Base64Decode(code_b64, &code)) {
    return common::InvalidArgument("field \"code\" must be base64");
  }
  if (code.empty()) return common::InvalidArgument("function code is empty");
  std::string dir = runner_->FunctionDir(name);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return common::Internal("cannot create " + dir);
  DAT_RETURN_IF_ERROR(WriteFile(dir + "/" + file, code, 0755));
  (*spec)["file"] = file;
  (*spec)["size"] = code.size();
  (*spec)["sha256"] = common::Sha256Hex(code);
  return Status::Ok();
}

http::Response DispatchServer::CreateEntity(Kind kind, const json& body) {
  Entity e;
  e.kind = kind;
  API_ASSIGN(e.name,
             StringField(body, "name", kind != Kind::kEventDriver && kind != Kind::kSubscription));
  if (e.name.empty()) e.name = RandomName();
  if (!IsValidName(e.name)) {
    return ErrorResponse(400,
                         "bad name \"" + e.name + "\": use 1-63 letters, digits, '.', '_' or '-'");
  }
  API_ASSIGN(e.tags, Tags(body));
  e.created_ms = e.modified_ms = NowMs();
  e.status = store::kReady;
  bool needs_build = false;
  switch (kind) {
    case Kind::kSecret: {
      auto it = body.find("secrets");
      if (it == body.end() || !it->is_object()) {
        return ErrorResponse(400, "field \"secrets\" must be a JSON object of strings");
      }
      for (auto& [k, v] : it->items()) {
        if (!v.is_string()) {
          return ErrorResponse(400, "secret value for key \"" + k + "\" must be a string");
        }
      }
      e.spec["secrets"] = *it;
      break;
    }
    case Kind::kEventDriverType: {
      API_ASSIGN(std::string image, StringField(body, "image", true));
      if (image.empty()) return ErrorResponse(400, "field \"image\" is empty");
      e.spec["image"] = image;
      break;
    }
    case Kind::kEventDriver: {
      API_ASSIGN(std::string type, StringField(body, "type", true));
      if (Status st = CheckExists(*store_, Kind::kEventDriverType, type); !st.ok()) {
        return ErrorResponse(st);
      }
      API_ASSIGN(auto secrets, StringList(body, "secrets"));
      for (const auto& s : secrets) {
        if (Status st = CheckExists(*store_, Kind::kSecret, s); !st.ok()) return ErrorResponse(st);
      }
      json config = json::array();
      auto it = body.find("config");
      if (it != body.end() && !it->is_null()) {
        if (!it->is_array()) return ErrorResponse(400, "field \"config\" must be an array");
        for (const json& kv : *it) {
          if (!kv.is_object() || !kv.contains("key") || !kv["key"].is_string() ||
              kv["key"].get<std::string>().empty() ||
              (kv.contains("value") && !kv["value"].is_string())) {
            return ErrorResponse(400,
                                 "config entries must be {\"key\": string, \"value\": string}");
          }
          config.push_back({{"key", kv["key"]}, {"value", kv.value("value", "")}});
        }
      }
      e.spec = {{"type", type}, {"secrets", secrets}, {"config", config}};
      e.status = store::kCreating;
      break;
    }
    case Kind::kBaseImage: {
      API_ASSIGN(std::string image, StringField(body, "image", false));
      API_ASSIGN(std::string language, StringField(body, "language", true));
      if (!IsSupportedLanguage(language)) {
        return ErrorResponse(
            400, "unsupported language \"" + language + "\" (python3, nodejs or native)");
      }
      e.spec = {{"image", image}, {"language", language}};
      e.status = store::kCreating;
      needs_build = true;
      break;
    }
    case Kind::kImage: {
      API_ASSIGN(std::string base, StringField(body, "baseImage", true));
      if (Status st = CheckExists(*store_, Kind::kBaseImage, base); !st.ok()) {
        return ErrorResponse(st);
      }
      API_ASSIGN(std::string deps, StringField(body, "runtimeDependencies", false));
      e.spec = {{"baseImage", base}, {"runtimeDependencies", deps}};
      e.status = store::kCreating;
      needs_build = true;
      break;
    }
    case Kind::kFunction: {
      API_ASSIGN(std::string image, StringField(body, "image", true));
      if (Status st = CheckExists(*store_, Kind::kImage, image); !st.ok()) {
        return ErrorResponse(st);
      }
      API_ASSIGN(std::string handler, StringField(body, "handler", false));
      API_ASSIGN(auto secrets, StringList(body, "secrets"));
      for (const auto& s : secrets) {
        if (Status st = CheckExists(*store_, Kind::kSecret, s); !st.ok()) return ErrorResponse(st);
      }
      API_ASSIGN(int64_t timeout, PositiveInt(body, "timeout"));
      API_ASSIGN(int64_t attempts, PositiveInt(body, "maxAttempts"));
      API_ASSIGN(int64_t instances, PositiveInt(body, "instances"));
      API_ASSIGN(int64_t max_age, PositiveInt(body, "maxEventAgeSeconds"));
      if (store_->GetEntity(kind, e.name).ok()) {
        return ErrorResponse(409, "function " + e.name + " already exists");
      }
      e.spec = {{"image", image},
                {"handler", handler.empty() ? "handle" : handler},
                {"secrets", secrets}};
      if (timeout) e.spec["timeout"] = timeout;
      if (attempts) e.spec["maxAttempts"] = attempts;
      if (instances) e.spec["instances"] = instances;
      if (max_age) e.spec["maxEventAgeSeconds"] = max_age;
      API_ASSIGN(json env, EnvObject(body));
      if (!env.empty()) e.spec["env"] = env;
      if (Status st = WriteFunctionCode(e.name, &e.spec, body); !st.ok()) return ErrorResponse(st);
      e.status = store::kCreating;
      needs_build = true;
      break;
    }
    case Kind::kSubscription: {
      API_ASSIGN(std::string function, StringField(body, "function", true));
      if (Status st = CheckExists(*store_, Kind::kFunction, function); !st.ok()) {
        return ErrorResponse(st);
      }
      API_ASSIGN(std::string event_type, StringField(body, "eventType", true));
      if (event_type.empty()) return ErrorResponse(400, "field \"eventType\" is empty");
      API_ASSIGN(std::string source_type, StringField(body, "sourceType", false));
      e.spec = {{"function", function}, {"eventType", event_type}, {"sourceType", source_type}};
      auto it = body.find("filter");
      if (it != body.end() && !it->is_null()) {
        json pattern = *it;
        if (pattern.is_string()) {
          API_ASSIGN(pattern, ParseJson(it->get<std::string>()));
        }
        if (!pattern.is_object()) return ErrorResponse(400, "filter must be a JSON object");
        auto parsed = EventFilter::Parse(pattern);
        if (!parsed.ok()) return ErrorResponse(parsed.status());
        e.spec["filter"] = pattern;
      }
      break;
    }
  }
  if (Status st = store_->CreateEntity(e); !st.ok()) return ErrorResponse(st);
  spdlog::info("created {} {}", store::KindName(kind), e.name);
  if (kind == Kind::kEventDriver) drivers_->Add(e.name);
  if (kind == Kind::kSubscription) (void)events_->ReloadSubscriptions();
  if (needs_build) builder_->Poke();
  return JsonResponse(201, EntityView(e, false));
}

http::Response DispatchServer::UpdateEntity(Kind kind, const std::string& name, const json& body) {
  API_ASSIGN(Entity e, store_->GetEntity(kind, name));
  if (e.status == store::kDeleting) return ErrorResponse(409, name + " is being deleted");
  if (body.contains("tags")) {
    API_ASSIGN(e.tags, Tags(body));
  }
  switch (kind) {
    case Kind::kSecret: {
      auto it = body.find("secrets");
      if (it != body.end()) {
        if (!it->is_object()) return ErrorResponse(400, "field \"secrets\" must be an object");
        for (auto& [k, v] : it->items()) {
          if (!v.is_string()) {
            return ErrorResponse(400, "secret value for key \"" + k + "\" must be a string");
          }
        }
        e.spec["secrets"] = *it;
      }
      break;
    }
    case Kind::kFunction: {
      if (body.contains("image")) {
        API_ASSIGN(std::string image, StringField(body, "image", true));
        if (Status st = CheckExists(*store_, Kind::kImage, image); !st.ok()) {
          return ErrorResponse(st);
        }
        e.spec["image"] = image;
      }
      if (body.contains("secrets")) {
        API_ASSIGN(auto secrets, StringList(body, "secrets"));
        for (const auto& s : secrets) {
          if (Status st = CheckExists(*store_, Kind::kSecret, s); !st.ok()) {
            return ErrorResponse(st);
          }
        }
        e.spec["secrets"] = secrets;
      }
      if (body.contains("handler")) {
        API_ASSIGN(std::string handler, StringField(body, "handler", true));
        e.spec["handler"] = handler;
      }
      for (const char* key : {"timeout", "maxAttempts", "instances", "maxEventAgeSeconds"}) {
        if (!body.contains(key)) continue;
        API_ASSIGN(int64_t v, PositiveInt(body, key));
        e.spec[key] = v;
      }
      if (body.contains("env")) {
        API_ASSIGN(json env, EnvObject(body));
        e.spec["env"] = env;
      }
      if (body.contains("code") || body.contains("path")) {
        if (Status st = WriteFunctionCode(name, &e.spec, body); !st.ok()) return ErrorResponse(st);
      }
      e.status = store::kCreating;
      e.reason.clear();
      break;
    }
    default:
      if (body.size() != (body.contains("tags") ? 1u : 0u) + (body.contains("name") ? 1u : 0u)) {
        return ErrorResponse(400, std::string("only tags can be updated on a ") +
                                      store::KindName(kind) +
                                      "; delete and create it to change it");
      }
  }
  e.modified_ms = NowMs();
  if (Status st = store_->UpdateEntity(e); !st.ok()) return ErrorResponse(st);
  if (kind == Kind::kFunction) {
    Background([this, name] { runner_->StopFunction(name); });
    builder_->Poke();
  }
  return JsonResponse(200, EntityView(e, false));
}

http::Response DispatchServer::DeleteEntity(Kind kind, const std::string& name) {
  API_ASSIGN(Entity e, store_->GetEntity(kind, name));
  if (kind == Kind::kEventDriverType) {
    API_ASSIGN(auto drivers, store_->ListEntities(Kind::kEventDriver));
    for (const auto& d : drivers) {
      if (d.spec.value("type", "") == name) {
        return ErrorResponse(409, "eventdrivertype " + name + " is used by eventdriver " + d.name +
                                      "; delete that first");
      }
    }
  }
  if (kind == Kind::kEventDriver) {
    drivers_->Remove(name);
    e.status = store::kDeleting;
    return JsonResponse(200, EntityView(e, false));
  }
  if (kind == Kind::kFunction) {
    e.status = store::kDeleting;
    e.modified_ms = NowMs();
    if (Status st = store_->UpdateEntity(e); !st.ok()) return ErrorResponse(st);
    Background([this, name] {
      runner_->StopFunction(name);
      std::error_code ec;
      fs::remove_all(runner_->FunctionDir(name), ec);
      (void)store_->DeleteEntity(Kind::kFunction, name);
    });
    return JsonResponse(200, EntityView(e, false));
  }
  if (Status st = store_->DeleteEntity(kind, name); !st.ok()) return ErrorResponse(st);
  if (kind == Kind::kImage) {
    std::string dir = builder_->ImageDir(name);
    Background([dir] {
      std::error_code ec;
      fs::remove_all(dir, ec);
    });
  }
  if (kind == Kind::kSubscription) (void)events_->ReloadSubscriptions();
  spdlog::info("deleted {} {}", store::KindName(kind), name);
  e.status = store::kDeleting;
  return JsonResponse(200, EntityView(e, false));
}

void DispatchServer::HandleRuns(const std::string& method, const std::vector<std::string>& parts,
                                const http::Request& request, http::Respond respond) {
  if (parts.size() == 3 && parts[2] == "stats") {
    // Counts of runs by state (of one function with ?function=F).
    std::string function = http::QueryParam(request.query(), "function").value_or("");
    auto counts = store_->CountRuns(function);
    if (!counts.ok()) {
      respond(ErrorResponse(counts.status()));
      return;
    }
    json out = json::object();
    for (auto st : {store::RunStatus::kQueued, store::RunStatus::kRunning,
                    store::RunStatus::kSucceeded, store::RunStatus::kFailed}) {
      auto it = counts->find(st);
      out[store::RunStatusName(st)] = it == counts->end() ? 0 : it->second;
    }
    respond(JsonResponse(200, out));
    return;
  }
  if (parts.size() == 3 && parts[2] == "redrive") {
    respond(method == "POST" ? RedriveRuns(request) : ErrorResponse(405, "use POST"));
    return;
  }
  if (parts.size() == 3) {
    if (method != "GET") {
      respond(ErrorResponse(405, "use GET"));
      return;
    }
    auto run = store_->GetRun(parts[2]);
    respond(run.ok() ? JsonResponse(200, RunView(*run)) : ErrorResponse(run.status()));
    return;
  }
  if (parts.size() != 2) {
    respond(ErrorResponse(404, "no such API path"));
    return;
  }
  if (method == "GET") {
    std::string function = http::QueryParam(request.query(), "function").value_or("");
    std::string limit_text = http::QueryParam(request.query(), "limit").value_or("100");
    int limit = 100;
    if (limit_text.empty() || limit_text.size() > 6 ||
        limit_text.find_first_not_of("0123456789") != std::string::npos) {
      respond(ErrorResponse(400, "limit must be a positive number"));
      return;
    }
    limit = std::max(1, std::stoi(limit_text));
    auto query = RunQueryFrom(request.query(), limit);
    if (!query.ok()) {
      respond(ErrorResponse(query.status()));
      return;
    }
    query->function = function;
    auto runs = store_->FindRuns(*query);
    if (!runs.ok()) {
      respond(ErrorResponse(runs.status()));
      return;
    }
    json out = json::array();
    for (const auto& r : *runs) out.push_back(RunView(r));
    respond(JsonResponse(200, out));
    return;
  }
  if (method != "POST") {
    respond(ErrorResponse(405, "use GET or POST"));
    return;
  }
  auto body = ParseJson(request.body);
  if (!body.ok()) {
    respond(ErrorResponse(body.status()));
    return;
  }
  if (!body->is_object()) {
    respond(ErrorResponse(400, "request body must be a JSON object"));
    return;
  }
  auto function = StringField(*body, "function", true);
  if (!function.ok()) {
    respond(ErrorResponse(function.status()));
    return;
  }
  auto f = store_->GetEntity(Kind::kFunction, *function);
  if (!f.ok()) {
    respond(ErrorResponse(f.status()));
    return;
  }
  auto wait = body->find("wait");
  if (wait != body->end() && !wait->is_boolean()) {
    respond(ErrorResponse(400, "field \"wait\" must be a boolean"));
    return;
  }
  store::Run run;
  run.id = common::NewUuidV7();
  run.function = *function;
  run.created_ms = NowMs();
  run.max_attempts = 0;  // resolved from the function when it runs
  run.input = body->contains("input") ? (*body)["input"] : json();
  bool waiting = wait != body->end() && wait->get<bool>();
  RunCallback done;
  if (waiting) {
    done = [respond](const store::Run& finished) { respond(JsonResponse(200, RunView(finished))); };
  }
  if (Status st = runner_->Submit(run, done); !st.ok()) {
    respond(ErrorResponse(st));
    return;
  }
  if (!waiting) respond(JsonResponse(202, RunView(run)));
}

namespace {

// A time field of a redrive body or a query parameter: ISO-8601 text, or ms since the epoch.
Result<int64_t> TimeField(const json& value, const char* key) {
  if (value.is_number_integer() && value.get<int64_t>() >= 0) return value.get<int64_t>();
  if (value.is_string()) {
    auto at = common::ParseIso8601(value.get<std::string>());
    if (at) return common::ToUnixMillis(*at);
  }
  return common::InvalidArgument(std::string("\"") + key +
                                 "\" must be an ISO-8601 time or milliseconds since the epoch");
}

}  // namespace

Result<store::RunQuery> DispatchServer::RunQueryFrom(std::string_view query_string, int limit) {
  store::RunQuery query;
  query.limit = limit;
  if (auto status = http::QueryParam(query_string, "status"); status && !status->empty()) {
    query.status = store::ParseRunStatus(*status);
    if (!query.status) {
      return common::InvalidArgument("status must be queued, running, succeeded or failed");
    }
  }
  for (const char* key : {"since", "until"}) {
    auto text = http::QueryParam(query_string, key);
    if (!text || text->empty()) continue;
    json value = text->find_first_not_of("0123456789") == std::string::npos && text->size() < 16
                     ? json(std::stoll(*text))
                     : json(*text);
    DAT_ASSIGN_OR_RETURN(int64_t ms, TimeField(value, key));
    (std::string_view(key) == "since" ? query.since_ms : query.until_ms) = ms;
  }
  return query;
}

// POST /v1/runs/redrive {"id"} | {"function"} | {"since", "until"} (combinable) | {"all": true}
// → {"redriven": N, "runs": [ids]}: failed runs queued again, at most 10 000 per call.
http::Response DispatchServer::RedriveRuns(const http::Request& request) {
  API_ASSIGN(json body, ParseJson(request.body.empty() ? "{}" : request.body));
  if (!body.is_object()) return ErrorResponse(400, "request body must be a JSON object");
  store::RunQuery query;
  query.limit = 10'000;
  API_ASSIGN(query.id, StringField(body, "id", false));
  API_ASSIGN(query.function, StringField(body, "function", false));
  for (const char* key : {"since", "until"}) {
    if (!body.contains(key) || body[key].is_null()) continue;
    API_ASSIGN(int64_t ms, TimeField(body[key], key));
    (std::string_view(key) == "since" ? query.since_ms : query.until_ms) = ms;
  }
  bool all = body.value("all", json(false)) == json(true);
  if (query.id.empty() && query.function.empty() && query.since_ms == 0 && query.until_ms == 0 &&
      !all) {
    return ErrorResponse(400,
                         "say which failed runs to redrive: id, function, since/until, or "
                         "\"all\": true");
  }
  if (!query.function.empty()) {
    API_ASSIGN(auto f, store_->GetEntity(Kind::kFunction, query.function));
    (void)f;
  }
  API_ASSIGN(auto runs, runner_->Redrive(query));
  if (!query.id.empty() && runs.empty()) {
    auto run = store_->GetRun(query.id);
    if (!run.ok()) return ErrorResponse(run.status());
    return ErrorResponse(409, "run " + query.id + " is " + store::RunStatusName(run->status) +
                                  ", not failed: only failed runs can be redriven");
  }
  json ids = json::array();
  for (const auto& r : runs) ids.push_back(r.id);
  return JsonResponse(200, {{"redriven", runs.size()}, {"runs", ids}});
}

http::Response DispatchServer::HandleEvents(const std::vector<std::string>& parts,
                                            const http::Request& request) {
  auto view = [](const store::Event& ev) {
    return json{{"seq", ev.seq},
                {"source", ev.source},
                {"eventID", ev.id},
                {"receivedTime", FormatMs(ev.received_ms)},
                {"event", ev.cloud_event}};
  };
  if (parts.size() == 3) {
    const std::string& seq = parts[2];
    if (seq.empty() || seq.size() > 18 ||
        seq.find_first_not_of("0123456789") != std::string::npos) {
      return ErrorResponse(400, "event id must be a number (its seq)");
    }
    API_ASSIGN(auto ev, store_->GetEvent(std::stoll(seq)));
    return JsonResponse(200, view(ev));
  }
  if (parts.size() != 2) return ErrorResponse(404, "no such API path");
  std::string limit_text = http::QueryParam(request.query(), "limit").value_or("100");
  if (limit_text.empty() || limit_text.size() > 6 ||
      limit_text.find_first_not_of("0123456789") != std::string::npos) {
    return ErrorResponse(400, "limit must be a positive number");
  }
  API_ASSIGN(auto events, store_->ListEvents(std::max(1, std::stoi(limit_text))));
  json out = json::array();
  for (const auto& ev : events) out.push_back(view(ev));
  return JsonResponse(200, out);
}

}  // namespace dispatch
