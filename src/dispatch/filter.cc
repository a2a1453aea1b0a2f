#include "dispatch/filter.h"

#include "eventpattern/pattern.h"

namespace dispatch {

struct EventFilter::Impl {
  eventpattern::Pattern pattern;
};

common::Result<std::shared_ptr<const EventFilter>> EventFilter::Parse(
    const nlohmann::json& pattern) {
  auto parsed = eventpattern::Pattern::Parse(pattern.dump());
  if (!parsed.ok()) {
    return common::InvalidArgument("invalid filter pattern: " + parsed.status().message());
  }
  std::shared_ptr<EventFilter> f(new EventFilter());
  f->impl_.reset(new Impl{std::move(parsed).value()});
  return std::shared_ptr<const EventFilter>(std::move(f));
}

bool EventFilter::Matches(const nlohmann::json& event) const {
  return impl_->pattern.Matches(event);
}

EventFilter::~EventFilter() = default;

}  // namespace dispatch
