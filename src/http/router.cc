#include <nlohmann/json.hpp>

#include "common/strings.h"
#include "http/server.h"

namespace http {
namespace {

bool PathMatches(std::string_view pattern, std::string_view path) {
  if (!pattern.empty() && pattern.back() == '*') {
    return common::StartsWith(path, pattern.substr(0, pattern.size() - 1));
  }
  return pattern == path;
}

Response NotFound(const Request& request) {
  nlohmann::json body = {
      {"code", 404},
      {"message", "no route for " + request.method + " " + std::string(request.path())}};
  return Response::Json(404, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace

void Router::Handle(std::string method, std::string pattern, Handler handler) {
  routes_->push_back(Route{std::move(method), std::move(pattern), std::move(handler)});
}

void Router::SetFallback(Handler handler) { *fallback_ = std::move(handler); }

Handler Router::AsHandler() const {
  return [routes = routes_, fallback = fallback_](Request&& request, Respond respond) {
    std::string_view path = request.path();
    std::vector<std::string> allowed;
    for (const Route& route : *routes) {
      if (!PathMatches(route.pattern, path)) continue;
      if (route.method == "*" || route.method == request.method) {
        route.handler(std::move(request), std::move(respond));
        return;
      }
      if (std::find(allowed.begin(), allowed.end(), route.method) == allowed.end()) {
        allowed.push_back(route.method);
      }
    }
    if (!allowed.empty()) {
      nlohmann::json body = {{"code", 405},
                             {"message", "method " + request.method + " not allowed"}};
      Response response =
          Response::Json(405, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      response.headers.Set("Allow", common::Join(allowed, ", "));
      respond(std::move(response));
      return;
    }
    if (*fallback) {
      (*fallback)(std::move(request), std::move(respond));
      return;
    }
    respond(NotFound(request));
  };
}

}  // namespace http
