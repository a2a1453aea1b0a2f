// The project's one error model: runtime failures are values, never exceptions
// that cross a library boundary.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace common {

// What kind of failure a Status carries. Callers branch on the code, people read the message.
enum class Code {
  kOk = 0,
  kInvalidArgument,  // bad input from a caller or a peer (malformed JSON, bad flag…)
  kNotFound,
  kAlreadyExists,
  kPermissionDenied,  // credentials refused, bad signature
  kUnauthenticated,
  kResourceExhausted,  // throttled, over a size limit
  kFailedPrecondition,
  kUnavailable,  // transient: connection refused, 5xx, timeout
  kDeadlineExceeded,
  kAborted,
  kInternal,
  kUnimplemented,
};

// Human-readable name of a code, e.g. "InvalidArgument".
const char* CodeName(Code code);

// Status is OK or a code with a message. Cheap to copy when OK. Not thread-safe to mutate.
class Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "InvalidArgument: message", or "OK".
  std::string ToString() const;

  // Returns a copy with "context: " put in front of the message (code kept).
  Status WithContext(const std::string& context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
inline Status PermissionDenied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }
inline Status Unauthenticated(std::string m) { return {Code::kUnauthenticated, std::move(m)}; }
inline Status ResourceExhausted(std::string m) { return {Code::kResourceExhausted, std::move(m)}; }
inline Status FailedPrecondition(std::string m) {
  return {Code::kFailedPrecondition, std::move(m)};
}
inline Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
inline Status DeadlineExceeded(std::string m) { return {Code::kDeadlineExceeded, std::move(m)}; }
inline Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }
inline Status Unimplemented(std::string m) { return {Code::kUnimplemented, std::move(m)}; }

// Result<T> holds a T or a non-OK Status. Accessing value() of an error is a bug (asserted).
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result constructed from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  // The error, or OK when a value is held.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

  T& value() & {
    assert(ok());
    return std::get<T>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace common

// Propagates a non-OK Status from an expression returning Status.
#define DAT_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::common::Status dat_status_ = (expr);     \
    if (!dat_status_.ok()) return dat_status_; \
  } while (0)

#define DAT_CONCAT_INNER(a, b) a##b
#define DAT_CONCAT(a, b) DAT_CONCAT_INNER(a, b)
// Assigns the value of a Result expression to `lhs`, or returns its error.
#define DAT_ASSIGN_OR_RETURN(lhs, expr)                                                           \
  auto DAT_CONCAT(dat_result_, __LINE__) = (expr);                                                \
  if (!DAT_CONCAT(dat_result_, __LINE__).ok()) return DAT_CONCAT(dat_result_, __LINE__).status(); \
  lhs = std::move(DAT_CONCAT(dat_result_, __LINE__)).value()
