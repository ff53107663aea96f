// A real DNS server for the DNS discovery tests: dnsmasq on 127.0.0.1 and a
// free port (UDP and TCP), serving only what the test gives it (a config
// file of records, a hosts file), authoritative for akt.test (names there
// that it does not know get NXDOMAIN). It dies with the test process, is
// ready when it answers (bounded wait), and changes its records either by
// SIGHUP (the hosts file) or by a restart on the same port (the config).
#pragma once

#include <akt/testkit/child_process.hpp>
#include <akt/testkit/ports.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <akt/discovery/discovery.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace akt_test {

using akt::testkit::spawn_child;

using akt::testkit::can_bind;

// A loopback UDP socket bound to a free port; nothing reads it, so a DNS
// query sent there is never answered (and not refused either).
class silent_udp_port {
 public:
  silent_udp_port() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~silent_udp_port() { ::close(fd_); }
  silent_udp_port(const silent_udp_port&) = delete;
  silent_udp_port& operator=(const silent_udp_port&) = delete;
  std::uint16_t port() const { return port_; }
  // Whether a query has arrived (and sits unread) within `limit`.
  bool wait_for_query(std::chrono::milliseconds limit) {
    pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
    return ::poll(&p, 1, static_cast<int>(limit.count())) == 1;
  }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// A port free for both UDP and TCP on 127.0.0.1 (a DNS server needs both).
inline std::uint16_t free_dns_port() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    silent_udp_port probe;
    const std::uint16_t port = probe.port();
    if (can_bind(SOCK_STREAM, port)) return port;
  }
  throw std::runtime_error("no port free for both UDP and TCP on 127.0.0.1");
}

class dnsmasq_server {
 public:
  // `records`: dnsmasq configuration lines (srv-host=..., host-record=...);
  // `hosts`: a hosts file ("127.0.0.11 akt.test" lines), re-read on SIGHUP.
  explicit dnsmasq_server(std::string records, std::string hosts = "") : port_(free_dns_port()) {
    std::string pattern = (std::filesystem::temp_directory_path() / "akt-dnsmasq.XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("cannot create a temporary directory");
    dir_ = pattern;
    write(dir_ / "records.conf", records);
    write(dir_ / "hosts", hosts);
    start();
  }
  ~dnsmasq_server() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  dnsmasq_server(const dnsmasq_server&) = delete;
  dnsmasq_server& operator=(const dnsmasq_server&) = delete;

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::uint16_t port() const { return port_; }

  // New hosts file, then SIGHUP: dnsmasq re-reads it (not the config).
  void set_hosts(const std::string& hosts) {
    write(dir_ / "hosts", hosts);
    ::kill(pid_, SIGHUP);
  }

  // New records: stopped and started again on the same port.
  void restart(const std::string& records) {
    stop();
    write(dir_ / "records.conf", records);
    start();
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  static void write(const std::filesystem::path& path, const std::string& text) {
    // Renamed into place, so that dnsmasq never reads half a file.
    const auto next = path.string() + ".next";
    std::ofstream(next, std::ios::trunc) << text;
    std::filesystem::rename(next, path);
  }

  void start() {
    std::vector<std::string> args = {AKT_DNSMASQ_BINARY,
                                     "--no-daemon",  // also: no pid file, no change of user
                                     "--log-facility=-",
                                     "--no-resolv",
                                     "--no-hosts",
                                     "--no-poll",
                                     "--bind-interfaces",
                                     "--listen-address=127.0.0.1",
                                     "--port=" + std::to_string(port_),
                                     "--local=/akt.test/",
                                     "--host-record=ready.akt.test,127.0.0.1",
                                     "--conf-file=" + (dir_ / "records.conf").string(),
                                     "--addn-hosts=" + (dir_ / "hosts").string()};
    pid_ = spawn_child(std::move(args));
    if (pid_ < 0) throw std::runtime_error("cannot start dnsmasq (" AKT_DNSMASQ_BINARY ")");
    wait_ready();
  }

  // Ready once it answers for ready.akt.test (polled, bounded).
  void wait_ready() {
    auto probe = akt::discovery::dns({.name = "ready.akt.test",
                                      .ports = {{"p", 1}},
                                      .servers = {address()},
                                      .timeout = std::chrono::milliseconds(200)})
                     .value();
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until) {
      if (probe->nodes()) return;
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("dnsmasq exited at start (port " + std::to_string(port_) + " taken?)");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    stop();
    throw std::runtime_error("dnsmasq did not answer on " + address() + " within 10 s");
  }

  std::uint16_t port_;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
};

}  // namespace akt_test
