#include "remote_ref.hpp"

namespace akt::remote::detail {

namespace {
error closed_error(const std::string& path) {
  return error(errc::dead_actor, "cannot reach " + path + ": remoting on this node is closed");
}
}  // namespace

status remote_ref::deliver(envelope_ptr e) noexcept {
  auto n = node_.lock();
  if (!n) return closed_error(path_);
  try {
    if (auto* t = akt::detail::payload_as<terminated>(e.get())) {
      // This reference is a remote *watcher*: tell its node the watched actor stopped.
      n->send_terminated(address_, path_, t->actor.path(), connection_);
      return {};
    }
    return n->send_envelope(address_, path_, std::move(e), connection_);
  } catch (const std::bad_alloc&) {
    return error(errc::backpressure, "out of memory while sending to " + path_);
  }
}

status remote_ref::deliver_wire(const akt::detail::wire_message& m, actor_ref* sender,
                                const trace_context* trace) noexcept {
  try {
    tell_frame t(path_, m, sender);  // serialized once, whichever way it goes
    if (trace == nullptr) [[likely]] {
      // A stream of tells on an open connection: the node is locked only
      // to wake its I/O thread (perf: its reference was two locked
      // instructions per tell).
      std::shared_ptr<connection> wake;
      if (auto s = try_send_wire(connection_, t, wake)) {
        if (wake) {
          if (auto n = node_.lock()) wake->post_write();  // else closed with the node
        }
        return *s;
      }
    }
    auto n = node_.lock();
    if (!n) return closed_error(path_);
    return n->send_wire(address_, t, trace, connection_);
  } catch (const std::bad_alloc&) {
    return error(errc::backpressure, "out of memory while sending to " + path_);
  }
}

void remote_ref::poll_incoming() noexcept {
  if (auto n = node_.lock()) n->poll_incoming(connection_);  // n keeps the node alive meanwhile
}

status remote_ref::request_stop() noexcept {
  auto n = node_.lock();
  if (!n) return closed_error(path_);
  return n->send_stop(address_, path_, connection_);
}

status remote_ref::request_restart() noexcept {
  return error(errc::invalid_argument,
               "restart of " + path_ + ": a remote actor is restarted by its own supervisor");
}

status remote_ref::add_watcher(actor_ref& watcher) noexcept {
  auto n = node_.lock();
  if (!n) return closed_error(path_);
  n->watch(address_, path_, watcher, connection_);
  return {};
}

void remote_ref::remove_watcher(actor_ref& watcher) noexcept {
  if (auto n = node_.lock()) n->unwatch(address_, path_, watcher, connection_);
}

status remote_ref::wait_stopped(std::chrono::nanoseconds) const {
  return error(errc::invalid_argument, "wait_stopped on " + path_ + ": only local actors can be waited for");
}

bool remote_ref::is_running() const noexcept {
  return !node_.expired();
}

}  // namespace akt::remote::detail
