#include "x/oauth1.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/strings.h"
#include "common/testing/test_data.h"

namespace x {
namespace {

using nlohmann::json;

json LoadExample() {
  return json::parse(common::testing::ReadTestData("oauth1/twitter-docs-example.json"));
}

// The worked example from Twitter's "Creating a signature" reproduced exactly: base
// string, signing key, signature and the header built from them.
TEST(OAuth1, TwitterDocsExample) {
  json ex = LoadExample();
  OAuthParams params;
  for (auto& [k, v] : ex["params"].items()) params.emplace_back(k, v.get<std::string>());
  OAuthParams oauth;
  for (auto& [k, v] : ex["oauth"].items()) oauth.emplace_back(k, v.get<std::string>());

  OAuthParams all = params;
  all.insert(all.end(), oauth.begin(), oauth.end());
  std::string base =
      SignatureBaseString(ex["method"].get<std::string>(), ex["url"].get<std::string>(), all);
  EXPECT_TRUE(
      common::StartsWith(base, ex["expected_signature_base_string_starts_with"].get<std::string>()))
      << base;
  // The documented full base string (Twitter docs): the status is encoded twice.
  EXPECT_NE(base.find("status%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%"
                      "2520OAuth%2520request%2521"),
            std::string::npos)
      << base;
  std::string key =
      SigningKey(ex["consumer_secret"].get<std::string>(), ex["token_secret"].get<std::string>());
  EXPECT_EQ(key, ex["expected_signing_key"].get<std::string>());
  EXPECT_EQ(HmacSha1Signature(base, key), ex["expected_signature"].get<std::string>());

  // SignRequest with the example's nonce and timestamp gives the same signature and a
  // header that parses back to the same values.
  OAuthCredentials creds{ex["oauth"]["oauth_consumer_key"], ex["consumer_secret"],
                         ex["oauth"]["oauth_token"], ex["token_secret"]};
  OAuthParams used;
  std::string header =
      SignRequest(creds, "POST", ex["url"].get<std::string>(), params, ex["oauth"]["oauth_nonce"],
                  ex["oauth"]["oauth_timestamp"], &used);
  EXPECT_EQ(header,
            "OAuth oauth_consumer_key=\"xvz1evFS4wEEPTGEFPHBog\", "
            "oauth_nonce=\"kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg\", "
            "oauth_signature=\"hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D\", "
            "oauth_signature_method=\"HMAC-SHA1\", oauth_timestamp=\"1318622958\", "
            "oauth_token=\"370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb\", "
            "oauth_version=\"1.0\"");
  auto parsed = ParseAuthorizationHeader(header);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, used);
}

TEST(OAuth1, PercentEncodingFollowsRfc5849) {
  EXPECT_EQ(OAuthPercentEncode("Ladies + Gentlemen"), "Ladies%20%2B%20Gentlemen");
  EXPECT_EQ(OAuthPercentEncode("An encoded string!"), "An%20encoded%20string%21");
  EXPECT_EQ(OAuthPercentEncode("Dogs, Cats & Mice"), "Dogs%2C%20Cats%20%26%20Mice");
  EXPECT_EQ(OAuthPercentEncode("☃"), "%E2%98%83");
  EXPECT_EQ(OAuthPercentEncode("-._~"), "-._~");
}

TEST(OAuth1, BaseStringUriNormalizes) {
  EXPECT_EQ(BaseStringUri("HTTP://Example.COM:80/r%20v/X?id=123"), "http://example.com/r%20v/X");
  EXPECT_EQ(BaseStringUri("https://www.example.net:8080/?q=1"), "https://www.example.net:8080/");
  EXPECT_EQ(BaseStringUri("https://api.x.com:443/2/tweets"), "https://api.x.com/2/tweets");
  EXPECT_EQ(BaseStringUri("http://127.0.0.1:4566/x/2/tweets"), "http://127.0.0.1:4566/x/2/tweets");
}

TEST(OAuth1, QueryParametersAreSigned) {
  // RFC 5849 3.4.1.3.2 example: repeated names sorted by value.
  std::string base =
      SignatureBaseString("GET", "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b",
                          {{"a3", "2 q"}, {"c2", ""}});
  EXPECT_EQ(base,
            "GET&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26"
            "b5%3D%253D%25253D%26c%2540%3D%26c2%3D");
}

TEST(OAuth1, ParseRejectsNonOAuth) {
  EXPECT_FALSE(ParseAuthorizationHeader("Bearer abc").ok());
  EXPECT_FALSE(ParseAuthorizationHeader("OAuth oauth_nonce=\"abc").ok());
  auto p = ParseAuthorizationHeader("OAuth realm=\"x\", oauth_nonce=\"a%20b\",oauth_token=t");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, (OAuthParams{{"oauth_nonce", "a b"}, {"oauth_token", "t"}}));
}

class VerifierTest : public ::testing::Test {
 protected:
  VerifierTest()
      : clock_(common::FromUnixMillis(1'700'000'000'000)),
        verifier_(OAuthVerifierOptions{
            {{"ck", "cs"}}, {{"at", "as"}}, std::chrono::seconds(300), &clock_}) {}

  OAuthRequest Signed(const OAuthCredentials& creds, int64_t ts_offset = 0,
                      const std::string& nonce = "") {
    OAuthRequest r;
    r.method = "POST";
    r.url = "http://127.0.0.1:4566/x/2/media/upload?command=STATUS&media_id=1";
    r.form_params = {{"text", "hello world"}};
    r.authorization = SignRequest(creds, r.method, r.url, r.form_params, nonce,
                                  std::to_string(common::ToUnixSeconds(clock_.Now()) + ts_offset));
    return r;
  }

  common::FakeClock clock_;
  OAuthVerifier verifier_;
  OAuthCredentials good_{"ck", "cs", "at", "as"};
};

TEST_F(VerifierTest, AcceptsFreshRequest) {
  EXPECT_TRUE(verifier_.Verify(Signed(good_)).ok());
  EXPECT_TRUE(verifier_.Verify(Signed(good_, -299)).ok());
}

TEST_F(VerifierTest, RefusesWrongSecretsWithoutEchoingThem) {
  for (OAuthCredentials bad : {OAuthCredentials{"ck", "WRONGSECRET", "at", "as"},
                               OAuthCredentials{"ck", "cs", "at", "WRONGSECRET"}}) {
    common::Status s = verifier_.Verify(Signed(bad));
    EXPECT_EQ(s.code(), common::Code::kUnauthenticated);
    EXPECT_NE(s.message().find("signature mismatch"), std::string::npos) << s.message();
    EXPECT_EQ(s.message().find("WRONGSECRET"), std::string::npos);
    EXPECT_EQ(s.message().find("cs"), std::string::npos);
  }
  EXPECT_NE(
      verifier_.Verify(Signed({"other", "cs", "at", "as"})).message().find("unknown consumer"),
      std::string::npos);
  EXPECT_NE(verifier_.Verify(Signed({"ck", "cs", "zz", "as"})).message().find("unknown token"),
            std::string::npos);
}

TEST_F(VerifierTest, RefusesStaleTimestamp) {
  common::Status s = verifier_.Verify(Signed(good_, -301));
  EXPECT_EQ(s.code(), common::Code::kUnauthenticated);
  EXPECT_NE(s.message().find("stale timestamp"), std::string::npos);
  EXPECT_FALSE(verifier_.Verify(Signed(good_, +301)).ok());
}

TEST_F(VerifierTest, RefusesReusedNonce) {
  OAuthRequest r = Signed(good_, 0, "nonce-1");
  EXPECT_TRUE(verifier_.Verify(r).ok());
  common::Status s = verifier_.Verify(r);
  EXPECT_EQ(s.code(), common::Code::kUnauthenticated);
  EXPECT_NE(s.message().find("nonce already used"), std::string::npos);
  // The same nonce with another timestamp is still a replay.
  clock_.Advance(std::chrono::seconds(10));
  EXPECT_FALSE(verifier_.Verify(Signed(good_, 0, "nonce-1")).ok());
  EXPECT_TRUE(verifier_.Verify(Signed(good_, 0, "nonce-2")).ok());
}

TEST_F(VerifierTest, RefusesTamperedRequest) {
  OAuthRequest r = Signed(good_);
  r.form_params[0].second = "hello worle";
  EXPECT_FALSE(verifier_.Verify(r).ok());
  OAuthRequest q = Signed(good_);
  q.url += "&x=1";
  EXPECT_FALSE(verifier_.Verify(q).ok());
  OAuthRequest m = Signed(good_);
  m.authorization = "";
  EXPECT_FALSE(verifier_.Verify(m).ok());
}

}  // namespace
}  // namespace x
