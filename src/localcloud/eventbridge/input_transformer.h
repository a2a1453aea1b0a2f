// EventBridge InputTransformer templates, rendered as EventBridge documents it
// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html).
// Pure function; thread-safe.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace localcloud::eventbridge {

// Replaces each <name> of `tmpl` that names a variable. A template whose first non-blank
// character is '{' or '[' is JSON: there a string value placed outside quotes is written as a
// quoted, escaped JSON string (so `{"from": <src>}` stays valid JSON), inside quotes as its
// escaped characters; other values as JSON text; a variable whose path matched nothing
// (nullopt) as null outside quotes and as nothing inside them (localcloud's choice: AWS does
// not document it). Any other template is text: values go in as plain text.
std::string RenderInputTemplate(const std::string& tmpl,
                                const std::map<std::string, std::optional<nlohmann::json>>& vars);

}  // namespace localcloud::eventbridge
