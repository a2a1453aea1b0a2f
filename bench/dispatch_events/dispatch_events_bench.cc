// Benchmark of `dispatch server`: durable event ingest through to completed function runs.
//
//   dispatch_events_bench [--events N] [--concurrency C] [--rate R] [--seconds S]
//                         [--server-arg ARG]...   (e.g. --server-arg --ingest-sync=normal)
//
// Starts a server (temporary data dir, port 0) and a trivial native function subscribed to
// the event type, then measures
//   1. throughput: N events POSTed one per request by C client threads as fast as they are
//      acknowledged (each ack = committed to SQLite, fsynced unless the server runs with
//      --ingest-sync=normal); events/s of ingest and of ingest → completed run (all N runs
//      recorded as succeeded);
//   2. latency at a steady R events/s for S seconds: ack round trip and ingest-to-function-
//      start (the function's own clock at entry minus the sender's clock before the POST),
//      p50 / p99, with warm function processes.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto.h"
#include "common/strings.h"
#include "common/subprocess.h"
#include "http/client.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::milliseconds;

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}

struct Bench {
  std::string url, token;
  http::CurlHttpClient client;

  common::Result<http::Response> Call(const std::string& method, const std::string& path,
                                      const std::string& body = "") {
    http::ClientRequest req;
    req.method = method;
    req.url = url + path;
    req.body = body;
    req.headers.Set("Authorization", "Bearer " + token);
    if (!body.empty()) req.headers.Set("Content-Type", "application/json");
    return client.Send(req);
  }

  bool Must(const std::string& method, const std::string& path, const json& body) {
    auto r = Call(method, path, body.dump());
    if (!r.ok() || r->status >= 300) {
      std::fprintf(stderr, "%s %s failed: %s\n", method.c_str(), path.c_str(),
                   r.ok() ? r->body.c_str() : r.status().ToString().c_str());
      return false;
    }
    return true;
  }

  json Stats(const std::string& function) {
    auto r = Call("GET", "/v1/runs/stats?function=" + function);
    return r.ok() ? json::parse(r->body, nullptr, false) : json();
  }

  bool WaitDone(const std::string& function, int64_t n, int timeout_s) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (std::chrono::steady_clock::now() < deadline) {
      json s = Stats(function);
      if (s.is_object() && s.value("succeeded", 0) + s.value("failed", 0) >= n) return true;
      std::this_thread::sleep_for(milliseconds(5));
    }
    return false;
  }

  static json Event(const std::string& type, int64_t i, int64_t sent_us) {
    return {{"eventType", type},
            {"eventTypeVersion", "0.1"},
            {"cloudEventsVersion", "0.1"},
            {"sourceType", "bench"},
            {"sourceID", "bench"},
            {"source", "bench"},
            {"eventID", common::NewUuid()},
            {"contentType", "application/json"},
            {"data", {{"n", i}, {"sentUs", sent_us}}}};
  }
};

}  // namespace

int main(int argc, char** argv) {
  int64_t events = 4000;
  int concurrency = 16;
  int rate = 500;
  int seconds = 4;
  std::vector<std::string> server_args;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--events") events = std::atoll(argv[i + 1]);
    if (a == "--concurrency") concurrency = std::atoi(argv[i + 1]);
    if (a == "--rate") rate = std::atoi(argv[i + 1]);
    if (a == "--seconds") seconds = std::atoi(argv[i + 1]);
    if (a == "--server-arg") server_args.push_back(argv[i + 1]);
  }
  std::string bin = DAT_BIN_DIR;
  fs::path dir = fs::temp_directory_path() / ("dispatch_bench_" + common::NewUuid());
  fs::create_directories(dir);

  common::SpawnOptions so;
  so.argv = {bin + "/dispatch", "server",      "--data-dir", (dir / "data").string(), "--listen",
             "127.0.0.1:0",     "--log-level", "warn",       "--function-instances",  "4"};
  for (const std::string& arg : server_args) so.argv.push_back(arg);
  so.stdout_to = "pipe";
  so.stderr_to = (dir / "server.log").string();
  auto server = common::Process::Spawn(so);
  if (!server.ok()) {
    std::fprintf(stderr, "cannot start dispatch: %s\n", server.status().ToString().c_str());
    return 1;
  }
  auto url = common::WaitForListening(*server, milliseconds(30000));
  if (!url.ok()) return 1;
  Bench b;
  b.url = *url;
  {
    std::FILE* f = std::fopen((dir / "data" / "token").c_str(), "r");
    char buf[256] = {0};
    if (f && std::fgets(buf, sizeof buf, f)) b.token = std::string(common::Trim(buf));
    if (f) std::fclose(f);
  }
  std::string code;
  {
    std::FILE* f = std::fopen((bin + "/dispatch_test_function").c_str(), "rb");
    char buf[65536];
    size_t n;
    while (f && (n = std::fread(buf, 1, sizeof buf, f)) > 0) code.append(buf, n);
    if (f) std::fclose(f);
  }
  bool ok = b.Must("POST", "/v1/baseimages",
                   {{"name", "native"}, {"image", "x"}, {"language", "native"}});
  std::this_thread::sleep_for(milliseconds(700));
  ok = ok && b.Must("POST", "/v1/images", {{"name", "native"}, {"baseImage", "native"}});
  std::this_thread::sleep_for(milliseconds(700));
  for (const char* fn : {"tput", "lat"}) {
    ok = ok && b.Must("POST", "/v1/functions",
                      {{"name", fn},
                       {"image", "native"},
                       {"file", "fn"},
                       {"code", common::Base64Encode(code)}});
    ok = ok && b.Must("POST", "/v1/subscriptions",
                      {{"name", std::string(fn) + "-sub"},
                       {"function", fn},
                       {"eventType", std::string("bench.") + fn}});
  }
  std::this_thread::sleep_for(milliseconds(1500));
  // Warm both functions' processes.
  for (const char* fn : {"tput", "lat"}) {
    for (int i = 0; i < 8; ++i) {
      ok =
          ok && b.Must("POST", "/v1/event/", Bench::Event(std::string("bench.") + fn, -1, NowUs()));
    }
    ok = ok && b.WaitDone(fn, 8, 60);
  }
  if (!ok) {
    server->Terminate();
    return 1;
  }

  // 1. Throughput.
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> errors{0};
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < concurrency; ++c) {
    threads.emplace_back([&] {
      http::CurlHttpClient client;
      while (true) {
        int64_t i = next.fetch_add(1);
        if (i >= events) break;
        http::ClientRequest req;
        req.method = "POST";
        req.url = b.url + "/v1/event/";
        req.headers.Set("Authorization", "Bearer " + b.token);
        req.headers.Set("Content-Type", "application/json");
        req.body = Bench::Event("bench.tput", i, NowUs()).dump();
        auto r = client.Send(req);
        if (!r.ok() || r->status != 200) errors++;
      }
    });
  }
  for (auto& t : threads) t.join();
  auto t_acked = std::chrono::steady_clock::now();
  bool done = b.WaitDone("tput", events + 8, 300);
  auto t_done = std::chrono::steady_clock::now();
  double ack_s = std::chrono::duration<double>(t_acked - t0).count();
  double done_s = std::chrono::duration<double>(t_done - t0).count();
  std::printf("throughput: %lld events, %d client threads, %lld errors%s\n",
              static_cast<long long>(events), concurrency, static_cast<long long>(errors.load()),
              done ? "" : " (NOT all runs completed)");
  std::printf("  durable ingest (all acked):        %8.0f events/s\n", events / ack_s);
  std::printf("  ingest -> completed run (all done): %8.0f events/s\n", events / done_s);

  // 2. Latency at a steady rate.
  int64_t total = static_cast<int64_t>(rate) * seconds;
  std::vector<double> ack_ms(static_cast<size_t>(total));
  int pacers = 4;
  std::vector<std::thread> senders;
  auto start = std::chrono::steady_clock::now();
  for (int p = 0; p < pacers; ++p) {
    senders.emplace_back([&, p] {
      http::CurlHttpClient client;
      for (int64_t i = p; i < total; i += pacers) {
        auto due = start + std::chrono::microseconds(i * 1'000'000 / rate);
        std::this_thread::sleep_until(due);
        http::ClientRequest req;
        req.method = "POST";
        req.url = b.url + "/v1/event/";
        req.headers.Set("Authorization", "Bearer " + b.token);
        req.headers.Set("Content-Type", "application/json");
        int64_t sent = NowUs();
        req.body = Bench::Event("bench.lat", i, sent).dump();
        auto r = client.Send(req);
        ack_ms[static_cast<size_t>(i)] = (NowUs() - sent) / 1000.0;
        if (!r.ok() || r->status != 200) errors++;
      }
    });
  }
  for (auto& t : senders) t.join();
  b.WaitDone("lat", total + 8, 120);
  auto runs = b.Call("GET", "/v1/runs?function=lat&limit=" + std::to_string(total + 8));
  std::vector<double> start_ms;
  if (runs.ok()) {
    json list = json::parse(runs->body, nullptr, false);
    for (const auto& r : list) {
      const json& out = r.value("output", json());
      const json& in = r.value("input", json());
      if (!out.is_object() || !in.is_object() || in.value("n", -1) < 0) continue;
      start_ms.push_back((out.value("startUnixUs", int64_t{0}) - in.value("sentUs", int64_t{0})) /
                         1000.0);
    }
  }
  std::printf("steady rate: %d events/s for %d s (%zu runs measured)\n", rate, seconds,
              start_ms.size());
  std::printf("  ack (durable commit) round trip:  p50 %6.2f ms  p99 %6.2f ms\n",
              Percentile(ack_ms, 0.5), Percentile(ack_ms, 0.99));
  std::printf("  ingest -> function start:         p50 %6.2f ms  p99 %6.2f ms\n",
              Percentile(start_ms, 0.5), Percentile(start_ms, 0.99));

  server->Terminate(milliseconds(10000));
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}
