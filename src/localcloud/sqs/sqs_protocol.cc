#include "localcloud/sqs/sqs_protocol.h"

#include "common/crypto.h"
#include "common/strings.h"

namespace localcloud::sqs {
namespace {

void AppendLengthPrefixed(std::string& out, std::string_view s) {
  uint32_t n = static_cast<uint32_t>(s.size());
  out.push_back(static_cast<char>((n >> 24) & 0xff));
  out.push_back(static_cast<char>((n >> 16) & 0xff));
  out.push_back(static_cast<char>((n >> 8) & 0xff));
  out.push_back(static_cast<char>(n & 0xff));
  out.append(s);
}

}  // namespace

std::string Md5OfMessageAttributes(const std::map<std::string, MessageAttributeValue>& attrs) {
  if (attrs.empty()) return "";
  std::string buf;
  for (const auto& [name, value] : attrs) {  // std::map: sorted by name (byte order)
    AppendLengthPrefixed(buf, name);
    AppendLengthPrefixed(buf, value.data_type);
    if (common::StartsWith(value.data_type, "Binary")) {
      buf.push_back(2);
      AppendLengthPrefixed(buf, value.binary_value);
    } else {
      buf.push_back(1);
      AppendLengthPrefixed(buf, value.string_value);
    }
  }
  return common::Md5Hex(buf);
}

}  // namespace localcloud::sqs
