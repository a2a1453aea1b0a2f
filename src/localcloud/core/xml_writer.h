// A small streaming XML writer for the XML responses of S3 and the SQS/STS query protocol.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace localcloud {

// Escapes &, <, >, " and ' for element text and attribute values; control characters other
// than tab, CR and LF become character references (&#x1;) as AWS writes them.
std::string XmlEscape(std::string_view text);

// Builds one XML document front to back. Not thread-safe; one owner.
//   XmlWriter w;  w.Open("ListBucketResult", kS3Namespace); w.Element("Name", b); w.Close();
class XmlWriter {
 public:
  // Starts with the XML declaration when `declaration`.
  explicit XmlWriter(bool declaration = true);
  // <name> or <name xmlns="ns">.
  XmlWriter& Open(std::string_view name, std::string_view xmlns = "");
  // Closes the innermost open element.
  XmlWriter& Close();
  // <name>escaped text</name>
  XmlWriter& Element(std::string_view name, std::string_view text);
  // The document; closes every element still open.
  std::string Finish();

 private:
  std::string out_;
  std::vector<std::string> open_;
};

}  // namespace localcloud
