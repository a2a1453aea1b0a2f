// S3 through stock clients (awscli 2.9, boto3 1.26) and hand-built aws-chunked uploads
// against a localcloud binary started on a free port.
#include <gtest/gtest.h>

#include <random>

#include "aws/chunked.h"
#include "aws/sigv4.h"
#include "common/crypto.h"
#include "common/strings.h"
#include "http/client.h"
#include "localcloud/core/test_support.h"

namespace localcloud {
namespace {

using testing::ClientEnv;
using testing::LocalcloudProcess;
using testing::ReadFile;
using testing::RunClient;
using testing::TempDir;

const std::string kScript = std::string(DAT_SOURCE_DIR) + "/src/localcloud/s3/testdata/boto3_s3.py";

std::string RandomData(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// CreateBucket as S3 requires it outside us-east-1: with the region's LocationConstraint.
http::Request CreateBucketRequest(const std::string& target) {
  http::Request mk;
  mk.method = "PUT";
  mk.target = target;
  mk.body =
      "<CreateBucketConfiguration><LocationConstraint>us-west-2</LocationConstraint>"
      "</CreateBucketConfiguration>";
  return mk;
}

class S3ClientsTest : public ::testing::Test {
 protected:
  void SetUp() override { cloud_.Start(); }

  common::RunResult Aws(std::vector<std::string> args, const std::string& secret = "test") {
    std::vector<std::string> argv = {"/usr/bin/aws", "--endpoint-url", cloud_.endpoint()};
    for (auto& a : args) argv.push_back(a);
    return RunClient(argv, ClientEnv(home_.path().string(), secret), std::chrono::seconds(90),
                     work_.path().string());
  }
  std::string Boto(const std::string& scenario) {
    auto r = RunClient({"/usr/bin/python3", kScript, cloud_.endpoint(), scenario},
                       ClientEnv(home_.path().string()));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  // Sends a request signed by the project's signer; `body_of` builds the body from the
  // signing result (aws-chunked bodies chain from the seed signature).
  http::Response SignedSend(http::Request request,
                            std::function<std::string(const aws::SigningResult&)> body_of = nullptr,
                            std::string payload_hash = "") {
    std::string endpoint = endpoint_override_.empty() ? cloud_.endpoint() : endpoint_override_;
    std::string hostport = endpoint.substr(7);
    if (!request.headers.Has("host")) request.headers.Set("Host", hostport);
    aws::Credentials creds{"test", "test", "", std::nullopt};
    auto now = std::chrono::system_clock::now();
    auto params = aws::SigningParams::ForService(creds, "us-west-2", "s3", now);
    params.payload_hash = payload_hash;
    auto signed_result = aws::SignRequest(request, params);
    EXPECT_TRUE(signed_result.ok()) << signed_result.status().ToString();
    http::ClientRequest c;
    c.method = request.method;
    c.url = endpoint + request.target;
    c.headers = request.headers;
    c.body = body_of ? body_of(signed_result.value()) : request.body;
    auto resp = http::DefaultHttpClient().Send(c);
    EXPECT_TRUE(resp.ok()) << resp.status().ToString();
    return resp.ok() ? resp.value() : http::Response{};
  }

  http::Response Get(const std::string& target) {
    http::Request r;
    r.method = "GET";
    r.target = target;
    return SignedSend(r);
  }

  // PUT of `payload` in the aws-chunked variant `variant`, optionally with a checksum
  // trailer and a hook to corrupt the encoded body.
  http::Response ChunkedPut(const std::string& target, const std::string& payload,
                            std::string_view variant, const std::string& checksum_trailer,
                            std::function<void(std::string&)> corrupt = nullptr) {
    http::Request r;
    r.method = "PUT";
    r.target = target;
    r.headers.Set("Content-Encoding", "aws-chunked");
    r.headers.Set("x-amz-decoded-content-length", std::to_string(payload.size()));
    if (!checksum_trailer.empty()) r.headers.Set("x-amz-trailer", "x-amz-checksum-crc32");
    return SignedSend(
        r,
        [&](const aws::SigningResult& s) {
          std::string date = s.amz_date.substr(0, 8);
          aws::ChunkSigningContext ctx{aws::DeriveSigningKey("test", date, "us-west-2", "s3"),
                                       s.amz_date, s.credential_scope, s.signature};
          std::vector<std::pair<std::string, std::string>> trailers;
          if (!checksum_trailer.empty())
            trailers.emplace_back("x-amz-checksum-crc32", checksum_trailer);
          std::string body = aws::EncodeAwsChunked(payload, 64 * 1024, variant, ctx, trailers);
          if (corrupt) corrupt(body);
          return body;
        },
        std::string(variant));
  }

  TempDir home_;
  TempDir work_;
  LocalcloudProcess cloud_;
  std::string endpoint_override_;  // SignedSend's target when set
};

TEST_F(S3ClientsTest, AwsCliBucketsAndCopiesSmallAndMultipartFilesByteForByte) {
  auto mb = Aws({"s3", "mb", "s3://photos"});
  ASSERT_EQ(mb.exit_code, 0) << mb.err;
  EXPECT_EQ(mb.out, "make_bucket: photos\n");

  std::string small = RandomData(1024, 1), large = RandomData(20 * 1024 * 1024, 2);
  work_.Write("small.bin", small);
  work_.Write("large.bin", large);
  auto up1 = Aws({"s3", "cp", "small.bin", "s3://photos/my file ünï.bin"});
  ASSERT_EQ(up1.exit_code, 0) << up1.err;
  EXPECT_NE(up1.out.find("upload: ./small.bin to s3://photos/my file ünï.bin"), std::string::npos)
      << up1.out;
  auto up2 = Aws({"s3", "cp", "large.bin", "s3://photos/big/large.bin"});
  ASSERT_EQ(up2.exit_code, 0) << up2.err;
  auto down1 = Aws({"s3", "cp", "s3://photos/my file ünï.bin", "small.out"});
  auto down2 = Aws({"s3", "cp", "s3://photos/big/large.bin", "large.out"});
  ASSERT_EQ(down1.exit_code, 0) << down1.err;
  ASSERT_EQ(down2.exit_code, 0) << down2.err;
  EXPECT_TRUE(ReadFile((work_.path() / "small.out").string()) == small);
  EXPECT_TRUE(ReadFile((work_.path() / "large.out").string()) == large);

  // The multipart ETag is md5-of-md5s with the part count (awscli: 8 MiB parts -> 3).
  http::Request head;
  head.method = "HEAD";
  head.target = "/photos/big/large.bin";
  http::Response large_head = SignedSend(head);
  std::string parts_md5;
  for (size_t off = 0; off < large.size(); off += 8 * 1024 * 1024) {
    parts_md5 += common::Md5(large.substr(off, 8 * 1024 * 1024));
  }
  EXPECT_EQ(large_head.headers.GetOr("etag", ""), "\"" + common::Md5Hex(parts_md5) + "-3\"");
  EXPECT_EQ(large_head.headers.GetOr("content-length", ""), std::to_string(large.size()));
  head.target = "/photos/my%20file%20%C3%BCn%C3%AF.bin";
  EXPECT_EQ(SignedSend(head).headers.GetOr("etag", ""), "\"" + common::Md5Hex(small) + "\"");

  auto list = Aws({"s3", "ls", "s3://photos/"});
  EXPECT_NE(list.out.find("                           PRE big/\n"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find(" 1024 my file ünï.bin\n"), std::string::npos) << list.out;

  auto rb = Aws({"s3", "rb", "s3://photos"});
  EXPECT_NE(rb.exit_code, 0);
  EXPECT_NE(rb.err.find("BucketNotEmpty"), std::string::npos) << rb.err;
  auto rm = Aws({"s3", "rm", "--recursive", "s3://photos/"});
  ASSERT_EQ(rm.exit_code, 0) << rm.err;
  auto rb2 = Aws({"s3", "rb", "s3://photos"});
  EXPECT_EQ(rb2.out, "remove_bucket: photos\n");
  EXPECT_EQ(Get("/").body.find("<Name>photos</Name>"), std::string::npos);
}

TEST_F(S3ClientsTest, Boto3ObjectsListingCopyRangePolicyNotification) {
  EXPECT_EQ(Boto("objects"),
            "again 409 BucketAlreadyOwnedByYou\n"
            "location us-west-2\n"
            "etag \"5d41402abc4b2a76b9719d911017c592\"\n"
            "get b'hello' text/plain {'owner': 'me'} 5\n"
            "head 5 \"5d41402abc4b2a76b9719d911017c592\"\n"
            "range 206 b'ell' bytes 1-3/5\n"
            "bad range 416 InvalidRange\n"
            "copy b'hello' {'owner': 'me'}\n"
            "no key 404 NoSuchKey\n"
            "no bucket 404 NoSuchBucket\n"
            "head missing 404 404\n"
            "not empty 409 BucketNotEmpty\n"
            "paged 5 ['a b/ünï.txt', 'copy+1.txt', 'dir0/file0', 'dir0/file3', 'dir0/file6', "
            "'dir1/file1', 'dir1/file4', 'dir2/file2', 'dir2/file5']\n"
            "delimited ['copy+1.txt'] ['a b/', 'dir0/', 'dir1/', 'dir2/']\n"
            "prefix ['dir1/file1', 'dir1/file4'] 2\n"
            "continued ['a b/'] True ['dir0/', 'dir1/', 'dir2/'] []\n"
            "deleted 7\n"
            "empty policy 400 MalformedPolicy\n"
            "no principal 400 MalformedPolicy\n"
            "other bucket 400 MalformedPolicy\n"
            "policy True\n"
            "policy deleted 404 NoSuchBucketPolicy\n"
            "queue without policy 400 InvalidArgument\n"
            "notification True q1 ['s3:ObjectCreated:*'] [{'Name': 'Prefix', 'Value': 'img/'}]\n"
            "buckets []\n");
}

TEST_F(S3ClientsTest, Boto3MultipartRules) {
  EXPECT_EQ(Boto("multipart"),
            "small part 400 InvalidPartOrder\n"
            "etag \"8b0be7847da5564ae08e97af63b60885-2\"\n"
            "size 5242890\n"
            "gone 404 NoSuchUpload\n"
            "algorithm CRC32\n"
            "part checksums True True\n"
            "composite True\n"
            "head checksum True\n");
}

TEST_F(S3ClientsTest, AwsChunkedUploadsVerifySignaturesAndChecksums) {
  http::Request mk = CreateBucketRequest("/chunks");
  ASSERT_EQ(SignedSend(mk).status, 200);
  std::string payload = RandomData(200 * 1024, 3);  // 4 chunks of 64 KiB
  std::string crc = *aws::ComputeChecksumBase64("crc32", payload);

  struct Case {
    std::string_view variant;
    std::string trailer;
  };
  int n = 0;
  for (const Case& c :
       {Case{aws::kStreamingSignedPayload, ""}, Case{aws::kStreamingSignedPayloadTrailer, crc},
        Case{aws::kStreamingUnsignedPayloadTrailer, crc}}) {
    SCOPED_TRACE(std::string(c.variant));
    std::string target = "/chunks/obj" + std::to_string(n++);
    http::Response put = ChunkedPut(target, payload, c.variant, c.trailer);
    ASSERT_EQ(put.status, 200) << put.body;
    EXPECT_EQ(put.headers.GetOr("etag", ""), "\"" + common::Md5Hex(payload) + "\"");
    http::Response got = Get(target);
    EXPECT_EQ(got.status, 200);
    EXPECT_TRUE(got.body == payload) << "framing must not be stored";
  }
  // A changed byte in a signed chunk breaks its signature.
  http::Response tampered =
      ChunkedPut("/chunks/bad", payload, aws::kStreamingSignedPayload, "",
                 [](std::string& body) { body[body.find("\r\n") + 10] ^= 1; });
  EXPECT_EQ(tampered.status, 403);
  EXPECT_NE(tampered.body.find("<Code>SignatureDoesNotMatch</Code>"), std::string::npos);
  // A trailer checksum that does not match the payload.
  std::string wrong = *aws::ComputeChecksumBase64("crc32", "other");
  http::Response bad_digest =
      ChunkedPut("/chunks/bad", payload, aws::kStreamingUnsignedPayloadTrailer, wrong);
  EXPECT_EQ(bad_digest.status, 400);
  EXPECT_NE(bad_digest.body.find("<Code>BadDigest</Code>"), std::string::npos) << bad_digest.body;
  EXPECT_EQ(Get("/chunks/bad").status, 404);
}

TEST_F(S3ClientsTest, VirtualHostStyleAndWrongSecret) {
  std::string port = cloud_.endpoint().substr(cloud_.endpoint().rfind(':') + 1);
  http::Request mk = CreateBucketRequest("/");
  mk.headers.Set("Host", "vhost.localhost:" + port);
  ASSERT_EQ(SignedSend(mk).status, 200);
  http::Request put;
  put.method = "PUT";
  put.target = "/dir/k%20ey";
  put.body = "virtual";
  put.headers.Set("Host", "vhost.localhost:" + port);
  ASSERT_EQ(SignedSend(put).status, 200);
  http::Response got = Get("/vhost/dir/k%20ey");
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, "virtual");

  auto rejected = Aws({"s3", "ls"}, "wrong");
  EXPECT_NE(rejected.exit_code, 0);
  EXPECT_NE(rejected.err.find("SignatureDoesNotMatch"), std::string::npos) << rejected.err;
}

TEST_F(S3ClientsTest, ObjectsSurviveRestartWithDataDir) {
  TempDir data;
  LocalcloudProcess persistent;
  persistent.Start({"--data-dir", data.path().string()});
  endpoint_override_ = persistent.endpoint();
  http::Request mk = CreateBucketRequest("/keep");
  ASSERT_EQ(SignedSend(mk).status, 200);
  http::Request put;
  put.method = "PUT";
  put.target = "/keep/a%20key";
  put.body = "persisted bytes";
  ASSERT_EQ(SignedSend(put).status, 200);
  EXPECT_EQ(persistent.Stop(), 0);
  persistent.Start({"--data-dir", data.path().string()});
  endpoint_override_ = persistent.endpoint();
  http::Response got = Get("/keep/a%20key");
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, "persisted bytes");
}

TEST_F(S3ClientsTest, ChecksumsLengthAndLocationRules) {
  // CreateBucket outside us-east-1 (this request is signed for us-west-2).
  auto create = [&](const std::string& constraint) {
    http::Request mk;
    mk.method = "PUT";
    mk.target = "/rules";
    if (!constraint.empty()) {
      mk.body = "<CreateBucketConfiguration><LocationConstraint>" + constraint +
                "</LocationConstraint></CreateBucketConfiguration>";
    }
    return SignedSend(mk);
  };
  auto code_of = [](const http::Response& r) {
    size_t a = r.body.find("<Code>"), z = r.body.find("</Code>");
    return a == std::string::npos ? std::string() : r.body.substr(a + 6, z - a - 6);
  };
  EXPECT_EQ(code_of(create("")), "IllegalLocationConstraintException");
  EXPECT_EQ(code_of(create("eu-west-1")), "IllegalLocationConstraintException");
  EXPECT_EQ(code_of(create("us-east-1")), "InvalidLocationConstraint");
  EXPECT_EQ(code_of(create("mars-north-1")), "InvalidLocationConstraint");
  ASSERT_EQ(create("us-west-2").status, 200);

  const std::string body = "checked bytes";
  auto put = [&](std::vector<std::pair<std::string, std::string>> headers) {
    http::Request r;
    r.method = "PUT";
    r.target = "/rules/obj";
    r.body = body;
    for (auto& [n, v] : headers) r.headers.Set(n, v);
    return SignedSend(r);
  };
  for (const char* algorithm : {"crc32", "crc32c", "crc64nvme", "sha1", "sha256"}) {
    SCOPED_TRACE(algorithm);
    std::string header = std::string("x-amz-checksum-") + algorithm;
    std::string good = *aws::ComputeChecksumBase64(algorithm, body);
    std::string wrong = *aws::ComputeChecksumBase64(algorithm, body + "!");
    http::Response bad = put({{header, wrong}});
    EXPECT_EQ(bad.status, 400);
    EXPECT_EQ(code_of(bad), "BadDigest");
    http::Response ok = put({{header, good}});
    ASSERT_EQ(ok.status, 200) << ok.body;
    EXPECT_EQ(ok.headers.GetOr(header, ""), good);
    EXPECT_EQ(ok.headers.GetOr("x-amz-checksum-type", ""), "FULL_OBJECT");
    // Returned on read only when asked for, and never for a range.
    http::Request get;
    get.method = "GET";
    get.target = "/rules/obj";
    EXPECT_FALSE(SignedSend(get).headers.Has(header));
    get.headers.Set("x-amz-checksum-mode", "ENABLED");
    EXPECT_EQ(SignedSend(get).headers.GetOr(header, ""), good);
    get.method = "HEAD";
    EXPECT_EQ(SignedSend(get).headers.GetOr(header, ""), good);
    get.method = "GET";
    get.headers.Set("Range", "bytes=0-2");
    EXPECT_FALSE(SignedSend(get).headers.Has(header));
  }
  // Two checksums, an algorithm S3 does not offer, a value of the wrong size.
  EXPECT_EQ(code_of(put({{"x-amz-checksum-crc32", *aws::ComputeChecksumBase64("crc32", body)},
                         {"x-amz-checksum-sha1", *aws::ComputeChecksumBase64("sha1", body)}})),
            "InvalidRequest");
  EXPECT_EQ(code_of(put({{"x-amz-checksum-md5", common::Base64Encode(common::Md5(body))}})),
            "InvalidRequest");
  EXPECT_EQ(code_of(put({{"x-amz-checksum-crc32", common::Base64Encode("12345")}})),
            "InvalidRequest");
  // No checksum asked: S3's default CRC64NVME is stored and returned in checksum mode.
  ASSERT_EQ(put({}).status, 200);
  http::Request get;
  get.method = "HEAD";
  get.target = "/rules/obj";
  get.headers.Set("x-amz-checksum-mode", "ENABLED");
  EXPECT_EQ(SignedSend(get).headers.GetOr("x-amz-checksum-crc64nvme", ""),
            *aws::ComputeChecksumBase64("crc64nvme", body));
  // A body without Content-Length (chunked transfer encoding) is refused.
  http::Response chunked = put({{"Transfer-Encoding", "chunked"}});
  EXPECT_EQ(chunked.status, 411) << chunked.body;
  EXPECT_EQ(code_of(chunked), "MissingContentLength");
}

}  // namespace
}  // namespace localcloud
