#include "store/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/crypto.h"

namespace store {
namespace {

namespace fs = std::filesystem;

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("store_test_" + common::NewUuid());
    fs::create_directories(dir_);
    path_ = (dir_ / "dispatch.db").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<SqliteStore> OpenStore() {
    auto s = SqliteStore::Open(path_);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  fs::path dir_;
  std::string path_;
};

Entity MakeEntity(Kind kind, const std::string& name) {
  Entity e;
  e.kind = kind;
  e.name = name;
  e.created_ms = e.modified_ms = 1000;
  e.spec = {{"image", "python3"}};
  e.tags = {{"team", "a"}};
  return e;
}

TEST_F(SqliteStoreTest, DatabaseFileIsOwnerOnly) {
  auto s = OpenStore();
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
}

TEST_F(SqliteStoreTest, EntityCrud) {
  auto s = OpenStore();
  ASSERT_TRUE(s->CreateEntity(MakeEntity(Kind::kFunction, "f1")).ok());
  EXPECT_EQ(s->CreateEntity(MakeEntity(Kind::kFunction, "f1")).code(),
            common::Code::kAlreadyExists);
  // Same name, other kind: independent.
  ASSERT_TRUE(s->CreateEntity(MakeEntity(Kind::kImage, "f1")).ok());

  auto got = s->GetEntity(Kind::kFunction, "f1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->spec["image"], "python3");
  EXPECT_EQ(got->tags["team"], "a");
  EXPECT_EQ(got->status, kCreating);

  Entity e = *got;
  e.status = kError;
  e.reason = "boom";
  ASSERT_TRUE(s->UpdateEntity(e).ok());
  EXPECT_EQ(s->GetEntity(Kind::kFunction, "f1")->reason, "boom");
  EXPECT_EQ(s->UpdateEntity(MakeEntity(Kind::kFunction, "nope")).code(), common::Code::kNotFound);

  ASSERT_TRUE(s->CreateEntity(MakeEntity(Kind::kFunction, "a0")).ok());
  auto list = s->ListEntities(Kind::kFunction);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "a0");

  ASSERT_TRUE(s->DeleteEntity(Kind::kFunction, "f1").ok());
  EXPECT_EQ(s->GetEntity(Kind::kFunction, "f1").status().code(), common::Code::kNotFound);
  EXPECT_EQ(s->DeleteEntity(Kind::kFunction, "f1").code(), common::Code::kNotFound);
  EXPECT_TRUE(s->GetEntity(Kind::kImage, "f1").ok());
}

IngestItem MakeItem(const std::string& source, const std::string& id, int64_t now,
                    const std::string& run_id) {
  IngestItem item;
  item.event.source = source;
  item.event.id = id;
  item.event.received_ms = now;
  item.event.cloud_event = {{"eventID", id}, {"eventType", "aws.s3"}};
  Run r;
  r.id = run_id;
  r.function = "f";
  r.created_ms = now;
  r.input = {{"k", 1}};
  item.runs.push_back(r);
  return item;
}

TEST_F(SqliteStoreTest, IngestDeduplicatesWithinWindow) {
  auto s = OpenStore();
  std::vector<IngestItem> batch = {MakeItem("src", "e1", 1000, "r1"),
                                   MakeItem("src", "e1", 1000, "r2"),  // same batch duplicate
                                   MakeItem("other", "e1", 1000, "r3")};
  ASSERT_TRUE(s->IngestEvents(&batch, 0).ok());
  EXPECT_FALSE(batch[0].duplicate);
  EXPECT_TRUE(batch[1].duplicate);
  EXPECT_FALSE(batch[2].duplicate);  // another source may reuse the id
  EXPECT_GT(batch[0].event.seq, 0);
  EXPECT_EQ(batch[0].runs[0].event_seq, batch[0].event.seq);

  EXPECT_TRUE(s->GetRun("r1").ok());
  EXPECT_EQ(s->GetRun("r2").status().code(), common::Code::kNotFound);

  // Later, but inside the window: still a duplicate.
  std::vector<IngestItem> again = {MakeItem("src", "e1", 5000, "r4")};
  ASSERT_TRUE(s->IngestEvents(&again, 500).ok());
  EXPECT_TRUE(again[0].duplicate);
  // Outside the window (the earlier copy is older than dedup_since): accepted again.
  std::vector<IngestItem> late = {MakeItem("src", "e1", 90000, "r5")};
  ASSERT_TRUE(s->IngestEvents(&late, 2000).ok());
  EXPECT_FALSE(late[0].duplicate);

  auto events = s->ListEvents(10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0].received_ms, 90000);  // newest first
  EXPECT_EQ((*events)[0].cloud_event["eventType"], "aws.s3");

  // Old events whose runs still wait are kept (a run reads its event when it starts)…
  auto pruned = s->PruneEvents(2000);
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 0);
  // …so are those of failed runs (a redrive needs the event)…
  for (const char* id : {"r1", "r3"}) {
    store::Run r = *s->GetRun(id);
    r.status = RunStatus::kFailed;
    ASSERT_TRUE(s->PutRuns({r}).ok());
  }
  EXPECT_EQ(*s->PruneEvents(2000), 0);
  // …and they go once their runs succeeded.
  for (const char* id : {"r1", "r3"}) {
    store::Run r = *s->GetRun(id);
    r.status = RunStatus::kSucceeded;
    ASSERT_TRUE(s->PutRuns({r}).ok());
  }
  pruned = s->PruneEvents(2000);
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 2);
  EXPECT_EQ(s->ListEvents(10)->size(), 1u);
}

TEST_F(SqliteStoreTest, PruneRunsKeepsUnfinishedAndTheNewestFinished) {
  auto s = OpenStore();
  std::vector<store::Run> runs;
  for (int i = 0; i < 6; ++i) {
    store::Run r;
    r.id = "a" + std::to_string(i);
    r.function = "a";
    r.created_ms = 1000 + i;
    r.finished_ms = 2000 + i;
    r.status = i == 0 ? RunStatus::kQueued : RunStatus::kSucceeded;
    runs.push_back(r);
  }
  store::Run b;
  b.id = "b0";
  b.function = "b";
  b.created_ms = 1000;
  b.finished_ms = 2000;
  b.status = RunStatus::kFailed;
  runs.push_back(b);
  ASSERT_TRUE(s->PutRuns(runs).ok());
  // Keep the newest 2 finished per function; nothing is old enough by age.
  auto pruned = s->PruneRuns(0, 2);
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 3);  // a1, a2, a3
  for (const char* kept : {"a0", "a4", "a5", "b0"}) EXPECT_TRUE(s->GetRun(kept).ok()) << kept;
  // By age: finished before 2005 go; the queued one stays whatever its age.
  pruned = s->PruneRuns(2005, 100);
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 2);  // a4, b0
  EXPECT_TRUE(s->GetRun("a0").ok());
  EXPECT_TRUE(s->GetRun("a5").ok());
  EXPECT_EQ(s->ListRuns("", 100)->size(), 2u);
}

TEST_F(SqliteStoreTest, RunsPersistAcrossReopen) {
  {
    auto s = OpenStore();
    store::Run a;
    a.id = "a";
    a.function = "f";
    a.created_ms = 1;
    a.status = RunStatus::kRunning;
    a.input = {{"x", "y"}};
    store::Run b = a;
    b.id = "b";
    b.created_ms = 2;
    b.status = RunStatus::kSucceeded;
    b.output = {{"ok", true}};
    store::Run c = a;
    c.id = "c";
    c.function = "g";
    c.created_ms = 3;
    c.status = RunStatus::kQueued;
    ASSERT_TRUE(s->PutRuns({a, b, c}).ok());
  }
  auto s = OpenStore();
  auto pending = s->RunsWithStatus({RunStatus::kQueued, RunStatus::kRunning});
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].id, "a");
  EXPECT_EQ((*pending)[0].input["x"], "y");
  EXPECT_EQ((*pending)[1].id, "c");

  auto f_runs = s->ListRuns("f", 10);
  ASSERT_TRUE(f_runs.ok());
  ASSERT_EQ(f_runs->size(), 2u);
  EXPECT_EQ((*f_runs)[0].id, "b");
  EXPECT_EQ((*f_runs)[0].output["ok"], true);
  EXPECT_EQ(s->ListRuns("", 10)->size(), 3u);
  auto counts = s->CountRuns("f");
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ((*counts)[RunStatus::kRunning], 1);
  EXPECT_EQ((*counts)[RunStatus::kSucceeded], 1);
  EXPECT_EQ(counts->count(RunStatus::kQueued), 0u);
  auto all = s->CountRuns("");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->at(RunStatus::kQueued), 1);
}

TEST_F(SqliteStoreTest, CountsFollowEveryStateChange) {
  auto s = OpenStore();
  store::Run r;
  r.id = "r";
  r.function = "f";
  ASSERT_TRUE(s->PutRuns({r}).ok());
  r.status = RunStatus::kRunning;
  ASSERT_TRUE(s->PutRuns({r, r}).ok());  // the same state twice counts once
  EXPECT_EQ(s->CountRuns("f")->at(RunStatus::kRunning), 1);
  EXPECT_EQ(s->CountRuns("f")->count(RunStatus::kQueued), 0u);
  r.status = RunStatus::kSucceeded;
  r.finished_ms = 5;
  ASSERT_TRUE(s->PutRuns({r}).ok());
  EXPECT_EQ(s->CountRuns("f")->at(RunStatus::kSucceeded), 1);
  EXPECT_EQ(s->CountRuns("f")->size(), 1u);
  ASSERT_EQ(*s->PruneRuns(10, 100), 1);
  EXPECT_TRUE(s->CountRuns("f")->empty());
  EXPECT_TRUE(s->CountRuns("")->empty());
}

// Failed runs are the dead-letter list: found by function and time, kept from the count-based
// pruning, and taken back to the queue by a redrive with their attempts and age clock reset.
TEST_F(SqliteStoreTest, FailedRunsAreFoundKeptAndRedriven) {
  auto s = OpenStore();
  std::vector<store::Run> runs;
  for (int i = 0; i < 6; ++i) {
    store::Run r;
    r.id = "r" + std::to_string(i);
    r.function = i < 4 ? "f" : "g";
    r.created_ms = 1000 + i * 100;
    r.finished_ms = 5000 + i;
    r.attempts = 5;
    r.max_attempts = 5;
    r.status = i % 2 == 0 ? RunStatus::kFailed : RunStatus::kSucceeded;
    r.error = {{"type", "FunctionError"}, {"message", "X answered 503"}};
    runs.push_back(r);
  }
  ASSERT_TRUE(s->PutRuns(runs).ok());
  RunQuery failed;
  failed.status = RunStatus::kFailed;
  auto found = s->FindRuns(failed);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 3u);
  EXPECT_EQ((*found)[0].id, "r4");  // newest first
  failed.function = "f";
  EXPECT_EQ(s->FindRuns(failed)->size(), 2u);
  failed.since_ms = 1100;
  failed.until_ms = 1300;
  ASSERT_EQ(s->FindRuns(failed)->size(), 1u);
  EXPECT_EQ(s->FindRuns(failed)->at(0).id, "r2");

  // Count-based pruning leaves failed runs alone (only succeeded runs beyond `keep` go).
  ASSERT_EQ(*s->PruneRuns(0, 1), 1);  // r1 (f keeps r3)
  EXPECT_TRUE(s->GetRun("r0").ok());
  EXPECT_FALSE(s->GetRun("r1").ok());

  // Redrive one function's failed runs in a time range: only r2.
  auto redriven = s->RedriveRuns(failed, 9000);
  ASSERT_TRUE(redriven.ok()) << redriven.status().ToString();
  ASSERT_EQ(redriven->size(), 1u);
  auto r2 = s->GetRun("r2");
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->status, RunStatus::kQueued);
  EXPECT_EQ(r2->attempts, 0);
  EXPECT_EQ(r2->next_attempt_ms, 9000);
  EXPECT_EQ(r2->age_from_ms, 9000);
  EXPECT_EQ(r2->redrives, 1);
  EXPECT_EQ(r2->created_ms, 1200);
  // A redrive of one run by id; a succeeded run is never taken.
  RunQuery one;
  one.id = "r3";
  EXPECT_TRUE(s->RedriveRuns(one, 9000)->empty());
  one.id = "r0";
  EXPECT_EQ(s->RedriveRuns(one, 9100)->size(), 1u);
  EXPECT_EQ(s->CountRuns("")->at(RunStatus::kFailed), 1);  // r4 is left
  EXPECT_EQ(s->CountRuns("")->at(RunStatus::kQueued), 2);
}

TEST_F(SqliteStoreTest, MigrationCountsTheRunsAlreadyThere) {
  {
    auto s = OpenStore();
    store::Run r;
    r.function = "f";
    for (const char* id : {"a", "b", "c"}) {
      r.id = id;
      ASSERT_TRUE(s->PutRuns({r}).ok());
    }
  }
  // Back to schema 1 (no counts, no retry columns), as a database written by an older build.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "DROP TRIGGER runs_counted_insert; DROP TRIGGER runs_counted_update; "
                         "DROP TRIGGER runs_counted_delete; DROP TABLE run_counts; "
                         "ALTER TABLE runs DROP COLUMN age_from_ms; "
                         "ALTER TABLE runs DROP COLUMN redrives; PRAGMA user_version=1",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto s = OpenStore();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->CountRuns("f")->at(RunStatus::kQueued), 3);
}

TEST_F(SqliteStoreTest, RefusesNewerSchema) {
  { auto s = OpenStore(); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  std::string sql = "PRAGMA user_version=" + std::to_string(SqliteStore::SchemaVersion() + 1);
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto s = SqliteStore::Open(path_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), common::Code::kFailedPrecondition);
}

TEST_F(SqliteStoreTest, MigratesAnEmptyFileOnce) {
  { auto s = OpenStore(); }
  auto s = OpenStore();  // second open: no migration re-run (would fail on CREATE TABLE)
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->ListEntities(Kind::kSecret).ok());
}

}  // namespace
}  // namespace store
