// Bounds on untrusted JSON, checked before anything walks it recursively (nlohmann's dump and
// copy, simdjson's tree, our pattern compiler and matchers all recurse per nesting level).
// Pure functions, thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "common/status.h"

namespace common {

// Nesting accepted in a payload from outside (event data, a run's input, an API body): far
// beyond any real document, far below what recursion over it could overflow. Layers that wrap
// a payload in an envelope accept a few levels more (see each folder's README).
inline constexpr int kMaxJsonDepth = 128;

// Ok when arrays and objects in `text` nest at most `max_depth` levels ("[]" is 1, a scalar
// 0). Otherwise InvalidArgument "JSON nested deeper than N levels". Does not validate the
// JSON otherwise (brackets inside strings are skipped, escapes honoured). One pass, no
// allocation, no recursion: cheap to run before a parser.
Status CheckJsonDepth(std::string_view text, int max_depth = kMaxJsonDepth);

// CheckJsonDepth, then a non-throwing nlohmann parse. InvalidArgument "malformed JSON: …"
// on a syntax error.
Result<nlohmann::json> ParseJsonBounded(std::string_view text, int max_depth = kMaxJsonDepth);

}  // namespace common
