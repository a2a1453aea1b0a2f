#include "eventpattern/pattern.h"

#include <gtest/gtest.h>

#include <thread>

#include "eventpattern/machine.h"

namespace eventpattern {
namespace {

using nlohmann::json;

bool Match(const char* pattern, const char* event) {
  auto p = Pattern::Parse(pattern);
  EXPECT_TRUE(p.ok()) << pattern << ": " << p.status().message();
  return p.ok() && p->Matches(json::parse(event));
}

std::string Error(const char* pattern) {
  auto p = Pattern::Parse(pattern);
  EXPECT_FALSE(p.ok()) << pattern;
  return p.ok() ? "" : p.status().message();
}

TEST(PatternTest, NestingBeyondTheLimitIsRefusedBeforeParsing) {
  // 32 levels: {"detail":{"a":{...{"z":["v"]}}}} with 31 objects and one array.
  std::string ok;
  for (int i = 0; i < kMaxPatternDepth - 1; ++i) ok += "{\"a\":";
  ok += "[\"v\"]" + std::string(kMaxPatternDepth - 1, '}');
  EXPECT_TRUE(Pattern::Parse(ok).ok()) << Pattern::Parse(ok).status().message();
  std::string deeper = "{\"a\":" + ok + "}";
  auto refused = Pattern::Parse(deeper);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(),
            "Event pattern is not valid. Reason: Pattern nesting exceeds the maximum of 32 levels");
  // 100,000 levels: refused at once, no crash.
  std::string huge = std::string(100'000, '[') + std::string(100'000, ']');
  EXPECT_FALSE(Pattern::Parse("{\"a\":" + huge + "}").ok());
  EXPECT_FALSE(Pattern::Parse(std::string(100'000, '{')).ok());
}

TEST(PatternTest, DeeplyNestedEventValuesDoNotCrashTheMatcher) {
  auto p = Pattern::Parse(R"({"detail":["x"]})");
  ASSERT_TRUE(p.ok());
  // An array nested 50,000 deep where the pattern looks: built and matched without recursion
  // beyond the walk limit.
  json value = "x";
  for (int i = 0; i < 50'000; ++i) {
    json outer = json::array();
    outer.push_back(std::move(value));
    value = std::move(outer);
  }
  json event = json::object();
  event["detail"] = std::move(value);
  EXPECT_FALSE(p->Matches(event));
  std::string deep_text = std::string(R"({"detail":)") + std::string(100'000, '[') + "\"x\"" +
                          std::string(100'000, ']') + "}";
  EXPECT_FALSE(p->Matches(std::string_view(deep_text)));
  EXPECT_TRUE(p->Matches(std::string_view(R"({"detail":[[["x"]]]})")));
}

TEST(PatternTest, S3ObjectCreatedWithKeyPrefix) {
  const char* pattern = R"({"source":["aws.s3"],"detail-type":["Object Created"],
    "detail":{"bucket":{"name":["photos"]},"object":{"key":[{"prefix":"uploads/"}]}}})";
  EXPECT_TRUE(Match(pattern, R"({"source":"aws.s3","detail-type":"Object Created",
    "detail":{"bucket":{"name":"photos"},"object":{"key":"uploads/cat.jpg","size":3}}})"));
  EXPECT_FALSE(Match(pattern, R"({"source":"aws.s3","detail-type":"Object Created",
    "detail":{"bucket":{"name":"photos"},"object":{"key":"other/cat.jpg"}}})"));
  EXPECT_FALSE(Match(pattern, R"({"source":"aws.s3","detail-type":"Object Deleted",
    "detail":{"bucket":{"name":"photos"},"object":{"key":"uploads/cat.jpg"}}})"));
}

TEST(PatternTest, ArrayElementsDoNotCombineAcrossElements) {
  const char* pattern = R"({"detail":{"items":{"a":[1],"b":[2]}}})";
  EXPECT_TRUE(Match(pattern, R"({"detail":{"items":[{"a":1,"b":2},{"a":5}]}})"));
  EXPECT_FALSE(Match(pattern, R"({"detail":{"items":[{"a":1,"b":3},{"a":5,"b":2}]}})"));
}

TEST(PatternTest, WildcardEscapesAndEdges) {
  EXPECT_TRUE(Match(R"({"k":[{"wildcard":"a\\*b"}]})", R"({"k":"a*b"})"));
  EXPECT_FALSE(Match(R"({"k":[{"wildcard":"a\\*b"}]})", R"({"k":"axxb"})"));
  EXPECT_TRUE(Match(R"({"k":[{"wildcard":"a\\\\b"}]})", R"({"k":"a\\b"})"));
  EXPECT_TRUE(Match(R"({"k":[{"wildcard":"*"}]})", R"({"k":""})"));
  EXPECT_TRUE(Match(R"({"k":[{"wildcard":"ab*ab"}]})", R"({"k":"abab"})"));
  EXPECT_FALSE(Match(R"({"k":[{"wildcard":"ab*ab"}]})", R"({"k":"aba"})"));
  EXPECT_TRUE(Match(R"({"k":[{"wildcard":"*.png"}]})", R"({"k":"x.png"})"));
  EXPECT_FALSE(Match(R"({"k":[{"wildcard":"*.png"}]})", R"({"k":5})"));
  EXPECT_EQ(Error(R"({"k":[{"wildcard":"a\\b"}]})"),
            "Event pattern is not valid. Reason: Invalid escape character at pos 2");
}

TEST(PatternTest, CidrV4AndV6) {
  EXPECT_TRUE(Match(R"({"ip":[{"cidr":"10.0.0.0/8"}]})", R"({"ip":"10.200.3.4"})"));
  EXPECT_FALSE(Match(R"({"ip":[{"cidr":"10.0.0.0/8"}]})", R"({"ip":"11.0.0.1"})"));
  EXPECT_FALSE(Match(R"({"ip":[{"cidr":"10.0.0.0/8"}]})", R"({"ip":"::1"})"));
  EXPECT_TRUE(Match(R"({"ip":[{"cidr":"0.0.0.0/0"}]})", R"({"ip":"1.2.3.4"})"));
  EXPECT_TRUE(Match(R"({"ip":[{"cidr":"fe80::/10"}]})", R"({"ip":"fe80::1"})"));
  EXPECT_FALSE(Match(R"({"ip":[{"cidr":"fe80::/10"}]})", R"({"ip":"fec0::1"})"));
  EXPECT_EQ(Error(R"({"ip":[{"cidr":"10.0.0.0/33"}]})"),
            "Event pattern is not valid. Reason: Malformed CIDR, mask bits must be between 0 "
            "and 32");
}

TEST(PatternTest, NumericRanges) {
  const char* range = R"({"n":[{"numeric":[">=",1.5,"<",10]}]})";
  EXPECT_TRUE(Match(range, R"({"n":1.5})"));
  EXPECT_TRUE(Match(range, R"({"n":9})"));
  EXPECT_FALSE(Match(range, R"({"n":10})"));
  EXPECT_FALSE(Match(range, R"({"n":"5"})"));
  EXPECT_TRUE(Match(R"({"n":[{"numeric":["<",0,">",-10]}]})", R"({"n":-5})"));
  EXPECT_EQ(Error(R"({"n":[{"numeric":["~",1]}]})"),
            "Event pattern is not valid. Reason: Unrecognized numeric range operator: ~");
  EXPECT_EQ(Error(R"({"n":[{"numeric":[">",10,"<",1]}]})"),
            "Event pattern is not valid. Reason: Bottom must be less than top");
}

TEST(PatternTest, OrAtTopAndNested) {
  const char* pattern =
      R"({"source":["aws.ec2"],"$or":[{"detail":{"state":["running"]}},{"region":["eu-west-1"]}]})";
  EXPECT_TRUE(Match(pattern, R"({"source":"aws.ec2","detail":{"state":"running"}})"));
  EXPECT_TRUE(Match(pattern, R"({"source":"aws.ec2","region":"eu-west-1"})"));
  EXPECT_FALSE(Match(pattern, R"({"source":"aws.s3","region":"eu-west-1"})"));
  EXPECT_FALSE(Match(pattern, R"({"source":"aws.ec2","region":"us-east-1"})"));
  EXPECT_EQ(Error(R"({"$or":[{"a":["b"]}]})"),
            "Event pattern is not valid. Reason: Or relationship must be an array of at least "
            "two objects");
}

TEST(PatternTest, OtherValidationMessages) {
  EXPECT_EQ(Error("[1]"), "Event pattern is not valid. Reason: Filter is not an object");
  EXPECT_EQ(Error(R"({"a":{}})"),
            "Event pattern is not valid. Reason: Empty objects are not allowed");
  EXPECT_EQ(Error(R"({"a":[[1]]})"),
            "Event pattern is not valid. Reason: Match value must be String, number, true, "
            "false, or null");
  EXPECT_EQ(Error(R"({"a":[{"exists":"yes"}]})"),
            "Event pattern is not valid. Reason: exists match pattern must be either true or "
            "false.");
  EXPECT_EQ(Error(R"({"a":[{"prefix":"x","suffix":"y"}]})"),
            "Event pattern is not valid. Reason: Only one key allowed in match expression");
  EXPECT_NE(Error("{not json").find("Event pattern is not valid. Reason: "), std::string::npos);
}

TEST(PatternTest, StringOverloadAndNonObjectEvents) {
  auto p = Pattern::Parse(R"({"a":["b"]})");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->Matches(std::string_view(R"({"a":"b"})")));
  EXPECT_FALSE(p->Matches(std::string_view(R"({"a":)")));
  EXPECT_FALSE(p->Matches(json::array({1, 2})));
  EXPECT_EQ(p->source(), R"({"a":["b"]})");
}

TEST(PatternTest, IgnoreCaseFoldsBeyondAscii) {
  EXPECT_TRUE(Match(R"({"n":[{"equals-ignore-case":"ÉCOLE"}]})", R"({"n":"école"})"));
  EXPECT_TRUE(Match(R"({"n":[{"equals-ignore-case":"ΑΘΗΝΑ"}]})", R"({"n":"αθηνα"})"));
  EXPECT_TRUE(Match(R"({"n":[{"prefix":{"equals-ignore-case":"МОСК"}}]})", R"({"n":"москва"})"));
  EXPECT_TRUE(Match(R"({"n":[{"suffix":{"equals-ignore-case":".JPG"}}]})", R"({"n":"ä.jpg"})"));
  EXPECT_FALSE(
      Match(R"({"n":[{"anything-but":{"equals-ignore-case":"STRASSE"}}]})", R"({"n":"strasse"})"));
  EXPECT_TRUE(Match(R"({"n":[{"anything-but":{"equals-ignore-case":"Ü"}}]})", R"({"n":"u"})"));
  EXPECT_EQ(FoldCase(std::string("A\xff\xc3", 3)), std::string("a\xff\xc3", 3));
}

TEST(PatternTest, TestEventValidation) {
  EXPECT_TRUE(IsValidTestEvent(json::parse(
      R"({"id":"1","account":"1","source":"s","time":"t","region":"r","detail-type":"d"})")));
  EXPECT_FALSE(IsValidTestEvent(json::parse(R"({"id":"1","source":"s"})")));
  EXPECT_FALSE(IsValidTestEvent(json("plain string")));
  EXPECT_FALSE(IsValidTestEvent(json::array()));
}

TEST(PatternTest, DefaultPatternMatchesNothing) {
  Pattern p;
  EXPECT_FALSE(p.Matches(json::parse(R"({"a":"b"})")));
  EXPECT_EQ(p.source(), "");
  PatternSet set;
  EXPECT_EQ(set.Add(p), 0u);
  EXPECT_EQ(set.CountMatches(json::parse(R"({"a":"b"})")), 0u);
}

TEST(PatternTest, PatternSetReportsEveryMatchingRule) {
  PatternSet set;
  set.Add(*Pattern::Parse(R"({"source":["aws.s3"]})"));
  set.Add(*Pattern::Parse(R"({"source":["aws.ec2"]})"));
  set.Add(*Pattern::Parse(R"({"detail":{"size":[{"numeric":[">",10]}]}})"));
  set.Add(*Pattern::Parse(R"({"source":[{"prefix":"aws."}]})"));
  std::vector<size_t> matched;
  set.Match(json::parse(R"({"source":"aws.s3","detail":{"size":11}})"), &matched);
  EXPECT_EQ(matched, (std::vector<size_t>{0, 2, 3}));
  EXPECT_EQ(set.CountMatches(json::parse(R"({"source":"aws.ec2"})")), 2u);
}

TEST(PatternTest, ConcurrentMatchingAgrees) {
  auto p = Pattern::Parse(R"({"detail":{"key":[{"suffix":".jpg"}],"n":[{"numeric":[">",3]}]}})");
  ASSERT_TRUE(p.ok());
  json yes = json::parse(R"({"detail":{"key":"a.jpg","n":4}})");
  json no = json::parse(R"({"detail":{"key":"a.png","n":4}})");
  std::atomic<int> wrong{0};
  auto work = [&] {
    for (int i = 0; i < 20000; ++i) {
      if (!p->Matches(yes) || p->Matches(no)) ++wrong;
    }
  };
  std::thread a(work), b(work);
  a.join();
  b.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(WildcardComplexityTest, RepeatingLiteralAfterStarIsAllowedButManyStarsAreNot) {
  EXPECT_TRUE(
      Pattern::Parse(R"({"k":[{"wildcard":"/Users/*/dir/dir/dir/dir/dir/doc.txt"}]})").ok());
  EXPECT_EQ(Error(R"({"k":[{"wildcard":"*:*:*:*:*:event-bus/*"}]})"),
            "Event pattern is not valid. Reason: Rule is too complex - try using fewer wildcard "
            "characters or fewer repeating character sequences after a wildcard character");
}

}  // namespace
}  // namespace eventpattern
