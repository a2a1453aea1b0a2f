#include "dispatch/api_json.h"

#include "common/json_limits.h"
#include "common/time.h"

namespace dispatch {

using common::Status;

int HttpStatusFor(const Status& status) {
  switch (status.code()) {
    case common::Code::kOk:
      return 200;
    case common::Code::kInvalidArgument:
      return 400;
    case common::Code::kNotFound:
      return 404;
    case common::Code::kAlreadyExists:
      return 409;
    case common::Code::kPermissionDenied:
      return 403;
    case common::Code::kUnauthenticated:
      return 401;
    case common::Code::kResourceExhausted:
      return 413;
    case common::Code::kFailedPrecondition:
      return 409;
    case common::Code::kUnavailable:
      return 503;
    case common::Code::kDeadlineExceeded:
      return 504;
    case common::Code::kAborted:
      return 409;
    case common::Code::kUnimplemented:
      return 501;
    case common::Code::kInternal:
      return 500;
  }
  return 500;
}

http::Response JsonResponse(int http_status, const nlohmann::json& body) {
  return http::Response::Json(http_status,
                              body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

http::Response ErrorResponse(int http_status, const std::string& message) {
  return JsonResponse(http_status, {{"code", http_status}, {"message", message}});
}

http::Response ErrorResponse(const Status& status) {
  return ErrorResponse(HttpStatusFor(status), status.message());
}

common::Result<nlohmann::json> ParseJson(std::string_view text) {
  // A payload (a run's input) one level inside the request, with a level to spare.
  return common::ParseJsonBounded(text, common::kMaxJsonDepth + 2);
}

std::string FormatMs(int64_t ms) {
  if (ms == 0) return "";
  return common::FormatIso8601Millis(common::FromUnixMillis(ms));
}

}  // namespace dispatch
