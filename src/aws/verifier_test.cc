// SigV4Verifier against the suite's signed requests and against tampered ones.
#include <gtest/gtest.h>

#include "aws/sigv4.h"
#include "aws/sigv4_suite.h"
#include "common/crypto.h"
#include "common/strings.h"

namespace aws {
namespace {

using testing_suite::LoadSuite;

SecretLookup SuiteKeys() {
  return [](std::string_view id) -> std::optional<std::string> {
    if (id == "AKIDEXAMPLE") return std::string("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    return std::nullopt;
  };
}

TEST(SigV4Verifier, AcceptsEverySuiteRequestInBothForms) {
  auto cases = LoadSuite();
  ASSERT_FALSE(cases.empty());
  int header_ok = 0, query_ok = 0, total = 0;
  for (const auto& c : cases) {
    if (c.sigv4a) continue;
    ++total;
    SCOPED_TRACE(c.name);
    common::FakeClock clock(c.params.time + std::chrono::minutes(3));
    VerifierOptions options;
    options.normalize_path = c.params.normalize_path;
    SigV4Verifier verifier(SuiteKeys(), clock, options);
    auto header = verifier.Verify(c.header_signed_request);
    if (header.ok()) {
      ++header_ok;
      EXPECT_EQ(header->access_key_id, "AKIDEXAMPLE");
      EXPECT_EQ(header->region, "us-east-1");
      EXPECT_EQ(header->service, "service");
      EXPECT_EQ(header->signature, c.header_signature);
      EXPECT_FALSE(header->presigned);
    } else {
      ADD_FAILURE() << "header form: " << header.error().code << " " << header.error().message;
    }
    auto query = verifier.Verify(c.query_signed_request);
    if (query.ok()) {
      ++query_ok;
      EXPECT_TRUE(query->presigned);
      EXPECT_EQ(query->signature, c.query_signature);
    } else {
      ADD_FAILURE() << "query form: " << query.error().code << " " << query.error().message;
    }
  }
  std::printf("SigV4 verifier on the suite: header %d/%d, query %d/%d\n", header_ok, total,
              query_ok, total);
  EXPECT_EQ(header_ok, total);
  EXPECT_EQ(query_ok, total);
}

class VerifierTamper : public ::testing::Test {
 protected:
  VerifierTamper() : clock_(*common::ParseAmzDate("20240102T030405Z")) {}

  http::Request Signed(std::string service = "sqs", std::string secret = "test",
                       std::string key = "test") {
    http::Request r;
    r.method = "POST";
    r.target = "/000000000000/q?x=1";
    r.headers.Set("Host", "127.0.0.1:4566");
    r.headers.Set("Content-Type", "application/x-amz-json-1.0");
    r.headers.Set("X-Amz-Target", "AmazonSQS.SendMessage");
    r.body = R"({"QueueUrl":"q","MessageBody":"hi"})";
    SigningParams p = SigningParams::ForService({key, secret, "", std::nullopt}, "us-west-2",
                                                service, clock_.Now());
    EXPECT_TRUE(SignRequest(r, p).ok());
    return r;
  }
  SecretLookup Keys() {
    return [](std::string_view id) -> std::optional<std::string> {
      if (id == "test") return std::string("test");
      return std::nullopt;
    };
  }
  common::FakeClock clock_;
};

TEST_F(VerifierTamper, AcceptsTheUntouchedRequest) {
  SigV4Verifier v(Keys(), clock_);
  auto r = v.Verify(Signed());
  ASSERT_TRUE(r.ok()) << r.error().code;
  EXPECT_EQ(r->service, "sqs");
  EXPECT_EQ(r->region, "us-west-2");
  EXPECT_EQ(r->credential_scope, "20240102/us-west-2/sqs/aws4_request");
  EXPECT_EQ(r->signing_key, DeriveSigningKey("test", "20240102", "us-west-2", "sqs"));
}

TEST_F(VerifierTamper, ChangedHeaderBodyOrQueryFails) {
  SigV4Verifier v(Keys(), clock_);
  http::Request a = Signed();
  a.headers.Set("X-Amz-Target", "AmazonSQS.DeleteQueue");
  EXPECT_EQ(v.Verify(a).error().code, "SignatureDoesNotMatch");
  EXPECT_EQ(v.Verify(a).error().http_status, 403);
  http::Request b = Signed();
  b.body += " ";
  EXPECT_EQ(v.Verify(b).error().code, "SignatureDoesNotMatch");
  http::Request c = Signed();
  c.target = "/000000000000/q?x=2";
  EXPECT_EQ(v.Verify(c).error().code, "SignatureDoesNotMatch");
  http::Request d = Signed();
  d.headers.Remove("Content-Type");  // signed header now missing
  EXPECT_EQ(v.Verify(d).error().code, "SignatureDoesNotMatch");
}

TEST_F(VerifierTamper, WrongSecretAndUnknownKey) {
  SigV4Verifier v(Keys(), clock_);
  EXPECT_EQ(v.Verify(Signed("sqs", "wrong")).error().code, "SignatureDoesNotMatch");
  auto unknown = v.Verify(Signed("sqs", "test", "AKIAUNKNOWN"));
  EXPECT_EQ(unknown.error().code, "InvalidClientTokenId");
  EXPECT_EQ(unknown.error().http_status, 403);
  SigV4Verifier s3(Keys(), clock_, VerifierOptions::S3());
  EXPECT_EQ(s3.Verify(Signed("s3", "test", "AKIAUNKNOWN")).error().code, "InvalidAccessKeyId");
}

TEST_F(VerifierTamper, SkewedTime) {
  http::Request r = Signed();
  http::Request s3r = Signed("s3");
  clock_.Advance(std::chrono::minutes(14));
  SigV4Verifier v(Keys(), clock_);
  SigV4Verifier s3(Keys(), clock_, VerifierOptions::S3());
  EXPECT_TRUE(v.Verify(r).ok());
  clock_.Advance(std::chrono::minutes(2));
  auto late = v.Verify(r);
  EXPECT_EQ(late.error().code, "SignatureDoesNotMatch");
  EXPECT_NE(late.error().message.find("Signature expired"), std::string::npos);
  EXPECT_EQ(s3.Verify(s3r).error().code, "RequestTimeTooSkewed");
  clock_.Advance(std::chrono::minutes(-32));  // 16 minutes before the request
  EXPECT_EQ(s3.Verify(s3r).error().code, "RequestTimeTooSkewed");
}

TEST_F(VerifierTamper, MissingOrMalformedAuthorization) {
  SigV4Verifier v(Keys(), clock_);
  SigV4Verifier s3(Keys(), clock_, VerifierOptions::S3());
  http::Request r = Signed();
  r.headers.Remove("Authorization");
  EXPECT_EQ(v.Verify(r).error().code, "MissingAuthenticationToken");
  EXPECT_EQ(s3.Verify(r).error().code, "AccessDenied");
  r.headers.Set("Authorization", "AWS4-HMAC-SHA256 Credential=test/2024/us-west-2/sqs");
  EXPECT_EQ(v.Verify(r).error().code, "IncompleteSignature");
  EXPECT_EQ(v.Verify(r).error().http_status, 400);
  http::Request no_date = Signed();
  no_date.headers.Remove("X-Amz-Date");
  EXPECT_EQ(v.Verify(no_date).error().code, "IncompleteSignature");
  EXPECT_EQ(s3.Verify(no_date).error().code, "AuthorizationHeaderMalformed");
}

TEST_F(VerifierTamper, S3ContentSha256Rules) {
  SigV4Verifier s3(Keys(), clock_, VerifierOptions::S3());
  http::Request ok = Signed("s3");
  EXPECT_TRUE(s3.Verify(ok).ok());
  // The signature covers the header, not the body: a different body with the signed hash
  // is caught by the hash comparison.
  http::Request changed = ok;
  changed.body = "other";
  auto mismatch = s3.Verify(changed);
  EXPECT_EQ(mismatch.error().code, "XAmzContentSHA256Mismatch");
  EXPECT_EQ(mismatch.error().http_status, 400);

  for (std::string_view value :
       {kUnsignedPayload, kStreamingSignedPayload, kStreamingUnsignedPayloadTrailer}) {
    http::Request r;
    r.method = "PUT";
    r.target = "/bucket/key%20with%20space";
    r.headers.Set("Host", "127.0.0.1:4566");
    r.body = "anything";
    SigningParams p = SigningParams::ForService({"test", "test", "", std::nullopt}, "us-east-1",
                                                "s3", clock_.Now());
    p.payload_hash = std::string(value);
    ASSERT_TRUE(SignRequest(r, p).ok());
    auto res = s3.Verify(r);
    ASSERT_TRUE(res.ok()) << value << " " << res.error().code;
    EXPECT_EQ(res->content_sha256, value);
  }
  http::Request missing = Signed("s3");
  missing.headers.Remove("x-amz-content-sha256");
  EXPECT_EQ(s3.Verify(missing).error().code, "InvalidRequest");
}

TEST_F(VerifierTamper, PresignedS3UrlExpires) {
  SigningParams p = SigningParams::ForService({"test", "test", "", std::nullopt}, "us-east-1", "s3",
                                              clock_.Now());
  p.expires = std::chrono::seconds(60);
  http::Request r;
  r.method = "GET";
  r.target = "/bucket/obj.jpg";
  r.headers.Set("Host", "127.0.0.1:4566");
  p.payload_hash = std::string(kUnsignedPayload);
  ASSERT_TRUE(PresignRequest(r, p).ok());
  SigV4Verifier s3(Keys(), clock_, VerifierOptions::S3());
  EXPECT_TRUE(s3.Verify(r).ok());
  http::Request tampered = r;
  tampered.target = "/bucket/other.jpg?" + std::string(r.query());
  EXPECT_EQ(s3.Verify(tampered).error().code, "SignatureDoesNotMatch");
  clock_.Advance(std::chrono::seconds(61));
  auto expired = s3.Verify(r);
  EXPECT_EQ(expired.error().code, "AccessDenied");
  EXPECT_EQ(expired.error().message, "Request has expired");
}

TEST_F(VerifierTamper, ReportsTheCanonicalRequestItComputed) {
  SigV4Verifier v(Keys(), clock_);
  http::Request r = Signed();
  SigningResult computed;
  ASSERT_TRUE(v.Verify(r, &computed).ok());
  EXPECT_TRUE(common::StartsWith(computed.canonical_request, "POST\n/000000000000/q\nx=1\n"));
}

}  // namespace
}  // namespace aws
