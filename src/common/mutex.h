// Mutexes the compiler can check.
//
// libstdc++'s std::mutex carries no thread-safety attributes, so clang's -Wthread-safety cannot
// see who holds it. These thin wrappers add them; the cost is nil (every call is inline).
//
//   class Queue {
//    public:
//     void Push(int v) {
//       common::MutexLock lock(mu_);
//       items_.push_back(v);
//       cv_.NotifyOne();
//     }
//     int Pop() {
//       common::MutexLock lock(mu_);
//       cv_.Wait(mu_, [&]() REQUIRES(mu_) { return !items_.empty(); });
//       ...
//     }
//    private:
//     common::Mutex mu_;
//     common::CondVar cv_;
//     std::deque<int> items_ GUARDED_BY(mu_);
//   };
//
// `make tsa` compiles the tree with clang -Wthread-safety -Werror (scripts/thread-safety-check).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>

#if defined(__clang__)
#define DAT_TSA(x) __attribute__((x))
#else
#define DAT_TSA(x)
#endif

#define CAPABILITY(x) DAT_TSA(capability(x))
#define SCOPED_CAPABILITY DAT_TSA(scoped_lockable)
#define GUARDED_BY(x) DAT_TSA(guarded_by(x))
#define PT_GUARDED_BY(x) DAT_TSA(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) DAT_TSA(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) DAT_TSA(acquired_after(__VA_ARGS__))
#define REQUIRES(...) DAT_TSA(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) DAT_TSA(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE(...) DAT_TSA(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) DAT_TSA(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) DAT_TSA(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) DAT_TSA(release_shared_capability(__VA_ARGS__))
#define RELEASE_GENERIC(...) DAT_TSA(release_generic_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) DAT_TSA(try_acquire_capability(__VA_ARGS__))
#define EXCLUDES(...) DAT_TSA(locks_excluded(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) DAT_TSA(assert_capability(x))
#define RETURN_CAPABILITY(x) DAT_TSA(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS DAT_TSA(no_thread_safety_analysis)

namespace common {

// A std::mutex the analysis knows. Not recursive.
class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  bool TryLock() TRY_ACQUIRE(true) { return mu_.try_lock(); }
  // Tells the analysis the caller holds this mutex (for callbacks it cannot follow).
  void AssertHeld() const ASSERT_CAPABILITY(this) {}

 private:
  friend class CondVar;
  std::mutex mu_;
};

// A std::shared_mutex the analysis knows: many readers or one writer.
class CAPABILITY("mutex") SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  void LockShared() ACQUIRE_SHARED() { mu_.lock_shared(); }
  void UnlockShared() RELEASE_SHARED() { mu_.unlock_shared(); }

 private:
  std::shared_mutex mu_;
};

// Holds a Mutex for its scope (std::lock_guard). Unlock()/Lock() allow a window without it.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.Lock(); }
  ~MutexLock() RELEASE() {
    if (held_) mu_.Unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Unlock() RELEASE() {
    mu_.Unlock();
    held_ = false;
  }
  void Lock() ACQUIRE() {
    mu_.Lock();
    held_ = true;
  }

 private:
  Mutex& mu_;
  bool held_ = true;
};

// Holds a SharedMutex exclusively for its scope.
class SCOPED_CAPABILITY WriterLock {
 public:
  explicit WriterLock(SharedMutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.Lock(); }
  ~WriterLock() RELEASE() { mu_.Unlock(); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  SharedMutex& mu_;
};

// Holds a SharedMutex shared for its scope.
class SCOPED_CAPABILITY ReaderLock {
 public:
  explicit ReaderLock(SharedMutex& mu) ACQUIRE_SHARED(mu) : mu_(mu) { mu_.LockShared(); }
  ~ReaderLock() RELEASE() { mu_.UnlockShared(); }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  SharedMutex& mu_;
};

// A condition variable over common::Mutex. The caller holds the mutex (usually through a
// MutexLock); waiting releases it and takes it back before returning, as std's does.
class CondVar {
 public:
  void NotifyOne() { cv_.notify_one(); }
  void NotifyAll() { cv_.notify_all(); }

  void Wait(Mutex& mu) REQUIRES(mu) {
    std::unique_lock<std::mutex> l(mu.mu_, std::adopt_lock);
    cv_.wait(l);
    l.release();
  }
  // pred runs with mu held; annotate it `[&]() REQUIRES(mu_) { ... }` to read guarded members.
  template <typename Pred>
  void Wait(Mutex& mu, Pred pred) REQUIRES(mu) NO_THREAD_SAFETY_ANALYSIS {
    while (!pred()) Wait(mu);
  }
  // Returns false on timeout.
  template <typename Clock, typename Duration>
  bool WaitUntil(Mutex& mu, std::chrono::time_point<Clock, Duration> deadline) REQUIRES(mu) {
    std::unique_lock<std::mutex> l(mu.mu_, std::adopt_lock);
    bool woke = cv_.wait_until(l, deadline) == std::cv_status::no_timeout;
    l.release();
    return woke;
  }
  // Returns pred() at the end: false means the deadline passed with pred still false.
  template <typename Clock, typename Duration, typename Pred>
  bool WaitUntil(Mutex& mu, std::chrono::time_point<Clock, Duration> deadline, Pred pred)
      REQUIRES(mu) NO_THREAD_SAFETY_ANALYSIS {
    while (!pred()) {
      if (!WaitUntil(mu, deadline)) return pred();
    }
    return true;
  }
  template <typename Rep, typename Period>
  bool WaitFor(Mutex& mu, std::chrono::duration<Rep, Period> d) REQUIRES(mu) {
    return WaitUntil(mu, std::chrono::steady_clock::now() + d);
  }
  template <typename Rep, typename Period, typename Pred>
  bool WaitFor(Mutex& mu, std::chrono::duration<Rep, Period> d, Pred pred)
      REQUIRES(mu) NO_THREAD_SAFETY_ANALYSIS {
    return WaitUntil(mu, std::chrono::steady_clock::now() + d, std::move(pred));
  }

 private:
  std::condition_variable cv_;
};

}  // namespace common
