// The dispatch server's persistent state: entities (secrets, drivers, images, functions,
// subscriptions), received events and function runs, behind one small interface so the
// server logic does not depend on the storage technology.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace store {

// The kinds of named entities the API manages.
enum class Kind {
  kSecret,
  kEventDriverType,
  kEventDriver,
  kBaseImage,
  kImage,
  kFunction,
  kSubscription,
};

// "secret", "eventdrivertype", "eventdriver", "baseimage", "image", "function", "subscription".
const char* KindName(Kind kind);
// Inverse of KindName; nullopt for an unknown name.
std::optional<Kind> ParseKind(std::string_view name);
// Every kind, in dependency order (secrets first, subscriptions last).
const std::vector<Kind>& AllKinds();

// Lifecycle states every entity carries.
inline constexpr const char* kCreating = "CREATING";
inline constexpr const char* kReady = "READY";
inline constexpr const char* kError = "ERROR";
inline constexpr const char* kDeleting = "DELETING";

// One named entity. `spec` holds the kind-specific fields (a JSON object).
struct Entity {
  Kind kind = Kind::kSecret;
  std::string name;
  std::string status = kCreating;
  std::string reason;  // why it is in ERROR; empty otherwise
  int64_t created_ms = 0;
  int64_t modified_ms = 0;
  nlohmann::json tags = nlohmann::json::object();  // string → string
  nlohmann::json spec = nlohmann::json::object();
};

// An accepted event. `seq` is assigned by the store, increasing in arrival order.
struct Event {
  int64_t seq = 0;
  std::string source;  // deduplication scope: the sender's sourceID, or CloudEvents source
  std::string id;      // the sender's event id
  int64_t received_ms = 0;
  nlohmann::json cloud_event;  // normalised Dispatch CloudEvents 0.1 object
};

enum class RunStatus { kQueued, kRunning, kSucceeded, kFailed };
// "queued", "running", "succeeded", "failed".
const char* RunStatusName(RunStatus status);
std::optional<RunStatus> ParseRunStatus(std::string_view name);

// One execution of a function (with its retries).
struct Run {
  std::string id;  // UUID
  std::string function;
  std::string subscription;  // empty for `dispatch exec`
  int64_t event_seq = 0;     // 0 when not caused by an event
  RunStatus status = RunStatus::kQueued;
  int attempts = 0;  // attempts made so far
  int max_attempts = 1;
  nlohmann::json input;   // the payload given to the function
  nlohmann::json output;  // result when succeeded
  nlohmann::json error;   // {type, message, stacktrace} of the last failed attempt
  std::string logs;       // what the function printed during the last attempt
  int64_t created_ms = 0;
  int64_t started_ms = 0;  // start of the last attempt
  int64_t finished_ms = 0;
  int64_t next_attempt_ms = 0;  // when a queued run may start
  // Start of the run's age clock for the maximum event age: 0 means created_ms; a redrive
  // restarts it.
  int64_t age_from_ms = 0;
  int redrives = 0;  // times the run was taken from the failed list and queued again
};

// Which runs Store::FindRuns and Store::RedriveRuns select. Empty / zero fields match all.
struct RunQuery {
  std::string id;        // one run
  std::string function;  // runs of one function
  std::optional<RunStatus> status;
  int64_t since_ms = 0;  // created at or after
  int64_t until_ms = 0;  // created before (0: no bound)
  int limit = 100;
};

// One event to record with the runs it triggers, for Store::IngestEvents.
struct IngestItem {
  Event event;             // seq filled in by the store
  std::vector<Run> runs;   // event_seq filled in by the store
  bool duplicate = false;  // out: an event with this (source, id) was already recorded
};

// One group commit (Store::Write): events with the runs they trigger, and run updates.
struct WriteBatch {
  std::vector<IngestItem> items;  // events to record; `duplicate` and seqs filled in
  std::vector<Run> runs;          // runs to insert or replace, applied in order
  int64_t dedup_since_ms = 0;     // duplicate window for `items` (see IngestEvents)
};

// Storage for the dispatch server. Implementations are thread-safe; every method is one
// atomic transaction.
class Store {
 public:
  virtual ~Store() = default;

  // Changes whenever an entity is created, updated or deleted through this store (never
  // decreases), so callers can cache entities and know when to read them again.
  virtual int64_t EntityGeneration() const = 0;

  // Inserts an entity. AlreadyExists when (kind, name) exists.
  virtual common::Status CreateEntity(const Entity& entity) = 0;
  // Replaces an existing entity. NotFound when absent.
  virtual common::Status UpdateEntity(const Entity& entity) = 0;
  // NotFound when absent.
  virtual common::Result<Entity> GetEntity(Kind kind, const std::string& name) = 0;
  // Every entity of a kind, by name.
  virtual common::Result<std::vector<Entity>> ListEntities(Kind kind) = 0;
  // NotFound when absent.
  virtual common::Status DeleteEntity(Kind kind, const std::string& name) = 0;

  // Durably records the events and, for each event not seen before, its runs, in one
  // transaction. An event whose (source, id) was recorded at or after `dedup_since_ms` is
  // marked duplicate and neither it nor its runs are stored. Returns only after the commit
  // (reached disk, unless the implementation was told to trade that for latency: see
  // SqliteStore::Open), so the caller may acknowledge the events.
  common::Status IngestEvents(std::vector<IngestItem>* items, int64_t dedup_since_ms);
  // The most recent events, newest first.
  virtual common::Result<std::vector<Event>> ListEvents(int limit) = 0;
  virtual common::Result<Event> GetEvent(int64_t seq) = 0;
  // Deletes events (and their dedup records) received before `before_ms`, except those a
  // queued, running or failed run still refers to (a failed run may be redriven); returns
  // how many.
  virtual common::Result<int> PruneEvents(int64_t before_ms) = 0;

  // Inserts runs, or updates the state of runs already stored (all in one transaction; a
  // run's function, subscription, event and input never change). The commit survives a crash
  // of this process (kill -9) but, unlike IngestEvents, may be lost with the machine.
  common::Status PutRuns(const std::vector<Run>& runs);
  // Both of the above in one transaction: records `batch->items` (as IngestEvents, durably
  // when there are any) then applies `batch->runs`. On error nothing is written.
  virtual common::Status Write(WriteBatch* batch) = 0;
  // Deletes finished (succeeded or failed) runs that finished before `before_ms`, and
  // succeeded runs beyond the newest `keep` of each function whatever their age (failed runs
  // are the dead-letter list: only their age removes them); returns how many.
  virtual common::Result<int> PruneRuns(int64_t before_ms, int keep) = 0;
  // NotFound when absent.
  virtual common::Result<Run> GetRun(const std::string& id) = 0;
  // Runs newest first, of one function when `function` is non-empty.
  virtual common::Result<std::vector<Run>> ListRuns(const std::string& function, int limit) = 0;
  // Runs matching `query`, newest first, at most query.limit.
  virtual common::Result<std::vector<Run>> FindRuns(const RunQuery& query) = 0;
  // Takes the failed runs matching `query` (its status is ignored: only failed runs are
  // taken), at most query.limit, oldest first, and queues them again in one transaction:
  // attempts 0, max_attempts 0 (resolved from the function when it runs), next attempt and
  // age clock at `now_ms`, redrives + 1. Returns them as stored; the caller schedules them.
  // The commit survives a crash of this process (as PutRuns).
  virtual common::Result<std::vector<Run>> RedriveRuns(const RunQuery& query, int64_t now_ms) = 0;
  // How many runs of `function` (all functions when empty) are in each state.
  virtual common::Result<std::map<RunStatus, int64_t>> CountRuns(const std::string& function) = 0;
  // Runs in any of the given states, oldest first (used to resume work at start).
  virtual common::Result<std::vector<Run>> RunsWithStatus(
      const std::vector<RunStatus>& statuses) = 0;
};

}  // namespace store
