// akt/testkit/ports.hpp — a loopback TCP port for a test's server.
//
//   const std::uint16_t port = akt::testkit::free_tcp_port();
//
// The port was free a moment ago and nothing listens on it: a server the
// test starts can bind it, and a client that connects to it is refused (an
// unreachable peer).
//
// The port lies below the kernel's ephemeral range
// (/proc/sys/net/ipv4/ip_local_port_range), so no outgoing connection of
// this or any other process can take it between now and the server's bind
// (with ctest -j2 and gRPC clients everywhere, a port from bind(0) once was
// an etcd's peer port a moment later). One process never gets the same port
// twice, and two processes that both use this function never get the same
// one while both live: each holds an advisory lock on a file named after
// the port (in $TMPDIR or /tmp, akt-test-ports/) until it exits (ctest -j2
// once gave a managed etcd's peer port to two tests at once). A process
// that does not use it may still take the port first.
//
// Thread safety: any thread.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <string>

namespace akt::testkit {

// Whether a loopback socket of `type` (SOCK_STREAM, SOCK_DGRAM) can bind
// `port` now, as a server setting SO_REUSEADDR would.
inline bool can_bind(int type, std::uint16_t port) {
  const int fd = ::socket(AF_INET, type, 0);
  if (fd < 0) return false;
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

namespace detail {

// Claims `port` among the processes that use free_tcp_port: true when this
// process now holds the port's lock file (kept open, and so locked, until
// the process exits; not inherited across exec).
inline bool claim_across_processes(std::uint16_t port) {
  const char* tmp = std::getenv("TMPDIR");
  const std::string dir = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/akt-test-ports";
  ::mkdir(dir.c_str(), 0777);  // may exist already
  const std::string file = dir + "/" + std::to_string(port);
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return true;  // no lock files here: fall back to the bind check alone
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return false;  // another live process holds it
  }
  return true;  // fd stays open on purpose: the lock lasts as long as the process
}

// The first port of the ephemeral range (32768 when it cannot be read).
inline unsigned ephemeral_low() {
  unsigned low = 32768, high = 60999;
  std::ifstream f("/proc/sys/net/ipv4/ip_local_port_range");
  if (!(f >> low >> high)) low = 32768;
  return low;
}

}  // namespace detail

inline std::uint16_t free_tcp_port() {
  static std::mutex mu;
  static std::set<std::uint16_t> given;
  static std::mt19937 random{std::random_device{}()};
  std::lock_guard g(mu);
  const unsigned high = detail::ephemeral_low();
  const unsigned low = high > 12000 ? high - 10000 : 1024;
  std::uniform_int_distribution<unsigned> pick(low, high - 1);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const auto port = static_cast<std::uint16_t>(pick(random));
    if (given.contains(port) || !can_bind(SOCK_STREAM, port)) continue;
    given.insert(port);  // tried: not again, whether claimed here or elsewhere
    if (!detail::claim_across_processes(port)) continue;
    return port;
  }
  return 0;
}

}  // namespace akt::testkit
