// Cost of SigV4 on the driver's hot path: signing an SQS SendMessage request (JSON 1.0
// protocol) in header form, with the body hashed, and verifying it as localcloud does.
#include <benchmark/benchmark.h>

#include "aws/sigv4.h"
#include "common/time.h"

namespace {

http::ClientRequest SendMessageRequest() {
  http::ClientRequest r;
  r.method = "POST";
  r.url = "https://sqs.us-west-2.amazonaws.com/";
  r.headers.Set("Content-Type", "application/x-amz-json-1.0");
  r.headers.Set("X-Amz-Target", "AmazonSQS.SendMessage");
  r.body =
      R"({"QueueUrl":"https://sqs.us-west-2.amazonaws.com/123456789012/dispatch-)"
      R"(6f1c2b1e-8f0e-4d0a-9a53-0f4c3c1f2f11","MessageBody":"{\"version\":\"0\",)"
      R"(\"id\":\"17793124-05d4-b198-2fde-7ededc63b103\",\"detail-type\":\"Object Created\",)"
      R"(\"source\":\"aws.s3\",\"account\":\"123456789012\",\"time\":\"2021-11-12T00:00:00Z\",)"
      R"(\"region\":\"us-west-2\",\"detail\":{\"bucket\":{\"name\":\"photos\"},\"object\":)"
      R"({\"key\":\"cat.jpg\",\"size\":5}}}"})";
  return r;
}

aws::SigningParams Params() {
  return aws::SigningParams::ForService(
      {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "", std::nullopt},
      "us-west-2", "sqs", std::chrono::system_clock::now());
}

void BM_SignSqsSendMessage(benchmark::State& state) {
  const http::ClientRequest base = SendMessageRequest();
  const aws::SigningParams params = Params();
  for (auto _ : state) {
    http::ClientRequest r = base;
    auto result = aws::SignClientRequest(r, params);
    benchmark::DoNotOptimize(result);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * base.body.size()));
}
BENCHMARK(BM_SignSqsSendMessage);

void BM_VerifySqsSendMessage(benchmark::State& state) {
  http::ClientRequest c = SendMessageRequest();
  const aws::SigningParams params = Params();
  (void)aws::SignClientRequest(c, params);
  http::Request r;
  r.method = c.method;
  r.target = "/";
  r.headers = c.headers;
  r.body = c.body;
  common::FakeClock clock(params.time);
  aws::SigV4Verifier verifier(
      [](std::string_view) -> std::optional<std::string> {
        return std::string("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
      },
      clock);
  for (auto _ : state) {
    auto v = verifier.Verify(r);
    if (!v.ok()) state.SkipWithError("verification failed");
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_VerifySqsSendMessage);

void BM_DeriveSigningKey(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(aws::DeriveSigningKey("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                                   "20240102", "us-west-2", "sqs"));
  }
}
BENCHMARK(BM_DeriveSigningKey);

}  // namespace
