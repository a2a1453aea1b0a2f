#include "dispatch/filter.h"

#if defined(DISPATCH_HAVE_EVENTPATTERN)
#include "eventpattern/pattern.h"
#endif

namespace dispatch {

#if defined(DISPATCH_HAVE_EVENTPATTERN)
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
#else
// UNFINISHED: built without src/eventpattern; --filter is refused with a clear error.
struct EventFilter::Impl {};

common::Result<std::shared_ptr<const EventFilter>> EventFilter::Parse(const nlohmann::json&) {
  return common::Unimplemented("subscription filters need the eventpattern library");
}

bool EventFilter::Matches(const nlohmann::json&) const { return false; }
#endif

EventFilter::~EventFilter() = default;

}  // namespace dispatch
