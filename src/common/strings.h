// Small string helpers shared by every library. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace common {

std::string ToLower(std::string_view s);
std::string ToUpper(std::string_view s);
// Removes leading and trailing spaces, tabs, CR and LF.
std::string_view Trim(std::string_view s);
bool StartsWith(std::string_view s, std::string_view prefix);
bool EndsWith(std::string_view s, std::string_view suffix);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
// Splits on every occurrence of `sep`; "a,,b" gives {"a", "", "b"}; "" gives {""}.
std::vector<std::string> Split(std::string_view s, char sep);
std::string Join(const std::vector<std::string>& parts, std::string_view sep);

// Lower-case hex of the bytes.
std::string HexEncode(std::string_view bytes);
// Decodes hex (either case); false on odd length or a non-hex digit.
bool HexDecode(std::string_view hex, std::string* out);

std::string Base64Encode(std::string_view bytes);
// Standard alphabet, padding optional, whitespace not allowed. False on bad input.
bool Base64Decode(std::string_view b64, std::string* out);

// RFC 3986 percent-encoding: unreserved characters (A-Z a-z 0-9 - . _ ~) kept, every other
// byte as %XX upper-case. With encode_slash false, '/' is kept (S3 object paths).
std::string UriEncode(std::string_view s, bool encode_slash = true);
// Decodes %XX; with plus_as_space, '+' becomes ' ' (form encoding). False on a bad escape.
bool UriDecode(std::string_view s, std::string* out, bool plus_as_space = false);
// application/x-www-form-urlencoded as S3 event notifications write keys: space → '+',
// unreserved and '/' kept, other bytes %XX.
std::string FormEncode(std::string_view s, bool keep_slash = true);

// True when the bytes are valid UTF-8 (no overlongs, no surrogates).
bool IsValidUtf8(std::string_view s);

// Appends `s` as a quoted JSON string: '"' and '\\' escaped, control characters as \n, \t
// or \u00XX, everything else (UTF-8 included) as it is. `s` must be valid UTF-8.
void AppendJsonString(std::string* out, std::string_view s);

}  // namespace common
