// remote_ref: what a pid of an actor on another node points at. Sends are
// serialized and handed to the connection that reaches that node.
#pragma once

#include <memory>
#include <string>

#include "node.hpp"

namespace akt::remote::detail {

class remote_ref final : public actor_ref {
 public:
  // `address` empty: the path names no valid node; the pid then works only
  // over the connection it is bound to (bind_to).
  remote_ref(std::weak_ptr<node> owner, std::string path, std::string address, std::string name)
      : actor_ref(/*remote=*/true),
        node_(std::move(owner)),
        path_(std::move(path)),
        address_(std::move(address)),
        name_(std::move(name)) {}

  // Before the pid is shared: it goes over `c` only (its peer's address is unproved).
  void bind_to(const std::shared_ptr<connection>& c) noexcept { connection_.start_with(c, true); }
  // Before the pid is shared: it uses `c` first, and dials its address once `c` closes.
  void remember(const std::shared_ptr<connection>& c) noexcept { connection_.start_with(c, false); }

  status deliver(envelope_ptr e) noexcept override;
  status deliver_wire(const akt::detail::wire_message& m, actor_ref* sender,
                      const trace_context* trace) noexcept override;
  void poll_incoming() noexcept override;
  // A reply from another node takes tens of microseconds: spin longer rather
  // than pay a futex wake-up on top, polling the connection for the reply
  // (the asker reads it itself) and yielding the core every 32 rounds. The
  // I/O thread runs under SCHED_BATCH and is not needed on the reply's
  // path; yielding to it on every round put its wake-up into ~15 % of round
  // trips (p50 22-30 us); every 32 rounds: p50 17-19 us, p99 10-30 % lower
  // on 2 cores (docs/benchmarks.md, ninth session). Every 64 rounds starved
  // it: p99 over 200 us. Where the I/O thread must read the reply (TLS, or
  // an asker inside an actor, which does not poll), a round is a relaxed
  // spin of ~50 ns, so it still gets the core every ~2 us.
  akt::detail::reply_wait_hint reply_wait() const noexcept override {
    return {.spin = std::chrono::microseconds(100), .yield_mask = 31, .poll = true};
  }
  status request_stop() noexcept override;
  status request_restart() noexcept override;
  status add_watcher(actor_ref& watcher) noexcept override;
  void remove_watcher(actor_ref& watcher) noexcept override;
  status wait_stopped(std::chrono::nanoseconds timeout) const override;
  bool is_running() const noexcept override;
  std::string name() const override { return name_; }
  std::string path() const override { return path_; }
  ref_ptr<actor_ref> parent() const override { return {}; }
  std::vector<ref_ptr<actor_ref>> children() const override { return {}; }
  actor_metrics metrics() const noexcept override { return {}; }

 private:
  std::weak_ptr<node> node_;
  std::string path_;     // akt://system@host:port/name
  std::string address_;  // host:port
  std::string name_;
  connection_handle connection_;  // the connection last used to reach the actor
};

}  // namespace akt::remote::detail
