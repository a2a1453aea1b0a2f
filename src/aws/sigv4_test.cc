// SigV4 signing against every case of the AWS test suite in testdata/aws-sigv4-suite, in both the
// header and the presigned-query form, plus the S3 rules.
#include "aws/sigv4.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "aws/sigv4_suite.h"
#include "common/crypto.h"
#include "common/strings.h"

namespace aws {
namespace {

namespace fs = std::filesystem;
using testing_suite::LoadSuite;
using testing_suite::SuiteCase;

TEST(SigV4Suite, EveryCaseInBothForms) {
  std::vector<SuiteCase> cases = LoadSuite();
  ASSERT_FALSE(cases.empty()) << "no cases under " << testing_suite::SuiteDir();
  int header_ok = 0, query_ok = 0, skipped = 0;
  for (const SuiteCase& c : cases) {
    if (c.sigv4a) {
      ++skipped;
      continue;
    }
    SCOPED_TRACE(c.name);
    {
      http::Request r = c.request;
      auto result = SignRequest(r, c.params);
      ASSERT_TRUE(result.ok()) << result.status().ToString();
      EXPECT_EQ(result->canonical_request, c.header_canonical_request);
      EXPECT_EQ(result->string_to_sign, c.header_string_to_sign);
      EXPECT_EQ(result->signature, c.header_signature);
      EXPECT_NE(r.headers.GetOr("authorization", "").find("Signature=" + c.header_signature),
                std::string::npos);
      if (result->canonical_request == c.header_canonical_request &&
          result->string_to_sign == c.header_string_to_sign &&
          result->signature == c.header_signature) {
        ++header_ok;
      }
    }
    {
      http::Request r = c.request;
      auto result = PresignRequest(r, c.params);
      ASSERT_TRUE(result.ok()) << result.status().ToString();
      EXPECT_EQ(result->canonical_request, c.query_canonical_request);
      EXPECT_EQ(result->string_to_sign, c.query_string_to_sign);
      EXPECT_EQ(result->signature, c.query_signature);
      // The signed target is the one in query-signed-request.txt.
      EXPECT_EQ(r.target, c.query_signed_target);
      if (result->canonical_request == c.query_canonical_request &&
          result->string_to_sign == c.query_string_to_sign &&
          result->signature == c.query_signature && r.target == c.query_signed_target) {
        ++query_ok;
      }
    }
  }
  int total = static_cast<int>(cases.size()) - skipped;
  std::printf("SigV4 suite: header %d/%d, query %d/%d", header_ok, total, query_ok, total);
  if (skipped) std::printf(" (%d SigV4a cases skipped)", skipped);
  std::printf("\n");
  EXPECT_EQ(header_ok, total);
  EXPECT_EQ(query_ok, total);
  EXPECT_GE(total, 38);
}

SigningParams TestParams(std::string service) {
  Credentials creds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "", std::nullopt};
  return SigningParams::ForService(creds, "us-east-1", std::move(service),
                                   *common::ParseAmzDate("20150830T123600Z"));
}

// S3's documented GET Object example (Range header, empty payload).
// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
TEST(SigV4, S3DocumentedGetObjectExample) {
  Credentials creds{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "",
                    std::nullopt};
  SigningParams p = SigningParams::ForService(creds, "us-east-1", "s3",
                                              *common::ParseAmzDate("20130524T000000Z"));
  http::Request r;
  r.method = "GET";
  r.target = "/test.txt";
  r.headers.Set("Host", "examplebucket.s3.amazonaws.com");
  r.headers.Set("Range", "bytes=0-9");
  auto result = SignRequest(r, p);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->signed_headers, "host;range;x-amz-content-sha256;x-amz-date");
  EXPECT_EQ(result->signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(r.headers.GetOr("x-amz-content-sha256", ""), kEmptySha256);
}

TEST(SigV4, S3PathIsNotDoubleEncodedNorNormalized) {
  SigningParams p = TestParams("s3");
  http::Request r;
  r.method = "PUT";
  r.target = "/bucket/" + common::UriEncode("my key/ü/../x.jpg", false);
  r.headers.Set("Host", "127.0.0.1:4566");
  p.payload_hash = std::string(kUnsignedPayload);
  auto result = SignRequest(r, p);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->canonical_request.substr(0, result->canonical_request.find('\n', 4)),
            "PUT\n/bucket/my%20key/%C3%BC/../x.jpg");
  EXPECT_EQ(r.headers.GetOr("x-amz-content-sha256", ""), "UNSIGNED-PAYLOAD");

  // Other services encode the encoded path once more.
  SigningParams q = TestParams("service");
  http::Request r2;
  r2.method = "GET";
  r2.target = "/a%20b";
  r2.headers.Set("Host", "example.amazonaws.com");
  auto result2 = SignRequest(r2, q);
  ASSERT_TRUE(result2.ok());
  EXPECT_EQ(result2->canonical_request.substr(0, result2->canonical_request.find('\n', 4)),
            "GET\n/a%2520b");
}

TEST(SigV4, SessionTokenIsSignedAndSent) {
  SigningParams p = TestParams("sqs");
  p.credentials.session_token = "tok/en+";
  http::Request r;
  r.method = "POST";
  r.headers.Set("Host", "sqs.us-east-1.amazonaws.com");
  r.body = "{}";
  auto result = SignRequest(r, p);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(r.headers.GetOr("X-Amz-Security-Token", ""), "tok/en+");
  EXPECT_EQ(result->signed_headers, "host;x-amz-date;x-amz-security-token");
  EXPECT_NE(result->canonical_request.find(common::Sha256Hex("{}")), std::string::npos);
}

TEST(SigV4, RejectsMissingHostAndEmptyCredentials) {
  SigningParams p = TestParams("sqs");
  http::Request r;
  r.method = "GET";
  EXPECT_FALSE(SignRequest(r, p).ok());
  r.headers.Set("Host", "x");
  p.credentials.secret_access_key.clear();
  EXPECT_EQ(SignRequest(r, p).status().code(), common::Code::kInvalidArgument);
}

TEST(SigV4, ClientRequestGetsHostFromUrl) {
  SigningParams p = TestParams("sqs");
  http::ClientRequest c;
  c.method = "POST";
  c.url = "http://127.0.0.1:4566/?Action=ListQueues";
  c.body = "x";
  auto result = SignClientRequest(c, p);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(c.headers.GetOr("Host", ""), "127.0.0.1:4566");
  EXPECT_EQ(c.body, "x");
  EXPECT_NE(result->canonical_request.find("\nAction=ListQueues\n"), std::string::npos);

  http::ClientRequest d;
  d.url = "https://sqs.us-east-1.amazonaws.com:443";
  ASSERT_TRUE(SignClientRequest(d, p).ok());
  EXPECT_EQ(d.headers.GetOr("Host", ""), "sqs.us-east-1.amazonaws.com");

  http::ClientRequest bad;
  bad.url = "not a url";
  EXPECT_EQ(SignClientRequest(bad, p).status().code(), common::Code::kInvalidArgument);
}

TEST(SigV4, BodyFileIsHashedByStreaming) {
  fs::path file = fs::temp_directory_path() / ("sigv4_body_" + common::NewUuid());
  std::string content(200000, 'z');
  std::ofstream(file, std::ios::binary) << content;
  SigningParams p = TestParams("s3");
  http::ClientRequest c;
  c.method = "PUT";
  c.url = "http://127.0.0.1:1/b/k";
  c.body_file = file.string();
  ASSERT_TRUE(SignClientRequest(c, p).ok());
  EXPECT_EQ(c.headers.GetOr("x-amz-content-sha256", ""), common::Sha256Hex(content));
  fs::remove(file);
  c.headers = http::Headers();
  EXPECT_EQ(SignClientRequest(c, p).status().code(), common::Code::kNotFound);
}

TEST(SigV4, PresignUrlForS3) {
  SigningParams p = TestParams("s3");
  p.expires = std::chrono::seconds(600);
  auto url = PresignUrl("GET", "http://127.0.0.1:4566/bucket/a%20b.jpg", p);
  ASSERT_TRUE(url.ok());
  EXPECT_TRUE(common::StartsWith(*url, "http://127.0.0.1:4566/bucket/a%20b.jpg?X-Amz-Algorithm="));
  EXPECT_NE(url->find("X-Amz-Expires=600"), std::string::npos);
  EXPECT_NE(url->find("&X-Amz-Signature="), std::string::npos);
}

TEST(SigV4, CanonicalPieces) {
  EXPECT_EQ(CanonicalUri("", true, true), "/");
  EXPECT_EQ(CanonicalUri("/a/./b/../c//d/", true, true), "/a/c/d/");
  EXPECT_EQ(CanonicalQuery("b=2&a=1&a=0&c"), "a=0&a=1&b=2&c=");
  EXPECT_EQ(CanonicalQuery("x=a+b&y=%2f"), "x=a%2Bb&y=%2F");
  EXPECT_EQ(CanonicalQuery("X-Amz-Signature=abc&a=1", "X-Amz-Signature"), "a=1");
}

}  // namespace
}  // namespace aws
