#include "store/group_commit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto.h"
#include "store/sqlite_store.h"

namespace store {
namespace {

namespace fs = std::filesystem;

class GroupCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("group_commit_test_" + common::NewUuid());
    fs::create_directories(dir_);
    auto s = SqliteStore::Open((dir_ / "dispatch.db").string());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }

  static WriteBatch Event(const std::string& id, const std::string& run_id) {
    WriteBatch batch;
    IngestItem item;
    item.event.source = "src";
    item.event.id = id;
    item.event.received_ms = 1000;
    item.event.cloud_event = {{"eventID", id}};
    store::Run run;
    run.id = run_id;
    run.function = "f";
    item.runs.push_back(run);
    batch.items.push_back(item);
    return batch;
  }

  fs::path dir_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(GroupCommitTest, ConcurrentSubmissionsAreAllCommittedAndAnswered) {
  GroupCommitter committer(*store_);
  committer.Start();
  constexpr int kThreads = 8;
  constexpr int kEach = 50;
  std::atomic<int> answered{0};
  std::atomic<int> duplicates{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        // Every id twice: one of the two copies is a duplicate, whichever commit it lands in.
        std::string id = "e" + std::to_string((t * kEach + i) / 2);
        std::string run = "r" + std::to_string(t * kEach + i);
        committer.Submit(Event(id, run), [&](const common::Status& st, WriteBatch& b) {
          EXPECT_TRUE(st.ok()) << st.ToString();
          if (b.items[0].duplicate) duplicates++;
          EXPECT_TRUE(b.items[0].duplicate || b.items[0].event.seq > 0);
          answered++;
        });
      }
    });
  }
  for (auto& t : threads) t.join();
  committer.Stop();  // commits and answers what is still queued
  EXPECT_EQ(answered, kThreads * kEach);
  EXPECT_EQ(duplicates, kThreads * kEach / 2);
  EXPECT_EQ(store_->ListEvents(1000)->size(), static_cast<size_t>(kThreads * kEach / 2));
  EXPECT_EQ(store_->CountRuns("f")->at(RunStatus::kQueued), kThreads * kEach / 2);
}

TEST_F(GroupCommitTest, RunUpdatesApplyInOrderAndTheLastStateWins) {
  GroupCommitter committer(*store_);
  committer.Start();
  std::mutex mu;
  std::vector<std::string> order;
  store::Run run;
  run.id = "r";
  run.function = "f";
  for (RunStatus st : {RunStatus::kQueued, RunStatus::kRunning, RunStatus::kSucceeded}) {
    run.status = st;
    WriteBatch batch;
    batch.runs.push_back(run);
    committer.Submit(std::move(batch), [&, st](const common::Status& s, WriteBatch&) {
      EXPECT_TRUE(s.ok());
      std::lock_guard<std::mutex> l(mu);
      order.push_back(RunStatusName(st));
    });
  }
  committer.Stop();
  EXPECT_EQ(order, (std::vector<std::string>{"queued", "running", "succeeded"}));
  EXPECT_EQ(store_->GetRun("r")->status, RunStatus::kSucceeded);
  EXPECT_EQ(store_->CountRuns("f")->size(), 1u);
  // After Stop a submission is written at once, on the caller's thread.
  bool called = false;
  run.status = RunStatus::kFailed;
  WriteBatch late;
  late.runs.push_back(run);
  committer.Submit(std::move(late), [&](const common::Status& s, WriteBatch&) {
    EXPECT_TRUE(s.ok());
    called = true;
  });
  EXPECT_TRUE(called);
  EXPECT_EQ(store_->GetRun("r")->status, RunStatus::kFailed);
}

}  // namespace
}  // namespace store
