// The AWS REST-XML protocol (S3): an HTTP request routed to an operation by method, the
// resource it addresses (service, bucket, object) and its sub-resource query parameters and
// headers; XML request bodies parsed with S3's limits; errors rendered as S3's
// <Error><Code/>… document from an aws::AwsError. A service states its operation table and
// writes one function per operation; this file owns the protocol. Pure functions;
// thread-safe.
#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aws/error.h"
#include "http/message.h"

namespace pugi {
class xml_document;
}

namespace localcloud::rest_xml {

// What a request addresses: "/" (the service: ListBuckets), "/bucket", "/bucket/key".
enum class Resource { kService, kBucket, kObject };

// One row of an operation table. A request matches when its method and resource are equal,
// its query has `query` ("" matches any query; "uploads": the parameter is present, with
// any value; "list-type=2": the parameter has that value) and it carries `header` ("" any;
// lower case). Rows are tried in table order, so a row with a sub-resource comes before the
// bare row of the same method ("GET ?uploads" before "GET").
struct Route {
  std::string_view method;
  Resource resource;
  std::string_view query;
  std::string_view header;
  std::string_view operation;  // the operation's name in the service's model ("ListObjectsV2")
};

// The decoded query parameters of a request (a parameter given twice keeps the last value).
using QueryParams = std::map<std::string, std::string>;
QueryParams DecodeQuery(const http::Request& request);

// Whether `request` (addressing `resource`, with decoded `params`) matches `route`'s
// method, resource, query and header conditions.
bool Matches(const Route& route, const http::Request& request, Resource resource,
             const QueryParams& params);

// 405 MethodNotAllowed "The specified method is not allowed against this resource." for
// `service`, as S3 answers a method it does not serve on a resource (POST on an object
// without ?uploads or ?uploadId, PUT on the service).
aws::AwsError MethodNotAllowed(std::string service);

// The first row of `rows` whose `route` member the request matches, or MethodNotAllowed
// when none does. `Row` is a service's table row ({Route route; …handler…}); the returned
// pointer points into `rows`.
template <typename Row>
aws::Outcome<const Row*> Match(std::span<const Row> rows, const http::Request& request,
                               Resource resource, const QueryParams& params,
                               std::string_view service) {
  for (const Row& row : rows) {
    if (Matches(row.route, request, resource, params)) return &row;
  }
  return MethodNotAllowed(std::string(service));
}

// An error answer as S3 writes it: status error.http_status, Content-Type application/xml,
// body <Error><Code/><Message/><RequestId/>[resource elements]<HostId/></Error>, headers
// x-amz-request-id and x-amz-id-2. `resource` names what the error is about, as S3 adds it
// ({"BucketName", b} for NoSuchBucket, {"Key", k} for NoSuchKey, …); empty when none. A
// HEAD request gets the status and headers with no body (S3 sends none).
struct ErrorContext {
  std::string request_id;
  std::string host_id;  // x-amz-id-2
  bool head = false;
  std::vector<std::pair<std::string, std::string>> resource;
};
http::Response ErrorResponse(const aws::AwsError& error, const ErrorContext& context);

// A successful answer with an XML body (Content-Type application/xml).
http::Response XmlResponse(int status, std::string body);
// A successful answer with no body (200 for PUT of a configuration, 204 for DELETE).
http::Response EmptyResponse(int status);

// S3's XML request bodies are small documents a few levels deep.
inline constexpr int kMaxXmlDepth = 32;

// 400 MalformedXML, S3's answer to a request body it cannot read, for `service`.
aws::AwsError MalformedXml(std::string service);

// Parses a request's XML body into `doc` as S3 does: invalid UTF-8, a document that is not
// well-formed, or one nested deeper than kMaxXmlDepth elements is MalformedXml(service).
// The depth check is iterative (no recursion on untrusted input).
aws::AwsStatus LoadXml(std::string_view body, pugi::xml_document* doc, std::string_view service);

}  // namespace localcloud::rest_xml
