#include "store/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

namespace store {
namespace {

using common::Result;
using common::Status;
using nlohmann::json;

// Schema migrations: entry i moves the schema from version i to i+1. Never edit an entry
// that has shipped; append a new one.
const std::vector<const char*>& Migrations() {
  static const std::vector<const char*> kMigrations = {
      // 0 → 1: entities, events with their dedup index, runs.
      R"sql(
      CREATE TABLE entities (
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        created_ms INTEGER NOT NULL,
        modified_ms INTEGER NOT NULL,
        tags TEXT NOT NULL DEFAULT '{}',
        spec TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (kind, name));
      CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        source TEXT NOT NULL,
        event_id TEXT NOT NULL,
        received_ms INTEGER NOT NULL,
        body TEXT NOT NULL);
      CREATE INDEX events_dedup ON events (source, event_id, received_ms);
      CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        function TEXT NOT NULL,
        subscription TEXT NOT NULL DEFAULT '',
        event_seq INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL DEFAULT 1,
        input TEXT NOT NULL DEFAULT 'null',
        output TEXT NOT NULL DEFAULT 'null',
        error TEXT NOT NULL DEFAULT 'null',
        logs TEXT NOT NULL DEFAULT '',
        created_ms INTEGER NOT NULL,
        started_ms INTEGER NOT NULL DEFAULT 0,
        finished_ms INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL DEFAULT 0);
      CREATE INDEX runs_by_function ON runs (function, created_ms);
      CREATE INDEX runs_by_status ON runs (status);
      )sql",
      // 1 → 2: run counts by (function, status), kept by triggers, so that counting runs
      // does not read every run.
      R"sql(
      CREATE TABLE run_counts (
        function TEXT NOT NULL,
        status TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (function, status)) WITHOUT ROWID;
      INSERT INTO run_counts (function, status, n)
        SELECT function, status, COUNT(*) FROM runs GROUP BY function, status;
      CREATE TRIGGER runs_counted_insert AFTER INSERT ON runs BEGIN
        INSERT INTO run_counts (function, status, n) VALUES (NEW.function, NEW.status, 1)
          ON CONFLICT (function, status) DO UPDATE SET n = n + 1;
      END;
      CREATE TRIGGER runs_counted_update AFTER UPDATE OF status ON runs
        WHEN OLD.status <> NEW.status BEGIN
        UPDATE run_counts SET n = n - 1 WHERE function = OLD.function AND status = OLD.status;
        INSERT INTO run_counts (function, status, n) VALUES (NEW.function, NEW.status, 1)
          ON CONFLICT (function, status) DO UPDATE SET n = n + 1;
      END;
      CREATE TRIGGER runs_counted_delete AFTER DELETE ON runs BEGIN
        UPDATE run_counts SET n = n - 1 WHERE function = OLD.function AND status = OLD.status;
      END;
      )sql",
      // 2 → 3: the retry age clock and redrive count of a run (the failed runs are the
      // dead-letter list a redrive takes runs from).
      R"sql(
      ALTER TABLE runs ADD COLUMN age_from_ms INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE runs ADD COLUMN redrives INTEGER NOT NULL DEFAULT 0;
      )sql",
  };
  return kMigrations;
}

Status SqliteError(sqlite3* db, const std::string& what) {
  return common::Internal("sqlite " + what + ": " + sqlite3_errmsg(db));
}

// A cached prepared statement in use: bound, stepped, and reset (bindings cleared) when it
// goes out of scope so the next user starts clean. Not thread-safe.
class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* stmt, Status prepared)
      : db_(db), stmt_(stmt), prepared_(std::move(prepared)) {}
  ~Stmt() { Reset(); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  const Status& prepared() const { return prepared_; }
  Stmt& Bind(int i, const std::string& s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(stmt_); }
  Status StepDone() {
    int rc = Step();
    if (rc == SQLITE_DONE) return Status::Ok();
    if (rc == SQLITE_CONSTRAINT) return common::AlreadyExists(sqlite3_errmsg(db_));
    return SqliteError(db_, "step");
  }
  void Reset() {
    if (stmt_ == nullptr) return;
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  std::string Text(int col) const {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  Status prepared_;
};

json ParseStored(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? json() : j;
}

constexpr const char* kEntityColumns =
    "kind, name, status, reason, created_ms, modified_ms, tags, spec";

Entity ReadEntity(const Stmt& s) {
  Entity e;
  e.kind = ParseKind(s.Text(0)).value_or(Kind::kSecret);
  e.name = s.Text(1);
  e.status = s.Text(2);
  e.reason = s.Text(3);
  e.created_ms = s.Int(4);
  e.modified_ms = s.Int(5);
  e.tags = ParseStored(s.Text(6));
  if (!e.tags.is_object()) e.tags = json::object();
  e.spec = ParseStored(s.Text(7));
  if (!e.spec.is_object()) e.spec = json::object();
  return e;
}

constexpr const char* kRunColumns =
    "id, function, subscription, event_seq, status, attempts, max_attempts, input, output, "
    "error, logs, created_ms, started_ms, finished_ms, next_attempt_ms, age_from_ms, redrives";

Run ReadRun(const Stmt& s) {
  Run r;
  r.id = s.Text(0);
  r.function = s.Text(1);
  r.subscription = s.Text(2);
  r.event_seq = s.Int(3);
  r.status = ParseRunStatus(s.Text(4)).value_or(RunStatus::kQueued);
  r.attempts = static_cast<int>(s.Int(5));
  r.max_attempts = static_cast<int>(s.Int(6));
  r.input = ParseStored(s.Text(7));
  r.output = ParseStored(s.Text(8));
  r.error = ParseStored(s.Text(9));
  r.logs = s.Text(10);
  r.created_ms = s.Int(11);
  r.started_ms = s.Int(12);
  r.finished_ms = s.Int(13);
  r.next_attempt_ms = s.Int(14);
  r.age_from_ms = s.Int(15);
  r.redrives = static_cast<int>(s.Int(16));
  return r;
}

Event ReadEvent(const Stmt& s) {
  Event e;
  e.seq = s.Int(0);
  e.source = s.Text(1);
  e.id = s.Text(2);
  e.received_ms = s.Int(3);
  e.cloud_event = ParseStored(s.Text(4));
  return e;
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Runs `body` inside BEGIN IMMEDIATE … COMMIT, rolling back when it fails.
template <typename F>
Status InTransaction(sqlite3* db, F&& body) {
  char* err = nullptr;
  if (sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "begin failed";
    sqlite3_free(err);
    return common::Internal("sqlite begin: " + msg);
  }
  Status st = body();
  if (!st.ok()) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return st;
  }
  if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "commit failed";
    sqlite3_free(err);
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return common::Internal("sqlite commit: " + msg);
  }
  return Status::Ok();
}

Status PutRunStmt(Stmt& s, const Run& r) {
  s.Reset();
  s.Bind(1, r.id)
      .Bind(2, r.function)
      .Bind(3, r.subscription)
      .Bind(4, r.event_seq)
      .Bind(5, std::string(RunStatusName(r.status)))
      .Bind(6, static_cast<int64_t>(r.attempts))
      .Bind(7, static_cast<int64_t>(r.max_attempts))
      .Bind(8, Dump(r.input))
      .Bind(9, Dump(r.output))
      .Bind(10, Dump(r.error))
      .Bind(11, r.logs)
      .Bind(12, r.created_ms)
      .Bind(13, r.started_ms)
      .Bind(14, r.finished_ms)
      .Bind(15, r.next_attempt_ms)
      .Bind(16, r.age_from_ms)
      .Bind(17, static_cast<int64_t>(r.redrives));
  return s.StepDone();
}

constexpr const char* kPutRunSql =
    "INSERT INTO runs (id, function, subscription, event_seq, status, attempts, max_attempts, "
    "input, output, error, logs, created_ms, started_ms, finished_ms, next_attempt_ms, "
    "age_from_ms, redrives) VALUES "
    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17) "
    // An update in place: only the state columns change, so only their index is touched.
    "ON CONFLICT (id) DO UPDATE SET status=excluded.status, attempts=excluded.attempts, "
    "max_attempts=excluded.max_attempts, output=excluded.output, error=excluded.error, "
    "logs=excluded.logs, started_ms=excluded.started_ms, finished_ms=excluded.finished_ms, "
    "next_attempt_ms=excluded.next_attempt_ms, age_from_ms=excluded.age_from_ms, "
    "redrives=excluded.redrives";

}  // namespace

int SqliteStore::SchemaVersion() { return static_cast<int>(Migrations().size()); }

SqliteStore::Connection::~Connection() {
  for (auto& [sql, stmt] : statements) sqlite3_finalize(stmt);
  sqlite3_close(db);
}

sqlite3_stmt* SqliteStore::Connection::Prepare(const std::string& sql, Status* status) {
  auto it = statements.find(sql);
  if (it != statements.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) !=
      SQLITE_OK) {
    *status = SqliteError(db, "prepare");
    sqlite3_finalize(stmt);
    return nullptr;
  }
  statements.emplace(sql, stmt);
  return stmt;
}

Status SqliteStore::Connection::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "failed";
    sqlite3_free(err);
    return common::Internal(std::string("sqlite: ") + msg + " in: " + sql);
  }
  return Status::Ok();
}

Status SqliteStore::Connection::SetSynchronous(int level) {
  if (synchronous == level) return Status::Ok();
  DAT_RETURN_IF_ERROR(Exec(level == 2 ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
  synchronous = level;
  return Status::Ok();
}

// A statement of `conn` (prepared once, then reused); check prepared() before use.
#define DAT_STMT(var, conn, sql)                                    \
  Status var##_prepared;                                            \
  sqlite3_stmt* var##_raw = (conn).Prepare((sql), &var##_prepared); \
  Stmt var((conn).db, var##_raw, std::move(var##_prepared));        \
  DAT_RETURN_IF_ERROR(var.prepared())

namespace {

Result<sqlite3*> OpenConnection(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return common::Unavailable("cannot open database " + path + ": " + msg);
  }
  sqlite3_busy_timeout(db, 5000);
  return db;
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path, bool fsync_events) {
  // Create the file with owner-only permissions before SQLite does (it would use 0644);
  // secrets live in it.
  int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) return common::Unavailable("cannot open database " + path);
  ::fchmod(fd, 0600);
  ::close(fd);

  std::unique_ptr<SqliteStore> store(new SqliteStore());
  store->fsync_events_ = fsync_events;
  common::MutexLock writer_lock(store->mu_);  // not shared yet: for the analysis
  DAT_ASSIGN_OR_RETURN(store->writer_.db, OpenConnection(path));
  // WAL: readers do not block the writer. NORMAL: a commit survives a process crash (kill -9)
  // but may be lost with the machine; Write switches to FULL for a transaction that records
  // events, so an acknowledged event is on disk (run status updates may be replayed:
  // at-least-once).
  for (const char* pragma :
       {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON"}) {
    DAT_RETURN_IF_ERROR(store->writer_.Exec(pragma));
  }
  store->writer_.synchronous = 1;
  // A larger page cache than the 2 MiB default: the indexes of a busy store stay in memory
  // instead of being read back for every commit.
  DAT_RETURN_IF_ERROR(store->writer_.Exec("PRAGMA cache_size=-32768"));
  for (const char* suffix : {"-wal", "-shm"}) {
    ::chmod((path + suffix).c_str(), 0600);
  }
  writer_lock.Unlock();
  DAT_RETURN_IF_ERROR(store->Migrate());
  common::MutexLock reader_lock(store->read_mu_);
  DAT_ASSIGN_OR_RETURN(store->reader_.db, OpenConnection(path));
  DAT_RETURN_IF_ERROR(store->reader_.Exec("PRAGMA cache_size=-16384"));
  return store;
}

SqliteStore::~SqliteStore() = default;

Status SqliteStore::Migrate() {
  common::MutexLock l(mu_);
  int version = 0;
  {
    DAT_STMT(s, writer_, "PRAGMA user_version");
    if (s.Step() == SQLITE_ROW) version = static_cast<int>(s.Int(0));
  }
  const auto& migrations = Migrations();
  if (version > static_cast<int>(migrations.size())) {
    return common::FailedPrecondition("database schema version " + std::to_string(version) +
                                      " is newer than this build (" +
                                      std::to_string(migrations.size()) + ")");
  }
  for (int v = version; v < static_cast<int>(migrations.size()); ++v) {
    DAT_RETURN_IF_ERROR(InTransaction(writer_.db, [&]() -> Status {
      mu_.AssertHeld();  // InTransaction runs the body at once, under Migrate's lock
      DAT_RETURN_IF_ERROR(writer_.Exec(migrations[v]));
      std::string bump = "PRAGMA user_version=" + std::to_string(v + 1);
      return writer_.Exec(bump.c_str());
    }));
  }
  return Status::Ok();
}

Status SqliteStore::CreateEntity(const Entity& e) {
  common::MutexLock l(mu_);
  DAT_STMT(s, writer_,
           "INSERT INTO entities (kind, name, status, reason, created_ms, modified_ms, tags, "
           "spec) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  s.Bind(1, std::string(KindName(e.kind)))
      .Bind(2, e.name)
      .Bind(3, e.status)
      .Bind(4, e.reason)
      .Bind(5, e.created_ms)
      .Bind(6, e.modified_ms)
      .Bind(7, Dump(e.tags))
      .Bind(8, Dump(e.spec));
  Status st = s.StepDone();
  generation_++;
  if (st.code() == common::Code::kAlreadyExists) {
    return common::AlreadyExists(std::string(KindName(e.kind)) + " " + e.name + " already exists");
  }
  return st;
}

Status SqliteStore::UpdateEntity(const Entity& e) {
  common::MutexLock l(mu_);
  DAT_STMT(s, writer_,
           "UPDATE entities SET status=?3, reason=?4, created_ms=?5, modified_ms=?6, tags=?7, "
           "spec=?8 WHERE kind=?1 AND name=?2");
  s.Bind(1, std::string(KindName(e.kind)))
      .Bind(2, e.name)
      .Bind(3, e.status)
      .Bind(4, e.reason)
      .Bind(5, e.created_ms)
      .Bind(6, e.modified_ms)
      .Bind(7, Dump(e.tags))
      .Bind(8, Dump(e.spec));
  Status st = s.StepDone();
  generation_++;
  DAT_RETURN_IF_ERROR(st);
  if (sqlite3_changes(writer_.db) == 0) {
    return common::NotFound(std::string(KindName(e.kind)) + " " + e.name + " not found");
  }
  return Status::Ok();
}

Result<Entity> SqliteStore::GetEntity(Kind kind, const std::string& name) {
  common::MutexLock l(read_mu_);
  DAT_STMT(s, reader_,
           std::string("SELECT ") + kEntityColumns + " FROM entities WHERE kind=?1 AND name=?2");
  s.Bind(1, std::string(KindName(kind))).Bind(2, name);
  int rc = s.Step();
  if (rc == SQLITE_ROW) return ReadEntity(s);
  if (rc == SQLITE_DONE) {
    return common::NotFound(std::string(KindName(kind)) + " " + name + " not found");
  }
  return SqliteError(reader_.db, "get entity");
}

Result<std::vector<Entity>> SqliteStore::ListEntities(Kind kind) {
  common::MutexLock l(read_mu_);
  DAT_STMT(s, reader_,
           std::string("SELECT ") + kEntityColumns + " FROM entities WHERE kind=?1 ORDER BY name");
  s.Bind(1, std::string(KindName(kind)));
  std::vector<Entity> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back(ReadEntity(s));
  if (rc != SQLITE_DONE) return SqliteError(reader_.db, "list entities");
  return out;
}

Status SqliteStore::DeleteEntity(Kind kind, const std::string& name) {
  common::MutexLock l(mu_);
  DAT_STMT(s, writer_, "DELETE FROM entities WHERE kind=?1 AND name=?2");
  s.Bind(1, std::string(KindName(kind))).Bind(2, name);
  Status st = s.StepDone();
  generation_++;
  DAT_RETURN_IF_ERROR(st);
  if (sqlite3_changes(writer_.db) == 0) {
    return common::NotFound(std::string(KindName(kind)) + " " + name + " not found");
  }
  return Status::Ok();
}

Status SqliteStore::Write(WriteBatch* batch) {
  if (batch->items.empty() && batch->runs.empty()) return Status::Ok();
  common::MutexLock l(mu_);
  DAT_STMT(seen, writer_,
           "SELECT 1 FROM events WHERE source=?1 AND event_id=?2 AND received_ms>=?3");
  DAT_STMT(insert, writer_,
           "INSERT INTO events (source, event_id, received_ms, body) VALUES (?1, ?2, ?3, ?4)");
  DAT_STMT(put_run, writer_, kPutRunSql);
  // FULL when events are recorded: they must be on disk before they are acknowledged.
  DAT_RETURN_IF_ERROR(writer_.SetSynchronous(batch->items.empty() || !fsync_events_ ? 1 : 2));
  return InTransaction(writer_.db, [&]() -> Status {
    mu_.AssertHeld();  // InTransaction runs the body at once, under Write's lock
    for (IngestItem& item : batch->items) {
      seen.Reset();
      seen.Bind(1, item.event.source).Bind(2, item.event.id).Bind(3, batch->dedup_since_ms);
      int rc = seen.Step();
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) return SqliteError(writer_.db, "dedup lookup");
      item.duplicate = (rc == SQLITE_ROW);
      if (item.duplicate) continue;
      insert.Reset();
      insert.Bind(1, item.event.source)
          .Bind(2, item.event.id)
          .Bind(3, item.event.received_ms)
          .Bind(4, Dump(item.event.cloud_event));
      DAT_RETURN_IF_ERROR(insert.StepDone());
      item.event.seq = sqlite3_last_insert_rowid(writer_.db);
      for (Run& run : item.runs) {
        run.event_seq = item.event.seq;
        DAT_RETURN_IF_ERROR(PutRunStmt(put_run, run));
      }
    }
    for (const Run& run : batch->runs) DAT_RETURN_IF_ERROR(PutRunStmt(put_run, run));
    return Status::Ok();
  });
}

Result<std::vector<Event>> SqliteStore::ListEvents(int limit) {
  common::MutexLock l(read_mu_);
  DAT_STMT(s, reader_,
           "SELECT seq, source, event_id, received_ms, body FROM events ORDER BY seq DESC "
           "LIMIT ?1");
  s.Bind(1, static_cast<int64_t>(limit));
  std::vector<Event> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back(ReadEvent(s));
  if (rc != SQLITE_DONE) return SqliteError(reader_.db, "list events");
  return out;
}

Result<Event> SqliteStore::GetEvent(int64_t seq) {
  common::MutexLock l(read_mu_);
  DAT_STMT(s, reader_, "SELECT seq, source, event_id, received_ms, body FROM events WHERE seq=?1");
  s.Bind(1, seq);
  int rc = s.Step();
  if (rc == SQLITE_ROW) return ReadEvent(s);
  if (rc == SQLITE_DONE) return common::NotFound("event " + std::to_string(seq) + " not found");
  return SqliteError(reader_.db, "get event");
}

Result<int> SqliteStore::PruneEvents(int64_t before_ms) {
  common::MutexLock l(mu_);
  // Events a run still waits for are kept (the run reads its event when it starts).
  DAT_STMT(s, writer_,
           "DELETE FROM events WHERE received_ms<?1 AND seq NOT IN (SELECT event_seq FROM runs "
           "WHERE status IN ('queued', 'running', 'failed'))");
  s.Bind(1, before_ms);
  DAT_RETURN_IF_ERROR(writer_.SetSynchronous(1));
  DAT_RETURN_IF_ERROR(s.StepDone());
  return sqlite3_changes(writer_.db);
}

Result<int> SqliteStore::PruneRuns(int64_t before_ms, int keep) {
  common::MutexLock l(mu_);
  DAT_STMT(s, writer_,
           "DELETE FROM runs WHERE status IN ('succeeded', 'failed') AND (finished_ms<?1 OR "
           "rowid IN (SELECT rowid FROM (SELECT rowid, ROW_NUMBER() OVER (PARTITION BY function "
           "ORDER BY created_ms DESC, rowid DESC) AS n FROM runs WHERE status='succeeded') "
           "WHERE n>?2))");
  s.Bind(1, before_ms).Bind(2, static_cast<int64_t>(keep));
  DAT_RETURN_IF_ERROR(writer_.SetSynchronous(1));
  DAT_RETURN_IF_ERROR(s.StepDone());
  return sqlite3_changes(writer_.db);
}

Result<Run> SqliteStore::GetRun(const std::string& id) {
  common::MutexLock l(read_mu_);
  DAT_STMT(s, reader_, std::string("SELECT ") + kRunColumns + " FROM runs WHERE id=?1");
  s.Bind(1, id);
  int rc = s.Step();
  if (rc == SQLITE_ROW) return ReadRun(s);
  if (rc == SQLITE_DONE) return common::NotFound("run " + id + " not found");
  return SqliteError(reader_.db, "get run");
}

Result<std::vector<Run>> SqliteStore::ListRuns(const std::string& function, int limit) {
  common::MutexLock l(read_mu_);
  DAT_STMT(s, reader_,
           std::string("SELECT ") + kRunColumns + " FROM runs" +
               (function.empty() ? "" : " WHERE function=?2") +
               " ORDER BY created_ms DESC, rowid DESC LIMIT ?1");
  s.Bind(1, static_cast<int64_t>(limit));
  if (!function.empty()) s.Bind(2, function);
  std::vector<Run> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back(ReadRun(s));
  if (rc != SQLITE_DONE) return SqliteError(reader_.db, "list runs");
  return out;
}

namespace {

// "SELECT <run columns> FROM runs WHERE …" for `query`, with parameters ?1 id, ?2 function,
// ?3 status, ?4 since, ?5 until, ?6 limit (only those the query uses appear).
std::string RunQuerySql(const RunQuery& query, std::optional<RunStatus> status, bool newest_first) {
  std::string sql = std::string("SELECT ") + kRunColumns + " FROM runs WHERE 1=1";
  if (!query.id.empty()) sql += " AND id=?1";
  if (!query.function.empty()) sql += " AND function=?2";
  if (status) sql += " AND status=?3";
  if (query.since_ms > 0) sql += " AND created_ms>=?4";
  if (query.until_ms > 0) sql += " AND created_ms<?5";
  sql += newest_first ? " ORDER BY created_ms DESC, rowid DESC" : " ORDER BY created_ms, rowid";
  return sql + " LIMIT ?6";
}

void BindRunQuery(Stmt& s, const RunQuery& query, std::optional<RunStatus> status) {
  if (!query.id.empty()) s.Bind(1, query.id);
  if (!query.function.empty()) s.Bind(2, query.function);
  if (status) s.Bind(3, std::string(RunStatusName(*status)));
  if (query.since_ms > 0) s.Bind(4, query.since_ms);
  if (query.until_ms > 0) s.Bind(5, query.until_ms);
  s.Bind(6, static_cast<int64_t>(std::max(1, query.limit)));
}

}  // namespace

Result<std::vector<Run>> SqliteStore::FindRuns(const RunQuery& query) {
  common::MutexLock l(read_mu_);
  DAT_STMT(s, reader_, RunQuerySql(query, query.status, true));
  BindRunQuery(s, query, query.status);
  std::vector<Run> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back(ReadRun(s));
  if (rc != SQLITE_DONE) return SqliteError(reader_.db, "find runs");
  return out;
}

Result<std::vector<Run>> SqliteStore::RedriveRuns(const RunQuery& query, int64_t now_ms) {
  common::MutexLock l(mu_);
  DAT_STMT(select, writer_, RunQuerySql(query, RunStatus::kFailed, false));
  DAT_STMT(put_run, writer_, kPutRunSql);
  DAT_RETURN_IF_ERROR(writer_.SetSynchronous(1));
  std::vector<Run> runs;
  Status st = InTransaction(writer_.db, [&]() -> Status {
    mu_.AssertHeld();  // InTransaction runs the body at once, under RedriveRuns's lock
    BindRunQuery(select, query, RunStatus::kFailed);
    int rc;
    while ((rc = select.Step()) == SQLITE_ROW) runs.push_back(ReadRun(select));
    if (rc != SQLITE_DONE) return SqliteError(writer_.db, "select failed runs");
    for (Run& run : runs) {
      run.status = RunStatus::kQueued;
      run.attempts = 0;
      run.max_attempts = 0;
      run.next_attempt_ms = now_ms;
      run.age_from_ms = now_ms;
      run.redrives++;
      DAT_RETURN_IF_ERROR(PutRunStmt(put_run, run));
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return runs;
}

Result<std::map<RunStatus, int64_t>> SqliteStore::CountRuns(const std::string& function) {
  common::MutexLock l(read_mu_);
  DAT_STMT(s, reader_,
           std::string("SELECT status, SUM(n) FROM run_counts") +
               (function.empty() ? "" : " WHERE function=?1") +
               " GROUP BY status HAVING SUM(n) > 0");
  if (!function.empty()) s.Bind(1, function);
  std::map<RunStatus, int64_t> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    if (auto st = ParseRunStatus(s.Text(0))) out[*st] = s.Int(1);
  }
  if (rc != SQLITE_DONE) return SqliteError(reader_.db, "count runs");
  return out;
}

Result<std::vector<Run>> SqliteStore::RunsWithStatus(const std::vector<RunStatus>& statuses) {
  common::MutexLock l(read_mu_);
  std::string in;
  for (RunStatus st : statuses) {
    if (!in.empty()) in += ",";
    in += std::string("'") + RunStatusName(st) + "'";
  }
  if (in.empty()) return std::vector<Run>{};
  DAT_STMT(s, reader_,
           std::string("SELECT ") + kRunColumns + " FROM runs WHERE status IN (" + in +
               ") ORDER BY created_ms, rowid");
  std::vector<Run> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back(ReadRun(s));
  if (rc != SQLITE_DONE) return SqliteError(reader_.db, "runs by status");
  return out;
}

}  // namespace store
