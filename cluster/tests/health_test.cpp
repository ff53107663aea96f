// The health endpoint (cluster_options::health_port): what probes get, and
// what hostile clients get.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include "cluster_fixture.hpp"

namespace {

using namespace std::chrono_literals;

// Sends `request` to 127.0.0.1:port and reads until the server closes (bounded).
std::string exchange(std::uint16_t port, const std::string& request, std::chrono::milliseconds timeout = 5s) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "connect failed";
  }
  if (!request.empty()) (void)::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string got;
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      got += "<timeout>";
      break;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[1024];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;  // closed by the server
    got.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return got;
}

class health_test : public ::testing::Test {
 protected:
  akt_test::etcd_server etcd_;
};

TEST_F(health_test, probes_get_healthz_and_readyz_and_hostile_clients_get_nothing_more) {
  akt_test::node n = akt_test::join_cluster("probed", {etcd_.endpoint()}, {.health_port = 0});
  ASSERT_NE(n.cluster, nullptr);
  const std::uint16_t port = n.cluster->health_port();
  ASSERT_NE(port, 0);
  EXPECT_TRUE(exchange(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").starts_with("HTTP/1.1 200 OK"));
  const std::string ready = exchange(port, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(ready.starts_with("HTTP/1.1 200 OK")) << ready;
  EXPECT_NE(ready.find("ready"), std::string::npos);
  EXPECT_TRUE(exchange(port, "GET /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
  EXPECT_TRUE(exchange(port, "POST /readyz HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405"));
  EXPECT_TRUE(exchange(port, "hello there\r\n\r\n").starts_with("HTTP/1.1 400"));
  // Too large: dropped without an answer. Too slow: dropped within its 2 s.
  const std::string huge = "GET /readyz HTTP/1.1\r\nX: " + std::string(8000, 'a') + "\r\n\r\n";
  EXPECT_TRUE(exchange(port, huge).empty());
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(exchange(port, "GET /rea", 10s).empty());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  // Still serving the others.
  EXPECT_TRUE(exchange(port, "GET /healthz HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 200 OK"));
}

TEST_F(health_test, readyz_says_why_not_while_etcd_is_gone_and_recovers) {
  akt_test::node n = akt_test::join_cluster("probed", {etcd_.endpoint()}, {.health_port = 0});
  ASSERT_NE(n.cluster, nullptr);
  const std::uint16_t port = n.cluster->health_port();
  etcd_.stop();
  // No keep-alive for longer than the lease (2 s): not ready, and why.
  std::string got;
  EXPECT_TRUE(akt_test::eventually(
      [&] {
        got = exchange(port, "GET /readyz HTTP/1.1\r\n\r\n");
        return got.starts_with("HTTP/1.1 503");
      },
      10s))
      << got;
  EXPECT_NE(got.find("has not renewed"), std::string::npos) << got;
  EXPECT_TRUE(exchange(port, "GET /healthz HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 200 OK"))
      << "alive all along";
  etcd_.start();
  EXPECT_TRUE(akt_test::eventually(
      [&] { return exchange(port, "GET /readyz HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 200 OK"); }, 20s));
}

TEST_F(health_test, a_health_port_in_use_is_a_clear_error) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  auto sys = akt::actor_system::launch("busy", {.logger = akt::make_discard_logger()}).value();
  ASSERT_TRUE(akt::remote::remoting::enable(*sys, {.secret = "cluster-test-secret-0123"}));
  auto c = akt::cluster::cluster::enable(
      *sys, {.etcd = {.endpoints = {etcd_.endpoint()}}, .health_port = ntohs(a.sin_port)});
  ::close(fd);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find("health endpoint"), std::string::npos) << c.error().to_string();
}

}  // namespace
