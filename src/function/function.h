// The native function model: what a C++ function receives (Context, payload) and what it
// returns (a JSON value or a typed Error). The server in function/server.h speaks the
// Dispatch function protocol and CloudEvents 1.0 HTTP on top of this; see README.md.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "common/status.h"

namespace function {

// The three error types of the Dispatch function protocol.
enum class ErrorType {
  kInputError,     // the caller's input is wrong; retrying the same input will not help (400)
  kFunctionError,  // the function failed (a dependency refused, a limit was hit…) (500)
  kSystemError,    // the runtime itself failed (502)
};

// "InputError", "FunctionError" or "SystemError".
const char* ErrorTypeName(ErrorType type);
// The HTTP status the protocol uses for the type: 400, 500 or 502.
int ErrorTypeHttpStatus(ErrorType type);

// A typed failure a handler returns. Plain value.
struct Error {
  ErrorType type = ErrorType::kFunctionError;
  std::string message;
  // True when running the same input again later may succeed (throttling, 5xx, timeouts).
  bool retryable = false;
  // With retryable: how long the caller should wait before retrying, when known.
  std::optional<std::chrono::milliseconds> retry_after;

  static Error Input(std::string message);
  static Error Function(std::string message);
  static Error System(std::string message);
  // A FunctionError worth retrying, after `retry_after` when given.
  static Error Retryable(std::string message,
                         std::optional<std::chrono::milliseconds> retry_after = std::nullopt);
  // Maps a Status: InvalidArgument → InputError; Unavailable, DeadlineExceeded,
  // ResourceExhausted, Aborted → retryable FunctionError; Internal → SystemError; every
  // other code → FunctionError. The message is the status message.
  static Error FromStatus(const common::Status& status);

  // The protocol's error body: {"type","message","stacktrace":[]} plus "retryable" and,
  // when known, "retry_after_ms".
  nlohmann::json ToJson() const;
};

// What a handler returns: the JSON result or an Error. Implicit from either.
class Outcome {
 public:
  Outcome(nlohmann::json value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Outcome(Error error) : v_(std::move(error)) {}           // NOLINT

  bool ok() const { return std::holds_alternative<nlohmann::json>(v_); }
  const nlohmann::json& value() const { return std::get<nlohmann::json>(v_); }
  const Error& error() const { return std::get<Error>(v_); }

 private:
  std::variant<nlohmann::json, Error> v_;
};

// Where secrets come from when the request's context does not carry them (a function run
// as a Knative Service or by hand): files `<dir>/<secret>/<key>` (Kubernetes mounts a secret
// as a folder with one file per key), then the environment variable
// `SECRET_<SECRET>_<KEY>` (upper-cased, every character other than A-Z 0-9 turned into '_',
// so `twitter`/`appKey` is SECRET_TWITTER_APPKEY). Thread-safe (read-only after setup).
struct SecretFallback {
  std::string dir;  // empty: no files; the server fills it from $DISPATCH_SECRETS_DIR
  // Environment lookup; empty means getenv. Tests inject a map.
  std::function<std::optional<std::string>(const std::string& name)> getenv;

  // The value of secret `name`, key `key`, from the files then the environment.
  std::optional<std::string> Lookup(const std::string& name, const std::string& key) const;
  // The environment variable name used for (name, key).
  static std::string EnvName(const std::string& name, const std::string& key);
};

// What a function run knows besides its payload. Read-only for the handler; valid for the
// duration of the call.
class Context {
 public:
  Context() = default;
  // `context` is the protocol's context object ({"secrets": {...}, "event": {...}, …}).
  Context(nlohmann::json context, const SecretFallback* fallback)
      : json_(std::move(context)), fallback_(fallback) {}

  // The whole context object as received (plus "event" for CloudEvents requests).
  const nlohmann::json& json() const { return json_; }
  // The CloudEvent that triggered the run (context.event), or null.
  const nlohmann::json& event() const;

  // Value of `context.secrets.<name>.<key>` when it is a string; otherwise, when the context
  // has no secret `name` at all, the SecretFallback. nullopt when absent everywhere.
  std::optional<std::string> Secret(const std::string& name, const std::string& key) const;
  // The first of `keys` that Secret(name, ·) finds (for aliases such as oathToken /
  // oauthToken).
  std::optional<std::string> SecretAny(const std::string& name,
                                       std::initializer_list<const char*> keys) const;

 private:
  nlohmann::json json_ = nlohmann::json::object();
  const SecretFallback* fallback_ = nullptr;  // not owned; may be null
};

// A function: called once per run, possibly from several threads at once (it must be
// thread-safe); it may block (it runs on a worker thread, not an I/O thread).
using Handler = std::function<Outcome(const Context& context, const nlohmann::json& payload)>;

}  // namespace function
