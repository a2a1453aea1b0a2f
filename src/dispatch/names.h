// Names of the API's entities: which names it accepts, and the names it makes up for entities
// created without one. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace dispatch {

// True for names the API accepts: 1–63 of [A-Za-z0-9._-], starting with a letter or digit.
bool IsValidName(std::string_view name);

// A random readable name such as "innocent-werewolf-420270" (valid by IsValidName).
std::string RandomName();

}  // namespace dispatch
