// Benchmark of localcloud's SQS over loopback: startup time, idle RSS, and send+receive+
// delete throughput in batches of 10 over the JSON 1.0 protocol (CurlHttpClient, SigV4
// signed), with localcloud's CPU time per message read from /proc.
//
//   localcloud_sqs_bench [--localcloud PATH] [--seconds N] [--clients N]
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "aws/sigv4.h"
#include "common/subprocess.h"
#include "http/client.h"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

// utime + stime of a process, in seconds.
double CpuSeconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(f, line);
  std::istringstream in(line.substr(line.rfind(')') + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15; ++i) {
    in >> field;
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long RssKiB(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

class Client {
 public:
  explicit Client(std::string endpoint) : endpoint_(std::move(endpoint)) {}
  json Call(const std::string& op, const json& input) {
    http::ClientRequest req;
    req.method = "POST";
    req.url = endpoint_ + "/";
    req.body = input.dump();
    req.headers.Set("Content-Type", "application/x-amz-json-1.0");
    req.headers.Set("X-Amz-Target", "AmazonSQS." + op);
    aws::Credentials creds{"test", "test", "", std::nullopt};
    auto params =
        aws::SigningParams::ForService(creds, "us-west-2", "sqs", std::chrono::system_clock::now());
    if (!aws::SignClientRequest(req, params).ok()) return nullptr;
    auto resp = http::DefaultHttpClient().Send(req);
    if (!resp.ok() || resp->status != 200) {
      std::fprintf(stderr, "%s failed: %s\n", op.c_str(),
                   resp.ok() ? resp->body.c_str() : resp.status().ToString().c_str());
      return nullptr;
    }
    return json::parse(resp->body, nullptr, false);
  }

 private:
  std::string endpoint_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string binary = std::string(DAT_BIN_DIR) + "/localcloud";
  int seconds = 5, clients = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--localcloud"))
      binary = argv[i + 1];
    else if (!std::strcmp(argv[i], "--seconds"))
      seconds = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--clients"))
      clients = std::atoi(argv[i + 1]);
  }

  // Startup: spawn to "listening on" line, best of 5.
  double best_startup_ms = 1e9;
  for (int i = 0; i < 5; ++i) {
    common::SpawnOptions o;
    o.argv = {binary, "--port", "0", "--log-level", "warn"};
    o.stdout_to = "pipe";
    auto start = Clock::now();
    auto p = common::Process::Spawn(o);
    if (!p.ok()) {
      std::fprintf(stderr, "cannot start %s: %s\n", binary.c_str(), p.status().ToString().c_str());
      return 1;
    }
    auto url = common::WaitForListening(*p, std::chrono::seconds(10));
    if (!url.ok()) return 1;
    best_startup_ms = std::min(
        best_startup_ms, std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    p->Terminate();
  }

  common::SpawnOptions o;
  o.argv = {binary, "--port", "0", "--log-level", "warn"};
  o.stdout_to = "pipe";
  auto process = common::Process::Spawn(o);
  auto url = common::WaitForListening(*process, std::chrono::seconds(10));
  if (!url.ok()) return 1;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  long idle_rss = RssKiB(process->pid());

  Client setup(*url);
  json created = setup.Call("CreateQueue", {{"QueueName", "bench"}});
  std::string queue = created["QueueUrl"];

  std::atomic<long> messages{0};
  std::atomic<bool> stop{false}, failed{false};
  double cpu_before = CpuSeconds(process->pid());
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      Client client(*url);
      json send = {{"QueueUrl", queue}, {"Entries", json::array()}};
      for (int i = 0; i < 10; ++i) {
        send["Entries"].push_back({{"Id", "m" + std::to_string(i)},
                                   {"MessageBody", "benchmark message " + std::to_string(c) +
                                                       " payload of a typical S3 event size"}});
      }
      json receive = {{"QueueUrl", queue}, {"MaxNumberOfMessages", 10}};
      while (!stop) {
        json sent = client.Call("SendMessageBatch", send);
        json got = client.Call("ReceiveMessage", receive);
        if (sent.is_null() || got.is_null()) {
          failed = true;
          return;
        }
        if (!got.contains("Messages")) continue;
        json del = {{"QueueUrl", queue}, {"Entries", json::array()}};
        int i = 0;
        for (const json& m : got["Messages"]) {
          del["Entries"].push_back(
              {{"Id", std::to_string(i++)}, {"ReceiptHandle", m["ReceiptHandle"]}});
        }
        if (client.Call("DeleteMessageBatch", del).is_null()) {
          failed = true;
          return;
        }
        messages += i;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  double cpu = CpuSeconds(process->pid()) - cpu_before;
  long busy_rss = RssKiB(process->pid());
  process->Terminate();
  if (failed) return 1;

  double rate = static_cast<double>(messages.load()) / elapsed;
  double cpu_us_per_msg = cpu * 1e6 / static_cast<double>(messages.load());
  std::printf("localcloud SQS benchmark (%d clients, %d s, batches of 10, JSON protocol)\n",
              clients, seconds);
  std::printf("  startup (spawn to listening, best of 5): %.1f ms\n", best_startup_ms);
  std::printf("  idle RSS:                                %.1f MiB\n", idle_rss / 1024.0);
  std::printf("  messages sent+received+deleted:          %ld\n", messages.load());
  std::printf("  throughput:                              %.0f messages/s\n", rate);
  std::printf("  localcloud CPU per message:              %.1f us (%.0f messages/s per core)\n",
              cpu_us_per_msg, 1e6 / cpu_us_per_msg);
  std::printf("  RSS after load:                          %.1f MiB\n", busy_rss / 1024.0);
  return 0;
}
