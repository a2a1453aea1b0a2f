// Store over SQLite: one database file in WAL mode, schema versioned with
// PRAGMA user_version and migrated forward on open.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "store/store.h"

struct sqlite3;

namespace store {

// Thread-safe: one connection serialised by a mutex (SQLite work here is short; the
// mutex keeps the one connection's statements from interleaving).
class SqliteStore : public Store {
 public:
  // Opens (creating when missing, with mode 0600) and migrates the database at `path`.
  // Error when the file cannot be opened or its schema is newer than this build knows.
  static common::Result<std::unique_ptr<SqliteStore>> Open(const std::string& path);
  ~SqliteStore() override;

  // The schema version this build writes.
  static int SchemaVersion();

  common::Status CreateEntity(const Entity& entity) override;
  common::Status UpdateEntity(const Entity& entity) override;
  common::Result<Entity> GetEntity(Kind kind, const std::string& name) override;
  common::Result<std::vector<Entity>> ListEntities(Kind kind) override;
  common::Status DeleteEntity(Kind kind, const std::string& name) override;

  common::Status IngestEvents(std::vector<IngestItem>* items, int64_t dedup_since_ms) override;
  common::Result<std::vector<Event>> ListEvents(int limit) override;
  common::Result<Event> GetEvent(int64_t seq) override;
  common::Result<int> PruneEvents(int64_t before_ms) override;

  common::Status PutRuns(const std::vector<Run>& runs) override;
  common::Result<Run> GetRun(const std::string& id) override;
  common::Result<std::vector<Run>> ListRuns(const std::string& function, int limit) override;
  common::Result<std::map<RunStatus, int64_t>> CountRuns(const std::string& function) override;
  common::Result<std::vector<Run>> RunsWithStatus(const std::vector<RunStatus>& statuses) override;

 private:
  explicit SqliteStore(sqlite3* db) : db_(db) {}
  common::Status Migrate();
  common::Status Exec(const char* sql);

  std::mutex mu_;
  sqlite3* db_;  // guarded by mu_
};

}  // namespace store
