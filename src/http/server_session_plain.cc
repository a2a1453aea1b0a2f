// The HTTP server's connections over plain TCP: the one instantiation of Session<PlainStream>.
#include "http/server_session.h"

namespace http {

std::shared_ptr<HttpServer::Impl::SessionBase> HttpServer::Impl::MakePlainSession(
    Impl* server, tcp::socket socket) {
  return std::make_shared<Session<PlainStream>>(server, std::move(socket));
}

}  // namespace http
