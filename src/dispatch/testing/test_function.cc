// A tiny native function speaking the Dispatch function protocol, for the dispatch tests and
// benchmark. Serves GET /healthz and POST / on $PORT (0: a free port, reported on the line
// "listening on http://127.0.0.1:PORT" as the dispatch server expects). What it does is steered
// by the payload:
//   {"fail": N, "counter": "/path"}  FunctionError (500) for the first N calls (counted in
//                                    the file), then success; with "retryable": true the error
//                                    says so (a dependency is down), with "retry_after_ms": M
//                                    it asks for that wait
//   {"crash": true}                  exits at once (the process dies mid-run)
//   {"input_error": true}            InputError (400)
//   {"sleep_ms": N}                  sleeps first
//   {"say": "text"}                  prints text on stdout (the run's logs)
// It answers {"payload", "eventType", "secrets": {name: {key: value length}}, "startUnixUs"}.
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "http/server.h"

namespace {

using nlohmann::json;

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

http::Response Error(int status, const char* type, const std::string& message) {
  json body = {{"type", type}, {"message", message}, {"stacktrace", json::array()}};
  return http::Response::Json(status, body.dump());
}

http::Response Handle(const http::Request& req) {
  int64_t start = NowUs();
  json body = json::parse(req.body, nullptr, false);
  if (!body.is_object()) return Error(400, "InputError", "body is not a JSON object");
  json payload = body.value("payload", json());
  json context = body.value("context", json::object());
  if (payload.is_object()) {
    if (payload.contains("say")) {
      std::cout << payload["say"].get<std::string>() << std::endl;
    }
    if (payload.contains("sleep_ms")) {
      std::this_thread::sleep_for(std::chrono::milliseconds(payload["sleep_ms"].get<int>()));
    }
    if (payload.value("crash", false)) std::_Exit(3);
    if (payload.value("input_error", false)) return Error(400, "InputError", "bad input");
    if (payload.contains("fail")) {
      std::string path = payload.value("counter", "");
      int count = 0;
      {
        std::ifstream in(path);
        in >> count;
      }
      ++count;
      {
        std::ofstream out(path, std::ios::trunc);
        out << count;
      }
      if (count <= payload["fail"].get<int>()) {
        json error = {{"type", "FunctionError"},
                      {"message", "failing on purpose, call " + std::to_string(count)},
                      {"stacktrace", json::array()}};
        if (payload.value("retryable", false)) error["retryable"] = true;
        if (payload.contains("retry_after_ms")) error["retry_after_ms"] = payload["retry_after_ms"];
        return http::Response::Json(500, error.dump());
      }
    }
  }
  json secrets = json::object();
  const json given = context.value("secrets", json::object());
  for (auto& [name, kv] : given.items()) {
    for (auto& [k, v] : kv.items()) {
      secrets[name][k] = v.is_string() ? v.get<std::string>().size() : 0;
    }
  }
  json out = {{"payload", payload},
              {"secrets", secrets},
              {"startUnixUs", start},
              {"pid", static_cast<int>(getpid())}};
  if (context.contains("event") && context["event"].is_object()) {
    out["eventType"] = context["event"].value("eventType", "");
    out["eventID"] = context["event"].value("eventID", "");
  }
  return http::Response::Json(200, out.dump());
}

}  // namespace

int main() {
  const char* port = std::getenv("PORT");
  http::ServerOptions options;
  options.port = static_cast<uint16_t>(port ? std::atoi(port) : 0);
  options.threads = 4;
  http::HttpServer server(options, [](http::Request&& req, http::Respond respond) {
    if (req.method == "GET" && req.path() == "/healthz") {
      respond(http::Response::Json(200, "{}"));
      return;
    }
    if (req.method == "POST" && req.path() == "/") {
      respond(Handle(req));
      return;
    }
    respond(http::Response::Json(404, "{}"));
  });
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  if (!server.Start().ok()) return 1;
  std::printf("listening on http://127.0.0.1:%u\n", static_cast<unsigned>(server.port()));
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  server.Stop(std::chrono::milliseconds(1000));
  return 0;
}
