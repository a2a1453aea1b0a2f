// CurlHttpClient against the project's HttpServer on loopback.
#include "http/client.h"

#include <gtest/gtest.h>

#include "http/server.h"

namespace http {
namespace {}  // namespace
}  // namespace http
