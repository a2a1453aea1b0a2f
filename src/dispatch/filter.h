// A subscription's optional filter: an EventBridge-style event pattern (the pattern library
// localcloud's EventBridge uses) matched against the event's Dispatch CloudEvents 0.1 JSON,
// e.g. {"data": {"detail": {"object": {"key": [{"prefix": "images/"}]}}}}.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>

#include "common/status.h"

namespace dispatch {

// Immutable after Parse; thread-safe.
class EventFilter {
 public:
  // InvalidArgument (with the pattern library's reason) when the pattern is not valid.
  static common::Result<std::shared_ptr<const EventFilter>> Parse(const nlohmann::json& pattern);
  ~EventFilter();

  bool Matches(const nlohmann::json& event) const;

 private:
  struct Impl;
  EventFilter() = default;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dispatch
