#include "store/group_commit.h"

#include <algorithm>
#include <string_view>
#include <unordered_set>
#include <utility>

namespace store {

GroupCommitter::GroupCommitter(Store& store, size_t max_batch)
    : store_(store), max_batch_(std::max<size_t>(1, max_batch)) {}

GroupCommitter::~GroupCommitter() { Stop(); }

void GroupCommitter::Start() {
  common::MutexLock l(mu_);
  if (running_ || stopping_) return;
  running_ = true;
  writer_ = std::thread([this] { Loop(); });
}

void GroupCommitter::Stop() {
  {
    common::MutexLock l(mu_);
    stopping_ = true;
  }
  cv_.NotifyAll();
  if (writer_.joinable()) writer_.join();
}

void GroupCommitter::Submit(WriteBatch batch, Done done) {
  common::MutexLock l(mu_);
  if (!running_) {
    l.Unlock();
    std::vector<Pending> one;
    one.push_back(Pending{std::move(batch), std::move(done)});
    Commit(one);
    return;
  }
  queue_.push_back(Pending{std::move(batch), std::move(done)});
  l.Unlock();
  cv_.NotifyOne();
}

void GroupCommitter::Loop() {
  common::MutexLock l(mu_);
  while (true) {
    cv_.Wait(mu_, [&]() REQUIRES(mu_) { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) {
      running_ = false;  // stopping, and everything is committed
      return;
    }
    std::vector<Pending> taken;
    size_t count = 0;
    while (!queue_.empty() && (taken.empty() || count < max_batch_)) {
      count += queue_.front().batch.items.size() + queue_.front().batch.runs.size();
      taken.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    l.Unlock();
    Commit(taken);
    l.Lock();
  }
}

void GroupCommitter::Commit(std::vector<Pending>& pending) {
  if (pending.size() == 1) {
    common::Status st = store_.Write(&pending[0].batch);
    if (pending[0].done) pending[0].done(st, pending[0].batch);
    return;
  }
  // Merge: every event first, then the run updates in submission order. A run update is
  // only ever submitted after the batch that created the run was committed, so moving the
  // events ahead of it reorders nothing that matters. A run updated twice in the merge (its
  // start and its end) is written once, in its last state.
  WriteBatch merged;
  merged.dedup_since_ms = pending[0].batch.dedup_since_ms;
  std::vector<Run*> runs;
  for (Pending& p : pending) {
    if (!p.batch.items.empty()) {
      merged.dedup_since_ms = std::min(merged.dedup_since_ms, p.batch.dedup_since_ms);
    }
    for (IngestItem& item : p.batch.items) merged.items.push_back(std::move(item));
    for (Run& run : p.batch.runs) runs.push_back(&run);
  }
  std::unordered_set<std::string_view> later;
  std::vector<Run*> kept;
  for (auto it = runs.rbegin(); it != runs.rend(); ++it) {
    if (later.insert((*it)->id).second) kept.push_back(*it);
  }
  merged.runs.reserve(kept.size());
  for (auto it = kept.rbegin(); it != kept.rend(); ++it) merged.runs.push_back(std::move(**it));
  common::Status st = store_.Write(&merged);
  size_t next_item = 0;
  for (Pending& p : pending) {
    for (IngestItem& item : p.batch.items) item = std::move(merged.items[next_item++]);
    if (p.done) p.done(st, p.batch);
  }
}

}  // namespace store
