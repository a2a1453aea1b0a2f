// End-to-end tests of `dispatch server` and the `dispatch` CLI: a real server process on a
// free loopback port with a temporary data dir and HOME, driven by the real CLI binary, curl-
// style HTTP calls, a small native function (testing/test_function.cc), a small python3
// function and fake event drivers (shell scripts).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto.h"
#include "common/strings.h"
#include "common/subprocess.h"
#include "dispatch/pid_files.h"
#include "http/client.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::milliseconds;

const std::string kBin = DAT_BIN_DIR;
const std::string kDispatch = kBin + "/dispatch";
const std::string kTestFunction = kBin + "/dispatch_test_function";
constexpr const char* kSecretValue = "s3cr3t-VALUE-7f2a91";

void WriteText(const fs::path& path, const std::string& text, int mode = 0644) {
  std::ofstream(path) << text;
  fs::permissions(path, static_cast<fs::perms>(mode));
}

std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Polls `pred` every 50 ms for up to `timeout`.
bool WaitFor(const std::function<bool()>& pred, milliseconds timeout = milliseconds(20000)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return pred();
}

struct CliResult {
  int code = -1;
  std::string out;
  std::string err;
};

class DispatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("dispatch_test_" + common::NewUuid());
    home_ = root_ / "home";
    data_ = root_ / "data";
    bin_ = root_ / "bin";
    fs::create_directories(home_);
    fs::create_directories(bin_);
  }

  void TearDown() override {
    StopServer();
    KillStrays();
    fs::remove_all(root_);
  }

  // A safety net for a failing test: stop any process this test started (their executables
  // live under root_) that is still running, by pid.
  void KillStrays() {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/proc", ec)) {
      std::string pid = entry.path().filename().string();
      if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
      std::string cmdline = ReadText(entry.path() / "cmdline");
      if (common::StartsWith(cmdline, root_.string())) ::kill(std::stoi(pid), SIGKILL);
    }
  }

  std::vector<std::string> ServerEnv() {
    const char* path = std::getenv("PATH");
    return {"HOME=" + home_.string(), "PATH=" + bin_.string() + ":" + (path ? path : "/usr/bin"),
            // pip must fail fast and offline: no index is reachable here.
            "PIP_INDEX_URL=http://127.0.0.1:9/simple", "PIP_RETRIES=0", "PIP_TIMEOUT=2",
            "PIP_NO_CACHE_DIR=1",
            // npm likewise.
            "npm_config_registry=http://127.0.0.1:9/", "npm_config_fetch_retries=0",
            "npm_config_fetch_timeout=2000", "npm_config_update_notifier=false"};
  }

  void StartServer(std::vector<std::string> extra = {}) {
    common::SpawnOptions so;
    so.argv = {server_exe_.empty() ? kDispatch : server_exe_,
               "server",
               "--data-dir",
               data_.string(),
               "--listen",
               "127.0.0.1:0",
               "--retry-backoff-ms",
               "50",
               "--driver-backoff-ms",
               "100",
               "--driver-grace-ms",
               "3000"};
    for (auto& e : extra) so.argv.push_back(e);
    so.env = ServerEnv();
    so.stdout_to = "pipe";
    so.stderr_to = (root_ / "server.log").string();
    auto p = common::Process::Spawn(so);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    server_ = std::move(p).value();
    auto url = common::WaitForListening(server_, milliseconds(20000));
    ASSERT_TRUE(url.ok()) << url.status().ToString() << "\n" << ReadText(root_ / "server.log");
    url_ = *url;
    token_ = std::string(common::Trim(ReadText(data_ / "token")));
    ASSERT_FALSE(token_.empty());
  }

  void StopServer() {
    if (server_.pid() > 0 && server_.Running()) server_.Terminate(milliseconds(10000));
  }

  void KillServer() {
    server_.Signal(SIGKILL);
    (void)server_.Wait(milliseconds(5000));
  }

  CliResult Cli(std::vector<std::string> args, bool with_server = true) {
    common::SpawnOptions so;
    so.argv = {kDispatch};
    if (with_server) {
      so.argv.push_back("--server");
      so.argv.push_back(url_);
    }
    for (auto& a : args) so.argv.push_back(a);
    so.env = {"HOME=" + home_.string(), "DISPATCH_DATA_DIR=" + data_.string()};
    so.cwd = root_.string();
    auto r = common::RunCommand(so, milliseconds(60000));
    CliResult out;
    if (!r.ok()) {
      out.err = r.status().ToString();
      return out;
    }
    out.code = r->exit_code;
    out.out = r->out;
    out.err = r->err;
    cli_output_ += out.out + out.err;
    return out;
  }

  // Runs a CLI command that must succeed.
  std::string Ok(std::vector<std::string> args) {
    CliResult r = Cli(args);
    EXPECT_EQ(r.code, 0) << common::Join(args, " ") << "\nstdout: " << r.out
                         << "\nstderr: " << r.err;
    return r.out;
  }

  json OkJson(std::vector<std::string> args) {
    args.insert(args.begin(), "--json");
    std::string out = Ok(args);
    json j = json::parse(out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << out;
    return j;
  }

  http::Response Api(const std::string& method, const std::string& path,
                     const std::string& body = "", bool auth = true,
                     std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::ClientRequest req;
    req.method = method;
    req.url = url_ + path;
    req.body = body;
    if (auth) req.headers.Set("Authorization", "Bearer " + token_);
    if (!body.empty()) req.headers.Set("Content-Type", "application/json");
    for (auto& [k, v] : headers) req.headers.Set(k, v);
    auto r = client_.Send(req);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : http::Response{};
  }

  json ApiJson(const std::string& method, const std::string& path, const std::string& body = "") {
    auto r = Api(method, path, body);
    json j = json::parse(r.body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.body;
    return j;
  }

  std::string Status(const std::string& kind, const std::string& name) {
    auto r = Api("GET", "/v1/" + kind + "/" + name);
    if (r.status != 200) return "";
    return json::parse(r.body).value("status", "");
  }

  // A native function `name` running the test function binary.
  void CreateNativeFunction(const std::string& name, std::vector<std::string> extra = {}) {
    if (Status("baseimages", "native-base").empty()) {
      Ok({"create", "base-image", "native-base", "native:latest", "--language", "native"});
      Ok({"create", "image", "native", "native-base", "--wait"});
    }
    std::vector<std::string> args = {"create", "function",    name,    "--image",
                                     "native", kTestFunction, "--wait"};
    for (auto& e : extra) args.push_back(e);
    Ok(args);
  }

  json Runs(const std::string& function) {
    return ApiJson("GET", "/v1/runs?function=" + function + "&limit=1000");
  }

  // Waits until `function` has `n` runs in a terminal state; returns them.
  json WaitRuns(const std::string& function, size_t n, milliseconds timeout = milliseconds(30000)) {
    json runs;
    bool done = WaitFor(
        [&] {
          runs = Runs(function);
          size_t finished = 0;
          for (const auto& r : runs) {
            std::string s = r.value("status", "");
            finished += (s == "succeeded" || s == "failed");
          }
          return finished >= n;
        },
        timeout);
    EXPECT_TRUE(done) << "runs of " << function << ": " << runs.dump(2);
    return runs;
  }

  // The event JSON the AWS driver sends.
  static json DriverEvent(const std::string& id, const std::string& type = "aws.s3",
                          const std::string& source_type = "aws",
                          const std::string& source_id = "8c0d3f1e-aaaa-4bbb-8ccc-123456789abc") {
    return {{"namespace", "dispatchframework.io/aws-event"},
            {"eventType", type},
            {"eventTypeVersion", "0.1"},
            {"cloudEventsVersion", "0.1"},
            {"sourceType", source_type},
            {"sourceID", source_id},
            {"source", "aws"},
            {"eventID", id},
            {"eventTime", "2026-11-27T12:00:00Z"},
            {"contentType", "application/json"},
            {"extensions", json::object()},
            {"data",
             {{"version", "0"},
              {"id", id},
              {"detail-type", "Object Created"},
              {"source", "aws.s3"},
              {"detail", {{"bucket", {{"name", "b"}}}, {"object", {{"key", "images/cat.jpg"}}}}}}}};
  }

  fs::path root_, home_, data_, bin_;
  std::string server_exe_;  // the server binary to run (default kDispatch)
  common::Process server_;
  std::string url_, token_;
  std::string cli_output_;  // everything the CLI printed, for the redaction check
  http::CurlHttpClient client_;
};

// ---------------------------------------------------------------------------------------------

TEST_F(DispatchTest, SeedWalkthroughWithNativeAndPythonFunctions) {
  // The server looks for drivers next to its own binary first, where the real
  // dispatch-events-aws lives in a full build: run a link of the server from bin_, beside the
  // stand-in driver below.
  std::error_code ec;
  fs::create_hard_link(kDispatch, bin_ / "dispatch", ec);
  if (ec) fs::copy_file(kDispatch, bin_ / "dispatch", ec);
  ASSERT_FALSE(ec) << ec.message();
  server_exe_ = (bin_ / "dispatch").string();
  StartServer();
  const fs::path driver_out = root_ / "driver";
  fs::create_directories(driver_out);
  // A stand-in for dispatch-events-aws: records its flags and environment, reports ready,
  // then waits to be stopped.
  WriteText(bin_ / "dispatch-events-aws",
            "#!/bin/sh\n"
            "echo \"$@\" > " +
                (driver_out / "args").string() +
                "\n"
                "env > " +
                (driver_out / "env").string() +
                "\n"
                "echo driver-started >&2\n"
                "curl -s -X POST -H \"Authorization: Bearer $DISPATCH_TOKEN\" "
                "-d '{\"status\":\"READY\"}' \"$DISPATCH_DRIVER_READY_URL\" >/dev/null\n"
                "exec sleep 600\n",
            0755);
  WriteText(
      root_ / "aws-secret.json",
      json({{"aws_access_key_id", "AKIDEXAMPLE"}, {"aws_secret_access_key", kSecretValue}}).dump());
  WriteText(
      root_ / "twitter-secret.json",
      json({{"appKey", "k"}, {"appSecret", "s"}, {"oathToken", "t"}, {"oathTokenSecret", "ts"}})
          .dump());
  WriteText(root_ / "twitter.py",
            "import json\n"
            "def handle(context, payload):\n"
            "    print('python got', payload['detail']['object']['key'])\n"
            "    return {'secrets': sorted(context['secrets'].keys()),\n"
            "            'akid': context['secrets']['aws']['aws_access_key_id'],\n"
            "            'eventType': context['event']['eventType'],\n"
            "            'key': payload['detail']['object']['key']}\n");

  EXPECT_EQ(Ok({"create", "secret", "aws", "aws-secret.json"}), "Created secret: aws\n");
  EXPECT_EQ(Ok({"create", "eventdrivertype", "aws", "dispatch-events-aws:latest"}),
            "Created event driver type: aws\n");
  std::string created = Ok({"create", "eventdriver", "aws", "--secret", "aws", "--set", "clean-up",
                            "--set", "bucket-name=dispatch-events-aws-twitter-example"});
  std::smatch m;
  ASSERT_TRUE(
      std::regex_match(created, m, std::regex("Created event driver: ([a-z]+-[a-z]+-[0-9]{6})\n")))
      << created;
  std::string driver = m[1];
  ASSERT_TRUE(WaitFor([&] { return Status("eventdrivers", driver) == "READY"; }))
      << Status("eventdrivers", driver) << " " << Cli({"get", "eventdriver", driver, "--json"}).out
      << ReadText(data_ / "logs" / ("eventdriver-" + driver + ".log"));
  std::string port = url_.substr(url_.rfind(':') + 1);
  // The server adds a source id that stays the same across its restarts (the driver names its
  // queue after it).
  EXPECT_TRUE(std::regex_match(
      ReadText(driver_out / "args"),
      std::regex("--clean-up --bucket-name=dispatch-events-aws-twitter-example "
                 "--source-id=[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12} "
                 "--dispatch-api-endpoint=127\\.0\\.0\\.1:" +
                 port + "\n")))
      << ReadText(driver_out / "args");
  std::string env = ReadText(driver_out / "env");
  EXPECT_NE(env.find("AWS_ACCESS_KEY_ID=AKIDEXAMPLE\n"), std::string::npos);
  EXPECT_NE(env.find(std::string("AWS_SECRET_ACCESS_KEY=") + kSecretValue), std::string::npos);
  EXPECT_NE(env.find("DISPATCH_API_ENDPOINT=127.0.0.1:" + port), std::string::npos);
  EXPECT_NE(env.find("DISPATCH_TOKEN=" + token_), std::string::npos);
  EXPECT_NE(env.find("DISPATCH_EVENT_DRIVER_NAME=" + driver), std::string::npos);
  EXPECT_NE(Ok({"logs", "eventdriver", driver}).find("driver-started"), std::string::npos);

  EXPECT_EQ(Ok({"create", "secret", "twitter", "twitter-secret.json"}),
            "Created secret: twitter\n");
  Ok({"create", "base-image", "python3-base", "dispatchframework/python3-base:0.0.7", "--language",
      "python3"});
  ASSERT_TRUE(WaitFor([&] { return Status("baseimages", "python3-base") == "READY"; }));
  std::string table = Ok({"get", "base-image"});
  EXPECT_NE(table.find("python3-base"), std::string::npos);
  EXPECT_NE(table.find("READY"), std::string::npos);
  Ok({"create", "image", "python3-twitter", "python3-base", "--wait"});
  Ok({"create", "function", "twitter", "--image", "python3-twitter", "./twitter.py", "--secret",
      "twitter", "--secret", "aws", "--wait"});
  std::string sub =
      Ok({"create", "subscription", "twitter", "--event-type=aws.s3", "--source-type=aws"});
  EXPECT_TRUE(std::regex_match(sub, std::regex("Created subscription: [a-z]+-[a-z]+-[0-9]{6}\n")))
      << sub;

  // The driver's event arrives.
  auto resp = Api("POST", "/v1/event/", DriverEvent("evt-1").dump());
  ASSERT_EQ(resp.status, 200) << resp.body;
  json runs = WaitRuns("twitter", 1);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["status"], "succeeded") << runs.dump(2);
  EXPECT_EQ(runs[0]["output"]["secrets"], json::array({"aws", "twitter"}));
  EXPECT_EQ(runs[0]["output"]["akid"], "AKIDEXAMPLE");
  EXPECT_EQ(runs[0]["output"]["eventType"], "aws.s3");
  EXPECT_EQ(runs[0]["output"]["key"], "images/cat.jpg");
  EXPECT_NE(runs[0]["logs"].get<std::string>().find("python got images/cat.jpg"),
            std::string::npos);
  std::string run_table = Ok({"get", "runs", "twitter"});
  EXPECT_NE(run_table.find("succeeded"), std::string::npos);
  std::string one = Ok({"get", "run", runs[0]["id"]});
  EXPECT_NE(one.find("OUTPUT:"), std::string::npos);

  // A native function, run directly.
  CreateNativeFunction("echo");
  json run =
      json::parse(Ok({"exec", "echo", "--input", R"({"say":"hello from native"})", "--wait"}));
  EXPECT_EQ(run["status"], "succeeded") << run.dump(2);
  EXPECT_EQ(run["output"]["payload"]["say"], "hello from native");
  EXPECT_NE(Ok({"logs", "function", "echo"}).find("hello from native"), std::string::npos);

  // Listings in every kind, singular and plural.
  for (std::string kind : {"secrets", "eventdrivertypes", "eventdrivers", "base-images", "images",
                           "functions", "subscriptions", "runs", "events", "function", "image"}) {
    CliResult r = Cli({"get", kind});
    EXPECT_EQ(r.code, 0) << kind << ": " << r.err;
    EXPECT_NE(r.out.find("---"), std::string::npos) << kind;
  }
  // Deleting the driver stops it.
  Ok({"delete", "eventdriver", driver});
  EXPECT_TRUE(WaitFor([&] { return Api("GET", "/v1/eventdrivers/" + driver).status == 404; }));
}

TEST_F(DispatchTest, SubscriptionsMatchTypeSourceTypeAndFilter) {
  StartServer();
  CreateNativeFunction("fa");
  CreateNativeFunction("fb");
  CreateNativeFunction("fc");
  Ok({"create", "subscription", "fa", "--event-type", "t1", "--source-type", "aws", "--name",
      "sa"});
  Ok({"create", "subscription", "fb", "--event-type", "t1", "--name", "sb"});
  Ok({"create", "subscription", "fc", "--event-type", "t2", "--source-type", "aws"});
  ASSERT_EQ(Api("POST", "/v1/event", DriverEvent("e1", "t1", "aws").dump()).status, 200);
  ASSERT_EQ(Api("POST", "/v1/event", DriverEvent("e2", "t1", "other").dump()).status, 200);
  ASSERT_EQ(Api("POST", "/v1/event", DriverEvent("e3", "t2", "aws").dump()).status, 200);
  ASSERT_EQ(Api("POST", "/v1/event", DriverEvent("e4", "t3", "aws").dump()).status, 200);
  auto ids = [](const json& runs) {
    std::vector<std::string> out;
    for (const auto& r : runs) out.push_back(r["output"].value("eventID", ""));
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_EQ(ids(WaitRuns("fa", 1)), std::vector<std::string>({"e1"}));
  EXPECT_EQ(ids(WaitRuns("fb", 2)), std::vector<std::string>({"e1", "e2"}));
  EXPECT_EQ(ids(WaitRuns("fc", 1)), std::vector<std::string>({"e3"}));

  // Filters.
  CliResult f =
      Cli({"create", "subscription", "fa", "--event-type", "t5", "--name", "filtered", "--filter",
           R"({"data":{"detail":{"object":{"key":[{"prefix":"images/"}]}}}})"});
  if (f.code != 0 && f.err.find("eventpattern") != std::string::npos) {
    GTEST_SKIP() << "built without the eventpattern library: " << f.err;
  }
  ASSERT_EQ(f.code, 0) << f.err;
  json in_folder = DriverEvent("f1", "t5");
  json outside = DriverEvent("f2", "t5");
  outside["data"]["detail"]["object"]["key"] = "other/cat.jpg";
  ASSERT_EQ(Api("POST", "/v1/event", outside.dump()).status, 200);
  ASSERT_EQ(Api("POST", "/v1/event", in_folder.dump()).status, 200);
  json runs = WaitRuns("fa", 2);
  EXPECT_EQ(ids(runs), std::vector<std::string>({"e1", "f1"}));
  CliResult bad = Cli({"create", "subscription", "fa", "--event-type", "t5", "--filter",
                       R"({"data":{"x":[{"nonsense-operator":1}]}})"});
  EXPECT_NE(bad.code, 0);
}

TEST_F(DispatchTest, DuplicateEventsAreAcknowledgedButRunOnce) {
  StartServer();
  CreateNativeFunction("dup");
  Ok({"create", "subscription", "dup", "--event-type", "aws.s3"});
  std::string body = DriverEvent("same-id").dump();
  auto first = Api("POST", "/v1/event/", body);
  auto second = Api("POST", "/v1/event/", body);
  ASSERT_EQ(first.status, 200);
  ASSERT_EQ(second.status, 200);
  EXPECT_EQ(json::parse(first.body)["duplicates"], 0);
  EXPECT_EQ(json::parse(second.body)["duplicates"], 1);
  // The same id from another source is a different event.
  ASSERT_EQ(
      Api("POST", "/v1/event/", DriverEvent("same-id", "aws.s3", "aws", "other-source").dump())
          .status,
      200);
  // CloudEvents 1.0 binary mode, twice.
  for (int i = 0; i < 2; ++i) {
    auto r = Api("POST", "/v1/event/", R"({"k":1})", true,
                 {{"ce-specversion", "1.0"},
                  {"ce-id", "bin-1"},
                  {"ce-source", "urn:test"},
                  {"ce-type", "aws.s3"},
                  {"Content-Type", "application/json"}});
    ASSERT_EQ(r.status, 200) << r.body;
  }
  // And an array with an internal duplicate.
  json batch = json::array({DriverEvent("arr-1"), DriverEvent("arr-1"), DriverEvent("arr-2")});
  auto r = Api("POST", "/v1/event/", batch.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["accepted"], 2);
  json runs = WaitRuns("dup", 5);
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(Runs("dup").size(), 5u) << Runs("dup").dump(2);
  std::string out = Ok({"emit", "aws.s3", "--data", "{}", "--id", "cli-1"});
  EXPECT_NE(out.find("Emitted event: cli-1"), std::string::npos);
  out = Ok({"emit", "aws.s3", "--data", "{}", "--id", "cli-1"});
  EXPECT_NE(out.find("Duplicate"), std::string::npos);
}

TEST_F(DispatchTest, FailedRunsAreRetriedThenKept) {
  StartServer();
  CreateNativeFunction("flaky", {"--max-attempts", "3"});
  std::string counter = (root_ / "count").string();
  json ok = json::parse(
      Ok({"exec", "flaky", "--wait", "--input", json({{"fail", 2}, {"counter", counter}}).dump()}));
  EXPECT_EQ(ok["status"], "succeeded") << ok.dump(2);
  EXPECT_EQ(ok["attempts"], 3);

  std::string counter2 = (root_ / "count2").string();
  CliResult failed = Cli(
      {"exec", "flaky", "--wait", "--input", json({{"fail", 10}, {"counter", counter2}}).dump()});
  EXPECT_NE(failed.code, 0);
  json f = json::parse(failed.out);
  EXPECT_EQ(f["status"], "failed");
  EXPECT_EQ(f["attempts"], 3);
  EXPECT_EQ(f["error"]["type"], "FunctionError");
  EXPECT_EQ(ReadText(counter2), "3");
  // The failed run stays visible.
  json kept = ApiJson("GET", "/v1/runs/" + f["id"].get<std::string>());
  EXPECT_EQ(kept["status"], "failed");

  // InputError is not retried.
  json input =
      json::parse(Cli({"exec", "flaky", "--wait", "--input", R"({"input_error":true})"}).out);
  EXPECT_EQ(input["status"], "failed");
  EXPECT_EQ(input["attempts"], 1);
  EXPECT_EQ(input["error"]["type"], "InputError");

  // A crashing process is replaced and the run retried on a new one.
  CliResult crashed = Cli({"exec", "flaky", "--wait", "--input", R"({"crash":true})"});
  json crash = json::parse(crashed.out, nullptr, false);
  ASSERT_TRUE(crash.is_object()) << crashed.out << crashed.err;
  EXPECT_EQ(crash["status"], "failed");
  EXPECT_EQ(crash["attempts"], 3);
  EXPECT_EQ(crash["error"]["type"], "SystemError");
  json after = json::parse(Ok({"exec", "flaky", "--wait", "--input", R"({"say":"alive"})"}));
  EXPECT_EQ(after["status"], "succeeded");
}

TEST_F(DispatchTest, DriversAreSupervised) {
  StartServer();
  const fs::path starts = root_ / "starts";
  WriteText(root_ / "crashy.sh",
            "#!/bin/sh\necho start >> " + starts.string() +
                "\necho 'provisioning failed: no queue' >&2\nexit 3\n",
            0755);
  WriteText(root_ / "ready.sh",
            "#!/bin/sh\necho $$ > " + (root_ / "ready.pid").string() +
                "\ncurl -s -X POST -H \"Authorization: Bearer $DISPATCH_TOKEN\" "
                "\"$DISPATCH_DRIVER_READY_URL\" >/dev/null\nexec sleep 600\n",
            0755);
  WriteText(root_ / "silent.sh", "#!/bin/sh\nexec sleep 600\n", 0755);
  Ok({"create", "eventdrivertype", "crashy", (root_ / "crashy.sh").string()});
  Ok({"create", "eventdrivertype", "ready", (root_ / "ready.sh").string()});
  Ok({"create", "eventdrivertype", "silent", (root_ / "silent.sh").string()});
  Ok({"create", "eventdriver", "crashy", "--name", "c1"});
  Ok({"create", "eventdriver", "ready", "--name", "r1"});
  Ok({"create", "eventdriver", "silent", "--name", "s1"});

  // The crashing driver is restarted, and says why it failed.
  EXPECT_TRUE(WaitFor([&] { return common::Split(ReadText(starts), '\n').size() >= 4; }))
      << ReadText(starts);
  json c1 = ApiJson("GET", "/v1/eventdrivers/c1");
  EXPECT_EQ(c1["status"], "ERROR");
  EXPECT_NE(c1["reason"].get<std::string>().find("provisioning failed: no queue"),
            std::string::npos)
      << c1.dump();
  EXPECT_NE(Ok({"logs", "eventdriver", "c1"}).find("provisioning failed"), std::string::npos);

  ASSERT_TRUE(WaitFor([&] { return Status("eventdrivers", "r1") == "READY"; }));
  EXPECT_EQ(Status("eventdrivers", "s1"), "CREATING");

  // Delete stops the process.
  ASSERT_TRUE(WaitFor([&] { return fs::exists(root_ / "ready.pid"); }));
  pid_t pid = std::stoi(ReadText(root_ / "ready.pid"));
  EXPECT_EQ(::kill(pid, 0), 0);
  EXPECT_EQ(Ok({"delete", "eventdriver", "r1"}), "Deleted event driver: r1\n");
  EXPECT_TRUE(WaitFor([&] { return ::kill(pid, 0) != 0; }));
  EXPECT_TRUE(WaitFor([&] { return Api("GET", "/v1/eventdrivers/r1").status == 404; }));
  // A driver type in use cannot be deleted.
  EXPECT_NE(Cli({"delete", "eventdrivertype", "silent"}).code, 0);
  // Server shutdown stops the rest.
  StopServer();
  EXPECT_FALSE(server_.Running());
}

TEST_F(DispatchTest, EveryCallNeedsTheToken) {
  StartServer();
  for (std::string path : {"/v1/secrets", "/v1/functions", "/v1/runs", "/v1/events"}) {
    EXPECT_EQ(Api("GET", path, "", false).status, 401) << path;
  }
  EXPECT_EQ(Api("POST", "/v1/event/", DriverEvent("x").dump(), false).status, 401);
  auto wrong = Api("GET", "/v1/secrets", "", false, {{"Authorization", "Bearer nope"}});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(Api("GET", "/healthz", "", false).status, 200);
  CliResult r = Cli({"--token", "wrong", "get", "secrets"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("token"), std::string::npos) << r.err;
  // The token file is owner-only.
  struct stat st {};
  ASSERT_EQ(::stat((data_ / "token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  // A non-loopback address is refused without --insecure-listen.
  common::SpawnOptions so;
  so.argv = {kDispatch, "server", "--data-dir", (root_ / "d2").string(), "--listen", "0.0.0.0:0"};
  auto refused = common::RunCommand(so, milliseconds(20000));
  ASSERT_TRUE(refused.ok());
  EXPECT_NE(refused->exit_code, 0);
  EXPECT_NE(refused->err.find("--insecure-listen"), std::string::npos) << refused->err;
}

// --tls-cert/--tls-key: the API over HTTPS (here a self-signed certificate made with the
// openssl tool); the CLI trusts it with --ca-cert and refuses it without.
TEST_F(DispatchTest, ServesTheApiOverHttpsWithACertificate) {
  std::string cert = (root_ / "cert.pem").string(), key = (root_ / "key.pem").string();
  std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
      "-addext subjectAltName=IP:127.0.0.1 -keyout " +
      key + " -out " + cert + " >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "the openssl tool is not available";
  StartServer({"--tls-cert", cert, "--tls-key", key});
  ASSERT_TRUE(common::StartsWith(url_, "https://127.0.0.1:")) << url_;
  Ok({"--ca-cert", cert, "emit", "tls.check", "--data", R"({"n":1})"});
  json events = OkJson({"--ca-cert", cert, "get", "events"});
  EXPECT_NE(events.dump().find("tls.check"), std::string::npos) << events.dump();
  CliResult untrusted = Cli({"get", "secrets"});
  EXPECT_NE(untrusted.code, 0);
  EXPECT_NE(untrusted.err.find("cannot reach the dispatch server"), std::string::npos)
      << untrusted.err;
  // A key without its certificate is refused with a clear message.
  common::SpawnOptions so;
  so.argv = {kDispatch,  "server",      "--data-dir", (root_ / "d3").string(),
             "--listen", "127.0.0.1:0", "--tls-key",  key};
  auto refused = common::RunCommand(so, milliseconds(20000));
  ASSERT_TRUE(refused.ok());
  EXPECT_NE(refused->exit_code, 0);
  EXPECT_NE(refused->err.find("--tls-cert"), std::string::npos) << refused->err;
}

TEST_F(DispatchTest, SecretValuesStayOutOfLogsAndListings) {
  StartServer();
  WriteText(root_ / "s.json", json({{"password", kSecretValue}}).dump());
  Ok({"create", "secret", "creds", "s.json"});
  CreateNativeFunction("uses-secret", {"--secret", "creds"});
  json run = json::parse(Ok({"exec", "uses-secret", "--wait", "--input", "{}"}));
  EXPECT_EQ(run["output"]["secrets"]["creds"]["password"], std::string(kSecretValue).size());
  Ok({"get", "secrets"});
  Ok({"get", "secret", "creds"});
  OkJson({"get", "secret", "creds"});
  Ok({"get", "functions"});
  Ok({"get", "runs"});
  std::string listing = Api("GET", "/v1/secrets").body + Api("GET", "/v1/secrets/creds").body;
  EXPECT_EQ(listing.find(kSecretValue), std::string::npos);
  EXPECT_NE(listing.find("password"), std::string::npos);  // key names are shown
  EXPECT_EQ(cli_output_.find(kSecretValue), std::string::npos);
  StopServer();
  EXPECT_EQ(ReadText(root_ / "server.log").find(kSecretValue), std::string::npos);
  EXPECT_FALSE(ReadText(root_ / "server.log").empty());
  // The database holding it is owner-only.
  struct stat st {};
  ASSERT_EQ(::stat((data_ / "dispatch.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  // Asked for explicitly, the value is shown.
  StartServer();
  EXPECT_NE(Ok({"get", "secret", "creds", "--show-values"}).find(kSecretValue), std::string::npos);
}

TEST_F(DispatchTest, KillNineLosesNoAcknowledgedEvent) {
  StartServer({"--function-instances", "1"});
  CreateNativeFunction("slow");
  Ok({"create", "subscription", "slow", "--event-type", "tick"});
  constexpr int kEvents = 12;
  for (int i = 0; i < kEvents; ++i) {
    json ev = DriverEvent("k-" + std::to_string(i), "tick");
    ev["data"] = {{"sleep_ms", 150}, {"n", i}};
    ASSERT_EQ(Api("POST", "/v1/event/", ev.dump()).status, 200);
  }
  // Some runs are in flight, most queued: kill -9.
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& r : Runs("slow")) {
      if (r["status"] == "running") return true;
    }
    return false;
  }));
  KillServer();
  StartServer({"--function-instances", "2"});
  json runs = WaitRuns("slow", kEvents, milliseconds(60000));
  std::set<int> seen;
  for (const auto& r : runs) {
    EXPECT_EQ(r["status"], "succeeded") << r.dump();
    seen.insert(r["input"]["n"].get<int>());
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kEvents));
}

TEST_F(DispatchTest, BadInputGetsFourHundredsNeverACrash) {
  StartServer();
  CreateNativeFunction("f");
  struct Case {
    std::string method, path, body;
    int want;
  };
  std::string big(2 * 1024 * 1024, 'x');
  std::vector<Case> cases = {
      {"POST", "/v1/event/", "{not json", 400},
      {"POST", "/v1/event/", "[]", 400},
      {"POST", "/v1/event/", "42", 400},
      {"POST", "/v1/event/", R"({"eventID":"x"})", 400},                // no eventType
      {"POST", "/v1/event/", R"({"eventType":"t"})", 400},              // no eventID
      {"POST", "/v1/event/", R"({"eventType":5,"eventID":"x"})", 400},  // wrong type
      {"POST", "/v1/event/",
       R"({"eventType":"t","eventID":"x","data":)" + std::string("\"") + big + "\"}", 413},
      {"GET", "/v1/event/", "", 405},
      {"POST", "/v1/secrets", "{bad", 400},
      {"POST", "/v1/secrets", "[]", 400},
      {"POST", "/v1/secrets", R"({"name":"s"})", 400},
      {"POST", "/v1/secrets", R"({"name":"s","secrets":{"k":1}})", 400},
      {"POST", "/v1/secrets", R"({"name":"../x","secrets":{}})", 400},
      {"POST", "/v1/secrets", R"({"name":7,"secrets":{}})", 400},
      {"POST", "/v1/eventdrivertypes", R"({"name":"t"})", 400},
      {"POST", "/v1/eventdrivers", R"({"type":"missing"})", 400},
      {"POST", "/v1/eventdrivers", R"({"type":5})", 400},
      {"POST", "/v1/baseimages", R"({"name":"b","image":"i","language":"cobol"})", 400},
      {"POST", "/v1/baseimages", R"({"name":"b","image":"i"})", 400},
      {"POST", "/v1/images", R"({"name":"i","baseImage":"missing"})", 400},
      {"POST", "/v1/functions", R"({"name":"g","image":"native"})", 400},  // no code
      {"POST", "/v1/functions", R"({"name":"g","image":"native","code":"!!!"})", 400},
      {"POST", "/v1/functions", R"({"name":"g","image":"missing","code":"eA=="})", 400},
      {"POST", "/v1/functions", R"({"name":"g","image":"native","code":"eA==","timeout":-1})", 400},
      {"POST", "/v1/functions", R"({"name":"g","image":"native","code":"eA==","secrets":"x"})",
       400},
      {"POST", "/v1/functions", R"({"name":"f","image":"native","code":"eA=="})", 409},
      {"POST", "/v1/subscriptions", R"({"function":"f"})", 400},
      {"POST", "/v1/subscriptions", R"({"function":"nope","eventType":"t"})", 400},
      {"POST", "/v1/subscriptions", R"({"function":"f","eventType":"t","filter":"{bad"})", 400},
      {"PUT", "/v1/functions/f", R"({"image":5})", 400},
      {"PUT", "/v1/images/native", R"({"baseImage":"x"})", 400},
      {"GET", "/v1/functions/nope", "", 404},
      {"DELETE", "/v1/secrets/nope", "", 404},
      {"GET", "/v1/nothing", "", 404},
      {"GET", "/v1/runs?limit=abc", "", 400},
      {"GET", "/v1/runs/nope", "", 404},
      {"POST", "/v1/runs", "{", 400},
      {"POST", "/v1/runs", R"({"function":"nope"})", 404},
      {"POST", "/v1/runs", R"({"function":"f","wait":"yes"})", 400},
      {"GET", "/v1/events/abc", "", 400},
      {"GET", "/v1/events/999", "", 404},
      {"POST", "/v1/eventdrivers/nope/ready", "", 404},
      {"PATCH", "/v1/secrets", "", 405},
  };
  for (const auto& c : cases) {
    auto r = Api(c.method, c.path, c.body);
    EXPECT_EQ(r.status, c.want) << c.method << " " << c.path << " " << c.body.substr(0, 80)
                                << " -> " << r.body;
    if (r.status >= 400) {
      json j = json::parse(r.body, nullptr, false);
      EXPECT_TRUE(j.is_object() && j.contains("message")) << r.body;
    }
  }
  // The reason reaches the CLI user.
  CliResult r = Cli({"create", "subscription", "nope", "--event-type", "t"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("function nope not found"), std::string::npos) << r.err;
  EXPECT_NE(Cli({"emit", "t", "--data", "{not json"}).code, 0);
  EXPECT_NE(Cli({"get", "gizmos"}).code, 0);
  EXPECT_EQ(Api("GET", "/healthz", "", false).status, 200);
  EXPECT_TRUE(server_.Running());
}

TEST_F(DispatchTest, NodejsFunctionsRunEndToEnd) {
  if (!common::FindExecutable("node")) {
    GTEST_SKIP() << "node is not installed (scripts/install-deps installs nodejs): the nodejs "
                    "runtime is not tested";
  }
  StartServer();
  WriteText(root_ / "s.json", json({{"token", kSecretValue}}).dump());
  Ok({"create", "secret", "tw", "s.json"});
  Ok({"create", "base-image", "nodejs-base", "dispatchframework/nodejs-base:0.0.13", "--language",
      "nodejs", "--wait"});
  Ok({"create", "image", "nodejs", "nodejs-base", "--wait"});
  // Dispatch's nodejs signature, async, reading its secret and its event.
  WriteText(root_ / "hello.js",
            "module.exports = async function (context, params) {\n"
            "  if (params && params.bad) {\n"
            "    const e = new Error('bad input'); e.name = 'InputError'; throw e;\n"
            "  }\n"
            "  if (params && params.boom) throw new Error('boom');\n"
            "  await new Promise((resolve) => setTimeout(resolve, 5));\n"
            "  console.log('hello from node');\n"
            "  return {hello: params.name, secretLength: context.secrets.tw.token.length,\n"
            "          eventType: context.event ? context.event.eventType : null};\n"
            "};\n");
  Ok({"create", "function", "hello-node", "--image", "nodejs", "hello.js", "--secret", "tw",
      "--wait"});
  json run = json::parse(Ok({"exec", "hello-node", "--wait", "--input", R"({"name":"world"})"}),
                         nullptr, false);
  ASSERT_TRUE(run.is_object());
  EXPECT_EQ(run["status"], "succeeded") << run.dump(2);
  EXPECT_EQ(run["output"]["hello"], "world");
  EXPECT_EQ(run["output"]["secretLength"], std::string(kSecretValue).size());
  EXPECT_NE(run["logs"].get<std::string>().find("hello from node"), std::string::npos);

  json bad = json::parse(Cli({"exec", "hello-node", "--wait", "--input", R"({"bad":true})"}).out,
                         nullptr, false);
  ASSERT_TRUE(bad.is_object());
  EXPECT_EQ(bad["status"], "failed");
  EXPECT_EQ(bad["attempts"], 1);
  EXPECT_EQ(bad["error"]["type"], "InputError");
  json boom = json::parse(Cli({"exec", "hello-node", "--wait", "--input", R"({"boom":true})"}).out,
                          nullptr, false);
  ASSERT_TRUE(boom.is_object());
  EXPECT_EQ(boom["error"]["type"], "FunctionError");
  EXPECT_NE(boom["error"]["message"].get<std::string>().find("boom"), std::string::npos);

  // Subscribed to an event type.
  Ok({"create", "subscription", "hello-node", "--event-type", "aws.s3"});
  json ev = DriverEvent("node-1");
  ev["data"] = {{"name", "event"}};
  ASSERT_EQ(Api("POST", "/v1/event/", ev.dump()).status, 200);
  bool seen = false;
  json runs = WaitRuns("hello-node", 4);
  for (const auto& r : runs) {
    if (r["output"].is_object() && r["output"].value("eventType", json()) == "aws.s3") {
      seen = r["output"]["hello"] == "event";
    }
  }
  EXPECT_TRUE(seen) << runs.dump(2);

  if (!common::FindExecutable("npm")) {
    GTEST_SKIP() << "npm is not installed: nodejs runtime dependencies are not tested";
  }
  // Runtime dependencies: a package.json installs into the image; an unreachable registry is
  // an ERROR with npm's message.
  WriteText(root_ / "package.json", R"({"name": "f", "version": "1.0.0", "dependencies": {}})");
  Ok({"create", "image", "nodejs-deps", "nodejs-base", "--runtime-deps", "package.json", "--wait"});
  WriteText(root_ / "needs.json",
            R"({"name": "f", "version": "1.0.0", "dependencies": {"left-pad": "1.3.0"}})");
  CliResult r = Cli(
      {"create", "image", "nodejs-bad", "nodejs-base", "--runtime-deps", "needs.json", "--wait"});
  EXPECT_NE(r.code, 0);
  json image = ApiJson("GET", "/v1/images/nodejs-bad");
  EXPECT_EQ(image["status"], "ERROR");
  EXPECT_NE(image["reason"].get<std::string>().find("npm install failed"), std::string::npos)
      << image.dump();
  EXPECT_NE(image["reason"].get<std::string>().find("left-pad"), std::string::npos) << image.dump();
}

TEST_F(DispatchTest, OldFinishedRunsArePruned) {
  StartServer({"--runs-kept", "2", "--prune-interval-ms", "100"});
  CreateNativeFunction("busy");
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    json run = json::parse(Ok({"exec", "busy", "--wait", "--input", json({{"n", i}}).dump()}));
    ids.push_back(run["id"].get<std::string>());
  }
  EXPECT_TRUE(WaitFor([&] { return Runs("busy").size() == 2; })) << Runs("busy").dump(2);
  // The newest two are the ones kept.
  EXPECT_EQ(Api("GET", "/v1/runs/" + ids[4]).status, 200);
  EXPECT_EQ(Api("GET", "/v1/runs/" + ids[3]).status, 200);
  EXPECT_EQ(Api("GET", "/v1/runs/" + ids[0]).status, 404);
  json stats = ApiJson("GET", "/v1/runs/stats?function=busy");
  EXPECT_EQ(stats["succeeded"], 2) << stats.dump();
}

TEST_F(DispatchTest, ImageWithUnreachableIndexGoesToError) {
  StartServer();
  Ok({"create", "base-image", "py", "python3-base", "--language", "python3", "--wait"});
  WriteText(root_ / "requirements.txt", "twython==3.7.0\n");
  CliResult r =
      Cli({"create", "image", "py-deps", "py", "--runtime-deps", "requirements.txt", "--wait"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("pip install failed"), std::string::npos) << r.err;
  json image = ApiJson("GET", "/v1/images/py-deps");
  EXPECT_EQ(image["status"], "ERROR");
  EXPECT_NE(image["reason"].get<std::string>().find("twython"), std::string::npos) << image.dump();
  // A function on it is not runnable, and says why.
  WriteText(root_ / "f.py", "def handle(c, p):\n    return p\n");
  Ok({"create", "function", "pyf", "--image", "py-deps", "f.py"});
  EXPECT_TRUE(WaitFor([&] { return Status("functions", "pyf") == "ERROR"; }));
}

// True when `pid` has exited (gone, or a zombie waiting for its new parent to reap it).
bool ProcessGone(int pid) {
  std::string stat = ReadText("/proc/" + std::to_string(pid) + "/stat");
  size_t close = stat.rfind(')');
  return stat.empty() || (close != std::string::npos && stat.substr(close + 2, 1) == "Z");
}

// An error the function flags retryable (X down) is retried past the 3 attempts an unflagged
// error gets, with the backoff honouring retry_after_ms; unflagged errors and InputError are
// dead-lettered with the reason.
TEST_F(DispatchTest, RetryableErrorsOutlastTheDefaultAttempts) {
  StartServer({"--retry-backoff-max-ms", "200"});
  CreateNativeFunction("flaky");
  std::string counter = (root_ / "count").string();
  json run =
      json::parse(Ok({"exec", "flaky", "--wait", "--input",
                      json({{"fail", 6}, {"counter", counter}, {"retryable", true}}).dump()}));
  EXPECT_EQ(run["status"], "succeeded") << run.dump(2);
  EXPECT_EQ(run["attempts"], 7);

  // retry_after_ms is a floor under the backoff.
  std::string counter_wait = (root_ / "count-wait").string();
  auto start = std::chrono::steady_clock::now();
  run = json::parse(Ok(
      {"exec", "flaky", "--wait", "--input",
       json({{"fail", 1}, {"counter", counter_wait}, {"retryable", true}, {"retry_after_ms", 1500}})
           .dump()}));
  EXPECT_EQ(run["status"], "succeeded") << run.dump(2);
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(1500));

  std::string counter2 = (root_ / "count2").string();
  CliResult failed = Cli(
      {"exec", "flaky", "--wait", "--input", json({{"fail", 6}, {"counter", counter2}}).dump()});
  json f = json::parse(failed.out);
  EXPECT_EQ(f["status"], "failed");
  EXPECT_EQ(f["attempts"], 3);
  EXPECT_EQ(f["error"]["deadLetterReason"], "max attempts (3) reached") << f.dump(2);
  json input =
      json::parse(Cli({"exec", "flaky", "--wait", "--input", R"({"input_error":true})"}).out);
  EXPECT_EQ(input["attempts"], 1);
  EXPECT_EQ(input["error"]["deadLetterReason"], "not retryable");
}

// The retry schedule is in the store: a run waiting for its next attempt (the 3 s its error
// asked for) when the server is killed -9 is attempted by the next server, once.
TEST_F(DispatchTest, RetryScheduleSurvivesKillNine) {
  StartServer();
  CreateNativeFunction("flaky");
  std::string counter = (root_ / "count").string();
  json run = json::parse(
      Ok({"exec", "flaky", "--input",
          json({{"fail", 1}, {"counter", counter}, {"retryable", true}, {"retry_after_ms", 3000}})
              .dump()}));
  std::string id = run["id"].get<std::string>();
  ASSERT_TRUE(WaitFor([&] {
    json r = ApiJson("GET", "/v1/runs/" + id);
    return r["status"] == "queued" && r["attempts"] == 1 && r.contains("nextAttemptTime");
  })) << ApiJson("GET", "/v1/runs/" + id).dump(2);
  KillServer();
  StartServer();
  ASSERT_TRUE(WaitFor([&] { return ApiJson("GET", "/v1/runs/" + id)["status"] == "succeeded"; }))
      << ApiJson("GET", "/v1/runs/" + id).dump(2);
  EXPECT_EQ(ApiJson("GET", "/v1/runs/" + id)["attempts"], 2);
  EXPECT_EQ(ReadText(counter), "2");
}

// Past its maximum event age a run goes to the dead-letter list (`get runs --failed`), from
// which `redrive` takes one run, a function's runs or a time range back to the queue.
TEST_F(DispatchTest, DeadLetteredRunsAreListedAndRedriven) {
  StartServer({"--retry-backoff-max-ms", "200"});
  CreateNativeFunction("aged", {"--max-event-age", "2s"});
  json spec = ApiJson("GET", "/v1/functions/aged");
  EXPECT_EQ(spec["maxEventAgeSeconds"], 2) << spec.dump(2);
  std::string counter = (root_ / "count").string();
  json input = {{"fail", 1000}, {"counter", counter}, {"retryable", true}};
  json run = json::parse(Cli({"exec", "aged", "--wait", "--input", input.dump()}).out);
  std::string id = run["id"].get<std::string>();
  EXPECT_EQ(run["status"], "failed") << run.dump(2);
  EXPECT_EQ(run["error"]["deadLetterReason"], "max event age (2s) exceeded") << run.dump(2);
  EXPECT_GT(run["attempts"].get<int>(), 3);

  CreateNativeFunction("other", {"--max-attempts", "1"});
  std::string other_counter = (root_ / "other").string();
  json other_input = {{"fail", 1}, {"counter", other_counter}};
  json other = json::parse(Cli({"exec", "other", "--wait", "--input", other_input.dump()}).out);
  EXPECT_EQ(other["status"], "failed");

  json failed = OkJson({"get", "runs", "--failed"});
  ASSERT_EQ(failed.size(), 2u) << failed.dump(2);
  EXPECT_EQ(OkJson({"get", "runs", "aged", "--failed"}).size(), 1u);
  EXPECT_EQ(OkJson({"get", "runs", "--failed", "--since", "1h"}).size(), 2u);
  EXPECT_EQ(OkJson({"get", "runs", "--failed", "--until", "1h"}).size(), 0u);
  EXPECT_NE(Ok({"get", "runs", "--failed"}).find(id), std::string::npos);

  // X is back: the next call succeeds. One run redriven by id.
  WriteText(counter, "1000");
  EXPECT_NE(Ok({"redrive", id}).find("Redriven 1 failed run"), std::string::npos);
  ASSERT_TRUE(WaitFor([&] { return ApiJson("GET", "/v1/runs/" + id)["status"] == "succeeded"; }))
      << ApiJson("GET", "/v1/runs/" + id).dump(2);
  json done = ApiJson("GET", "/v1/runs/" + id);
  EXPECT_EQ(done["attempts"], 1);
  EXPECT_EQ(done["redrives"], 1);
  // Only failed runs are redriven.
  CliResult again = Cli({"redrive", id});
  EXPECT_NE(again.code, 0);
  EXPECT_NE(again.err.find("not failed"), std::string::npos) << again.err;
  EXPECT_NE(Cli({"redrive"}).code, 0);  // says which runs
  EXPECT_NE(Cli({"redrive", "--function", "missing"}).code, 0);

  // By function and time range: the other run (its second call succeeds).
  EXPECT_NE(
      Ok({"redrive", "--function", "other", "--since", "1h", "--until", "2026-01-01T00:00:00Z"})
          .find("Redriven 0"),
      std::string::npos);
  EXPECT_NE(Ok({"redrive", "--function", "other", "--since", "1h"}).find("Redriven 1"),
            std::string::npos);
  ASSERT_TRUE(WaitFor([&] { return OkJson({"get", "runs", "--failed"}).empty(); }));
  EXPECT_EQ(ApiJson("GET", "/v1/runs/" + other["id"].get<std::string>())["status"], "succeeded");
}

// No orphans: function processes die with a server killed -9 (parent-death signal), and a
// server reaps what a predecessor left behind, by pid file, only when the pid still is that
// process (start time and token); a second server cannot share the data dir.
TEST_F(DispatchTest, KillNineLeavesNoFunctionProcessAndRestartReapsLeftovers) {
  StartServer();
  CreateNativeFunction("f");
  json run = json::parse(Ok({"exec", "f", "--wait", "--input", "{}"}));
  int pid = run["output"]["pid"].get<int>();
  EXPECT_TRUE(fs::exists(data_ / "run" / (std::to_string(pid) + ".pid")));

  common::SpawnOptions second;
  second.argv = {kDispatch, "server", "--data-dir", data_.string(), "--listen", "127.0.0.1:0"};
  second.env = ServerEnv();
  auto refused = common::RunCommand(second, milliseconds(20000));
  ASSERT_TRUE(refused.ok());
  EXPECT_NE(refused->exit_code, 0);
  EXPECT_NE(refused->err.find("another dispatch server"), std::string::npos) << refused->err;

  KillServer();
  EXPECT_TRUE(WaitFor([&] { return ProcessGone(pid); }, milliseconds(5000)))
      << "function process " << pid << " outlived the server";

  // Leftovers as a predecessor dying between spawn and prctl could leave them: a process with
  // its pid file and token, one whose pid file has the wrong token, one with the wrong start
  // time.
  auto spawn_sleeper = [&](const std::string& token) {
    common::SpawnOptions so;
    so.argv = {"sleep", "600"};
    so.env = {std::string(dispatch::kProcessTokenEnv) + "=" + token};
    auto p = common::Process::Spawn(so);
    EXPECT_TRUE(p.ok());
    return std::move(p).value();
  };
  auto write_pid_file = [&](int p, uint64_t start, const std::string& token) {
    fs::create_directories(data_ / "run");
    WriteText(data_ / "run" / (std::to_string(p) + ".pid"),
              std::to_string(p) + " " + std::to_string(start) + " " + token + "\n");
  };
  const std::string token = dispatch::NewProcessToken();
  common::Process left = spawn_sleeper(token);
  common::Process wrong_token = spawn_sleeper(token);
  common::Process wrong_start = spawn_sleeper(token);
  ASSERT_TRUE(WaitFor([&] {  // exec'd: its environ is sleep's
    return ReadText("/proc/" + std::to_string(wrong_start.pid()) + "/environ").find(token) !=
           std::string::npos;
  }));
  write_pid_file(left.pid(), *dispatch::ProcessStartTime(left.pid()), token);
  write_pid_file(wrong_token.pid(), *dispatch::ProcessStartTime(wrong_token.pid()),
                 dispatch::NewProcessToken());
  write_pid_file(wrong_start.pid(), *dispatch::ProcessStartTime(wrong_start.pid()) + 1, token);
  StartServer();
  auto code = left.Wait(milliseconds(5000));
  ASSERT_TRUE(code.ok()) << "the leftover was not reaped";
  EXPECT_EQ(*code, 128 + SIGTERM);
  EXPECT_TRUE(wrong_token.Running());
  EXPECT_TRUE(wrong_start.Running());
  EXPECT_TRUE(fs::is_empty(data_ / "run"));
}

}  // namespace
