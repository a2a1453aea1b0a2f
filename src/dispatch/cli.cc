#include "dispatch/cli.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <thread>

#include "common/crypto.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/time.h"
#include "dispatch/client.h"
#include "dispatch/server.h"
#include "dispatch/util.h"

namespace dispatch {
namespace {

using common::Result;
using common::Status;
using nlohmann::json;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string HomeDir() {
  std::string home = Env("HOME");
  return home.empty() ? "." : home;
}

// Options every client command shares.
struct Globals {
  std::string server;
  std::string token;
  std::string ca_cert;
  std::string data_dir;
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
  std::string Token() const {
    if (!token.empty()) return token;
    if (!Env("DISPATCH_TOKEN").empty()) return Env("DISPATCH_TOKEN");
    std::vector<std::string> files;
    if (!data_dir.empty()) files.push_back(data_dir + "/token");
    if (!Env("DISPATCH_DATA_DIR").empty()) files.push_back(Env("DISPATCH_DATA_DIR") + "/token");
    files.push_back(HomeDir() + "/.dispatch/token");
    for (const auto& f : files) {
      auto t = ReadFile(f);
      if (t.ok()) return std::string(common::Trim(*t));
    }
    return "";
  }
};

int Fail(const Status& st) {
  std::cerr << "Error: " << st.message() << std::endl;
  return 1;
}

int Fail(const std::string& message) {
  std::cerr << "Error: " << message << std::endl;
  return 1;
}

void PrintJson(const json& j) { std::cout << j.dump(4) << std::endl; }

// A Dispatch-style table: centred headers, '|' separators, a dashed rule.
void PrintTable(const std::vector<std::string>& headers,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(headers.size());
  for (size_t c = 0; c < headers.size(); ++c) width[c] = headers[c].size();
  for (const auto& row : rows) {
    for (size_t c = 0; c < headers.size() && c < row.size(); ++c) {
      width[c] = std::max(width[c], row[c].size());
    }
  }
  std::string line;
  size_t total = 0;
  for (size_t c = 0; c < headers.size(); ++c) {
    size_t w = width[c] + 2;
    size_t left = (w - headers[c].size()) / 2;
    line += std::string(left, ' ') + headers[c] + std::string(w - left - headers[c].size(), ' ');
    if (c + 1 < headers.size()) line += "|";
    total += w + 1;
  }
  std::cout << line << "\n" << std::string(total > 0 ? total - 1 : 0, '-') << "\n";
  for (const auto& row : rows) {
    line.clear();
    for (size_t c = 0; c < headers.size(); ++c) {
      std::string cell = c < row.size() ? row[c] : "";
      line += " " + cell + std::string(width[c] - cell.size() + 1, ' ');
      if (c + 1 < headers.size()) line += "|";
    }
    std::cout << line << "\n";
  }
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

std::optional<KindInfo> LookupKind(std::string name) {
  name = common::ToLower(name);
  std::erase(name, '-');
  std::erase(name, '_');
  if (common::EndsWith(name, "s")) name.pop_back();
  static const KindInfo kKinds[] = {
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
  for (const auto& k : kKinds) {
    std::string flat = k.kind;
    std::erase(flat, '-');
    if (name == flat) return k;
  }
  return std::nullopt;
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
              Str(e, "createdTime")},
             e);
    }
  } else if (kind.kind == "eventdrivertype") {
    headers = {"NAME", "IMAGE", "STATUS", "CREATED DATE"};
    for (const auto& e : list) {
      finish({Str(e, "name"), Str(e, "image"), Str(e, "status"), Str(e, "createdTime")}, e);
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
              Str(e, "createdTime")},
             e);
    }
  } else if (kind.kind == "image") {
    headers = {"NAME", "BASE IMAGE", "LANGUAGE", "STATUS", "CREATED DATE"};
    for (const auto& e : list) {
      finish({Str(e, "name"), Str(e, "baseImage"), Str(e, "language"), Str(e, "status"),
              Str(e, "createdTime")},
             e);
    }
  } else if (kind.kind == "function") {
    headers = {"NAME", "IMAGE", "STATUS", "SECRETS", "CREATED DATE"};
    for (const auto& e : list) {
      finish({Str(e, "name"), Str(e, "image"), Str(e, "status"), JoinList(e, "secrets"),
              Str(e, "createdTime")},
             e);
    }
  } else if (kind.kind == "subscription") {
    headers = {"NAME", "EVENT TYPE", "SOURCE TYPE", "FUNCTION", "STATUS", "CREATED DATE"};
    for (const auto& e : list) {
      finish({Str(e, "name"), Str(e, "eventType"), Str(e, "sourceType"), Str(e, "function"),
              Str(e, "status"), Str(e, "createdTime")},
             e);
    }
  }
  if (any_reason) headers.push_back("REASON");
  PrintTable(headers, rows);
}

void PrintRuns(const json& list) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : list) {
    std::string duration = r.contains("durationMs") ? Str(r, "durationMs") + " ms" : "";
    rows.push_back({Str(r, "id"), Str(r, "function"), Str(r, "status"),
                    Str(r, "attempts") + "/" + Str(r, "maxAttempts"), Str(r, "startedTime"),
                    duration});
  }
  PrintTable({"ID", "FUNCTION", "STATUS", "ATTEMPTS", "STARTED", "DURATION"}, rows);
}

void PrintEvents(const json& list) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : list) {
    const json& ev = e.contains("event") ? e["event"] : json::object();
    rows.push_back({Str(e, "seq"), Str(e, "eventID"), Str(ev, "eventType"), Str(ev, "sourceType"),
                    Str(e, "source"), Str(e, "receivedTime")});
  }
  PrintTable({"SEQ", "EVENT ID", "EVENT TYPE", "SOURCE TYPE", "SOURCE", "RECEIVED"}, rows);
}

// Polls the entity until READY or ERROR, printing each status change to stderr.
int WaitReady(ApiClient& client, const KindInfo& kind, const std::string& name) {
  std::string last;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(15);
  while (true) {
    auto e = client.Call("GET", "/v1/" + kind.collection + "/" + common::UriEncode(name));
    if (!e.ok()) return Fail(e.status());
    std::string status = Str(*e, "status");
    if (status != last) {
      std::cerr << "Waiting for " << kind.label << " " << name << ": " << status << std::endl;
      last = status;
    }
    if (status == store::kReady) return 0;
    if (status == store::kError) {
      return Fail(kind.label + " " + name + " is in ERROR: " + Reason(*e));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Fail("timed out waiting for " + kind.label + " " + name);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

int Create(const Globals& g, const KindInfo& kind, json body, bool wait) {
  http::CurlHttpClient http;
  ApiClient client(g.ServerUrl(), g.Token(), http, g.CaCert());
  auto created = client.Call("POST", "/v1/" + kind.collection, body);
  if (!created.ok()) return Fail(created.status());
  std::string name = Str(*created, "name");
  if (wait) {
    int rc = WaitReady(client, kind, name);
    if (rc != 0) return rc;
  }
  if (g.json) {
    PrintJson(*created);
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

}  // namespace

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
      return void(rc = Fail("say which runs: RUN_ID, --function, --since/--until or --all"));
    }
    http::CurlHttpClient http;
    ApiClient client(g.ServerUrl(), g.Token(), http, g.CaCert());
    auto r = client.Call("POST", "/v1/runs/redrive", body);
    if (!r.ok()) return void(rc = Fail(r.status()));
    if (g.json) return PrintJson(*r);
    std::cout << "Redriven " << r->value("redriven", 0) << " failed run(s)" << std::endl;
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
  std::string query = "status=failed&limit=1000";
  for (auto [key, text] : {std::pair{"since", &since}, std::pair{"until", &until}}) {
    if (text->empty()) continue;
    DAT_ASSIGN_OR_RETURN(int64_t ms, ParseTimeMs(*text, NowMs()));
    query += std::string("&") + key + "=" + std::to_string(ms);
  }
  return query;
}

int RunCli(int argc, char** argv) {
  CLI::App app{"dispatch: a single-node serverless runtime (server and CLI)", "dispatch"};
  app.require_subcommand(1);
  app.fallthrough();
  Globals g;
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
  app.add_flag("--json", g.json, "print JSON instead of tables and messages");

  int rc = 0;

  // ---- dispatch server ----
  ServerConfig sc;
  std::string log_level = "info";
  int64_t run_timeout_ms = 60'000, retry_backoff_ms = 500, idle_timeout_ms = 300'000;
  int64_t driver_grace_ms = 30'000, driver_backoff_ms = 1'000;
  std::string ingest_sync = "full";
  int64_t prune_interval_ms = 600'000, run_retention_hours = 168;
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
  server->add_option("--log-level", log_level, "trace|debug|info|warn|error|off")
      ->capture_default_str();
  server->add_option("--http-threads", sc.http_threads, "HTTP I/O threads")->capture_default_str();
  server
      ->add_option("--ingest-sync", ingest_sync,
                   "full: an acknowledged event is fsynced (survives a machine crash); normal: "
                   "it survives a crash of the server process only")
      ->check(CLI::IsMember({"full", "normal"}))
      ->capture_default_str();
  server
      ->add_option("--run-retention-hours", run_retention_hours,
                   "finished runs older than this are deleted")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  server
      ->add_option("--runs-kept", sc.runs_kept,
                   "finished runs kept per function; older ones beyond this are deleted")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  server
      ->add_option("--prune-interval-ms", prune_interval_ms,
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
  server->add_option("--run-timeout-ms", run_timeout_ms, "timeout of one attempt")
      ->capture_default_str();
  server
      ->add_option("--retry-backoff-ms", retry_backoff_ms,
                   "delay before the first retry; doubles per attempt (with jitter)")
      ->capture_default_str();
  int64_t retry_backoff_max_ms = 300'000;
  std::string max_event_age = "6h";
  server
      ->add_option("--retry-backoff-max-ms", retry_backoff_max_ms,
                   "longest delay between two attempts of a run (before jitter)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  server
      ->add_option("--max-event-age", max_event_age,
                   "retry a failing run for at most this long, e.g. 6h (unless the function "
                   "says); then it is kept as failed (`get runs --failed`, `redrive`)")
      ->capture_default_str();
  server
      ->add_option("--idle-timeout-ms", idle_timeout_ms,
                   "stop a function process idle for this long")
      ->capture_default_str();
  server
      ->add_option("--driver-grace-ms", driver_grace_ms,
                   "time a driver gets between SIGTERM and SIGKILL")
      ->capture_default_str();
  server
      ->add_option("--driver-backoff-ms", driver_backoff_ms,
                   "first delay before restarting a driver that died; doubles, at most 30 s")
      ->capture_default_str();
  server->add_option("--runtimes-dir", sc.runner.runtimes_dir,
                     "where runtimes/python3/function_server.py is (default: found next to the "
                     "binary or in the source tree)");
  server->add_option("--python", sc.builder.python, "python interpreter for python3 images")
      ->capture_default_str();
  server->callback([&] {
    common::InitLogging({"dispatch", log_level, false});
    sc.data_dir = g.DataDir();
    sc.fsync_events = ingest_sync == "full";
    sc.prune_interval = std::chrono::milliseconds(prune_interval_ms);
    sc.run_retention = std::chrono::hours(run_retention_hours);
    sc.runner.default_timeout = std::chrono::milliseconds(run_timeout_ms);
    sc.runner.retry_backoff = std::chrono::milliseconds(retry_backoff_ms);
    sc.runner.retry_backoff_max = std::chrono::milliseconds(retry_backoff_max_ms);
    auto age = ParseDurationSeconds(max_event_age);
    if (!age.ok()) return void(rc = Fail(age.status()));
    sc.runner.default_max_event_age = std::chrono::seconds(*age);
    sc.runner.idle_timeout = std::chrono::milliseconds(idle_timeout_ms);
    sc.supervisor.grace = std::chrono::milliseconds(driver_grace_ms);
    sc.supervisor.backoff_initial = std::chrono::milliseconds(driver_backoff_ms);
    rc = RunServer(sc);
  });

  // ---- dispatch create … ----
  auto* create = app.add_subcommand("create", "create a resource");
  create->require_subcommand(1);
  bool wait = false;
  auto add_wait = [&](CLI::App* cmd) {
    cmd->add_flag("--wait", wait, "wait (showing progress) until the resource is READY or ERROR");
  };
  std::vector<std::string> tags;
  auto add_tags = [&](CLI::App* cmd) {
    cmd->add_option("--tag", tags, "a tag KEY=VALUE (repeatable)")->expected(1)->take_all();
  };
  auto tags_json = [&]() -> Result<json> {
    json out = json::object();
    for (const auto& t : tags) {
      size_t eq = t.find('=');
      if (eq == std::string::npos || eq == 0) {
        return common::InvalidArgument("--tag must be KEY=VALUE: " + t);
      }
      out[t.substr(0, eq)] = t.substr(eq + 1);
    }
    return out;
  };
  std::string name, file, image, type, language, base, runtime_deps, handler, event_type,
      source_type, filter;
  std::vector<std::string> secrets, sets;
  int64_t timeout_ms = 0, max_attempts = 0, instances = 0;

  auto* c_secret = create->add_subcommand("secret", "create a secret from a JSON file of strings");
  c_secret->add_option("NAME", name, "secret name")->required();
  c_secret->add_option("FILE", file, "JSON file: an object of string values")->required();
  add_tags(c_secret);
  c_secret->callback([&] {
    auto text = ReadFile(file);
    if (!text.ok()) return void(rc = Fail(text.status()));
    auto content = ParseJsonArg("secret file " + file, *text);
    if (!content.ok()) return void(rc = Fail(content.status()));
    auto t = tags_json();
    if (!t.ok()) return void(rc = Fail(t.status()));
    rc = Create(g, *LookupKind("secret"), {{"name", name}, {"secrets", *content}, {"tags", *t}},
                false);
  });

  auto* c_type = create->add_subcommand("eventdrivertype", "create an event driver type");
  c_type->add_option("NAME", name, "driver type name")->required();
  c_type
      ->add_option("IMAGE", image,
                   "driver image, e.g. dispatch-events-aws:latest (runs the native executable "
                   "dispatch-events-aws found next to dispatch or on PATH), or a path")
      ->required();
  add_tags(c_type);
  c_type->callback([&] {
    auto t = tags_json();
    if (!t.ok()) return void(rc = Fail(t.status()));
    rc = Create(g, *LookupKind("eventdrivertype"), {{"name", name}, {"image", image}, {"tags", *t}},
                false);
  });

  auto* c_driver = create->add_subcommand("eventdriver", "create (and start) an event driver");
  c_driver->add_option("TYPE", type, "event driver type")->required();
  c_driver->add_option("--name", name, "driver name (default: a random readable name)");
  c_driver
      ->add_option("--secret", secrets,
                   "secret whose keys become the driver's environment, upper-cased "
                   "(repeatable)")
      ->expected(1)
      ->take_all();
  c_driver
      ->add_option("--set", sets,
                   "driver option: key=value becomes --key=value, a bare key becomes --key "
                   "(repeatable)")
      ->expected(1)
      ->take_all();
  add_wait(c_driver);
  add_tags(c_driver);
  c_driver->callback([&] {
    json config = json::array();
    for (const auto& s : sets) {
      size_t eq = s.find('=');
      std::string key = s.substr(0, eq);
      if (key.empty()) return void(rc = Fail("--set needs a key: " + s));
      config.push_back({{"key", key}, {"value", eq == std::string::npos ? "" : s.substr(eq + 1)}});
    }
    auto t = tags_json();
    if (!t.ok()) return void(rc = Fail(t.status()));
    json body = {{"type", type}, {"secrets", secrets}, {"config", config}, {"tags", *t}};
    if (!name.empty()) body["name"] = name;
    rc = Create(g, *LookupKind("eventdriver"), body, wait);
  });

  auto* c_base = create->add_subcommand("base-image", "create a base image (a language runtime)");
  c_base->alias("baseimage");
  c_base->add_option("NAME", name, "base image name")->required();
  c_base->add_option("IMAGE", image, "image reference (recorded; runtimes are native here)")
      ->required();
  c_base->add_option("--language", language, "python3, nodejs or native")->required();
  add_wait(c_base);
  add_tags(c_base);
  c_base->callback([&] {
    auto t = tags_json();
    if (!t.ok()) return void(rc = Fail(t.status()));
    rc = Create(g, *LookupKind("base-image"),
                {{"name", name}, {"image", image}, {"language", language}, {"tags", *t}}, wait);
  });

  auto* c_image =
      create->add_subcommand("image", "create an image: a base image plus dependencies");
  c_image->add_option("NAME", name, "image name")->required();
  c_image->add_option("BASE", base, "base image")->required();
  c_image->add_option("--runtime-deps", runtime_deps,
                      "dependencies file (python3: requirements.txt, installed with pip into a "
                      "per-image virtual environment)");
  add_wait(c_image);
  add_tags(c_image);
  c_image->callback([&] {
    std::string deps;
    if (!runtime_deps.empty()) {
      auto text = ReadFile(runtime_deps);
      if (!text.ok()) return void(rc = Fail(text.status()));
      deps = *text;
    }
    auto t = tags_json();
    if (!t.ok()) return void(rc = Fail(t.status()));
    rc = Create(g, *LookupKind("image"),
                {{"name", name}, {"baseImage", base}, {"runtimeDependencies", deps}, {"tags", *t}},
                wait);
  });

  auto* c_function = create->add_subcommand("function", "create a function from a file");
  c_function->add_option("NAME", name, "function name")->required();
  c_function
      ->add_option("FILE", file,
                   "the code: a .py file with handle(context, payload) for python3, an "
                   "executable speaking the function protocol for native")
      ->required();
  c_function->add_option("--image", image, "image to run the function in")->required();
  c_function->add_option("--handler", handler, "python3: the function to call (default handle)");
  c_function
      ->add_option("--secret", secrets, "secret passed in context.secrets.<name> (repeatable)")
      ->expected(1)
      ->take_all();
  c_function->add_option("--timeout-ms", timeout_ms, "timeout of one run attempt");
  c_function->add_option("--max-attempts", max_attempts, "attempts before a run is kept failed");
  c_function->add_option("--instances", instances, "warm processes at most");
  std::string fn_max_event_age;
  c_function->add_option("--max-event-age", fn_max_event_age,
                         "retry a failing run for at most this long, e.g. 6h (default 6h)");
  add_wait(c_function);
  add_tags(c_function);
  c_function->callback([&] {
    auto code = ReadFile(file);
    if (!code.ok()) return void(rc = Fail(code.status()));
    auto t = tags_json();
    if (!t.ok()) return void(rc = Fail(t.status()));
    json body = {{"name", name},
                 {"image", image},
                 {"secrets", secrets},
                 {"file", std::filesystem::path(file).filename().string()},
                 {"code", common::Base64Encode(*code)},
                 {"tags", *t}};
    if (!handler.empty()) body["handler"] = handler;
    if (timeout_ms > 0) body["timeout"] = timeout_ms;
    if (max_attempts > 0) body["maxAttempts"] = max_attempts;
    if (instances > 0) body["instances"] = instances;
    if (!fn_max_event_age.empty()) {
      auto seconds = ParseDurationSeconds(fn_max_event_age);
      if (!seconds.ok()) return void(rc = Fail(seconds.status()));
      body["maxEventAgeSeconds"] = *seconds;
    }
    rc = Create(g, *LookupKind("function"), body, wait);
  });

  auto* c_sub = create->add_subcommand("subscription", "subscribe a function to events");
  std::string function;
  c_sub->add_option("FUNCTION", function, "function to run")->required();
  c_sub->add_option("--event-type", event_type, "event type to match, e.g. aws.s3")->required();
  c_sub->add_option("--source-type", source_type, "source type to match, e.g. aws (default any)");
  c_sub->add_option("--name", name, "subscription name (default: a random readable name)");
  c_sub->add_option("--filter", filter,
                    "EventBridge-style JSON pattern the event (Dispatch CloudEvents 0.1 JSON) "
                    "must also match, e.g. '{\"data\":{\"detail\":{\"object\":{\"key\":"
                    "[{\"prefix\":\"images/\"}]}}}}'");
  add_tags(c_sub);
  c_sub->callback([&] {
    json body = {{"function", function}, {"eventType", event_type}, {"sourceType", source_type}};
    if (!name.empty()) body["name"] = name;
    if (!filter.empty()) {
      auto pattern = ParseJsonArg("--filter", filter);
      if (!pattern.ok()) return void(rc = Fail(pattern.status()));
      body["filter"] = *pattern;
    }
    auto t = tags_json();
    if (!t.ok()) return void(rc = Fail(t.status()));
    body["tags"] = *t;
    rc = Create(g, *LookupKind("subscription"), body, false);
  });

  // ---- dispatch get KIND [NAME] ----
  auto* get = app.add_subcommand("get", "list resources, or show one");
  std::string kind_name;
  bool show_values = false;
  get->add_option("KIND", kind_name,
                  "secret(s), eventdrivertype(s), eventdriver(s), base-image(s), image(s), "
                  "function(s), subscription(s), run(s), event(s)")
      ->required();
  get->add_option("NAME", name,
                  "name to show; for `get runs` a function whose runs to list, for `get run` a "
                  "run id, for `get event` an event seq");
  get->add_flag("--show-values", show_values, "show secret values (get secret NAME)");
  bool failed_runs = false;
  std::string runs_since, runs_until;
  get->add_flag("--failed", failed_runs,
                "get runs: the failed runs (the dead-letter list `dispatch redrive` takes from)");
  get->add_option("--since", runs_since, "get runs --failed: created at or after (ISO-8601, 2h)");
  get->add_option("--until", runs_until, "get runs --failed: created before (ISO-8601, 2h)");
  get->callback([&] {
    auto kind = LookupKind(kind_name);
    if (!kind) return void(rc = Fail("unknown kind " + kind_name));
    http::CurlHttpClient http;
    ApiClient client(g.ServerUrl(), g.Token(), http, g.CaCert());
    bool plural = common::EndsWith(common::ToLower(kind_name), "s");
    if (kind->kind == "run") {
      std::string path = "/v1/runs";
      bool single = !name.empty() && !plural;
      if (single) {
        path += "/" + common::UriEncode(name);
      } else if (!name.empty()) {
        path += "?function=" + common::UriEncode(name);
      }
      auto failed_query = FailedRunsQuery(failed_runs, runs_since, runs_until);
      if (!failed_query.ok()) return void(rc = Fail(failed_query.status()));
      if (!single && !failed_query->empty()) {
        path += (name.empty() ? "?" : "&") + *failed_query;
      }
      auto r = client.Call("GET", path);
      if (!r.ok()) return void(rc = Fail(r.status()));
      if (g.json) return PrintJson(*r);
      if (!single) return PrintRuns(*r);
      PrintRuns(json::array({*r}));
      if (!r->value("output", json()).is_null())
        std::cout << "OUTPUT: " << (*r)["output"].dump() << "\n";
      if (!r->value("error", json()).is_null())
        std::cout << "ERROR: " << (*r)["error"].dump() << "\n";
      std::string logs = Str(*r, "logs");
      if (!logs.empty())
        std::cout << "LOGS:\n" << logs << (common::EndsWith(logs, "\n") ? "" : "\n");
      return;
    }
    if (kind->kind == "event") {
      std::string path = "/v1/events" + (name.empty() ? "" : "/" + common::UriEncode(name));
      auto r = client.Call("GET", path);
      if (!r.ok()) return void(rc = Fail(r.status()));
      if (g.json) return PrintJson(*r);
      return PrintEvents(name.empty() ? *r : json::array({*r}));
    }
    std::string path = "/v1/" + kind->collection;
    if (!name.empty()) {
      path += "/" + common::UriEncode(name);
      if (show_values) path += "?showValues=true";
    }
    auto r = client.Call("GET", path);
    if (!r.ok()) return void(rc = Fail(r.status()));
    if (g.json) return PrintJson(*r);
    PrintEntities(*kind, name.empty() ? *r : json::array({*r}), show_values);
  });

  // ---- dispatch delete KIND NAME ----
  auto* del = app.add_subcommand("delete", "delete a resource");
  del->add_option("KIND", kind_name, "kind of resource (as for get)")->required();
  del->add_option("NAME", name, "its name")->required();
  del->callback([&] {
    auto kind = LookupKind(kind_name);
    if (!kind || kind->kind == "run" || kind->kind == "event") {
      return void(rc = Fail("cannot delete a " + kind_name));
    }
    http::CurlHttpClient http;
    ApiClient client(g.ServerUrl(), g.Token(), http, g.CaCert());
    auto r = client.Call("DELETE", "/v1/" + kind->collection + "/" + common::UriEncode(name));
    if (!r.ok()) return void(rc = Fail(r.status()));
    if (g.json) return PrintJson(*r);
    std::cout << "Deleted " << kind->label << ": " << name << std::endl;
  });

  // ---- dispatch emit TYPE --data JSON ----
  auto* emit = app.add_subcommand("emit", "send an event to the server");
  std::string data = "null", source = "dispatch-cli", event_id;
  emit->add_option("TYPE", event_type, "event type")->required();
  emit->add_option("--data", data, "event data (JSON)")->capture_default_str();
  emit->add_option("--source-type", source_type, "source type (default dispatch)");
  emit->add_option("--source", source, "event source (deduplication scope)")->capture_default_str();
  emit->add_option("--id", event_id, "event id (default: a new UUID)");
  emit->callback([&] {
    auto payload = ParseJsonArg("--data", data);
    if (!payload.ok()) return void(rc = Fail(payload.status()));
    json ev = {{"eventType", event_type},
               {"eventTypeVersion", "0.1"},
               {"cloudEventsVersion", "0.1"},
               {"source", source},
               {"sourceType", source_type.empty() ? "dispatch" : source_type},
               {"sourceID", source},
               {"eventID", event_id.empty() ? common::NewUuid() : event_id},
               {"eventTime", common::FormatIso8601Millis(std::chrono::system_clock::now())},
               {"contentType", "application/json"},
               {"extensions", json::object()},
               {"data", *payload}};
    http::CurlHttpClient http;
    ApiClient client(g.ServerUrl(), g.Token(), http, g.CaCert());
    auto r = client.Call("POST", "/v1/event/", ev);
    if (!r.ok()) return void(rc = Fail(r.status()));
    if (g.json) return PrintJson(*r);
    bool dup = r->value("duplicates", 0) > 0;
    std::cout << (dup ? "Duplicate event (already received): " : "Emitted event: ")
              << Str(ev, "eventID") << std::endl;
  });

  // ---- dispatch exec FUNCTION --input JSON [--wait] ----
  auto* exec = app.add_subcommand("exec", "run a function directly");
  std::string input = "null";
  bool exec_wait = false;
  exec->add_option("FUNCTION", function, "function to run")->required();
  exec->add_option("--input", input, "the payload (JSON)")->capture_default_str();
  exec->add_flag("--wait", exec_wait, "wait for the run to finish and print its result");
  exec->callback([&] {
    auto payload = ParseJsonArg("--input", input);
    if (!payload.ok()) return void(rc = Fail(payload.status()));
    http::CurlHttpClient http;
    ApiClient client(g.ServerUrl(), g.Token(), http, g.CaCert());
    auto r = client.Call("POST", "/v1/runs",
                         json{{"function", function}, {"input", *payload}, {"wait", exec_wait}},
                         std::chrono::minutes(30));
    if (!r.ok()) return void(rc = Fail(r.status()));
    PrintJson(*r);
    if (exec_wait && Str(*r, "status") == "failed") rc = 1;
  });

  // ---- dispatch logs eventdriver|function NAME ----
  auto* logs = app.add_subcommand("logs", "show the output of an event driver or a function");
  logs->add_option("KIND", kind_name, "eventdriver or function")->required();
  logs->add_option("NAME", name, "its name")->required();
  logs->callback([&] {
    auto kind = LookupKind(kind_name);
    if (!kind || (kind->kind != "eventdriver" && kind->kind != "function")) {
      return void(rc = Fail("logs are kept for eventdriver and function, not " + kind_name));
    }
    http::CurlHttpClient http;
    ApiClient client(g.ServerUrl(), g.Token(), http, g.CaCert());
    auto r = client.GetText("/v1/" + kind->collection + "/" + common::UriEncode(name) + "/logs");
    if (!r.ok()) return void(rc = Fail(r.status()));
    std::cout << *r;
    std::cout.flush();
  });

  AddRedriveCommand(app, g, rc);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return rc;
}

}  // namespace dispatch
