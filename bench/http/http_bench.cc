// Keep-alive request throughput of HttpServer + CurlHttpClient over loopback. Each
// benchmark thread reuses its own connection (the client keeps one handle per thread).
#include <benchmark/benchmark.h>

#include <memory>
#include <mutex>

#include "http/client.h"
#include "http/server.h"

namespace {

// One server for the whole run, started on first use.
http::HttpServer& Server() {
  static std::once_flag once;
  static std::unique_ptr<http::HttpServer> server;
  std::call_once(once, [] {
    http::ServerOptions options;
    options.threads = 2;
    server = std::make_unique<http::HttpServer>(
        options, [](http::Request&& request, http::Respond respond) {
          respond(http::Response::Text(200, request.method == "PUT" ? "stored" : "hello, world"));
        });
    if (!server->Start().ok()) std::abort();
  });
  return *server;
}

void RunRequests(benchmark::State& state, const std::string& method, size_t body_size) {
  http::CurlHttpClient& client = *[] {
    static auto* c = new http::CurlHttpClient();
    return c;
  }();
  http::ClientRequest request;
  request.method = method;
  request.url = "http://127.0.0.1:" + std::to_string(Server().port()) + "/bench";
  request.body.assign(body_size, 'b');
  for (auto _ : state) {
    auto response = client.Send(request);
    if (!response.ok() || response->status != 200) {
      state.SkipWithError("request failed");
      break;
    }
    benchmark::DoNotOptimize(response->body.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body_size));
}

void BM_KeepAliveGet(benchmark::State& state) { RunRequests(state, "GET", 0); }
BENCHMARK(BM_KeepAliveGet)->UseRealTime()->Threads(1)->Threads(4);

void BM_KeepAlivePut64KiB(benchmark::State& state) { RunRequests(state, "PUT", 64 << 10); }
BENCHMARK(BM_KeepAlivePut64KiB)->UseRealTime();

}  // namespace
