#include "aws/client.h"

#include "aws/sigv4.h"
#include "aws/sts_protocol.h"

namespace aws {

ServiceCaller::ServiceCaller(ClientOptions options, std::string service_key,
                             std::string signing_name)
    : options_(std::move(options)),
      service_key_(std::move(service_key)),
      signing_name_(std::move(signing_name)),
      endpoint_(options_.config.EndpointFor(service_key_)),
      region_(options_.config.region.empty() ? std::string("us-east-1") : options_.config.region),
      endpoint_overridden_(options_.config.HasEndpointOverride(service_key_)),
      retry_(options_.retry) {
  if (options_.http == nullptr) options_.http = &http::DefaultHttpClient();
  if (options_.clock == nullptr) options_.clock = &common::SystemClock::Instance();
}

AwsStatus ServiceCaller::Sign(http::ClientRequest& request, const SendOptions& send) const {
  request.connect_timeout = options_.connect_timeout;
  request.timeout = send.timeout.value_or(options_.timeout);
  if (request.ca_file.empty()) request.ca_file = options_.config.ca_bundle;
  request.cancel = send.cancel;
  if (options_.credentials == nullptr || send.unsigned_request) return Empty{};
  common::Result<Credentials> creds = options_.credentials->GetCredentials();
  if (!creds.ok()) {
    return AwsError::Local(signing_name_, creds.status().code(),
                           "cannot get credentials: " + creds.status().message());
  }
  SigningParams params =
      SigningParams::ForService(std::move(*creds), region_, signing_name_, options_.clock->Now());
  params.payload_hash = send.payload_hash;
  common::Result<SigningResult> signed_request = SignClientRequest(request, params);
  if (!signed_request.ok()) {
    return AwsError::Local(signing_name_, signed_request.status().code(),
                           signed_request.status().message());
  }
  return Empty{};
}

Outcome<http::Response> ServiceCaller::ToOutcome(common::Result<http::Response> response) const {
  if (!response.ok()) return AwsError::FromTransport(signing_name_, response.status());
  if (response->status < 200 || response->status > 299) {
    return ParseErrorResponse(signing_name_, *response);
  }
  return std::move(*response);
}

Outcome<http::Response> ServiceCaller::SendOnce(http::ClientRequest request,
                                                const SendOptions& send) const {
  AwsStatus signed_ok = Sign(request, send);
  if (!signed_ok.ok()) return signed_ok.error();
  return ToOutcome(options_.http->Send(request));
}

Outcome<http::Response> ServiceCaller::Send(http::ClientRequest request,
                                            const SendOptions& send) const {
  for (int attempt = 1;; ++attempt) {
    Outcome<http::Response> outcome = SendOnce(request, send);
    if (outcome.ok() || attempt >= retry_.max_attempts() || !retry_.ShouldRetry(outcome.error()) ||
        (send.may_retry && !send.may_retry())) {
      return outcome;
    }
    retry_.Sleep(retry_.Backoff(attempt));
  }
}

std::vector<Outcome<http::Response>> ServiceCaller::SendPipelined(
    std::vector<http::ClientRequest> requests, const std::vector<SendOptions>& sends) const {
  std::vector<Outcome<http::Response>> out;
  std::vector<http::ClientRequest> signed_requests = requests;
  for (size_t i = 0; i < signed_requests.size(); ++i) {
    AwsStatus signed_ok = Sign(signed_requests[i], sends[i]);
    if (!signed_ok.ok()) {
      const AwsError error = signed_ok.error();
      out.reserve(requests.size());
      for (size_t k = 0; k < requests.size(); ++k) out.emplace_back(error);
      return out;
    }
  }
  std::vector<common::Result<http::Response>> responses =
      options_.http->SendPipelined(signed_requests);
  for (size_t i = 0; i < responses.size(); ++i) {
    Outcome<http::Response> outcome = ToOutcome(std::move(responses[i]));
    const SendOptions& send = sends[i];
    if (!outcome.ok() && retry_.ShouldRetry(outcome.error()) &&
        !(send.may_retry && !send.may_retry())) {
      outcome = Send(std::move(requests[i]), send);  // on its own, with the retry policy
    }
    out.push_back(std::move(outcome));
  }
  return out;
}

http::ClientRequest ServiceCaller::JsonRequest(std::string_view target, std::string body,
                                               std::string_view json_version) const {
  http::ClientRequest request;
  request.method = "POST";
  request.url = endpoint_ + "/";
  request.headers.Set("Content-Type", "application/x-amz-json-" + std::string(json_version));
  request.headers.Set("X-Amz-Target", std::string(target));
  request.body = std::move(body);
  return request;
}

Outcome<nlohmann::json> ServiceCaller::CallJson(std::string_view target, const nlohmann::json& body,
                                                std::string_view json_version,
                                                const SendOptions& send) const {
  Outcome<http::Response> response =
      Send(JsonRequest(target, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                       json_version),
           send);
  if (!response.ok()) return response.error();
  if (response->body.empty()) return nlohmann::json::object();
  nlohmann::json j = nlohmann::json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return AwsError::Local(signing_name_, common::Code::kInternal,
                           std::string(target) + ": the response is not JSON");
  }
  return j;
}

Outcome<http::Response> ServiceCaller::CallQuery(
    std::string_view action, std::string_view version,
    const std::vector<std::pair<std::string, std::string>>& params, const SendOptions& send) const {
  std::vector<std::pair<std::string, std::string>> all = {{"Action", std::string(action)},
                                                          {"Version", std::string(version)}};
  all.insert(all.end(), params.begin(), params.end());
  http::ClientRequest request;
  request.method = "POST";
  request.url = endpoint_ + "/";
  request.headers.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
  request.body = FormBody(all);
  return Send(std::move(request), send);
}

}  // namespace aws
