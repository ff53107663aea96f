#include <akt/remote/remoting.hpp>

#include "node.hpp"

namespace akt::remote {

result<std::unique_ptr<remoting>> remoting::enable(actor_system& system, remoting_options options) {
  if (!system.is_running()) return error(errc::not_running, "enable remoting after the system has started");
  if (!system.node_address().empty()) {
    return error(errc::invalid_argument, "remoting is already enabled on system " + system.name());
  }
  auto n = std::make_shared<detail::node>(system, std::move(options));
  if (auto s = n->listen(); !s) return std::move(s).error();
  system.set_node_address(n->address());
  // Idle workers read the sockets while they spin (see node::poll_some).
  system.set_idle_poller([w = std::weak_ptr<detail::node>(n)] {
    if (auto live = w.lock()) live->poll_some();
  });
  system.logger().info("remoting: " + system.name() + " listens on " + n->address());
  return std::unique_ptr<remoting>(new remoting(std::move(n)));
}

remoting::remoting(std::shared_ptr<detail::node> n) : node_(std::move(n)) {}

remoting::~remoting() {
  node_->system().set_idle_poller({});
  node_->shutdown();
  node_->system().set_node_address({});
}

const std::string& remoting::host() const noexcept {
  return node_->host();
}
std::uint16_t remoting::port() const noexcept {
  return node_->port();
}
std::string remoting::address() const {
  return node_->address();
}

result<pid> remoting::lookup(std::string_view host, std::uint16_t port, std::string_view name,
                             std::chrono::nanoseconds timeout) {
  return node_->lookup(std::string(host) + ":" + std::to_string(port), std::string(name), timeout);
}

result<pid> remoting::resolve(std::string_view path) {
  return node_->resolve(path);
}

result<pid> remoting::spawn(std::string_view host, std::uint16_t port, std::string_view kind,
                            std::string_view name, std::chrono::nanoseconds timeout) {
  return node_->spawn(std::string(host) + ":" + std::to_string(port), std::string(kind), std::string(name),
                      timeout);
}

std::uint64_t remoting::connections_opened() const noexcept {
  return node_->connections_opened();
}
std::uint64_t remoting::frames_rejected() const noexcept {
  return node_->frames_rejected();
}

}  // namespace akt::remote
