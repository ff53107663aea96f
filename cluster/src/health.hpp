// health_server: the node's health endpoint for probes (Kubernetes'
// readiness and liveness): GET /healthz answers 200 while the actor system
// runs; GET /readyz answers 200 once the node is registered in the cluster,
// 503 with the reason otherwise. Anything else: 404 (another path), 405
// (another method), 400 (not HTTP). Every connection is hostile: a request
// larger than 4 KiB or slower than 2 s is dropped, at most 64 connections
// are served at once, one request each.
#pragma once

#include <akt/akt.hpp>

#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace akt::cluster::detail {

class health_server {
 public:
  // Why the node is not ready, or empty when it is.
  using readiness_fn = std::function<std::string()>;

  health_server(std::function<bool()> alive, readiness_fn ready);
  ~health_server();
  health_server(const health_server&) = delete;
  health_server& operator=(const health_server&) = delete;

  // Listens on host:port (0: a free port). Errors name the address.
  status start(const std::string& host, std::uint16_t port);
  std::uint16_t port() const noexcept;
  void stop();

 private:
  struct state;
  std::shared_ptr<state> state_;
  std::thread thread_;
};

}  // namespace akt::cluster::detail
