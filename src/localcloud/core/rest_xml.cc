#include "localcloud/core/rest_xml.h"

#include <pugixml.hpp>

#include "common/strings.h"

namespace localcloud::rest_xml {
namespace {

// Whether pugixml's tree nests deeper than `max_depth` elements; iterative.
bool XmlDeeperThan(const pugi::xml_node& root, int max_depth) {
  std::vector<std::pair<pugi::xml_node, int>> stack = {{root, 0}};
  while (!stack.empty()) {
    auto [node, depth] = stack.back();
    stack.pop_back();
    if (depth > max_depth) return true;
    for (pugi::xml_node child = node.first_child(); child; child = child.next_sibling()) {
      stack.emplace_back(child, depth + 1);
    }
  }
  return false;
}

bool QueryMatches(std::string_view condition, const QueryParams& params) {
  if (condition.empty()) return true;
  size_t eq = condition.find('=');
  auto it = params.find(std::string(condition.substr(0, eq)));
  if (it == params.end()) return false;
  return eq == std::string_view::npos || it->second == condition.substr(eq + 1);
}

}  // namespace

QueryParams DecodeQuery(const http::Request& request) {
  QueryParams params;
  for (auto& [name, value] : http::ParseQuery(request.query())) params[name] = std::move(value);
  return params;
}

bool Matches(const Route& route, const http::Request& request, Resource resource,
             const QueryParams& params) {
  return route.method == request.method && route.resource == resource &&
         QueryMatches(route.query, params) &&
         (route.header.empty() || request.headers.Has(route.header));
}

aws::AwsError MethodNotAllowed(std::string service) {
  aws::AwsError e;
  e.service = std::move(service);
  e.code = "MethodNotAllowed";
  e.message = "The specified method is not allowed against this resource.";
  e.http_status = 405;
  return e;
}

http::Response ErrorResponse(const aws::AwsError& error, const ErrorContext& context) {
  aws::AwsError e = error;
  e.request_id = context.request_id;
  std::vector<std::pair<std::string, std::string>> extra = context.resource;
  extra.emplace_back("HostId", context.host_id);
  http::Response response = aws::ToS3XmlResponse(e, extra);
  response.headers.Set("x-amz-id-2", context.host_id);
  if (context.head) response.body.clear();
  return response;
}

http::Response XmlResponse(int status, std::string body) {
  return http::Response::Text(status, std::move(body), "application/xml");
}

http::Response EmptyResponse(int status) { return XmlResponse(status, ""); }

aws::AwsError MalformedXml(std::string service) {
  aws::AwsError e;
  e.service = std::move(service);
  e.code = "MalformedXML";
  e.message =
      "The XML you provided was not well-formed or did not validate against our published "
      "schema";
  e.http_status = 400;
  return e;
}

aws::AwsStatus LoadXml(std::string_view body, pugi::xml_document* doc, std::string_view service) {
  if (!common::IsValidUtf8(body) ||
      !doc->load_buffer(body.data(), body.size(), pugi::parse_default, pugi::encoding_utf8) ||
      XmlDeeperThan(*doc, kMaxXmlDepth)) {
    return MalformedXml(std::string(service));
  }
  return aws::Empty{};
}

}  // namespace localcloud::rest_xml
