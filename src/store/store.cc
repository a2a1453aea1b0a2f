#include "store/store.h"

namespace store {

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kSecret:
      return "secret";
    case Kind::kEventDriverType:
      return "eventdrivertype";
    case Kind::kEventDriver:
      return "eventdriver";
    case Kind::kBaseImage:
      return "baseimage";
    case Kind::kImage:
      return "image";
    case Kind::kFunction:
      return "function";
    case Kind::kSubscription:
      return "subscription";
  }
  return "unknown";
}

std::optional<Kind> ParseKind(std::string_view name) {
  for (Kind k : AllKinds()) {
    if (name == KindName(k)) return k;
  }
  return std::nullopt;
}

const std::vector<Kind>& AllKinds() {
  static const std::vector<Kind> kAll = {
      Kind::kSecret, Kind::kEventDriverType, Kind::kEventDriver, Kind::kBaseImage,
      Kind::kImage,  Kind::kFunction,        Kind::kSubscription};
  return kAll;
}

const char* RunStatusName(RunStatus status) {
  switch (status) {
    case RunStatus::kQueued:
      return "queued";
    case RunStatus::kRunning:
      return "running";
    case RunStatus::kSucceeded:
      return "succeeded";
    case RunStatus::kFailed:
      return "failed";
  }
  return "unknown";
}

std::optional<RunStatus> ParseRunStatus(std::string_view name) {
  for (RunStatus s :
       {RunStatus::kQueued, RunStatus::kRunning, RunStatus::kSucceeded, RunStatus::kFailed}) {
    if (name == RunStatusName(s)) return s;
  }
  return std::nullopt;
}

common::Status Store::IngestEvents(std::vector<IngestItem>* items, int64_t dedup_since_ms) {
  WriteBatch batch;
  batch.items = std::move(*items);
  batch.dedup_since_ms = dedup_since_ms;
  common::Status st = Write(&batch);
  *items = std::move(batch.items);
  return st;
}

common::Status Store::PutRuns(const std::vector<Run>& runs) {
  WriteBatch batch;
  batch.runs = runs;
  return Write(&batch);
}

}  // namespace store
