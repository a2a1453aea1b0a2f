#include "x/multipart.h"

#include "common/crypto.h"
#include "common/strings.h"

namespace x {
namespace {

// Value of `name` in a header parameter list ("form-data; name=\"a\"; filename=b").
std::string HeaderParam(std::string_view header, std::string_view name) {
  for (const std::string& raw : common::Split(header, ';')) {
    std::string_view item = common::Trim(raw);
    auto eq = item.find('=');
    if (eq == std::string_view::npos) continue;
    if (!common::EqualsIgnoreCase(common::Trim(item.substr(0, eq)), name)) continue;
    std::string_view value = common::Trim(item.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    return std::string(value);
  }
  return "";
}

}  // namespace

MultipartBody BuildMultipart(const std::vector<FormPart>& parts) {
  std::string boundary;
  bool clash = true;
  while (clash) {
    boundary = "dat-" + common::HexEncode(common::RandomBytes(16));
    clash = false;
    for (const auto& part : parts) clash = clash || part.data.find(boundary) != std::string::npos;
  }
  MultipartBody out;
  out.content_type = "multipart/form-data; boundary=" + boundary;
  for (const auto& part : parts) {
    out.body += "--" + boundary + "\r\n";
    out.body += "Content-Disposition: form-data; name=\"" + part.name + "\"";
    if (!part.filename.empty()) out.body += "; filename=\"" + part.filename + "\"";
    out.body += "\r\n";
    if (!part.content_type.empty()) out.body += "Content-Type: " + part.content_type + "\r\n";
    out.body += "\r\n";
    out.body += part.data;
    out.body += "\r\n";
  }
  out.body += "--" + boundary + "--\r\n";
  return out;
}

common::Result<std::vector<FormPart>> ParseMultipart(std::string_view content_type,
                                                     std::string_view body) {
  std::string type = common::ToLower(common::Trim(common::Split(content_type, ';')[0]));
  if (type != "multipart/form-data") {
    return common::InvalidArgument("expected multipart/form-data, got '" + type + "'");
  }
  std::string boundary = HeaderParam(content_type, "boundary");
  if (boundary.empty()) return common::InvalidArgument("multipart body without a boundary");
  const std::string delimiter = "--" + boundary;

  std::vector<FormPart> parts;
  size_t pos = body.find(delimiter);
  if (pos == std::string_view::npos) return common::InvalidArgument("no multipart delimiter");
  pos += delimiter.size();
  while (true) {
    if (body.substr(pos, 2) == "--") return parts;  // closing delimiter
    if (body.substr(pos, 2) != "\r\n") return common::InvalidArgument("malformed delimiter line");
    pos += 2;
    size_t header_end = body.find("\r\n\r\n", pos);
    if (header_end == std::string_view::npos) {
      return common::InvalidArgument("multipart part without a header end");
    }
    FormPart part;
    std::string disposition;
    for (const std::string& line : common::Split(body.substr(pos, header_end - pos), '\n')) {
      std::string_view l = common::Trim(line);
      auto colon = l.find(':');
      if (colon == std::string_view::npos) continue;
      std::string_view name = common::Trim(l.substr(0, colon));
      std::string_view value = common::Trim(l.substr(colon + 1));
      if (common::EqualsIgnoreCase(name, "Content-Disposition")) disposition = value;
      if (common::EqualsIgnoreCase(name, "Content-Type")) part.content_type = value;
    }
    part.name = HeaderParam(disposition, "name");
    part.filename = HeaderParam(disposition, "filename");
    if (part.name.empty()) return common::InvalidArgument("multipart part without a name");
    size_t data_start = header_end + 4;
    size_t next = body.find("\r\n" + delimiter, data_start);
    if (next == std::string_view::npos) {
      return common::InvalidArgument("multipart body without a closing delimiter");
    }
    part.data = std::string(body.substr(data_start, next - data_start));
    parts.push_back(std::move(part));
    pos = next + 2 + delimiter.size();
  }
}

}  // namespace x
