#include <akt/remote/remoting.hpp>

#include "node.hpp"
#include "remote_ref.hpp"

namespace akt::remote {

result<remoting*> remoting::enable(actor_system& system, remoting_options options) {
  if (system.find_extension<remoting>() != nullptr) {
    return error(errc::invalid_argument, "remoting is already enabled on system " + system.name());
  }
  auto r =
      std::unique_ptr<remoting>(new remoting(std::make_shared<detail::node>(system, std::move(options))));
  return system.add_extension(std::move(r));
}

remoting::remoting(std::shared_ptr<detail::node> n) : node_(std::move(n)) {}

remoting::~remoting() {
  node_->shutdown();
}

status remoting::start(actor_system& system) {
  if (auto s = node_->start_inbound_worker(); !s) return s;
  if (auto s = node_->listen(); !s) return s;
  system.logger().info("remoting: " + system.name() + " listens on " + node_->address());
  return {};
}

void remoting::stop() {
  node_->shutdown();
}

std::string remoting::node_address() const {
  return node_->address();
}

std::optional<result<pid>> remoting::try_resolve(std::string_view name_or_path) {
  std::string address, name;
  if (!detail::split_remote_path(name_or_path, address, name)) return std::nullopt;  // not a remote path
  if (address == node_->address()) return std::nullopt;  // ours: the local tree answered
  return node_->resolve(name_or_path);
}

void remoting::poll_idle() noexcept {
  try {
    node_->poll_some();  // idle workers read the sockets while they spin
  } catch (...) {
    // The I/O thread reads what this poll could not; a worker must not die here.
  }
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
