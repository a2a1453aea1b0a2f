// Store over SQLite: one database file in WAL mode, schema versioned with
// PRAGMA user_version and migrated forward on open.
//
// Durability: WAL with synchronous=NORMAL, so every commit survives a crash of the process
// (kill -9), and synchronous=FULL for a commit that records events, so an acknowledged event
// also survives a crash of the machine (the WAL is fsynced before Write returns).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/mutex.h"
#include "store/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace store {

// Thread-safe: a writer connection and a reader connection, each serialised by its own
// mutex, so reads (WAL snapshots) never wait for a commit's fsync. Prepared statements are
// kept per connection and reused.
class SqliteStore : public Store {
 public:
  // Opens (creating when missing, with mode 0600) and migrates the database at `path`.
  // Error when the file cannot be opened or its schema is newer than this build knows.
  // `fsync_events`: commits that record events are fsynced (synchronous=FULL) so they survive
  // a crash of the machine; false leaves them at NORMAL (they survive a crash of the process).
  static common::Result<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                           bool fsync_events = true);
  ~SqliteStore() override;

  // The schema version this build writes.
  static int SchemaVersion();

  int64_t EntityGeneration() const override { return generation_.load(); }

  common::Status CreateEntity(const Entity& entity) override;
  common::Status UpdateEntity(const Entity& entity) override;
  common::Result<Entity> GetEntity(Kind kind, const std::string& name) override;
  common::Result<std::vector<Entity>> ListEntities(Kind kind) override;
  common::Status DeleteEntity(Kind kind, const std::string& name) override;

  common::Result<std::vector<Event>> ListEvents(int limit) override;
  common::Result<Event> GetEvent(int64_t seq) override;
  common::Result<int> PruneEvents(int64_t before_ms) override;

  common::Status Write(WriteBatch* batch) override;
  common::Result<int> PruneRuns(int64_t before_ms, int keep) override;
  common::Result<Run> GetRun(const std::string& id) override;
  common::Result<std::vector<Run>> ListRuns(const std::string& function, int limit) override;
  common::Result<std::vector<Run>> FindRuns(const RunQuery& query) override;
  common::Result<std::vector<Run>> RedriveRuns(const RunQuery& query, int64_t now_ms) override;
  common::Result<std::map<RunStatus, int64_t>> CountRuns(const std::string& function) override;
  common::Result<std::vector<Run>> RunsWithStatus(const std::vector<RunStatus>& statuses) override;

 private:
  // One SQLite connection with its prepared statements. Used under its owner's mutex only.
  struct Connection {
    sqlite3* db = nullptr;
    std::unordered_map<std::string, sqlite3_stmt*> statements;  // by SQL text
    int synchronous = -1;                                       // PRAGMA synchronous in effect
    ~Connection();
    // The statement for `sql`, prepared once. Null (and the error in *status) on failure.
    sqlite3_stmt* Prepare(const std::string& sql, common::Status* status);
    common::Status Exec(const char* sql);
    common::Status SetSynchronous(int level);  // 1 NORMAL, 2 FULL
  };

  SqliteStore() = default;
  common::Status Migrate() EXCLUDES(mu_);

  common::Mutex mu_;
  Connection writer_ GUARDED_BY(mu_);
  common::Mutex read_mu_;
  Connection reader_ GUARDED_BY(read_mu_);
  std::atomic<int64_t> generation_{0};
  bool fsync_events_ = true;
};

}  // namespace store
