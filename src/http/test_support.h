// Helpers for the http tests: a server fixture and a blocking raw TCP connection for
// speaking (broken) HTTP by hand. Test-only.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <string_view>

#include "http/server.h"

namespace http::testing {

// A blocking TCP connection to 127.0.0.1:port with bounded waits.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  RawConnection(RawConnection&& o) noexcept : fd_(o.fd_), pending_(std::move(o.pending_)) {
    o.fd_ = -1;
  }

  bool connected() const { return fd_ >= 0; }

  // False when the peer is gone (EPIPE/ECONNRESET).
  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads whatever arrives within `timeout` (at least one read when data is ready).
  // Returns "" on timeout; sets *closed when the peer closed or reset the connection.
  std::string ReadSome(std::chrono::milliseconds timeout, bool* closed = nullptr) {
    if (closed) *closed = false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return "";
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      if (closed) *closed = true;
      return "";
    }
    return std::string(buf, static_cast<size_t>(n));
  }

  // Reads until `marker` has arrived (returns everything up to and including it, keeping
  // the rest for the next call), or until timeout/close (returns what arrived).
  std::string ReadUntil(std::string_view marker, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      size_t at = pending_.find(marker);
      if (at != std::string::npos) {
        std::string out = pending_.substr(0, at + marker.size());
        pending_.erase(0, at + marker.size());
        return out;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      bool closed = false;
      pending_ += ReadSome(left, &closed);
      if (closed) break;
    }
    std::string out = std::move(pending_);
    pending_.clear();
    return out;
  }

  // Reads one whole response with a Content-Length body (no chunked support needed here).
  std::string ReadResponse(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::string head = ReadUntil("\r\n\r\n", timeout);
    size_t length = 0;
    std::string lower;
    for (char c : head) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    size_t at = lower.find("\r\ncontent-length:");
    if (at != std::string::npos) length = std::stoul(head.substr(at + 17));
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pending_.size() < length && std::chrono::steady_clock::now() < deadline) {
      bool closed = false;
      pending_ += ReadSome(std::chrono::milliseconds(200), &closed);
      if (closed) break;
    }
    size_t take = std::min(length, pending_.size());
    std::string out = head + pending_.substr(0, take);
    pending_.erase(0, take);
    return out;
  }

  // True when the peer closes the connection within `timeout` (data before EOF is skipped).
  bool WaitClosed(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      bool closed = false;
      ReadSome(std::chrono::milliseconds(100), &closed);
      if (closed) return true;
    }
    return false;
  }

 private:
  int fd_ = -1;
  std::string pending_;
};

// Status code of a raw response ("HTTP/1.1 404 Not Found…" → 404), -1 when none.
inline int StatusOf(std::string_view response) {
  if (response.size() < 12 || response.substr(0, 5) != "HTTP/") return -1;
  return std::atoi(std::string(response.substr(9, 3)).c_str());
}

}  // namespace http::testing
