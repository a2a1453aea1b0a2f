#include "localcloud/core/rest_xml.h"

#include <gtest/gtest.h>

#include <pugixml.hpp>

namespace localcloud::rest_xml {
namespace {

struct Row {
  Route route;
};

constexpr Row kTable[] = {
    {{"GET", Resource::kBucket, "tagging", "", "GetBucketTagging"}},
    {{"GET", Resource::kBucket, "list-type=2", "", "ListObjectsV2"}},
    {{"GET", Resource::kBucket, "", "", "ListObjects"}},
    {{"PUT", Resource::kObject, "", "x-amz-copy-source", "CopyObject"}},
    {{"PUT", Resource::kObject, "", "", "PutObject"}},
};

http::Request MakeRequest(std::string method, std::string target,
                          std::vector<std::pair<std::string, std::string>> headers = {}) {
  http::Request r;
  r.method = std::move(method);
  r.target = std::move(target);
  for (auto& [n, v] : headers) r.headers.Add(n, v);
  return r;
}

std::string MatchName(const http::Request& r, Resource resource) {
  auto m = Match(std::span<const Row>(kTable), r, resource, DecodeQuery(r), "s3");
  return m.ok() ? std::string((*m)->route.operation) : "error " + m.error().code;
}

TEST(RestXmlMatch, FirstMatchingRowInTableOrder) {
  struct Case {
    http::Request request;
    Resource resource;
    std::string want;
  } cases[] = {
      {MakeRequest("GET", "/b?tagging"), Resource::kBucket, "GetBucketTagging"},
      {MakeRequest("GET", "/b?tagging=&list-type=2"), Resource::kBucket, "GetBucketTagging"},
      {MakeRequest("GET", "/b?list-type=2"), Resource::kBucket, "ListObjectsV2"},
      {MakeRequest("GET", "/b?list-type=1"), Resource::kBucket, "ListObjects"},
      {MakeRequest("GET", "/b?prefix=a"), Resource::kBucket, "ListObjects"},
      {MakeRequest("PUT", "/b/k", {{"X-Amz-Copy-Source", "/a/b"}}), Resource::kObject,
       "CopyObject"},
      {MakeRequest("PUT", "/b/k"), Resource::kObject, "PutObject"},
      // Same method, other resource: no row.
      {MakeRequest("GET", "/b/k"), Resource::kObject, "error MethodNotAllowed"},
      {MakeRequest("POST", "/b"), Resource::kBucket, "error MethodNotAllowed"},
      {MakeRequest("PATCH", "/b/k"), Resource::kObject, "error MethodNotAllowed"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(MatchName(c.request, c.resource), c.want)
        << c.request.method << " " << c.request.target;
  }
}

TEST(RestXmlMatch, NoMatchIs405MethodNotAllowed) {
  http::Request r = MakeRequest("POST", "/b/k");
  auto m = Match(std::span<const Row>(kTable), r, Resource::kObject, DecodeQuery(r), "s3");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().http_status, 405);
  EXPECT_EQ(m.error().service, "s3");
  EXPECT_EQ(m.error().message, "The specified method is not allowed against this resource.");
}

TEST(RestXmlMatch, DecodeQueryDecodesAndKeepsTheLastValue) {
  QueryParams p = DecodeQuery(MakeRequest("GET", "/b?prefix=a%20b&uploads&x=1&x=2"));
  EXPECT_EQ(p["prefix"], "a b");
  EXPECT_EQ(p.count("uploads"), 1u);
  EXPECT_EQ(p["x"], "2");
}

TEST(RestXmlError, RendersS3ErrorDocumentWithResourceAndHostId) {
  aws::AwsError e;
  e.service = "s3";
  e.code = "NoSuchBucket";
  e.message = "The specified bucket does not exist";
  e.http_status = 404;
  http::Response r = ErrorResponse(e, {"REQ1", "HOST2", false, {{"BucketName", "b<1>"}}});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.headers.GetOr("x-amz-request-id", ""), "REQ1");
  EXPECT_EQ(r.headers.GetOr("x-amz-id-2", ""), "HOST2");
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(r.body.c_str())) << r.body;
  pugi::xml_node error = doc.child("Error");
  EXPECT_STREQ(error.child_value("Code"), "NoSuchBucket");
  EXPECT_STREQ(error.child_value("Message"), "The specified bucket does not exist");
  EXPECT_STREQ(error.child_value("RequestId"), "REQ1");
  EXPECT_STREQ(error.child_value("BucketName"), "b<1>");
  EXPECT_STREQ(error.child_value("HostId"), "HOST2");
  // What aws::ParseErrorResponse (the project's client) reads back.
  aws::AwsError parsed = aws::ParseErrorResponse("s3", r);
  EXPECT_EQ(parsed.code, "NoSuchBucket");
  EXPECT_EQ(parsed.request_id, "REQ1");
}

TEST(RestXmlError, HeadGetsStatusAndHeadersWithoutBody) {
  aws::AwsError e;
  e.code = "NoSuchKey";
  e.http_status = 404;
  http::Response r = ErrorResponse(e, {"REQ1", "HOST2", true, {{"Key", "k"}}});
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(r.headers.GetOr("x-amz-request-id", ""), "REQ1");
}

std::string Nested(int depth) {
  std::string s;
  for (int i = 0; i < depth; ++i) s += "<a>";
  for (int i = 0; i < depth; ++i) s += "</a>";
  return s;
}

TEST(RestXmlBody, MalformedInvalidUtf8AndTooDeepAreMalformedXml) {
  for (std::string body :
       {std::string("not xml"), std::string("<a><b></a>"), std::string("<a>\xff\xfe</a>"),
        Nested(kMaxXmlDepth + 1), Nested(200000)}) {
    pugi::xml_document doc;
    aws::AwsStatus s = LoadXml(body, &doc, "s3");
    ASSERT_FALSE(s.ok()) << body.substr(0, 40);
    EXPECT_EQ(s.error().code, "MalformedXML");
    EXPECT_EQ(s.error().http_status, 400);
  }
}

TEST(RestXmlBody, AcceptsUtf8AtTheDepthLimit) {
  pugi::xml_document doc;
  EXPECT_TRUE(LoadXml(Nested(kMaxXmlDepth), &doc, "s3").ok());
  EXPECT_TRUE(LoadXml("<Delete><Object><Key>ünï</Key></Object></Delete>", &doc, "s3").ok());
  EXPECT_STREQ(doc.child("Delete").child("Object").child_value("Key"), "ünï");
}

TEST(RestXmlResponses, XmlAndEmpty) {
  http::Response x = XmlResponse(200, "<a/>");
  EXPECT_EQ(x.headers.GetOr("Content-Type", ""), "application/xml");
  EXPECT_EQ(x.body, "<a/>");
  http::Response e = EmptyResponse(204);
  EXPECT_EQ(e.status, 204);
  EXPECT_TRUE(e.body.empty());
}

}  // namespace
}  // namespace localcloud::rest_xml
