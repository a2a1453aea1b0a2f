// aws-chunked bodies: AWS's documented example, round trips of all three variants, and
// every way a body can be wrong.
#include "aws/chunked.h"

#include <gtest/gtest.h>

#include "common/crypto.h"
#include "common/strings.h"

namespace aws {
namespace {

// The example of https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html:
// a 66560-byte object of 'a' in 64 KB chunks.
TEST(AwsChunked, DocumentedStreamingExample) {
  Credentials creds{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "",
                    std::nullopt};
  SigningParams p = SigningParams::ForService(creds, "us-east-1", "s3",
                                              *common::ParseAmzDate("20130524T000000Z"));
  p.payload_hash = std::string(kStreamingSignedPayload);
  http::Request r;
  r.method = "PUT";
  r.target = "/examplebucket/chunkObject.txt";
  r.headers.Set("Host", "s3.amazonaws.com");
  r.headers.Set("x-amz-storage-class", "REDUCED_REDUNDANCY");
  r.headers.Set("Content-Encoding", "aws-chunked");
  r.headers.Set("x-amz-decoded-content-length", "66560");
  r.headers.Set("Content-Length", "66824");
  auto seed = SignRequest(r, p);
  ASSERT_TRUE(seed.ok());
  EXPECT_EQ(seed->signature, "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");

  ChunkSigningContext ctx{DeriveSigningKey(creds.secret_access_key, "20130524", "us-east-1", "s3"),
                          "20130524T000000Z", "20130524/us-east-1/s3/aws4_request",
                          seed->signature};
  std::string payload(66560, 'a');
  std::string body = EncodeAwsChunked(payload, 65536, kStreamingSignedPayload, ctx);
  EXPECT_EQ(body.size(), 66824u);
  EXPECT_NE(body.find("10000;chunk-signature="
                      "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n"),
            std::string::npos);
  EXPECT_NE(body.find("400;chunk-signature="
                      "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n"),
            std::string::npos);
  EXPECT_NE(body.find("0;chunk-signature="
                      "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n"),
            std::string::npos);

  ChunkedDecodeOptions o;
  o.content_sha256 = std::string(kStreamingSignedPayload);
  o.signing = ctx;
  o.decoded_content_length = 66560;
  auto decoded = DecodeAwsChunked(body, o);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->payload, payload);
}

class AwsChunkedVariants : public ::testing::TestWithParam<std::string_view> {
 protected:
  ChunkSigningContext Ctx() {
    return {DeriveSigningKey("secret", "20240102", "us-west-2", "s3"), "20240102T030405Z",
            "20240102/us-west-2/s3/aws4_request",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
  }
  bool WithTrailer() const { return common::EndsWith(GetParam(), "TRAILER"); }
  ChunkedDecodeOptions Options(size_t length) {
    ChunkedDecodeOptions o;
    o.content_sha256 = std::string(GetParam());
    o.signing = Ctx();
    o.decoded_content_length = length;
    if (WithTrailer()) o.declared_trailers = {"x-amz-checksum-crc32"};
    return o;
  }
  std::vector<std::pair<std::string, std::string>> Trailers(std::string_view payload) {
    if (!WithTrailer()) return {};
    return {{"x-amz-checksum-crc32", *ComputeChecksumBase64("crc32", payload)}};
  }
  std::string payload_ = std::string(10000, 'x') + "tail ü";
};

TEST_P(AwsChunkedVariants, RoundTripsAndChecksTrailers) {
  std::string body = EncodeAwsChunked(payload_, 4096, GetParam(), Ctx(), Trailers(payload_));
  auto decoded = DecodeAwsChunked(body, Options(payload_.size()));
  ASSERT_TRUE(decoded.ok()) << decoded.error().code << ": " << decoded.error().message;
  EXPECT_EQ(decoded->payload, payload_);
  if (WithTrailer()) {
    ASSERT_EQ(decoded->trailers.size(), 1u);
    EXPECT_EQ(decoded->trailers[0].first, "x-amz-checksum-crc32");
    EXPECT_EQ(decoded->verified_checksums, std::vector<std::string>{"x-amz-checksum-crc32"});
  }
}

TEST_P(AwsChunkedVariants, RejectsTamperedData) {
  std::string body = EncodeAwsChunked(payload_, 4096, GetParam(), Ctx(), Trailers(payload_));
  size_t at = body.find("xxxx", 100);
  body[at] = 'y';
  auto decoded = DecodeAwsChunked(body, Options(payload_.size()));
  ASSERT_FALSE(decoded.ok());
  if (GetParam() == kStreamingUnsignedPayloadTrailer) {
    EXPECT_EQ(decoded.error().code, "BadDigest");  // only the checksum protects it
  } else {
    EXPECT_EQ(decoded.error().code, "SignatureDoesNotMatch");
    EXPECT_EQ(decoded.error().http_status, 403);
  }
}

TEST_P(AwsChunkedVariants, RejectsTruncatedBodiesAndWrongLength) {
  std::string body = EncodeAwsChunked(payload_, 4096, GetParam(), Ctx(), Trailers(payload_));
  for (size_t cut : {body.size() / 2, body.size() - 40, size_t{3}}) {
    auto decoded = DecodeAwsChunked(body.substr(0, cut), Options(payload_.size()));
    ASSERT_FALSE(decoded.ok()) << cut;
    EXPECT_TRUE(decoded.error().code == "IncompleteBody" ||
                decoded.error().code == "SignatureDoesNotMatch")
        << decoded.error().code;
  }
  auto wrong_length = DecodeAwsChunked(body, Options(payload_.size() + 1));
  ASSERT_FALSE(wrong_length.ok());
  EXPECT_EQ(wrong_length.error().code, "IncompleteBody");
  EXPECT_FALSE(DecodeAwsChunked("zz\r\n", Options(0)).ok());
}

TEST_P(AwsChunkedVariants, WrongChecksumIsBadDigest) {
  if (!WithTrailer()) GTEST_SKIP() << "no trailer in this variant";
  std::vector<std::pair<std::string, std::string>> wrong = {
      {"x-amz-checksum-crc32", *ComputeChecksumBase64("crc32", "something else")}};
  std::string body = EncodeAwsChunked(payload_, 4096, GetParam(), Ctx(), wrong);
  auto decoded = DecodeAwsChunked(body, Options(payload_.size()));
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error().code, "BadDigest");
  // A trailer not announced in x-amz-trailer.
  std::vector<std::pair<std::string, std::string>> other = {
      {"x-amz-checksum-sha256", *ComputeChecksumBase64("sha256", payload_)}};
  body = EncodeAwsChunked(payload_, 4096, GetParam(), Ctx(), other);
  EXPECT_EQ(DecodeAwsChunked(body, Options(payload_.size())).error().code, "InvalidRequest");
}

INSTANTIATE_TEST_SUITE_P(All, AwsChunkedVariants,
                         ::testing::Values(kStreamingSignedPayload, kStreamingSignedPayloadTrailer,
                                           kStreamingUnsignedPayloadTrailer));

TEST(AwsChunked, ChecksumsMatchKnownValues) {
  // CRC32("123456789") = 0xCBF43926, CRC32C = 0xE3069283.
  EXPECT_EQ(*ComputeChecksumBase64("crc32", "123456789"), common::Base64Encode("\xCB\xF4\x39\x26"));
  EXPECT_EQ(*ComputeChecksumBase64("CRC32C", "123456789"),
            common::Base64Encode("\xE3\x06\x92\x83"));
  EXPECT_EQ(*ComputeChecksumBase64("sha256", ""), common::Base64Encode(common::Sha256("")));
  // CRC-64/NVME check value ("123456789") = 0xAE8B14860A799888; empty input = 0.
  EXPECT_EQ(Crc64Nvme("123456789"), 0xAE8B14860A799888ull);
  EXPECT_EQ(Crc64Nvme(""), 0u);
  EXPECT_EQ(*ComputeChecksumBase64("crc64nvme", "123456789"),
            common::Base64Encode("\xAE\x8B\x14\x86\x0A\x79\x98\x88"));
  EXPECT_FALSE(ComputeChecksumBase64("md4", "x").has_value());
}

TEST(AwsChunked, UnsignedTrailerAsAwsCliSendsIt) {
  // Hand-written, as the AWS CLI frames it.
  std::string body =
      "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:" + *ComputeChecksumBase64("crc32", "hello") +
      "\r\n\r\n";
  ChunkedDecodeOptions o;
  o.content_sha256 = std::string(kStreamingUnsignedPayloadTrailer);
  auto decoded = DecodeAwsChunked(body, o);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->payload, "hello");
  EXPECT_EQ(decoded->verified_checksums.size(), 1u);
}

}  // namespace
}  // namespace aws
