#include "dispatch/cli.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "common/crypto.h"
#include "common/files.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/time.h"
#include "common/version.h"
#include "dispatch/api_json.h"
#include "dispatch/cli_output.h"
#include "dispatch/client.h"
#include "dispatch/server.h"

namespace dispatch {
namespace {

using common::NowMs;
using common::ParseDurationSeconds;
using common::ParseTimeMs;
using common::ReadFile;
using common::Result;
using common::Status;
using nlohmann::json;

// Exit codes (README: "The dispatch CLI").
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNotFound = 3;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string HomeDir() {
  std::string home = Env("HOME");
  return home.empty() ? "." : home;
}

// Where the token the last request sent was read from, for the error that rejects it.
std::string& TokenSource() {
  static std::string source;
  return source;
}

// Options every client command shares.
struct Globals {
  std::string server;
  std::string token;
  std::string ca_cert;
  std::string data_dir;
  std::string output = "table";  // table|json|yaml; --json is -o json
  bool json = false;

  std::string DataDir() const {
    if (!data_dir.empty()) return data_dir;
    if (!Env("DISPATCH_DATA_DIR").empty()) return Env("DISPATCH_DATA_DIR");
    return HomeDir() + "/.dispatch";
  }
  std::string ServerUrl() const {
    if (!server.empty()) return server;
    if (!Env("DISPATCH_SERVER").empty()) return Env("DISPATCH_SERVER");
    return "http://127.0.0.1:8080";
  }
  std::string CaCert() const { return !ca_cert.empty() ? ca_cert : Env("DISPATCH_CA_CERT"); }
  // --token, DISPATCH_TOKEN, <data-dir>/token (when a data dir is given), ~/.dispatch/token.
  // Records where it came from in TokenSource().
  std::string Token() const {
    if (!token.empty()) {
      TokenSource() = "--token";
      return token;
    }
    if (!Env("DISPATCH_TOKEN").empty()) {
      TokenSource() = "the DISPATCH_TOKEN environment variable";
      return Env("DISPATCH_TOKEN");
    }
    std::vector<std::string> files;
    if (!data_dir.empty()) files.push_back(data_dir + "/token");
    if (!Env("DISPATCH_DATA_DIR").empty()) files.push_back(Env("DISPATCH_DATA_DIR") + "/token");
    files.push_back(HomeDir() + "/.dispatch/token");
    for (const auto& f : files) {
      auto t = ReadFile(f);
      if (t.ok()) {
        TokenSource() = "the file " + f;
        return std::string(common::Trim(*t));
      }
    }
    TokenSource() =
        "nowhere (no --token, no DISPATCH_TOKEN, no " + common::Join(files, ", no ") + ")";
    return "";
  }
  bool Structured() const { return json || output != "table"; }
};

// The Globals of this invocation (one per process; the CLI is single-threaded).
Globals*& CurrentGlobals() {
  static Globals* g = nullptr;
  return g;
}

// What to do next, for the errors a user can fix.
std::string Hint(const Status& st) {
  const Globals* g = CurrentGlobals();
  std::string server = g ? g->ServerUrl() : "the server";
  switch (st.code()) {
    case common::Code::kUnauthenticated:
      return "The server at " + server + " refused the API token read from " + TokenSource() +
             ". Use the token in the server's data directory: export DISPATCH_TOKEN=$(cat "
             "<data-dir>/token) (default data dir ~/.dispatch), or pass --token.";
    case common::Code::kUnavailable:
    case common::Code::kDeadlineExceeded:
      if (st.message().find("cannot reach") == std::string::npos) return "";
      return "Is `dispatch server` running there? Start it, or point the CLI at it with "
             "--server URL or DISPATCH_SERVER.";
    default:
      return "";
  }
}

int ExitCodeFor(const Status& st) {
  return st.code() == common::Code::kNotFound ? kExitNotFound : kExitError;
}

int Fail(const Status& st) {
  std::cerr << "Error: " << st.message() << std::endl;
  std::string hint = Hint(st);
  if (!hint.empty()) std::cerr << hint << std::endl;
  return ExitCodeFor(st);
}

int Fail(const std::string& message) {
  std::cerr << "Error: " << message << std::endl;
  return kExitError;
}

// A mistake in the command line itself: exit code 2.
int Usage(const std::string& message) {
  std::cerr << "Error: " << message << std::endl;
  return kExitUsage;
}

void PrintJson(const json& j) { std::cout << j.dump(4) << std::endl; }

// Prints `data` as -o asks: JSON, YAML, or the table `table` prints.
void PrintAs(const Globals& g, const json& data, const std::function<void()>& table) {
  if (g.json || g.output == "json") return PrintJson(data);
  if (g.output == "yaml") {
    std::cout << ToYaml(data);
    std::cout.flush();
    return;
  }
  table();
}

void PrintTable(const std::vector<std::string>& headers,
                const std::vector<std::vector<std::string>>& rows) {
  std::cout << FormatTable(headers, rows);
  std::cout.flush();
}

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

std::string JoinList(const json& j, const char* key) {
  std::vector<std::string> parts;
  auto it = j.find(key);
  if (it != j.end() && it->is_array()) {
    for (const auto& v : *it) parts.push_back(v.is_string() ? v.get<std::string>() : v.dump());
  }
  return common::Join(parts, ",");
}

// The kinds the CLI knows, with their API collection and how they read in messages.
struct KindInfo {
  std::string kind;        // canonical CLI name: "base-image"
  std::string collection;  // API path: "baseimages"
  std::string label;       // "base image"
};

const std::vector<KindInfo>& Kinds() {
  static const std::vector<KindInfo> kKinds = {
      {"secret", "secrets", "secret"},
      {"eventdrivertype", "eventdrivertypes", "event driver type"},
      {"eventdriver", "eventdrivers", "event driver"},
      {"base-image", "baseimages", "base image"},
      {"image", "images", "image"},
      {"function", "functions", "function"},
      {"subscription", "subscriptions", "subscription"},
      {"run", "runs", "run"},
      {"event", "events", "event"},
  };
  return kKinds;
}

std::optional<KindInfo> LookupKind(std::string name) {
  name = common::ToLower(name);
  std::erase(name, '-');
  std::erase(name, '_');
  if (common::EndsWith(name, "s")) name.pop_back();
  for (const auto& k : Kinds()) {
    std::string flat = k.kind;
    std::erase(flat, '-');
    if (name == flat) return k;
  }
  return std::nullopt;
}

// The kind named `name`, or a usage error listing the valid ones (and the closest).
Result<KindInfo> KindOrUsage(const std::string& name, const std::set<std::string>& allowed = {}) {
  auto kind = LookupKind(name);
  if (kind && (allowed.empty() || allowed.count(kind->kind))) return *kind;
  std::vector<std::string> names;
  for (const auto& k : Kinds()) {
    if (allowed.empty() || allowed.count(k.kind)) {
      names.push_back(k.kind);
      names.push_back(k.kind + "s");
    }
  }
  std::string message =
      (kind ? "a " + kind->label + " cannot be used here" : "unknown kind \"" + name + "\"");
  std::string suggestion = Suggest(common::ToLower(name), names);
  if (!suggestion.empty()) message += "; did you mean \"" + suggestion + "\"?";
  std::vector<std::string> singular;
  for (size_t i = 0; i < names.size(); i += 2) singular.push_back(names[i]);
  message += " Kinds: " + common::Join(singular, ", ") + " (singular or plural).";
  return common::InvalidArgument(message);
}

std::string Reason(const json& e) { return Str(e, "reason"); }
// Table columns for an entity kind.
void PrintEntities(const KindInfo& kind, const json& list, bool show_values) {
  std::vector<std::string> headers;
  std::vector<std::vector<std::string>> rows;
  bool any_reason = false;
  for (const auto& e : list) any_reason |= !Reason(e).empty();
  auto finish = [&](std::vector<std::string> row, const json& e) {
    if (any_reason) row.push_back(Reason(e));
    rows.push_back(std::move(row));
  };
  if (kind.kind == "secret") {
    headers = {"NAME", show_values ? "CONTENT" : "KEYS", "CREATED DATE"};
    for (const auto& e : list) {
      finish({Str(e, "name"),
              show_values ? e.value("secrets", json::object()).dump() : JoinList(e, "keys"),
              ReadableTime(Str(e, "createdTime"))},
             e);
    }
  } else if (kind.kind == "eventdrivertype") {
    headers = {"NAME", "IMAGE", "STATUS", "CREATED DATE"};
    for (const auto& e : list) {
      finish(
          {Str(e, "name"), Str(e, "image"), Str(e, "status"), ReadableTime(Str(e, "createdTime"))},
          e);
    }
  } else if (kind.kind == "eventdriver") {
    headers = {"NAME", "TYPE", "STATUS", "SECRETS", "CONFIG"};
    for (const auto& e : list) {
      std::vector<std::string> config;
      for (const auto& kv : e.value("config", json::array())) {
        std::string v = kv.value("value", "");
        config.push_back(kv.value("key", "") + (v.empty() ? "" : "=" + v));
      }
      finish({Str(e, "name"), Str(e, "type"), Str(e, "status"), JoinList(e, "secrets"),
              common::Join(config, " ")},
             e);
    }
  } else if (kind.kind == "base-image") {
    headers = {"NAME", "URL", "LANGUAGE", "STATUS", "CREATED DATE"};
    for (const auto& e : list) {
      finish({Str(e, "name"), Str(e, "image"), Str(e, "language"), Str(e, "status"),
              ReadableTime(Str(e, "createdTime"))},
             e);
    }
  } else if (kind.kind == "image") {
    headers = {"NAME", "BASE IMAGE", "LANGUAGE", "STATUS", "CREATED DATE"};
    for (const auto& e : list) {
      finish({Str(e, "name"), Str(e, "baseImage"), Str(e, "language"), Str(e, "status"),
              ReadableTime(Str(e, "createdTime"))},
             e);
    }
  } else if (kind.kind == "function") {
    headers = {"NAME", "IMAGE", "STATUS", "SECRETS", "CREATED DATE"};
    for (const auto& e : list) {
      finish({Str(e, "name"), Str(e, "image"), Str(e, "status"), JoinList(e, "secrets"),
              ReadableTime(Str(e, "createdTime"))},
             e);
    }
  } else if (kind.kind == "subscription") {
    headers = {"NAME", "EVENT TYPE", "SOURCE TYPE", "FUNCTION", "STATUS", "CREATED DATE"};
    for (const auto& e : list) {
      finish({Str(e, "name"), Str(e, "eventType"), Str(e, "sourceType"), Str(e, "function"),
              Str(e, "status"), ReadableTime(Str(e, "createdTime"))},
             e);
    }
  }
  if (any_reason) headers.push_back("REASON");
  PrintTable(headers, rows);
}

// Adds the derived columns (subject, outcome) to a run's JSON, for every output format.
json WithRunColumns(json run) {
  if (run.is_object()) {
    run["subject"] = RunSubject(run);
    run["outcome"] = RunOutcome(run);
  }
  return run;
}

std::string Cut(std::string s, size_t max) {
  if (s.size() <= max) return s;
  size_t end = max - 1;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;  // UTF-8
  return s.substr(0, end) + "…";
}

std::vector<std::string> RunRow(const json& r) {
  std::string duration = r.contains("durationMs") ? Str(r, "durationMs") + " ms" : "";
  return {Str(r, "id"),
          Str(r, "function"),
          Cut(RunSubject(r), 48),
          Str(r, "status"),
          Cut(RunOutcome(r), 60),
          Str(r, "attempts") + "/" + Str(r, "maxAttempts"),
          ReadableTime(Str(r, "startedTime")),
          duration};
}

const std::vector<std::string>& RunHeaders() {
  static const std::vector<std::string> kHeaders = {"ID",      "FUNCTION", "SUBJECT", "STATUS",
                                                    "OUTCOME", "ATTEMPTS", "STARTED", "DURATION"};
  return kHeaders;
}

void PrintRuns(const json& list) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : list) rows.push_back(RunRow(r));
  PrintTable(RunHeaders(), rows);
}

void PrintEvents(const json& list) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : list) {
    const json& ev = e.contains("event") ? e["event"] : json::object();
    rows.push_back({Str(e, "seq"), Str(e, "eventID"), Str(ev, "eventType"), Str(ev, "sourceType"),
                    Str(e, "source"), ReadableTime(Str(e, "receivedTime"))});
  }
  PrintTable({"SEQ", "EVENT ID", "EVENT TYPE", "SOURCE TYPE", "SOURCE", "RECEIVED"}, rows);
}

// One client per invocation.
class Client {
 public:
  explicit Client(const Globals& g) : api_(g.ServerUrl(), g.Token(), http_, g.CaCert()) {}
  ApiClient& api() { return api_; }

 private:
  http::CurlHttpClient http_;
  ApiClient api_;
};

std::string EntityPath(const KindInfo& kind, const std::string& name) {
  return "/v1/" + kind.collection + "/" + common::UriEncode(name);
}

// Polls the entity until READY or ERROR, printing each status change to stderr.
int WaitReady(ApiClient& client, const KindInfo& kind, const std::string& name) {
  std::string last;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(15);
  while (true) {
    auto e = client.Call("GET", EntityPath(kind, name));
    if (!e.ok()) return Fail(e.status());
    std::string status = Str(*e, "status");
    if (status != last) {
      std::cerr << "Waiting for " << kind.label << " " << name << ": " << status << std::endl;
      last = status;
    }
    if (status == store::kReady) return 0;
    if (status == store::kError) {
      return Fail(kind.label + " " + name + " is in ERROR: " + Reason(*e) + " (see `dispatch get " +
                  kind.kind + " " + name + "`)");
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Fail("timed out waiting for " + kind.label + " " + name);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// Polls until the entity is gone (404). Returns 0, or the failure's exit code.
int WaitGone(ApiClient& client, const KindInfo& kind, const std::string& name,
             std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto e = client.Call("GET", EntityPath(kind, name));
    if (!e.ok() && e.status().code() == common::Code::kNotFound) return 0;
    if (!e.ok()) return Fail(e.status());
    if (std::chrono::steady_clock::now() > deadline) {
      return Fail("timed out after " + std::to_string(timeout.count()) + " s waiting for " +
                  kind.label + " " + name + " to be deleted (status " + Str(*e, "status") + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

int Create(const Globals& g, const KindInfo& kind, json body, bool wait) {
  Client c(g);
  auto created = c.api().Call("POST", "/v1/" + kind.collection, body);
  if (!created.ok()) return Fail(created.status());
  std::string name = Str(*created, "name");
  if (wait) {
    int rc = WaitReady(c.api(), kind, name);
    if (rc != 0) return rc;
  }
  if (g.Structured()) {
    PrintAs(g, *created, [] {});
  } else {
    std::cout << "Created " << kind.label << ": " << name << std::endl;
  }
  return 0;
}

Result<json> ParseJsonArg(const std::string& what, const std::string& text) {
  auto j = ParseJson(text);
  if (!j.ok()) return common::InvalidArgument(what + " is not valid JSON: " + j.status().message());
  return j;
}

// KEY=VALUE pairs (--tag, --env) as a JSON object.
Result<json> KeyValues(const std::string& flag, const std::vector<std::string>& pairs) {
  json out = json::object();
  for (const auto& t : pairs) {
    size_t eq = t.find('=');
    if (eq == std::string::npos || eq == 0) {
      return common::InvalidArgument(flag + " must be KEY=VALUE: " + t);
    }
    out[t.substr(0, eq)] = t.substr(eq + 1);
  }
  return out;
}

// The entities of `kind` that name `name` (in the string field `field`, or in the list field).
Result<std::vector<std::string>> Users(ApiClient& client, const KindInfo& kind, const char* field,
                                       const std::string& name) {
  DAT_ASSIGN_OR_RETURN(json list, client.Call("GET", "/v1/" + kind.collection));
  std::vector<std::string> users;
  for (const auto& e : list) {
    auto it = e.find(field);
    if (it == e.end() || Str(e, "status") == store::kDeleting) continue;
    bool uses = it->is_string()
                    ? it->get<std::string>() == name
                    : it->is_array() && std::find(it->begin(), it->end(), json(name)) != it->end();
    if (uses) users.push_back(kind.kind + " " + Str(e, "name"));
  }
  return users;
}

// Who uses the entity `name` of `kind`: "function twitter", "eventdriver aws-1", ….
Result<std::vector<std::string>> UsersOf(ApiClient& client, const KindInfo& kind,
                                         const std::string& name) {
  std::vector<std::string> users;
  auto add = [&](const char* kind_name, const char* field) -> Status {
    DAT_ASSIGN_OR_RETURN(auto found, Users(client, *LookupKind(kind_name), field, name));
    users.insert(users.end(), found.begin(), found.end());
    return Status::Ok();
  };
  if (kind.kind == "secret") {
    DAT_RETURN_IF_ERROR(add("function", "secrets"));
    DAT_RETURN_IF_ERROR(add("eventdriver", "secrets"));
  } else if (kind.kind == "image") {
    DAT_RETURN_IF_ERROR(add("function", "image"));
  } else if (kind.kind == "base-image") {
    DAT_RETURN_IF_ERROR(add("image", "baseImage"));
  } else if (kind.kind == "function") {
    DAT_RETURN_IF_ERROR(add("subscription", "function"));
  }
  return users;
}

// Deletes the entity and creates it again from its own description with `changes` applied:
// the update of kinds the server changes only by replacement (subscriptions, event drivers,
// images). Event drivers are waited for, so the new one starts after the old one cleaned up.
int Recreate(const Globals& g, const KindInfo& kind, const std::string& name, const json& changes) {
  Client c(g);
  auto current = c.api().Call("GET", EntityPath(kind, name));
  if (!current.ok()) return Fail(current.status());
  json body = *current;
  for (const char* internal : {"status", "reason", "createdTime", "modifiedTime", "kind", "id"}) {
    body.erase(internal);
  }
  for (const auto& [key, value] : changes.items()) body[key] = value;
  auto deleted = c.api().Call("DELETE", EntityPath(kind, name));
  if (!deleted.ok()) return Fail(deleted.status());
  if (int rc = WaitGone(c.api(), kind, name, std::chrono::seconds(120)); rc != 0) return rc;
  auto created = c.api().Call("POST", "/v1/" + kind.collection, body);
  if (!created.ok()) {
    std::cerr << "Error: " << kind.label << " " << name
              << " was deleted but could not be created again; its description was:\n"
              << body.dump(2) << std::endl;
    return Fail(created.status());
  }
  if (g.Structured()) {
    PrintAs(g, *created, [] {});
  } else {
    std::cout << "Updated " << kind.label << ": " << name << " (replaced)" << std::endl;
  }
  return 0;
}

// PUTs the changed fields of the entity with `body`.
int Patch(const Globals& g, const KindInfo& kind, const std::string& name, const json& body,
          bool wait) {
  Client c(g);
  auto updated = c.api().Call("PUT", EntityPath(kind, name), body);
  if (!updated.ok()) return Fail(updated.status());
  if (wait) {
    if (int rc = WaitReady(c.api(), kind, name); rc != 0) return rc;
  }
  if (g.Structured()) {
    PrintAs(g, *updated, [] {});
  } else {
    std::cout << "Updated " << kind.label << ": " << name << std::endl;
  }
  return 0;
}

}  // namespace

namespace {

// `dispatch redrive [RUN_ID] [--function F] [--since T] [--until T] [--all]`: failed runs
// (the dead-letter list, `dispatch get runs --failed`) queued again.
void AddRedriveCommand(CLI::App& app, const Globals& g, int& rc) {
  struct Args {
    std::string id, function, since, until;
    bool all = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "redrive", "run failed runs again (one run, a function's failed runs, or a time range)");
  cmd->add_option("RUN_ID", args->id, "the failed run to run again");
  cmd->add_option("--function", args->function, "redrive the failed runs of this function");
  cmd->add_option("--since", args->since,
                  "failed runs created at or after this time: ISO-8601 or a duration ago (2h)");
  cmd->add_option("--until", args->until, "failed runs created before this time (as --since)");
  cmd->add_flag("--all", args->all, "every failed run");
  cmd->callback([args, &g, &rc] {
    json body = json::object();
    if (!args->id.empty()) body["id"] = args->id;
    if (!args->function.empty()) body["function"] = args->function;
    for (auto [key, text] : {std::pair{"since", &args->since}, std::pair{"until", &args->until}}) {
      if (text->empty()) continue;
      auto ms = ParseTimeMs(*text, NowMs());
      if (!ms.ok()) return void(rc = Fail(ms.status()));
      body[key] = *ms;
    }
    if (args->all) body["all"] = true;
    if (body.empty()) {
      return void(rc = Usage("say which runs: RUN_ID, --function, --since/--until or --all"));
    }
    Client c(g);
    auto r = c.api().Call("POST", "/v1/runs/redrive", body);
    if (!r.ok()) return void(rc = Fail(r.status()));
    PrintAs(g, *r, [&] {
      std::cout << "Redriven " << r->value("redriven", 0) << " failed run(s)" << std::endl;
    });
  });
}

// The query of `dispatch get runs --failed [--since T] [--until T]` ("" without --failed).
Result<std::string> FailedRunsQuery(bool failed, const std::string& since,
                                    const std::string& until) {
  if (!failed) {
    if (!since.empty() || !until.empty()) {
      return common::InvalidArgument("--since and --until go with --failed");
    }
    return std::string();
  }
  std::string query = "status=failed";
  for (auto [key, text] : {std::pair{"since", &since}, std::pair{"until", &until}}) {
    if (text->empty()) continue;
    DAT_ASSIGN_OR_RETURN(int64_t ms, ParseTimeMs(*text, NowMs()));
    query += std::string("&") + key + "=" + std::to_string(ms);
  }
  return query;
}

// ---- dispatch server ----
void AddServerCommand(CLI::App& app, Globals& g, int& rc) {
  struct State {
    ServerConfig sc;
    common::LogOptions log{.program = "dispatch"};
    std::string log_format = "text";
    int64_t run_timeout_ms = 60'000, retry_backoff_ms = 500, idle_timeout_ms = 300'000;
    int64_t retry_backoff_max_ms = 300'000;
    std::string max_event_age = "6h";
    int64_t driver_grace_ms = 30'000, driver_backoff_ms = 1'000;
    std::string ingest_sync = "full";
    int64_t prune_interval_ms = 600'000, run_retention_hours = 168;
  };
  auto s = std::make_shared<State>();
  ServerConfig& sc = s->sc;
  auto* server = app.add_subcommand("server", "run the dispatch server in the foreground");
  server->add_option("--listen", sc.listen, "address to serve the API on (port 0: any free port)")
      ->capture_default_str();
  server->add_option("--tls-cert", sc.tls_cert_file,
                     "serve the API over HTTPS with this PEM certificate chain (with --tls-key); "
                     "required for a non-loopback --listen");
  server->add_option("--tls-key", sc.tls_key_file, "PEM private key of --tls-cert");
  server->add_flag("--insecure-listen", sc.insecure_listen,
                   "allow a non-loopback --listen address over plain HTTP (the token travels in "
                   "clear)");
  server->add_option("--log-level", s->log.level, "trace|debug|info|warn|error|off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  server->add_option("--log-format", s->log_format, "text|json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  server->add_option("--http-threads", sc.http_threads, "HTTP I/O threads")->capture_default_str();
  server
      ->add_option("--ingest-sync", s->ingest_sync,
                   "full: an acknowledged event is fsynced (survives a machine crash); normal: "
                   "it survives a crash of the server process only")
      ->check(CLI::IsMember({"full", "normal"}))
      ->capture_default_str();
  server
      ->add_option("--run-retention-hours", s->run_retention_hours,
                   "finished runs older than this are deleted")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  server
      ->add_option("--runs-kept", sc.runs_kept,
                   "finished runs kept per function; older ones beyond this are deleted")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  server
      ->add_option("--prune-interval-ms", s->prune_interval_ms,
                   "how often old events (past the 24 h duplicate window) and runs are deleted")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  server->add_option("--run-workers", sc.runner.workers, "function runs executing at once")
      ->capture_default_str();
  server
      ->add_option("--function-instances", sc.runner.default_instances,
                   "warm processes per function (unless the function sets instances)")
      ->capture_default_str();
  server
      ->add_option("--run-attempts", sc.runner.default_max_attempts,
                   "attempts per run before it is kept as failed (unless the function says)")
      ->capture_default_str();
  server->add_option("--run-timeout-ms", s->run_timeout_ms, "timeout of one attempt")
      ->capture_default_str();
  server
      ->add_option("--retry-backoff-ms", s->retry_backoff_ms,
                   "delay before the first retry; doubles per attempt (with jitter)")
      ->capture_default_str();
  server
      ->add_option("--retry-backoff-max-ms", s->retry_backoff_max_ms,
                   "longest delay between two attempts of a run (before jitter)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  server
      ->add_option("--max-event-age", s->max_event_age,
                   "retry a failing run for at most this long, e.g. 6h (unless the function "
                   "says); then it is kept as failed (`get runs --failed`, `redrive`)")
      ->capture_default_str();
  server
      ->add_option("--idle-timeout-ms", s->idle_timeout_ms,
                   "stop a function process idle for this long")
      ->capture_default_str();
  server
      ->add_option("--driver-grace-ms", s->driver_grace_ms,
                   "time a driver gets between SIGTERM and SIGKILL")
      ->capture_default_str();
  server
      ->add_option("--driver-backoff-ms", s->driver_backoff_ms,
                   "first delay before restarting a driver that died; doubles, at most 30 s")
      ->capture_default_str();
  server->add_option("--runtimes-dir", sc.runner.runtimes_dir,
                     "where runtimes/python3/function_server.py is (default: found next to the "
                     "binary or in the source tree)");
  server->add_option("--python", sc.builder.python, "python interpreter for python3 images")
      ->capture_default_str();
  server->callback([s, &g, &rc] {
    s->log.json = s->log_format == "json";
    common::InitLogging(s->log);
    ServerConfig& sc = s->sc;
    sc.data_dir = g.DataDir();
    sc.fsync_events = s->ingest_sync == "full";
    sc.prune_interval = std::chrono::milliseconds(s->prune_interval_ms);
    sc.run_retention = std::chrono::hours(s->run_retention_hours);
    sc.runner.default_timeout = std::chrono::milliseconds(s->run_timeout_ms);
    sc.runner.retry_backoff = std::chrono::milliseconds(s->retry_backoff_ms);
    sc.runner.retry_backoff_max = std::chrono::milliseconds(s->retry_backoff_max_ms);
    auto age = ParseDurationSeconds(s->max_event_age);
    if (!age.ok()) return void(rc = Usage(age.status().message()));
    sc.runner.default_max_event_age = std::chrono::seconds(*age);
    sc.runner.idle_timeout = std::chrono::milliseconds(s->idle_timeout_ms);
    sc.supervisor.grace = std::chrono::milliseconds(s->driver_grace_ms);
    sc.supervisor.backoff_initial = std::chrono::milliseconds(s->driver_backoff_ms);
    rc = RunServer(sc);
  });
}

// The options of `create` and `update` (one set; each subcommand binds what it takes).
struct EntityArgs {
  std::string name, file, image, type, language, base, runtime_deps, handler, event_type,
      source_type, filter, function;
  std::vector<std::string> secrets, sets, tags, env;
  int64_t timeout_ms = 0, max_attempts = 0, instances = 0;
  std::string max_event_age;  // e.g. 6h; "" = the server's default
  bool wait = false;
  bool link = false;

  Result<json> Tags() const { return KeyValues("--tag", tags); }
  Result<json> Env() const { return KeyValues("--env", env); }
  // --set key=value / key → the driver's config entries.
  Result<json> Config() const {
    json config = json::array();
    for (const auto& s : sets) {
      size_t eq = s.find('=');
      std::string key = s.substr(0, eq);
      if (key.empty()) return common::InvalidArgument("--set needs a key: " + s);
      config.push_back({{"key", key}, {"value", eq == std::string::npos ? "" : s.substr(eq + 1)}});
    }
    return config;
  }
  // The function's code: uploaded (base64) or, with --link, referenced by absolute path.
  Status AddCode(json* body) const {
    if (link) {
      std::error_code ec;
      std::string path = std::filesystem::absolute(file, ec).string();
      if (ec || !std::filesystem::is_regular_file(path, ec)) {
        return common::InvalidArgument(file + " is not a file");
      }
      (*body)["path"] = path;
      return Status::Ok();
    }
    auto code = ReadFile(file);
    if (!code.ok()) return code.status();
    (*body)["file"] = std::filesystem::path(file).filename().string();
    (*body)["code"] = common::Base64Encode(*code);
    return Status::Ok();
  }
};

void AddTagOption(CLI::App* cmd, EntityArgs& a) {
  cmd->add_option("--tag", a.tags, "a tag KEY=VALUE (repeatable)")->expected(1)->take_all();
}

void AddWaitOption(CLI::App* cmd, EntityArgs& a) {
  cmd->add_flag("--wait", a.wait, "wait (showing progress) until the resource is READY or ERROR");
}

void AddFunctionOptions(CLI::App* cmd, EntityArgs& a, bool update) {
  cmd->add_option("--image", a.image, "image to run the function in");
  cmd->add_option("--handler", a.handler, "python3: the function to call (default handle)");
  cmd->add_option("--secret", a.secrets, "secret passed in context.secrets.<name> (repeatable)")
      ->expected(1)
      ->take_all();
  cmd->add_option("--env", a.env,
                  "environment variable KEY=VALUE of the function's processes (repeatable), "
                  "e.g. TWITTER_GRAVITY=northwest" +
                      std::string(update ? "; replaces the function's whole environment" : ""))
      ->expected(1)
      ->take_all();
  cmd->add_flag("--link", a.link,
                "reference FILE in place (an absolute path on the server's machine) instead of "
                "uploading a copy; for native executables on the same machine");
  cmd->add_option("--timeout-ms", a.timeout_ms, "timeout of one run attempt");
  cmd->add_option("--max-attempts", a.max_attempts, "attempts before a run is kept failed");
  cmd->add_option("--instances", a.instances, "warm processes at most");
  cmd->add_option("--max-event-age", a.max_event_age,
                  "retry a failing run for at most this long, e.g. 6h (default: the server's)");
}

// The function body fields the options set (for create and update alike).
Result<json> FunctionFields(const EntityArgs& a, bool create) {
  json body = json::object();
  if (!a.image.empty()) body["image"] = a.image;
  if (create || !a.secrets.empty()) body["secrets"] = a.secrets;
  if (!a.handler.empty()) body["handler"] = a.handler;
  if (create || !a.env.empty()) {
    DAT_ASSIGN_OR_RETURN(json env, a.Env());
    if (!env.empty() || !create) body["env"] = env;
  }
  if (a.timeout_ms > 0) body["timeout"] = a.timeout_ms;
  if (a.max_attempts > 0) body["maxAttempts"] = a.max_attempts;
  if (a.instances > 0) body["instances"] = a.instances;
  if (!a.max_event_age.empty()) {
    DAT_ASSIGN_OR_RETURN(int64_t seconds, ParseDurationSeconds(a.max_event_age));
    body["maxEventAgeSeconds"] = seconds;
  }
  if (!a.file.empty()) {
    DAT_RETURN_IF_ERROR(a.AddCode(&body));
  }
  if (!a.tags.empty() || create) {
    DAT_ASSIGN_OR_RETURN(json tags, a.Tags());
    body["tags"] = tags;
  }
  return body;
}

// Runs `make` and, when it gives a body, `use` with it; otherwise reports the error.
int WithBody(const Result<json>& made, const std::function<int(const json&)>& use) {
  if (!made.ok()) {
    return made.status().code() == common::Code::kInvalidArgument ? Usage(made.status().message())
                                                                  : Fail(made.status());
  }
  return use(*made);
}

// ---- dispatch create … ----
void AddCreateCommands(CLI::App& app, Globals& g, int& rc) {
  auto a = std::make_shared<EntityArgs>();
  auto* create = app.add_subcommand("create", "create a resource");
  create->require_subcommand(1);
  auto create_with = [&g](const char* kind, bool wait) {
    return [&g, kind, wait](const json& body) { return Create(g, *LookupKind(kind), body, wait); };
  };

  auto* c_secret = create->add_subcommand("secret", "create a secret from a JSON file of strings");
  c_secret->add_option("NAME", a->name, "secret name")->required();
  c_secret->add_option("FILE", a->file, "JSON file: an object of string values")->required();
  AddTagOption(c_secret, *a);
  c_secret->callback([a, create_with, &rc] {
    rc = WithBody(
        [&]() -> Result<json> {
          DAT_ASSIGN_OR_RETURN(std::string text, ReadFile(a->file));
          DAT_ASSIGN_OR_RETURN(json content, ParseJsonArg("secret file " + a->file, text));
          DAT_ASSIGN_OR_RETURN(json tags, a->Tags());
          return json{{"name", a->name}, {"secrets", content}, {"tags", tags}};
        }(),
        create_with("secret", false));
  });

  auto* c_type = create->add_subcommand("eventdrivertype", "create an event driver type");
  c_type->add_option("NAME", a->name, "driver type name")->required();
  c_type
      ->add_option("IMAGE", a->image,
                   "driver image, e.g. dispatch-events-aws:latest (runs the native executable "
                   "dispatch-events-aws found next to dispatch or on PATH), or a path")
      ->required();
  AddTagOption(c_type, *a);
  c_type->callback([a, create_with, &rc] {
    rc = WithBody(
        [&]() -> Result<json> {
          DAT_ASSIGN_OR_RETURN(json tags, a->Tags());
          return json{{"name", a->name}, {"image", a->image}, {"tags", tags}};
        }(),
        create_with("eventdrivertype", false));
  });

  auto* c_driver = create->add_subcommand("eventdriver", "create (and start) an event driver");
  c_driver->add_option("TYPE", a->type, "event driver type")->required();
  c_driver->add_option("--name", a->name, "driver name (default: a random readable name)");
  c_driver
      ->add_option("--secret", a->secrets,
                   "secret whose keys become the driver's environment, upper-cased (repeatable)")
      ->expected(1)
      ->take_all();
  c_driver
      ->add_option("--set", a->sets,
                   "driver option: key=value becomes --key=value, a bare key becomes --key "
                   "(repeatable)")
      ->expected(1)
      ->take_all();
  AddWaitOption(c_driver, *a);
  AddTagOption(c_driver, *a);
  c_driver->callback([a, create_with, &rc] {
    rc = WithBody(
        [&]() -> Result<json> {
          DAT_ASSIGN_OR_RETURN(json config, a->Config());
          DAT_ASSIGN_OR_RETURN(json tags, a->Tags());
          json body = {
              {"type", a->type}, {"secrets", a->secrets}, {"config", config}, {"tags", tags}};
          if (!a->name.empty()) body["name"] = a->name;
          return body;
        }(),
        create_with("eventdriver", a->wait));
  });

  auto* c_base = create->add_subcommand("base-image", "create a base image (a language runtime)");
  c_base->alias("baseimage");
  c_base->add_option("NAME", a->name, "base image name")->required();
  c_base->add_option("IMAGE", a->image, "image reference (recorded; runtimes are native here)")
      ->required();
  c_base->add_option("--language", a->language, "python3, nodejs or native")->required();
  AddWaitOption(c_base, *a);
  AddTagOption(c_base, *a);
  c_base->callback([a, create_with, &rc] {
    rc = WithBody(
        [&]() -> Result<json> {
          DAT_ASSIGN_OR_RETURN(json tags, a->Tags());
          return json{
              {"name", a->name}, {"image", a->image}, {"language", a->language}, {"tags", tags}};
        }(),
        create_with("base-image", a->wait));
  });

  auto* c_image =
      create->add_subcommand("image", "create an image: a base image plus dependencies");
  c_image->add_option("NAME", a->name, "image name")->required();
  c_image->add_option("BASE", a->base, "base image")->required();
  c_image->add_option("--runtime-deps", a->runtime_deps,
                      "dependencies file (python3: requirements.txt, installed with pip into a "
                      "per-image virtual environment; nodejs: package.json)");
  AddWaitOption(c_image, *a);
  AddTagOption(c_image, *a);
  c_image->callback([a, create_with, &rc] {
    rc = WithBody(
        [&]() -> Result<json> {
          std::string deps;
          if (!a->runtime_deps.empty()) {
            DAT_ASSIGN_OR_RETURN(deps, ReadFile(a->runtime_deps));
          }
          DAT_ASSIGN_OR_RETURN(json tags, a->Tags());
          return json{{"name", a->name},
                      {"baseImage", a->base},
                      {"runtimeDependencies", deps},
                      {"tags", tags}};
        }(),
        create_with("image", a->wait));
  });

  auto* c_function = create->add_subcommand("function", "create a function from a file");
  c_function->add_option("NAME", a->name, "function name")->required();
  c_function
      ->add_option("FILE", a->file,
                   "the code: a .py file with handle(context, payload) for python3, an "
                   "executable speaking the function protocol for native")
      ->required();
  AddFunctionOptions(c_function, *a, false);
  c_function->get_option("--image")->required();
  AddWaitOption(c_function, *a);
  AddTagOption(c_function, *a);
  c_function->callback([a, create_with, &rc] {
    rc = WithBody(
        [&]() -> Result<json> {
          DAT_ASSIGN_OR_RETURN(json body, FunctionFields(*a, true));
          body["name"] = a->name;
          return body;
        }(),
        create_with("function", a->wait));
  });

  auto* c_sub = create->add_subcommand("subscription", "subscribe a function to events");
  c_sub->add_option("FUNCTION", a->function, "function to run")->required();
  c_sub->add_option("--event-type", a->event_type, "event type to match, e.g. aws.s3")->required();
  c_sub->add_option("--source-type", a->source_type,
                    "source type to match, e.g. aws (default any)");
  c_sub->add_option("--name", a->name, "subscription name (default: a random readable name)");
  c_sub->add_option("--filter", a->filter,
                    "EventBridge-style JSON pattern the event (Dispatch CloudEvents 0.1 JSON) "
                    "must also match, e.g. '{\"data\":{\"detail\":{\"object\":{\"key\":"
                    "[{\"prefix\":\"images/\"}]}}}}'");
  AddTagOption(c_sub, *a);
  c_sub->callback([a, create_with, &rc] {
    rc = WithBody(
        [&]() -> Result<json> {
          json body = {{"function", a->function},
                       {"eventType", a->event_type},
                       {"sourceType", a->source_type}};
          if (!a->name.empty()) body["name"] = a->name;
          if (!a->filter.empty()) {
            DAT_ASSIGN_OR_RETURN(body["filter"], ParseJsonArg("--filter", a->filter));
          }
          DAT_ASSIGN_OR_RETURN(body["tags"], a->Tags());
          return body;
        }(),
        create_with("subscription", false));
  });
}

// ---- dispatch update … ----
void AddUpdateCommands(CLI::App& app, Globals& g, int& rc) {
  auto a = std::make_shared<EntityArgs>();
  auto* update = app.add_subcommand(
      "update", "change a resource (secrets and functions in place; others by replacement)");
  update->require_subcommand(1);

  auto* u_secret = update->add_subcommand("secret", "replace a secret's values from a JSON file");
  u_secret->add_option("NAME", a->name, "secret name")->required();
  u_secret->add_option("FILE", a->file, "JSON file: an object of string values");
  AddTagOption(u_secret, *a);
  u_secret->callback([a, &g, &rc] {
    rc = WithBody(
        [&]() -> Result<json> {
          json body = json::object();
          if (!a->file.empty()) {
            DAT_ASSIGN_OR_RETURN(std::string text, ReadFile(a->file));
            DAT_ASSIGN_OR_RETURN(body["secrets"], ParseJsonArg("secret file " + a->file, text));
          }
          if (!a->tags.empty()) {
            DAT_ASSIGN_OR_RETURN(body["tags"], a->Tags());
          }
          if (body.empty()) return common::InvalidArgument("nothing to update: give FILE or --tag");
          return body;
        }(),
        [&](const json& body) { return Patch(g, *LookupKind("secret"), a->name, body, false); });
  });

  auto* u_function = update->add_subcommand(
      "function", "change a function's code, image, secrets, environment or limits");
  u_function->add_option("NAME", a->name, "function name")->required();
  u_function->add_option("FILE", a->file, "new code (as for create function)");
  AddFunctionOptions(u_function, *a, true);
  AddWaitOption(u_function, *a);
  AddTagOption(u_function, *a);
  u_function->callback([a, &g, &rc] {
    rc = WithBody(
        [&]() -> Result<json> {
          DAT_ASSIGN_OR_RETURN(json body, FunctionFields(*a, false));
          if (body.empty()) {
            return common::InvalidArgument(
                "nothing to update: give FILE, --image, --secret, --env, --handler, "
                "--timeout-ms, --max-attempts, --instances or --tag");
          }
          return body;
        }(),
        [&](const json& body) {
          return Patch(g, *LookupKind("function"), a->name, body, a->wait);
        });
  });

  auto* u_sub = update->add_subcommand("subscription", "change what a subscription matches");
  u_sub->add_option("NAME", a->name, "subscription name")->required();
  u_sub->add_option("--function", a->function, "function to run");
  u_sub->add_option("--event-type", a->event_type, "event type to match");
  u_sub->add_option("--source-type", a->source_type, "source type to match");
  u_sub->add_option("--filter", a->filter, "EventBridge-style JSON pattern ('' removes it)");
  AddTagOption(u_sub, *a);
  u_sub->callback([a, u_sub, &g, &rc] {
    rc = WithBody(
        [&]() -> Result<json> {
          json changes = json::object();
          if (!a->function.empty()) changes["function"] = a->function;
          if (!a->event_type.empty()) changes["eventType"] = a->event_type;
          if (u_sub->count("--source-type")) changes["sourceType"] = a->source_type;
          if (u_sub->count("--filter")) {
            if (a->filter.empty()) {
              changes["filter"] = nullptr;
            } else {
              DAT_ASSIGN_OR_RETURN(changes["filter"], ParseJsonArg("--filter", a->filter));
            }
          }
          if (!a->tags.empty()) {
            DAT_ASSIGN_OR_RETURN(changes["tags"], a->Tags());
          }
          if (changes.empty()) return common::InvalidArgument("nothing to update");
          return changes;
        }(),
        [&](const json& changes) {
          return Recreate(g, *LookupKind("subscription"), a->name, changes);
        });
  });

  auto* u_driver = update->add_subcommand(
      "eventdriver", "change a driver's secrets or options (it is stopped, cleans up, restarts)");
  u_driver->add_option("NAME", a->name, "driver name")->required();
  u_driver->add_option("--secret", a->secrets, "secrets (replace the current ones; repeatable)")
      ->expected(1)
      ->take_all();
  u_driver->add_option("--set", a->sets, "options (replace the current ones; repeatable)")
      ->expected(1)
      ->take_all();
  AddTagOption(u_driver, *a);
  u_driver->callback([a, &g, &rc] {
    rc = WithBody(
        [&]() -> Result<json> {
          json changes = json::object();
          if (!a->secrets.empty()) changes["secrets"] = a->secrets;
          if (!a->sets.empty()) {
            DAT_ASSIGN_OR_RETURN(changes["config"], a->Config());
          }
          if (!a->tags.empty()) {
            DAT_ASSIGN_OR_RETURN(changes["tags"], a->Tags());
          }
          if (changes.empty())
            return common::InvalidArgument("nothing to update: give --secret, --set or --tag");
          return changes;
        }(),
        [&](const json& changes) {
          return Recreate(g, *LookupKind("eventdriver"), a->name, changes);
        });
  });

  auto* u_image = update->add_subcommand("image", "rebuild an image with new dependencies");
  u_image->add_option("NAME", a->name, "image name")->required();
  u_image->add_option("--runtime-deps", a->runtime_deps, "dependencies file (as for create)");
  AddTagOption(u_image, *a);
  u_image->callback([a, &g, &rc] {
    rc = WithBody(
        [&]() -> Result<json> {
          json changes = json::object();
          if (!a->runtime_deps.empty()) {
            DAT_ASSIGN_OR_RETURN(changes["runtimeDependencies"], ReadFile(a->runtime_deps));
          }
          if (!a->tags.empty()) {
            DAT_ASSIGN_OR_RETURN(changes["tags"], a->Tags());
          }
          if (changes.empty())
            return common::InvalidArgument("nothing to update: give --runtime-deps or --tag");
          return changes;
        }(),
        [&](const json& changes) {
          if (changes.size() == 1 && changes.contains("tags")) {
            return Patch(g, *LookupKind("image"), a->name, changes, false);
          }
          return Recreate(g, *LookupKind("image"), a->name, changes);
        });
  });

  for (const char* kind : {"eventdrivertype", "base-image"}) {
    auto* u = update->add_subcommand(kind, std::string("change a ") + LookupKind(kind)->label +
                                               "'s tags (delete and create it to change more)");
    u->add_option("NAME", a->name, "its name")->required();
    AddTagOption(u, *a);
    u->callback([a, kind, &g, &rc] {
      rc = WithBody(
          [&]() -> Result<json> {
            if (a->tags.empty()) return common::InvalidArgument("nothing to update: give --tag");
            DAT_ASSIGN_OR_RETURN(json tags, a->Tags());
            return json{{"tags", tags}};
          }(),
          [&](const json& body) { return Patch(g, *LookupKind(kind), a->name, body, false); });
    });
  }
}

// `get runs FUNCTION [RUN_ID]`, `get run RUN_ID`, with --last and --follow.
struct RunsQuery {
  std::string function;  // "" = every function
  std::string run_id;    // one run
  int last = 100;
  bool follow = false;
  bool failed = false;       // only the failed runs (the dead-letter list)
  std::string since, until;  // with failed: created in [since, until)
};

// NotFound naming what to list when the function neither exists nor has runs.
Status CheckFunctionKnown(ApiClient& api, const std::string& function, const json& runs) {
  if (function.empty() || !runs.empty()) return Status::Ok();
  auto f = api.Call("GET", EntityPath(*LookupKind("function"), function));
  if (f.ok()) return Status::Ok();
  if (f.status().code() != common::Code::kNotFound) return f.status();
  return common::NotFound("function " + function +
                          " not found (and has no runs); list functions with `dispatch get "
                          "functions`");
}

int FollowRuns(const Globals& g, ApiClient& api, const RunsQuery& q, json first) {
  // Prints each run once it has finished, oldest first, until interrupted (Ctrl-C).
  std::set<std::string> seen;
  bool table = !g.Structured();
  if (table) std::cout << FormatTable(RunHeaders(), {});
  std::string path = "/v1/runs?limit=" + std::to_string(std::max(q.last, 20)) +
                     (q.function.empty() ? "" : "&function=" + common::UriEncode(q.function));
  json runs = std::move(first);
  while (true) {
    for (auto it = runs.rbegin(); it != runs.rend(); ++it) {
      std::string status = Str(*it, "status");
      if (status == "queued" || status == "running" || !seen.insert(Str(*it, "id")).second) {
        continue;
      }
      if (table) {
        std::string line = FormatTable(RunHeaders(), {RunRow(*it)});
        std::cout << line.substr(line.rfind('\n', line.size() - 2) + 1);
      } else {
        std::cout << WithRunColumns(*it).dump() << "\n";
      }
    }
    std::cout.flush();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto next = api.Call("GET", path);
    if (!next.ok()) return Fail(next.status());
    runs = std::move(*next);
  }
}

int GetRuns(const Globals& g, const RunsQuery& q) {
  Client c(g);
  if (!q.run_id.empty()) {
    auto r = c.api().Call("GET", "/v1/runs/" + common::UriEncode(q.run_id));
    if (!r.ok()) {
      if (r.status().code() == common::Code::kNotFound) {
        return Fail(common::NotFound("run " + q.run_id +
                                     " not found; list runs with `dispatch get runs" +
                                     (q.function.empty() ? "" : " " + q.function) + "`"));
      }
      return Fail(r.status());
    }
    if (!q.function.empty() && Str(*r, "function") != q.function) {
      return Fail(common::NotFound("run " + q.run_id + " is a run of function " +
                                   Str(*r, "function") + ", not of " + q.function));
    }
    json run = WithRunColumns(*r);
    PrintAs(g, run, [&] {
      PrintRuns(json::array({run}));
      if (!run.value("output", json()).is_null()) {
        std::cout << "OUTPUT: " << run["output"].dump() << "\n";
      }
      if (!run.value("error", json()).is_null()) {
        std::cout << "ERROR: " << run["error"].dump() << "\n";
      }
      std::string logs = Str(run, "logs");
      if (!logs.empty()) {
        std::cout << "LOGS:\n" << logs << (common::EndsWith(logs, "\n") ? "" : "\n");
      }
    });
    return 0;
  }
  std::string path = "/v1/runs?limit=" + std::to_string(q.last);
  if (!q.function.empty()) path += "&function=" + common::UriEncode(q.function);
  auto failed_query = FailedRunsQuery(q.failed, q.since, q.until);
  if (!failed_query.ok()) return Usage(failed_query.status().message());
  // The failed-runs query names its own limit, which wins over --last.
  if (!failed_query->empty()) path += "&" + *failed_query;
  auto r = c.api().Call("GET", path);
  if (!r.ok()) return Fail(r.status());
  if (Status st = CheckFunctionKnown(c.api(), q.function, *r); !st.ok()) return Fail(st);
  if (q.follow) return FollowRuns(g, c.api(), q, *r);
  json runs = json::array();
  for (const auto& run : *r) runs.push_back(WithRunColumns(run));
  PrintAs(g, runs, [&] { PrintRuns(runs); });
  return 0;
}

// ---- dispatch get KIND [NAME] ----
void AddGetCommand(CLI::App& app, Globals& g, int& rc) {
  struct State {
    std::string kind, name, run_id;
    bool show_values = false;
    RunsQuery runs;
  };
  auto s = std::make_shared<State>();
  auto* get = app.add_subcommand("get", "list resources, or show one");
  get->add_option("KIND", s->kind,
                  "secret(s), eventdrivertype(s), eventdriver(s), base-image(s), image(s), "
                  "function(s), subscription(s), run(s), event(s)")
      ->required();
  get->add_option("NAME", s->name,
                  "name to show; for `get runs` a function whose runs to list, for `get run` a "
                  "run id, for `get event` an event seq");
  get->add_option("RUN_ID", s->run_id, "for `get runs FUNCTION RUN_ID`: one run of the function");
  get->add_flag("--show-values", s->show_values, "show secret values (get secret NAME)");
  get->add_flag("--failed", s->runs.failed,
                "runs: the failed runs (the dead-letter list `dispatch redrive` takes from)");
  get->add_option("--since", s->runs.since, "runs --failed: created at or after (ISO-8601, 2h)");
  get->add_option("--until", s->runs.until, "runs --failed: created before (ISO-8601, 2h)");
  get->add_option("--last", s->runs.last, "runs: the N most recent")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  get->add_flag("-f,--follow", s->runs.follow,
                "runs: keep printing runs as they finish, until Ctrl-C");
  get->callback([s, &g, &rc] {
    auto kind = KindOrUsage(s->kind);
    if (!kind.ok()) return void(rc = Usage(kind.status().message()));
    bool plural = common::EndsWith(common::ToLower(s->kind), "s");
    if (kind->kind != "run" && (s->runs.follow || !s->run_id.empty())) {
      return void(rc = Usage("--follow and RUN_ID apply to `get runs` only"));
    }
    if (kind->kind == "run") {
      RunsQuery q = s->runs;
      if (!plural && !s->name.empty()) {
        q.run_id = s->name;  // get run RUN_ID
      } else {
        q.function = s->name;
        q.run_id = s->run_id;
      }
      rc = GetRuns(g, q);
      return;
    }
    Client c(g);
    if (kind->kind == "event") {
      std::string path = "/v1/events" + (s->name.empty() ? "" : "/" + common::UriEncode(s->name));
      auto r = c.api().Call("GET", path);
      if (!r.ok()) return void(rc = Fail(r.status()));
      return PrintAs(g, *r, [&] { PrintEvents(s->name.empty() ? *r : json::array({*r})); });
    }
    std::string path = "/v1/" + kind->collection;
    if (!s->name.empty()) {
      path += "/" + common::UriEncode(s->name);
      if (s->show_values) path += "?showValues=true";
    }
    auto r = c.api().Call("GET", path);
    if (!r.ok()) {
      if (r.status().code() == common::Code::kNotFound) {
        return void(
            rc = Fail(common::NotFound(r.status().message() + "; list them with `dispatch get " +
                                       kind->kind + "s`")));
      }
      return void(rc = Fail(r.status()));
    }
    PrintAs(g, *r, [&] {
      PrintEntities(*kind, s->name.empty() ? *r : json::array({*r}), s->show_values);
    });
  });
}

// The lines of a deleted driver's log since it was told to stop that tell how its clean-up
// went ("clean-up done: …" or what was left, then "stopped: …"), without their timestamps.
std::string CleanUpOutcome(ApiClient& api, const std::string& name) {
  auto logs = api.GetText(EntityPath(*LookupKind("eventdriver"), name) + "/logs");
  if (!logs.ok()) return "";
  std::vector<std::string> lines = common::Split(*logs, '\n');
  size_t start = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].find("stopping") != std::string::npos) start = i;  // the last stop
  }
  std::vector<std::string> out;
  for (size_t i = start; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (line.find("clean-up") == std::string::npos && line.find("stopped") == std::string::npos) {
      continue;
    }
    size_t text = line.find(": ");  // after "<time> <level> dispatch-events-aws"
    out.push_back(text == std::string::npos ? line : line.substr(text + 2));
  }
  return common::Join(out, "\n  ");
}

// ---- dispatch delete KIND NAME ----
void AddDeleteCommand(CLI::App& app, Globals& g, int& rc) {
  struct State {
    std::string kind, name;
    bool force = false;
    bool wait = false, no_wait = false;
  };
  auto s = std::make_shared<State>();
  auto* del = app.add_subcommand("delete", "delete a resource");
  del->add_option("KIND", s->kind, "kind of resource (as for get)")->required();
  del->add_option("NAME", s->name, "its name")->required();
  del->add_flag("--force", s->force,
                "delete even what is in use (its users break); a function's subscriptions are "
                "deleted with it");
  del->add_flag("--wait", s->wait,
                "eventdriver: wait until it has cleaned up and print the outcome (the default "
                "on a terminal)");
  del->add_flag("--no-wait", s->no_wait, "eventdriver: return once the deletion has begun");
  del->callback([s, &g, &rc] {
    auto kind = KindOrUsage(s->kind, {"secret", "eventdrivertype", "eventdriver", "base-image",
                                      "image", "function", "subscription"});
    if (!kind.ok()) return void(rc = Usage(kind.status().message()));
    Client c(g);
    auto users = UsersOf(c.api(), *kind, s->name);
    if (!users.ok()) return void(rc = Fail(users.status()));
    if (!users->empty() && !s->force) {
      std::string what = kind->kind == "function" ? "deletes those subscriptions too"
                                                  : "deletes it anyway, and they break";
      return void(rc = Fail(common::FailedPrecondition(
                      kind->label + " " + s->name + " is in use by " + common::Join(*users, ", ") +
                      ". Delete or change those first, or pass --force (" + what + ").")));
    }
    auto r = c.api().Call("DELETE", EntityPath(*kind, s->name));
    if (!r.ok()) return void(rc = Fail(r.status()));
    if (!users->empty()) {
      if (kind->kind == "function") {
        for (const auto& user : *users) {
          std::string sub = user.substr(user.find(' ') + 1);
          auto d = c.api().Call("DELETE", EntityPath(*LookupKind("subscription"), sub));
          std::cerr << (d.ok()
                            ? "Deleted subscription " + sub + " (it ran function " + s->name + ")"
                            : "Could not delete subscription " + sub + ": " + d.status().message())
                    << std::endl;
        }
      } else {
        std::cerr << "Warning: " << common::Join(*users, ", ") << " still name " << kind->label
                  << " " << s->name << " and will fail until changed." << std::endl;
      }
    }
    bool wait = s->wait || (!s->no_wait && isatty(STDOUT_FILENO) != 0);
    std::string outcome;
    if (kind->kind == "eventdriver" && wait) {
      std::cerr << "Waiting for event driver " << s->name << " to clean up …" << std::endl;
      if (int code = WaitGone(c.api(), *kind, s->name, std::chrono::seconds(120)); code != 0) {
        return void(rc = code);
      }
      outcome = CleanUpOutcome(c.api(), s->name);
    }
    if (g.Structured()) {
      json out = *r;
      if (!outcome.empty()) out["outcome"] = outcome;
      return PrintAs(g, out, [] {});
    }
    std::cout << "Deleted " << kind->label << ": " << s->name << std::endl;
    if (!outcome.empty()) std::cout << "  " << outcome << std::endl;
  });
}

// ---- dispatch emit TYPE --data JSON ----
void AddEmitCommand(CLI::App& app, Globals& g, int& rc) {
  struct State {
    std::string event_type, data = "null", source = "dispatch-cli", source_type, event_id;
  };
  auto s = std::make_shared<State>();
  auto* emit = app.add_subcommand("emit", "send an event to the server");
  emit->add_option("TYPE", s->event_type, "event type")->required();
  emit->add_option("--data", s->data, "event data (JSON)")->capture_default_str();
  emit->add_option("--source-type", s->source_type, "source type (default dispatch)");
  emit->add_option("--source", s->source, "event source (deduplication scope)")
      ->capture_default_str();
  emit->add_option("--id", s->event_id, "event id (default: a new UUID)");
  emit->callback([s, &g, &rc] {
    auto payload = ParseJsonArg("--data", s->data);
    if (!payload.ok()) return void(rc = Usage(payload.status().message()));
    json ev = {{"eventType", s->event_type},
               {"eventTypeVersion", "0.1"},
               {"cloudEventsVersion", "0.1"},
               {"source", s->source},
               {"sourceType", s->source_type.empty() ? "dispatch" : s->source_type},
               {"sourceID", s->source},
               {"eventID", s->event_id.empty() ? common::NewUuid() : s->event_id},
               {"eventTime", common::FormatIso8601Millis(std::chrono::system_clock::now())},
               {"contentType", "application/json"},
               {"extensions", json::object()},
               {"data", *payload}};
    Client c(g);
    auto r = c.api().Call("POST", "/v1/event/", ev);
    if (!r.ok()) return void(rc = Fail(r.status()));
    PrintAs(g, *r, [&] {
      bool dup = r->value("duplicates", 0) > 0;
      std::cout << (dup ? "Duplicate event (already received): " : "Emitted event: ")
                << Str(ev, "eventID") << std::endl;
    });
  });
}

// ---- dispatch exec FUNCTION --input JSON [--wait] ----
void AddExecCommand(CLI::App& app, Globals& g, int& rc) {
  struct State {
    std::string function, input = "null";
    bool wait = false;
  };
  auto s = std::make_shared<State>();
  auto* exec = app.add_subcommand("exec", "run a function directly");
  exec->add_option("FUNCTION", s->function, "function to run")->required();
  exec->add_option("--input", s->input, "the payload (JSON)")->capture_default_str();
  exec->add_flag("--wait", s->wait, "wait for the run to finish and print its result");
  exec->callback([s, &g, &rc] {
    auto payload = ParseJsonArg("--input", s->input);
    if (!payload.ok()) return void(rc = Usage(payload.status().message()));
    Client c(g);
    auto r = c.api().Call("POST", "/v1/runs",
                          json{{"function", s->function}, {"input", *payload}, {"wait", s->wait}},
                          std::chrono::minutes(30));
    if (!r.ok()) return void(rc = Fail(r.status()));
    json run = WithRunColumns(*r);
    if (g.output == "yaml") {
      std::cout << ToYaml(run);
    } else {
      PrintJson(run);
    }
    if (s->wait && Str(run, "status") == "failed") rc = kExitError;
  });
}

// The part of `now` not yet printed, given the previous tail `before` (both tails of a log).
std::string NewLogText(const std::string& before, const std::string& now) {
  if (common::StartsWith(now, before)) return now.substr(before.size());
  // The tail moved on: continue after the last stretch of `before` found in `now`.
  std::string anchor = before.substr(before.size() - std::min<size_t>(before.size(), 256));
  size_t at = anchor.empty() ? std::string::npos : now.rfind(anchor);
  return at == std::string::npos ? now : now.substr(at + anchor.size());
}

// ---- dispatch logs eventdriver|function NAME [-f] ----
void AddLogsCommand(CLI::App& app, Globals& g, int& rc) {
  struct State {
    std::string kind, name;
    bool follow = false;
  };
  auto s = std::make_shared<State>();
  auto* logs = app.add_subcommand(
      "logs", "show the output of an event driver or a function (kept after deletion)");
  logs->add_option("KIND", s->kind, "eventdriver or function")->required();
  logs->add_option("NAME", s->name, "its name")->required();
  logs->add_flag("-f,--follow", s->follow, "keep printing new output until Ctrl-C");
  logs->callback([s, &g, &rc] {
    auto kind = KindOrUsage(s->kind, {"eventdriver", "function"});
    if (!kind.ok()) return void(rc = Usage(kind.status().message()));
    Client c(g);
    std::string path = EntityPath(*kind, s->name) + "/logs";
    std::string printed;
    while (true) {
      auto r = c.api().GetText(path);
      if (!r.ok()) return void(rc = Fail(r.status()));
      std::cout << NewLogText(printed, *r);
      std::cout.flush();
      printed = std::move(*r);
      if (!s->follow) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  });
}

// ---- dispatch version ----
void AddVersionCommand(CLI::App& app, Globals& g, int& rc) {
  auto* version = app.add_subcommand("version", "print the CLI's version (and the server's)");
  version->callback([&g, &rc] {
    json out = {{"client", common::kVersion}};
    Client c(g);
    auto server = c.api().Call("GET", "/healthz", std::nullopt, std::chrono::seconds(2));
    if (server.ok() && server->is_object()) out["server"] = server->value("version", "");
    PrintAs(g, out, [&] {
      std::cout << "dispatch " << common::kVersion << std::endl;
      if (out.contains("server")) {
        std::cout << "server " << out["server"].get<std::string>() << " at " << g.ServerUrl()
                  << std::endl;
      }
    });
    rc = 0;
  });
}

// The words completion offers after the command (`create` → its kinds, `get` → kinds, …).
std::map<std::string, std::vector<std::string>> CompletionWords(const CLI::App& app) {
  std::map<std::string, std::vector<std::string>> words;
  std::vector<std::string> kinds;
  for (const auto& k : Kinds()) kinds.push_back(k.kind + "s");
  for (const CLI::App* sub : app.get_subcommands({})) {
    std::vector<std::string>& w = words[sub->get_name()];
    for (const CLI::App* leaf : sub->get_subcommands({})) w.push_back(leaf->get_name());
    if (sub->get_name() == "get" || sub->get_name() == "delete") w = kinds;
    if (sub->get_name() == "logs") w = {"eventdriver", "function"};
    if (sub->get_name() == "completion") w = {"bash", "zsh"};
    for (const CLI::Option* o : sub->get_options()) {
      for (const auto& name : o->get_lnames()) w.push_back("--" + name);
    }
  }
  return words;
}

std::string BashCompletion(const CLI::App& app) {
  auto words = CompletionWords(app);
  std::string commands;
  for (const auto& [cmd, _] : words) commands += cmd + " ";
  std::string script =
      "# dispatch completion for bash: source <(dispatch completion bash)\n"
      "_dispatch() {\n"
      "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" cmd=\"\" i\n"
      "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      "    case \"${COMP_WORDS[i]}\" in -*) ;; *) cmd=\"${COMP_WORDS[i]}\"; break ;; esac\n"
      "  done\n"
      "  local words\n"
      "  case \"$cmd\" in\n"
      "    \"\") words=\"" +
      commands + "--server --token --data-dir --ca-cert -o --output --json --version --help\" ;;\n";
  for (const auto& [cmd, w] : words) {
    script += "    " + cmd + ") words=\"" + common::Join(w, " ") + " --help\" ;;\n";
  }
  script +=
      "  esac\n"
      "  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
      "}\n"
      "complete -F _dispatch dispatch\n";
  return script;
}

// ---- dispatch completion bash|zsh ----
void AddCompletionCommand(CLI::App& app, int& rc) {
  auto shell = std::make_shared<std::string>();
  auto* completion = app.add_subcommand(
      "completion", "print a shell completion script: source <(dispatch completion bash)");
  completion->add_option("SHELL", *shell, "bash or zsh")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh"}));
  completion->callback([shell, &app, &rc] {
    if (*shell == "zsh") std::cout << "autoload -U +X bashcompinit && bashcompinit\n";
    std::cout << BashCompletion(app);
    rc = 0;
  });
}

// Global options that take a value (for finding the command word in argv).
bool TakesValue(std::string_view arg) {
  for (const char* o : {"--server", "--token", "--data-dir", "--ca-cert", "-o", "--output"}) {
    if (arg == o) return true;
  }
  return false;
}

// After a parse error: names the unknown command or subcommand and the closest one. Empty when
// the error is something else.
std::string UnknownWordMessage(const CLI::App& app, int argc, char** argv) {
  std::vector<std::string> words;
  for (int i = 1; i < argc && words.size() < 2; ++i) {
    std::string_view arg = argv[i];
    if (common::StartsWith(arg, "-")) {
      if (words.empty() && TakesValue(arg)) ++i;
      continue;
    }
    words.emplace_back(arg);
  }
  if (words.empty()) return "";
  std::vector<std::string> commands;
  for (const CLI::App* sub : app.get_subcommands({})) commands.push_back(sub->get_name());
  const CLI::App* cmd = nullptr;
  for (const CLI::App* sub : app.get_subcommands({})) {
    if (sub->check_name(words[0])) cmd = sub;
  }
  if (cmd == nullptr) {
    std::string m = "unknown command \"" + words[0] + "\"";
    std::string s = Suggest(words[0], commands);
    if (!s.empty()) m += "; did you mean \"" + s + "\"?";
    return m + " Commands: " + common::Join(commands, ", ") + ".";
  }
  auto subs = cmd->get_subcommands({});
  if (subs.empty() || words.size() < 2) return "";
  std::vector<std::string> names;
  for (const CLI::App* sub : subs) {
    if (sub->check_name(words[1])) return "";
    names.push_back(sub->get_name());
  }
  std::string m = "unknown kind \"" + words[1] + "\" for `dispatch " + words[0] + "`";
  std::string s = Suggest(words[1], names);
  if (!s.empty()) m += "; did you mean \"" + s + "\"?";
  return m + " Kinds: " + common::Join(names, ", ") + ".";
}

}  // namespace

int RunCli(int argc, char** argv) {
  CLI::App app{"dispatch: a single-node serverless runtime (server and CLI)", "dispatch"};
  app.require_subcommand(1);
  app.fallthrough();
  app.set_version_flag("--version", std::string("dispatch ") + common::kVersion);
  Globals g;
  CurrentGlobals() = &g;
  app.add_option("--server", g.server,
                 "dispatch server URL (env DISPATCH_SERVER; default http://127.0.0.1:8080)");
  app.add_option("--token", g.token,
                 "API token (env DISPATCH_TOKEN; default: <data-dir>/token, ~/.dispatch/token)");
  app.add_option("--data-dir", g.data_dir,
                 "data directory (env DISPATCH_DATA_DIR; default ~/.dispatch): where the server "
                 "keeps its state and token");
  app.add_option("--ca-cert", g.ca_cert,
                 "PEM certificates to trust for an https --server, e.g. the server's own "
                 "self-signed certificate (env DISPATCH_CA_CERT; default: the system's)");
  app.add_option("-o,--output", g.output, "output format: table, json or yaml")
      ->check(CLI::IsMember({"table", "json", "yaml"}))
      ->capture_default_str();
  app.add_flag("--json", g.json, "print JSON (same as -o json)");
  app.footer("Exit codes: 0 ok, 1 error, 2 usage (unknown command, kind or flag), 3 not found.");

  int rc = 0;
  AddServerCommand(app, g, rc);
  AddCreateCommands(app, g, rc);
  AddUpdateCommands(app, g, rc);
  AddGetCommand(app, g, rc);
  AddDeleteCommand(app, g, rc);
  AddEmitCommand(app, g, rc);
  AddExecCommand(app, g, rc);
  AddLogsCommand(app, g, rc);
  AddVersionCommand(app, g, rc);
  AddCompletionCommand(app, rc);

  AddRedriveCommand(app, g, rc);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string unknown = UnknownWordMessage(app, argc, argv);
    return Usage((unknown.empty() ? std::string(e.what()) : unknown) +
                 " Run `dispatch --help` (or `dispatch COMMAND --help`) for usage.");
  }
  return rc;
}

}  // namespace dispatch
