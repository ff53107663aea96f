// etcd_metrics.hpp — reads an etcd member's Prometheus counters (GET
// /metrics on its client URL, plain HTTP/1.0 on loopback, bounded by a 2 s
// socket timeout): the gRPC messages it received and sent per method, and
// the watch events it sent. The scale benchmark takes the difference of
// two readings to get etcd's load per node.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <sstream>
#include <string>

namespace bench {

struct etcd_counters {
  std::map<std::string, double> received;  // gRPC messages received, by method
  std::map<std::string, double> sent;      // gRPC messages sent, by method
  double watch_events = 0;                 // etcd_debugging_mvcc_events_total: events sent to watchers

  etcd_counters& operator+=(const etcd_counters& o) {
    for (const auto& [m, v] : o.received) received[m] += v;
    for (const auto& [m, v] : o.sent) sent[m] += v;
    watch_events += o.watch_events;
    return *this;
  }
  etcd_counters minus(const etcd_counters& earlier) const {
    etcd_counters d = *this;
    for (const auto& [m, v] : earlier.received) d.received[m] -= v;
    for (const auto& [m, v] : earlier.sent) d.sent[m] -= v;
    d.watch_events -= earlier.watch_events;
    return d;
  }
  double received_total() const {
    double t = 0;
    for (const auto& [m, v] : received) t += v;
    return t;
  }
};

namespace detail {

inline std::string http_get(const std::string& host_port, const std::string& path) {
  const auto colon = host_port.rfind(':');
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(host_port.substr(colon + 1))));
  ::inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &a.sin_addr);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval limit{.tv_sec = 2, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  std::string body;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string request = "GET " + path + " HTTP/1.0\r\nHost: " + host_port + "\r\n\r\n";
    if (::send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size())) {
      char buf[16384];
      for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
        body.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return body;
}

// The value of label `label` in a Prometheus line's {...}, or empty.
inline std::string label_of(const std::string& line, const std::string& label) {
  const std::string key = label + "=\"";
  const auto at = line.find(key);
  if (at == std::string::npos) return {};
  const auto from = at + key.size();
  return line.substr(from, line.find('"', from) - from);
}

}  // namespace detail

// One member's counters; empty when it did not answer.
inline etcd_counters read_etcd_counters(const std::string& endpoint) {
  etcd_counters c;
  std::istringstream in(detail::http_get(endpoint, "/metrics"));
  for (std::string line; std::getline(in, line);) {
    const auto space = line.rfind(' ');
    if (line.empty() || line[0] == '#' || space == std::string::npos) continue;
    const double v = std::atof(line.c_str() + space + 1);
    if (line.starts_with("grpc_server_msg_received_total{")) {
      c.received[detail::label_of(line, "grpc_method")] += v;
    } else if (line.starts_with("grpc_server_msg_sent_total{")) {
      c.sent[detail::label_of(line, "grpc_method")] += v;
    } else if (line.starts_with("etcd_debugging_mvcc_events_total")) {
      c.watch_events += v;
    }
  }
  return c;
}

}  // namespace bench
