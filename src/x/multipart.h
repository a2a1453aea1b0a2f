// multipart/form-data (RFC 7578): built by XClient for media uploads, parsed by the X
// sandbox. Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace x {

// One form field. `filename` and `content_type` are written only when non-empty.
struct FormPart {
  std::string name;
  std::string filename;
  std::string content_type;
  std::string data;
};

struct MultipartBody {
  std::string content_type;  // "multipart/form-data; boundary=…"
  std::string body;
};

// Encodes the parts with a random boundary that does not occur in any part's data.
MultipartBody BuildMultipart(const std::vector<FormPart>& parts);

// Decodes a multipart/form-data body given its Content-Type header value.
// InvalidArgument when the type is not multipart/form-data, the boundary is missing, or the
// body is malformed (no closing delimiter, part without a name).
common::Result<std::vector<FormPart>> ParseMultipart(std::string_view content_type,
                                                     std::string_view body);

}  // namespace x
