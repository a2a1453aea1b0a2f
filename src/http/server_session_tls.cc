// The HTTP server's connections over TLS over TCP: the one instantiation of Session<TlsStream>.
#include <boost/beast/ssl.hpp>

#include "http/server_session.h"

namespace http {

std::shared_ptr<HttpServer::Impl::SessionBase> HttpServer::Impl::MakeTlsSession(
    Impl* server, tcp::socket socket, net::ssl::context& tls) {
  return std::make_shared<Session<TlsStream>>(server, std::move(socket), tls);
}

}  // namespace http
