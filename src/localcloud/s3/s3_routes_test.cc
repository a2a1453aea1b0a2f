// S3's operation table: each method, resource and sub-resource to its operation, the
// answers to combinations S3 does not serve, and every row checked against S3's own model
// (botocore's, when installed).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "common/strings.h"
#include "localcloud/models/model_checker.h"
#include "localcloud/s3/s3_operations.h"

namespace localcloud::s3 {
namespace {

using rest_xml::Resource;

// A request "METHOD TARGET", with one header when `header` is "name: value".
http::Request Req(const char* line, std::string_view header = "") {
  http::Request r;
  std::string_view text(line);
  size_t space = text.find(' ');
  r.method = std::string(text.substr(0, space));
  r.target = std::string(text.substr(space + 1));
  if (size_t colon = header.find(": "); colon != std::string_view::npos) {
    r.headers.Add(std::string(header.substr(0, colon)), std::string(header.substr(colon + 2)));
  }
  return r;
}

// "/" is the service, "/b" a bucket, "/b/k" an object (path style).
Resource ResourceOf(const http::Request& r) {
  std::string_view path = r.path();
  size_t slashes = std::count(path.begin(), path.end(), '/');
  if (path == "/") return Resource::kService;
  return slashes == 1 ? Resource::kBucket : Resource::kObject;
}

// The operation name, or "<code> <status>" when routing refuses.
std::string Route(const http::Request& r) {
  auto op = RouteS3(r, ResourceOf(r), rest_xml::DecodeQuery(r));
  if (!op.ok()) return op.error().code + " " + std::to_string(op.error().http_status);
  return std::string((*op)->route.operation);
}

TEST(S3Routes, EachSubResourceToItsOperation) {
  struct Case {
    http::Request request;
    std::string want;
  } cases[] = {
      {Req("GET /"), "ListBuckets"},
      {Req("PUT /b"), "CreateBucket"},
      {Req("HEAD /b"), "HeadBucket"},
      {Req("DELETE /b"), "DeleteBucket"},
      {Req("GET /b"), "ListObjects"},
      {Req("GET /b?prefix=a&marker=m"), "ListObjects"},
      {Req("GET /b?list-type=2&prefix=a"), "ListObjectsV2"},
      {Req("GET /b?location"), "GetBucketLocation"},
      {Req("GET /b?versioning"), "GetBucketVersioning"},
      {Req("GET /b?uploads"), "ListMultipartUploads"},
      {Req("POST /b?delete"), "DeleteObjects"},
      {Req("PUT /b?tagging"), "PutBucketTagging"},
      {Req("GET /b?tagging"), "GetBucketTagging"},
      {Req("DELETE /b?tagging"), "DeleteBucketTagging"},
      {Req("PUT /b?policy"), "PutBucketPolicy"},
      {Req("GET /b?policy"), "GetBucketPolicy"},
      {Req("DELETE /b?policy"), "DeleteBucketPolicy"},
      {Req("PUT /b?notification"), "PutBucketNotificationConfiguration"},
      {Req("GET /b?notification"), "GetBucketNotificationConfiguration"},
      {Req("GET /b?acl"), "GetBucketAcl"},
      {Req("GET /b?versions"), "ListObjectVersions"},
      {Req("PUT /b/k"), "PutObject"},
      {Req("PUT /b/k", "x-amz-copy-source: /a/k"), "CopyObject"},
      {Req("GET /b/k"), "GetObject"},
      {Req("GET /b/k?response-content-type=text/plain"), "GetObject"},
      {Req("HEAD /b/k"), "HeadObject"},
      {Req("DELETE /b/k"), "DeleteObject"},
      {Req("POST /b/k?uploads"), "CreateMultipartUpload"},
      {Req("PUT /b/k?partNumber=1&uploadId=u"), "UploadPart"},
      {Req("PUT /b/k?partNumber=1&uploadId=u", "X-Amz-Copy-Source: /a/k"), "UploadPartCopy"},
      {Req("POST /b/k?uploadId=u"), "CompleteMultipartUpload"},
      {Req("DELETE /b/k?uploadId=u"), "AbortMultipartUpload"},
      {Req("GET /b/k?uploadId=u"), "ListParts"},
      {Req("GET /b/k?tagging"), "GetObjectTagging"},
      {Req("PUT /b/k?tagging"), "PutObjectTagging"},
      {Req("DELETE /b/k?tagging"), "DeleteObjectTagging"},
      {Req("PUT /b/k?acl"), "PutObjectAcl"},
      {Req("POST /b/k?restore"), "RestoreObject"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Route(c.request), c.want) << c.request.method << " " << c.request.target;
  }
}

TEST(S3Routes, MethodsS3DoesNotServeOnAResourceAre405) {
  for (const http::Request& r :
       {Req("PUT /"), Req("DELETE /"), Req("POST /b"), Req("POST /b?tagging"), Req("POST /b/k"),
        Req("PATCH /b/k"), Req("OPTIONS /b")}) {
    EXPECT_EQ(Route(r), "MethodNotAllowed 405") << r.method << " " << r.target;
  }
}

// The rows' CloudTrail facts: object-level operations are data events, and the two listing
// versions share CloudTrail's "ListObjects".
TEST(S3Routes, CloudTrailFacts) {
  for (const S3Operation& op : S3Operations()) {
    if (op.route.resource == Resource::kObject) {
      EXPECT_TRUE(op.data_event) << op.route.operation;
    }
    if (op.route.method == "GET" || op.route.method == "HEAD") {
      EXPECT_TRUE(op.read_only) << op.route.operation;
    }
  }
  auto v2 = RouteS3(Req("GET /b?list-type=2"), Resource::kBucket, {{"list-type", "2"}});
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ((*v2)->event_name, "ListObjects");
}

// S3Service end to end in memory (no auth, no network): what the routing means for callers.
class S3ServiceRoutingTest : public ::testing::Test {
 protected:
  S3ServiceRoutingTest() : context_(Config(), clock_), service_(context_) {}

  static CloudConfig Config() {
    CloudConfig config;
    config.auth = false;
    config.region = "us-east-1";  // CreateBucket without a LocationConstraint
    config.endpoint = "http://127.0.0.1:1";
    return config;
  }

  http::Response Serve(http::Request request) {
    Call call;
    call.request = std::move(request);
    call.route.host = "127.0.0.1";
    call.request_id = service_.NewRequestId();
    call.host_id = "host-id";
    call.time = clock_.Now();
    http::Response out;
    service_.Handle(std::move(call), [&](http::Response r) { out = std::move(r); });
    return out;
  }
  http::Response Serve(const char* line, std::string body = "") {
    http::Request r = Req(line);
    r.body = std::move(body);
    r.headers.Set("Content-Length", std::to_string(r.body.size()));
    return Serve(std::move(r));
  }

  common::FakeClock clock_{common::FromUnixMillis(1700000000000)};
  CloudContext context_;
  S3Service service_;
};

TEST_F(S3ServiceRoutingTest, UnservedObjectSubResourcesAre501AndLeaveTheObjectAlone) {
  ASSERT_EQ(Serve("PUT /bkt1").status, 200);
  ASSERT_EQ(Serve("PUT /bkt1/k", "data").status, 200);
  for (const char* line : {"GET /bkt1/k?tagging", "PUT /bkt1/k?tagging", "PUT /bkt1/k?acl"}) {
    http::Response r = Serve(line, "<Tagging><TagSet/></Tagging>");
    EXPECT_EQ(r.status, 501) << line;
    EXPECT_NE(r.body.find("<Code>NotImplemented</Code>"), std::string::npos) << r.body;
  }
  EXPECT_EQ(Serve("GET /bkt1/k").body, "data");
  // A missing bucket is named before the sub-resource.
  http::Response missing = Serve("GET /nope/k?tagging");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("<BucketName>nope</BucketName>"), std::string::npos) << missing.body;
}

TEST_F(S3ServiceRoutingTest, ErrorsNameTheirResourceAndMethodsS3DoesNotServeAre405) {
  ASSERT_EQ(Serve("PUT /bkt2").status, 200);
  http::Response no_key = Serve("GET /bkt2/missing%20key");
  EXPECT_EQ(no_key.status, 404);
  EXPECT_NE(no_key.body.find("<Key>missing key</Key>"), std::string::npos) << no_key.body;
  EXPECT_NE(no_key.body.find("<HostId>host-id</HostId>"), std::string::npos) << no_key.body;
  EXPECT_EQ(no_key.headers.GetOr("x-amz-id-2", ""), "host-id");
  http::Response head = Serve("HEAD /bkt2/missing");
  EXPECT_EQ(head.status, 404);
  EXPECT_TRUE(head.body.empty());
  http::Response post = Serve("POST /bkt2/k");
  EXPECT_EQ(post.status, 405);
  EXPECT_NE(post.body.find("<Code>MethodNotAllowed</Code>"), std::string::npos) << post.body;
  EXPECT_EQ(Serve("PUT /bkt2?versioning").status, 501);  // CreateBucket with a sub-resource
  EXPECT_EQ(Serve(("GET /bkt2/" + std::string(1025, 'k')).c_str()).status, 400);  // KeyTooLong
}

// Object data may be as large as the server allows; other bodies are XML documents.
TEST_F(S3ServiceRoutingTest, BodyLimitFollowsTheRoute) {
  RouteInfo path_style;
  path_style.host = "127.0.0.1";
  struct Case {
    const char* line;
    size_t want;
  } cases[] = {
      {"PUT /bkt/k", 0},
      {"PUT /bkt/k?partNumber=1&uploadId=u", 0},
      {"PUT /bkt/k?tagging", kMaxApiBodyBytes},
      {"PUT /bkt?tagging", kMaxApiBodyBytes},
      {"PUT /bkt?policy", kMaxApiBodyBytes},
      {"PUT /bkt", kMaxApiBodyBytes},
      {"POST /bkt?delete", kMaxApiBodyBytes},
      {"POST /bkt/k?uploadId=u", kMaxApiBodyBytes},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(service_.MaxBodyBytes(path_style, Req(c.line)), c.want) << c.line;
  }
  // Virtual-hosted style: the bucket is in the host, "/k" is the object.
  RouteInfo virtual_host;
  virtual_host.host = "bkt.s3.us-west-2.amazonaws.com";
  EXPECT_EQ(service_.MaxBodyBytes(virtual_host, Req("PUT /k")), 0u);
  EXPECT_EQ(service_.MaxBodyBytes(virtual_host, Req("PUT /?tagging")), kMaxApiBodyBytes);
}

const std::string kS3Model =
    std::string(models::kDebianModelsDir) + "/s3/2006-03-01/service-2.json";

// Every row names an operation of S3's model, with the model's method, resource shape, and
// a sub-resource / header the model's request carries.
TEST(S3Routes, RowsAgreeWithS3sModel) {
  std::ifstream f(kS3Model);
  if (!f) GTEST_SKIP() << "python3-botocore's S3 model is not installed at " << kS3Model;
  nlohmann::json model = nlohmann::json::parse(f, nullptr, false);
  ASSERT_TRUE(model.is_object()) << kS3Model;
  const nlohmann::json& operations = model["operations"];
  for (const S3Operation& op : S3Operations()) {
    std::string name(op.route.operation);
    SCOPED_TRACE(name);
    ASSERT_TRUE(operations.contains(name));
    const nlohmann::json& http = operations[name]["http"];
    EXPECT_EQ(http["method"].get<std::string>(), op.route.method);
    std::string uri = http["requestUri"].get<std::string>();
    std::string path = uri.substr(0, uri.find('?'));
    Resource want = path == "/"           ? Resource::kService
                    : path == "/{Bucket}" ? Resource::kBucket
                                          : Resource::kObject;
    EXPECT_EQ(want, op.route.resource) << uri;
    // Members the request carries in its query and headers.
    std::set<std::string> query, headers;
    for (const std::string& q :
         common::Split(uri.substr(std::min(uri.size(), path.size() + 1)), '&')) {
      if (!q.empty()) query.insert(q);
    }
    if (operations[name].contains("input")) {
      std::string input = operations[name]["input"]["shape"];
      for (const auto& [member, ref] : model["shapes"][input]["members"].items()) {
        std::string location = ref.value("location", "");
        if (location == "querystring") query.insert(ref.value("locationName", member));
        if (location == "header") headers.insert(common::ToLower(ref.value("locationName", "")));
      }
    }
    if (!op.route.query.empty()) {
      std::string condition(op.route.query);
      std::string bare = condition.substr(0, condition.find('='));
      EXPECT_TRUE(query.count(condition) > 0 || query.count(bare) > 0) << condition;
    }
    if (!op.route.header.empty()) {
      EXPECT_TRUE(headers.count(std::string(op.route.header)) > 0) << op.route.header;
    }
  }
}

}  // namespace
}  // namespace localcloud::s3
