// Test-only: loads the AWS SigV4 test suite from the repository's testdata/aws-sigv4-suite
// (path from DAT_TESTDATA_DIR) into requests, signing params and expected values.
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "aws/sigv4.h"
#include "common/time.h"
#include "http/message.h"

namespace aws::testing_suite {

struct SuiteCase {
  std::string name;
  bool sigv4a = false;
  SigningParams params;
  http::Request request;
  std::string header_canonical_request, header_string_to_sign, header_signature;
  std::string query_canonical_request, query_string_to_sign, query_signature;
  http::Request header_signed_request;  // as the signer should produce it
  http::Request query_signed_request;
  std::string query_signed_target;
};

inline std::string SuiteDir() { return std::string(DAT_TESTDATA_DIR) + "/aws-sigv4-suite"; }

inline std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open test data file " + p.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Parses the suite's request format: "METHOD TARGET HTTP/1.1", "Name:value" lines (a line
// starting with whitespace continues the previous value), an empty line, the body.
inline http::Request ParseSuiteRequest(const std::string& text) {
  http::Request r;
  size_t pos = 0;
  auto next_line = [&](std::string* line) {
    if (pos > text.size()) return false;
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    *line = text.substr(pos, eol - pos);
    if (!line->empty() && line->back() == '\r') line->pop_back();
    pos = eol + 1;
    return true;
  };
  std::string line;
  next_line(&line);
  size_t first = line.find(' ');
  size_t last = line.rfind(' ');
  r.method = line.substr(0, first);
  r.target = line.substr(first + 1, last - first - 1);
  std::vector<std::pair<std::string, std::string>> headers;
  while (next_line(&line) && !line.empty()) {
    if ((line[0] == ' ' || line[0] == '\t') && !headers.empty()) {
      headers.back().second += "\n" + line;
      continue;
    }
    size_t colon = line.find(':');
    headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  for (auto& [n, v] : headers) r.headers.Add(n, v);
  if (pos < text.size()) r.body = text.substr(pos);
  return r;
}

inline std::vector<SuiteCase> LoadSuite() {
  namespace fs = std::filesystem;
  std::vector<SuiteCase> cases;
  if (!fs::is_directory(SuiteDir())) return cases;
  for (const auto& entry : fs::directory_iterator(SuiteDir())) {
    if (!entry.is_directory()) continue;
    fs::path dir = entry.path();
    SuiteCase c;
    c.name = dir.filename().string();
    nlohmann::json ctx = nlohmann::json::parse(ReadAll(dir / "context.json"));
    std::string algorithm = ctx.value("algorithm", "");
    c.sigv4a =
        c.name.find("sigv4a") != std::string::npos || algorithm.find("ECDSA") != std::string::npos;
    if (c.sigv4a) {
      cases.push_back(std::move(c));
      continue;
    }
    c.params.credentials.access_key_id = ctx["credentials"]["access_key_id"];
    c.params.credentials.secret_access_key = ctx["credentials"]["secret_access_key"];
    c.params.credentials.session_token = ctx["credentials"].value("token", "");
    c.params.region = ctx["region"];
    c.params.service = ctx["service"];
    c.params.time = *common::ParseIso8601(ctx["timestamp"].get<std::string>());
    c.params.normalize_path = ctx.value("normalize", true);
    c.params.double_uri_encode = true;
    c.params.add_content_sha256_header = ctx.value("sign_body", false);
    c.params.omit_session_token = ctx.value("omit_session_token", false);
    c.params.expires = std::chrono::seconds(ctx.value("expiration_in_seconds", 3600));
    c.request = ParseSuiteRequest(ReadAll(dir / "request.txt"));
    c.header_canonical_request = ReadAll(dir / "header-canonical-request.txt");
    c.header_string_to_sign = ReadAll(dir / "header-string-to-sign.txt");
    c.header_signature = ReadAll(dir / "header-signature.txt");
    c.query_canonical_request = ReadAll(dir / "query-canonical-request.txt");
    c.query_string_to_sign = ReadAll(dir / "query-string-to-sign.txt");
    c.query_signature = ReadAll(dir / "query-signature.txt");
    c.header_signed_request = ParseSuiteRequest(ReadAll(dir / "header-signed-request.txt"));
    c.query_signed_request = ParseSuiteRequest(ReadAll(dir / "query-signed-request.txt"));
    c.query_signed_target = c.query_signed_request.target;
    for (std::string* s : {&c.header_signature, &c.query_signature}) {
      while (!s->empty() && (s->back() == '\n' || s->back() == '\r')) s->pop_back();
    }
    cases.push_back(std::move(c));
  }
  std::sort(cases.begin(), cases.end(),
            [](const SuiteCase& a, const SuiteCase& b) { return a.name < b.name; });
  return cases;
}

}  // namespace aws::testing_suite
