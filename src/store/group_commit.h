// Group commit: one writer thread takes the writes of the server's hot path (ingested events
// with their runs, run state changes) and commits whatever has queued up meanwhile in one
// transaction, so concurrent writers share one fsync instead of paying one each.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>

#include "common/mutex.h"
#include "common/status.h"
#include "store/store.h"

namespace store {

// Thread-safe. Start once; Stop once (the destructor stops too).
class GroupCommitter {
 public:
  // Called on the writer thread once the batch's transaction is committed (for a batch with
  // events: on disk), or failed; `batch.items` have their duplicate flags and seqs filled in
  // (`batch.runs` may have been moved from). Must not block for long: the next commit waits.
  using Done = std::function<void(const common::Status& status, WriteBatch& batch)>;

  // `max_batch`: events and runs per transaction (a larger backlog is split).
  explicit GroupCommitter(Store& store, size_t max_batch = 2000);
  ~GroupCommitter();
  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  void Start();
  // Commits what is queued (calling its callbacks) and joins the writer. Batches submitted
  // afterwards are written on the caller's thread.
  void Stop();

  // Queues `batch` for the next commit; `done` (may be empty) is called after it.
  void Submit(WriteBatch batch, Done done);

 private:
  struct Pending {
    WriteBatch batch;
    Done done;
  };
  void Loop();
  // Writes `pending` in one transaction and calls their callbacks.
  void Commit(std::vector<Pending>& pending);

  Store& store_;
  const size_t max_batch_;
  common::Mutex mu_;
  common::CondVar cv_;
  std::deque<Pending> queue_ GUARDED_BY(mu_);
  bool running_ GUARDED_BY(mu_) = false;  // the writer thread takes submissions
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread writer_;
};

}  // namespace store
