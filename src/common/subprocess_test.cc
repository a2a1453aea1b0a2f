#include "common/subprocess.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <optional>
#include <thread>

namespace common {
namespace {

using std::chrono::milliseconds;

TEST(Subprocess, RunCommandCapturesOutputAndExitCode) {
  SpawnOptions o;
  o.argv = {"sh", "-c", "read x; echo out:$x; echo err:$FOO >&2; exit 3"};
  o.env = {"FOO=bar"};
  auto r = RunCommand(o, milliseconds(10'000), "hello\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "out:hello\n");
  EXPECT_EQ(r->err, "err:bar\n");
}

TEST(Subprocess, LargeOutputOnBothStreamsDoesNotDeadlock) {
  SpawnOptions o;
  o.argv = {"sh", "-c", "head -c 300000 /dev/zero; head -c 300000 /dev/zero >&2"};
  auto r = RunCommand(o, milliseconds(10'000));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out.size(), 300000u);
  EXPECT_EQ(r->err.size(), 300000u);
}

TEST(Subprocess, TimeoutKills) {
  SpawnOptions o;
  o.argv = {"sleep", "30"};
  auto r = RunCommand(o, milliseconds(200));
  EXPECT_EQ(r.status().code(), Code::kDeadlineExceeded);
}

TEST(Subprocess, MissingProgramIsAnError) {
  SpawnOptions o;
  o.argv = {"no-such-program-here"};
  EXPECT_EQ(Process::Spawn(o).status().code(), Code::kNotFound);
}

TEST(Subprocess, ReadLineAndListeningAndTerminate) {
  SpawnOptions o;
  o.argv = {"sh", "-c", "echo starting; echo 'listening on http://127.0.0.1:1234'; exec sleep 30"};
  o.stdout_to = "pipe";
  auto p = Process::Spawn(o);
  ASSERT_TRUE(p.ok());
  auto url = WaitForListening(*p, milliseconds(5000));
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_EQ(*url, "http://127.0.0.1:1234");
  EXPECT_TRUE(p->Running());
  EXPECT_EQ(p->Terminate(milliseconds(2000)), 128 + SIGTERM);
  EXPECT_FALSE(p->Running());
}

}  // namespace
}  // namespace common

namespace common {
namespace {

TEST(Subprocess, ParentDeathSignalKillsTheChildWhenItsSpawnerGoes) {
  // Linux delivers the signal when the spawning thread exits, which stands in for the
  // supervisor process dying (kill -9) here.
  std::optional<Process> child;
  std::thread spawner([&] {
    SpawnOptions o;
    o.argv = {"sleep", "30"};
    o.parent_death_signal = SIGKILL;
    auto p = Process::Spawn(o);
    ASSERT_TRUE(p.ok());
    child.emplace(std::move(*p));
  });
  spawner.join();
  ASSERT_TRUE(child.has_value());
  auto code = child->Wait(std::chrono::milliseconds(5000));
  ASSERT_TRUE(code.ok()) << "child outlived its spawner";
  EXPECT_EQ(*code, 128 + SIGKILL);
}

}  // namespace
}  // namespace common
