// akt/testkit/ports.hpp — a loopback TCP port for a test's server.
//
//   const std::uint16_t port = akt::testkit::free_tcp_port();
//
// The port was free a moment ago and nothing listens on it: a server the
// test starts can bind it (rarely, another process takes it first — a
// test that must not fail then retries on a new one), and a client that
// connects to it is refused (an unreachable peer).
//
// Thread safety: any thread.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace akt::testkit {

inline std::uint16_t free_tcp_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  std::uint16_t port = 0;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

}  // namespace akt::testkit
