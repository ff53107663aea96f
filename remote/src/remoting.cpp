#include <akt/remote/remoting.hpp>

#include "address.hpp"
#include "node.hpp"
#include "remote_ref.hpp"

namespace akt::remote {

result<remoting*> remoting::enable(actor_system& system, remoting_options options) {
  if (system.find_extension<remoting>() != nullptr) {
    return error(errc::invalid_argument, "remoting is already enabled on system " + system.name());
  }
  auto n = std::make_shared<detail::node>(system, std::move(options));
  if (auto s = n->validate(); !s) return std::move(s).error();  // before anything starts
  auto r = std::unique_ptr<remoting>(new remoting(std::move(n)));
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
  if (!detail::looks_remote(name_or_path)) return std::nullopt;  // not a remote path
  auto parsed = detail::parse_remote_path(name_or_path);
  if (!parsed) return result<pid>(std::move(parsed).error());    // malformed: say what is wrong
  if (parsed->address == node_->address()) return std::nullopt;  // ours: the local tree answered
  return node_->resolve(name_or_path);
}

void remoting::on_node_event(const node_event& e) noexcept {
  if (e.kind != node_event_kind::left) return;
  try {
    node_->forget(e.address,
                  "it left the cluster" + (e.reason.empty() ? std::string() : " (" + e.reason + ")"));
  } catch (...) {
    // Out of memory: its connection's own failure detection still applies.
  }
}

void remoting::report_metrics(metric_sink& sink) const {
  node_->report_metrics(sink);
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
  if (name.empty() || name.size() > 1024)
    return error(errc::invalid_name, "a lookup needs a name (at most 1 KiB)");
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
std::uint64_t remoting::handshakes_refused() const noexcept {
  return node_->handshakes_refused();
}
std::uint64_t remoting::backpressure_events() const noexcept {
  return node_->backpressure_events();
}

std::uint64_t remoting::backpressure_waits() const noexcept {
  return node_->backpressure_waits();
}

}  // namespace akt::remote
