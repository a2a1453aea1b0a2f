// 100 realistic rules (source/detail-type, bucket names, key prefixes and suffixes, numeric
// sizes, anything-but, EC2 states, cidr, wildcard) against a stream of S3 and EC2 events, on
// one core. "matches/s" counts rule-event evaluations (events/s x rules).
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "eventpattern/pattern.h"

namespace {

using eventpattern::Pattern;
using eventpattern::PatternSet;
using nlohmann::json;

constexpr int kRules = 100;
const char* kBuckets[] = {"photos", "uploads",  "logs",       "backups",
                          "media",  "invoices", "thumbnails", "raw-images"};
const char* kPrefixes[] = {"uploads/", "incoming/", "2026/", "users/", "tmp/"};
const char* kSuffixes[] = {".jpg", ".png", ".gif", ".json", ".csv"};
const char* kStates[] = {"pending", "running", "stopping", "stopped", "terminated"};
const char* kReasons[] = {"PutObject", "CopyObject", "CompleteMultipartUpload", "DeleteObject"};

std::vector<std::string> RuleTexts() {
  std::vector<std::string> rules;
  for (int i = 0; rules.size() < kRules; ++i) {
    std::string bucket = kBuckets[i % 8];
    std::string prefix = kPrefixes[i % 5];
    std::string suffix = kSuffixes[i % 5];
    switch (i % 10) {
      case 0:
        rules.push_back(R"({"source":["aws.s3"],"detail-type":["Object Created"]})");
        break;
      case 1:
        rules.push_back(R"({"source":["aws.s3"],"detail":{"bucket":{"name":[")" + bucket +
                        R"("]},"object":{"key":[{"prefix":")" + prefix + R"("}]}}})");
        break;
      case 2:
        rules.push_back(R"({"source":["aws.s3"],"detail":{"bucket":{"name":[")" + bucket +
                        R"("]},"object":{"key":[{"suffix":")" + suffix + R"("}]}}})");
        break;
      case 3:
        rules.push_back(R"({"source":["aws.s3"],"detail":{"object":{"size":[{"numeric":[">",)" +
                        std::to_string(i * 1000) + R"(,"<=",)" + std::to_string(i * 5000 + 1) +
                        "]}]}}}");
        break;
      case 4:
        rules.push_back(
            R"({"detail-type":["Object Created","Object Deleted"],"detail":{"reason":[{"anything-but":[")" +
            std::string(kReasons[i % 4]) + R"("]}]}})");
        break;
      case 5:
        rules.push_back(
            R"({"source":["aws.ec2"],"detail-type":["EC2 Instance State-change Notification"],"detail":{"state":[")" +
            std::string(kStates[i % 5]) + R"(","terminated"]}})");
        break;
      case 6:
        rules.push_back(R"({"source":["aws.ec2"],"detail":{"instance-id":[{"prefix":"i-0)" +
                        std::to_string(i % 10) + R"("}],"state":[{"anything-but":"pending"}]}})");
        break;
      case 7:
        rules.push_back(
            R"({"source":[{"prefix":"aws."}],"region":["us-west-2","eu-west-1"],"detail":{"bucket":{"name":[{"equals-ignore-case":")" +
            bucket + R"("}]}}})");
        break;
      case 8:
        rules.push_back(R"({"detail":{"source-ip-address":[{"cidr":"10.)" + std::to_string(i % 4) +
                        R"(.0.0/16"}],"object":{"key":[{"wildcard":")" + prefix + "*" + suffix +
                        R"("}]}}})");
        break;
      case 9:
        rules.push_back(
            R"({"source":["aws.s3"],"$or":[{"detail":{"object":{"size":[{"numeric":[">",1048576]}]}}},{"detail":{"bucket":{"name":[")" +
            bucket + R"("]}}}]})");
        break;
    }
  }
  return rules;
}

std::vector<json> Events() {
  std::mt19937 rng(42);
  std::vector<json> events;
  for (int i = 0; i < 256; ++i) {
    if (i % 3 != 2) {
      json e = json::parse(R"({"version":"0","id":"17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type":"Object Created","source":"aws.s3","account":"111122223333",
        "time":"2026-11-12T00:00:00Z","region":"us-west-2","resources":["arn:aws:s3:::b"],
        "detail":{"version":"0","bucket":{"name":"b"},"object":{"key":"k","size":5,
        "etag":"b1946ac92492d2347c6235b4d2611184","sequencer":"617f08299329d189"},
        "request-id":"N4N7GDK58NMKJ12R","requester":"123456789012",
        "source-ip-address":"10.1.2.3","reason":"PutObject"}})");
      std::string bucket = kBuckets[rng() % 8];
      e["detail"]["bucket"]["name"] = bucket;
      e["resources"][0] = "arn:aws:s3:::" + bucket;
      e["detail"]["object"]["key"] = std::string(kPrefixes[rng() % 5]) + "img" +
                                     std::to_string(rng() % 1000) + kSuffixes[rng() % 5];
      e["detail"]["object"]["size"] = rng() % 2000000;
      e["detail"]["reason"] = kReasons[rng() % 4];
      if (e["detail"]["reason"] == "DeleteObject") e["detail-type"] = "Object Deleted";
      e["detail"]["source-ip-address"] = "10." + std::to_string(rng() % 6) + ".3.4";
      events.push_back(std::move(e));
    } else {
      json e = json::parse(R"({"version":"0","id":"7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type":"EC2 Instance State-change Notification","source":"aws.ec2",
        "account":"123456789012","time":"2026-11-12T00:00:00Z","region":"us-east-1",
        "resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-0abcd"],
        "detail":{"instance-id":"i-0abcd","state":"running"}})");
      e["detail"]["instance-id"] = "i-0" + std::to_string(rng() % 10) + "abcdef";
      e["detail"]["state"] = kStates[rng() % 5];
      events.push_back(std::move(e));
    }
  }
  return events;
}

std::vector<Pattern> Compile() {
  std::vector<Pattern> patterns;
  for (const auto& text : RuleTexts()) {
    auto p = Pattern::Parse(text);
    if (!p.ok()) {
      fprintf(stderr, "bad rule %s: %s\n", text.c_str(), p.status().message().c_str());
      abort();
    }
    patterns.push_back(std::move(p).value());
  }
  return patterns;
}

void SetCounters(benchmark::State& state, int64_t events, int64_t matched) {
  state.SetItemsProcessed(events);
  state.counters["events/s"] =
      benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
  state.counters["matches/s"] =
      benchmark::Counter(static_cast<double>(events) * kRules, benchmark::Counter::kIsRate);
  state.counters["hit_ratio"] =
      static_cast<double>(matched) / (static_cast<double>(events) * kRules);
}

// The rule-engine path: one PatternSet, each event flattened once for all 100 rules.
void BM_PatternSet100Rules(benchmark::State& state) {
  PatternSet set;
  for (const auto& p : Compile()) set.Add(p);
  auto events = Events();
  size_t i = 0;
  int64_t n = 0, matched = 0;
  for (auto _ : state) {
    matched += set.CountMatches(events[i++ % events.size()]);
    ++n;
  }
  SetCounters(state, n, matched);
}
BENCHMARK(BM_PatternSet100Rules);

// 100 independent Pattern::Matches calls per event (each flattens the event itself).
void BM_Pattern100Individually(benchmark::State& state) {
  auto patterns = Compile();
  auto events = Events();
  size_t i = 0;
  int64_t n = 0, matched = 0;
  for (auto _ : state) {
    const json& event = events[i++ % events.size()];
    for (const auto& p : patterns) matched += p.Matches(event);
    ++n;
  }
  SetCounters(state, n, matched);
}
BENCHMARK(BM_Pattern100Individually);

// As the driver sees it: event text from SQS, parsed, then matched against the set.
void BM_ParseAndPatternSet100Rules(benchmark::State& state) {
  PatternSet set;
  for (const auto& p : Compile()) set.Add(p);
  std::vector<std::string> texts;
  for (const auto& e : Events()) texts.push_back(e.dump());
  size_t i = 0;
  int64_t n = 0, matched = 0;
  for (auto _ : state) {
    matched += set.CountMatches(json::parse(texts[i++ % texts.size()]));
    ++n;
  }
  SetCounters(state, n, matched);
}
BENCHMARK(BM_ParseAndPatternSet100Rules);

void BM_Compile100Rules(benchmark::State& state) {
  auto texts = RuleTexts();
  for (auto _ : state) {
    for (const auto& t : texts) benchmark::DoNotOptimize(Pattern::Parse(t));
  }
  state.SetItemsProcessed(state.iterations() * kRules);
}
BENCHMARK(BM_Compile100Rules);

}  // namespace
