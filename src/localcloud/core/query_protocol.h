// The AWS query protocol (form parameters in, XML out) mapped onto the JSON protocol's
// shapes, so a service implements each operation once on JSON and serves both protocols.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace localcloud {

// Converts decoded query-protocol parameters ("Attribute.1.Name=…",
// "SendMessageBatchRequestEntry.2.MessageBody=…", "AttributeName.1=All", "Tag.1.Key=…") to
// the JSON protocol's request shape ({"Attributes": {…}, "Entries": […], "AttributeNames":
// […], "Tags": {…}}). Scalars stay strings; readers accept strings for numbers.
nlohmann::json QueryParamsToJson(const std::map<std::string, std::string>& params);

// Renders a JSON-shaped result as the query protocol's XML response:
// <{action}Response xmlns="{xmlns}"><{action}Result>…</{action}Result><ResponseMetadata>
// <RequestId>…</RequestId></ResponseMetadata></{action}Response> (the Result element also
// when empty: SDKs look for it). Objects become nested
// elements; "Attributes"/"Tags"/"MessageAttributes" maps become SQS's Name/Value (Key/Value)
// entries; arrays repeat an element named after the member ("Messages" → Message,
// "QueueUrls" → QueueUrl, "Successful" → {action}ResultEntry, "Failed" →
// BatchResultErrorEntry, others the member name).
std::string RenderQueryResponse(std::string_view action, const nlohmann::json& result,
                                std::string_view request_id, std::string_view xmlns);

}  // namespace localcloud
