// akt/pid.hpp — the process id: the handle through which everything is done
// to an actor (tell, ask, stop, inspect).
//
//   auto pid = system->spawn<Counter>("counter").value();
//   pid.tell(Increment{});                              // never blocks, never throws
//   auto r = pid.ask<Count>(GetCount{}, 500ms);         // blocks up to 500 ms
//   pid.stop();
//
// A pid is one pointer: cheap to copy, hashable, comparable. It stays valid
// after its actor stopped; tell then returns errc::dead_actor.
//
// Thread safety: every member may be called from any thread, concurrently.
#pragma once

#include <akt/detail/envelope.hpp>
#include <akt/detail/ref_ptr.hpp>
#include <akt/error.hpp>
#include <akt/message.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace akt {

// A snapshot of an actor's counters (each read relaxed; not one atomic cut).
struct actor_metrics {
  std::uint64_t mailbox_size = 0;  // messages waiting
  std::uint64_t received = 0;      // messages taken from the mailbox into receive
  std::uint64_t processed = 0;     // messages whose receive returned normally
  std::uint64_t errors = 0;        // messages whose receive failed (threw)
  std::uint64_t restarts = 0;      // restarts of the actor
};

namespace detail {

class actor_cell;

// How a thread blocked in an ask waits for the reply (see actor_ref::reply_wait).
struct reply_wait_hint {
  std::chrono::nanoseconds spin{std::chrono::microseconds(20)};  // spin this long before sleeping
  std::uint32_t yield_mask = 63;  // yield the core every (mask + 1) rounds of the spin
  bool poll = false;              // call poll_incoming on every round (plain threads only)
};

// What a pid points at. Local actors implement it (actor_cell); remote
// references will too, which keeps pid location-transparent.
class actor_ref : public ref_counted {
 public:
  actor_ref() = default;
  explicit actor_ref(bool remote) noexcept : ref_counted(remote) {}

  // Enqueues; never blocks on the default mailbox and never throws.
  virtual status deliver(envelope_ptr e) noexcept = 0;
  // For remote references (is_remote()): sends a protobuf value straight
  // from the caller's object, without an envelope. `sender`: the actor
  // telling (the current one, alive for the call; null from a plain
  // thread), not counted: a transport that keeps it takes a reference.
  // The default refuses.
  virtual status deliver_wire(const wire_message& m, actor_ref* sender, const trace_context* trace) noexcept;
  // True for a reference to an actor on another node (no virtual call).
  bool is_remote() const noexcept { return tagged(); }
  // How an asker waits for this actor's reply. A transport's reference
  // spins longer and polls: a plain thread blocked in an ask then reads its
  // reply off the network itself (poll_incoming), with no hand-off from the
  // transport's I/O thread. The default suits a local actor.
  virtual reply_wait_hint reply_wait() const noexcept { return {}; }
  virtual void poll_incoming() noexcept {}
  virtual status request_stop() noexcept = 0;
  virtual status request_restart() noexcept = 0;
  // Death watch: `watcher` gets akt::terminated once this actor stops (at
  // once if it already has). Errors: not_running for an invalid watcher.
  virtual status add_watcher(actor_ref& watcher) noexcept = 0;
  virtual void remove_watcher(actor_ref& watcher) noexcept = 0;
  virtual status wait_stopped(std::chrono::nanoseconds timeout) const = 0;
  virtual bool is_running() const noexcept = 0;
  virtual std::string name() const = 0;
  virtual std::string path() const = 0;
  virtual ref_ptr<actor_ref> parent() const = 0;
  virtual std::vector<ref_ptr<actor_ref>> children() const = 0;
  virtual actor_metrics metrics() const noexcept = 0;
  // The actor's C++ type for a local actor ("shop::order_book"); empty when
  // unknown (a remote reference).
  virtual std::string_view kind() const noexcept { return {}; }
  // The local actor behind this reference; null for a remote one.
  virtual actor_cell* as_local() noexcept { return nullptr; }
};

// The actor whose handler runs on this thread right now (null elsewhere):
// a tell made from inside an actor carries it as the sender.
actor_ref* current_actor() noexcept;
// Stamps an outgoing envelope with this thread's sender, a reference to
// current_actor() taken from references bought in bulk (a stream of sends
// does not bounce the sender's count between cores), and its current trace
// context, if any.
void stamp_outgoing(envelope& e) noexcept;

result<message> blocking_ask(actor_ref& target, envelope_ptr request, std::chrono::nanoseconds timeout);
error null_pid_error();

// The message behind pid::stop_gracefully.
struct poison_pill {};

}  // namespace detail

class pid {
 public:
  pid() noexcept = default;
  explicit pid(detail::ref_ptr<detail::actor_ref> ref) noexcept : ref_(std::move(ref)) {}

  // Sends a message. From inside an actor the sender is that actor, so the
  // receiver can reply. Errors: dead_actor, mailbox_full.
  template <class T>
  status tell(T&& msg) const {
    if (!ref_) return detail::null_pid_error();
    if constexpr (protobuf_message<std::remove_cvref_t<T>>) {
      // To another node: serialized from `msg` itself, no copy.
      if (ref_->is_remote())
        return ref_->deliver_wire(detail::wire_message_of(msg), detail::current_actor(),
                                  detail::current_trace());
    }
    auto e = detail::make_envelope(std::forward<T>(msg));
    detail::stamp_outgoing(*e);
    return ref_->deliver(std::move(e));
  }

  // Sends and blocks the caller until the reply or the timeout
  // (errc::request_timeout). `ask(msg, t)` gives the reply as an
  // akt::message; `ask<R>(msg, t)` expects an R (errc::unexpected_reply
  // otherwise) and gives it by value.
  //
  // Safe from inside an actor too: the worker keeps running other actors
  // while it waits, so the pool cannot deadlock; prefer context::request
  // there, which does not block at all.
  template <class R = message, class T>
  [[nodiscard]] result<R> ask(T&& msg, std::chrono::nanoseconds timeout) const {
    if (!ref_) return detail::null_pid_error();
    auto e = detail::make_envelope(std::forward<T>(msg));
    detail::stamp_outgoing(*e);
    auto r = detail::blocking_ask(*ref_, std::move(e), timeout);
    if constexpr (std::is_same_v<R, message>) {
      return r;
    } else {
      if (!r) return std::move(r).error();
      if (R* v = r->template get<R>()) return std::move(*v);
      return error(errc::unexpected_reply, "expected a reply of type " + detail::demangle(typeid(R).name()) +
                                               ", got " + r->type_name());
    }
  }

  // Stops the actor now: it finishes the message in hand, stops its
  // children, runs post_stop; messages still queued go to dead letters.
  // Does not wait (see wait_stopped). Stopping a stopped actor is a no-op.
  status stop() const { return ref_ ? ref_->request_stop() : status(detail::null_pid_error()); }
  // Stops the actor after the messages already queued (a poison pill: it
  // takes its place in the mailbox like any message, so it is ordered with
  // this sender's earlier tells). Errors: as tell.
  status stop_gracefully() const { return tell(detail::poison_pill{}); }
  // Restarts the actor by hand: post_stop, a fresh instance from its
  // factory, pre_start; its queued messages wait and survive. Counted in
  // metrics().restarts. Errors: dead_actor.
  status restart() const { return ref_ ? ref_->request_restart() : status(detail::null_pid_error()); }
  // Blocks until the actor has fully stopped, or the timeout.
  [[nodiscard]] status wait_stopped(std::chrono::nanoseconds timeout) const {
    return ref_ ? ref_->wait_stopped(timeout) : status(detail::null_pid_error());
  }

  bool is_running() const noexcept { return ref_ && ref_->is_running(); }
  // The actor's name; "$<n>" for anonymous actors.
  std::string name() const { return ref_ ? ref_->name() : std::string(); }
  // akt://<system>/<parent names...>/<name>
  std::string path() const { return ref_ ? ref_->path() : std::string("akt://<null>"); }
  // The parent; a null pid for top-level actors.
  pid parent() const { return ref_ ? pid(ref_->parent()) : pid(); }
  std::vector<pid> children() const;
  actor_metrics metrics() const noexcept { return ref_ ? ref_->metrics() : actor_metrics{}; }

  bool is_null() const noexcept { return !ref_; }
  explicit operator bool() const noexcept { return static_cast<bool>(ref_); }
  // Same actor: the same local actor, or the same path on another node
  // (remote references to one actor may be distinct objects).
  friend bool operator==(const pid& a, const pid& b) noexcept {
    if (a.ref_ == b.ref_) return true;
    if (!a.ref_ || !b.ref_ || a.ref_->as_local() != nullptr || b.ref_->as_local() != nullptr) return false;
    return a.ref_->path() == b.ref_->path();
  }

  const detail::ref_ptr<detail::actor_ref>& ref() const noexcept { return ref_; }

 private:
  detail::ref_ptr<detail::actor_ref> ref_;
};

}  // namespace akt

template <>
struct std::hash<akt::pid> {
  std::size_t operator()(const akt::pid& p) const noexcept {
    auto* r = p.ref().get();
    if (r != nullptr && r->as_local() == nullptr) return std::hash<std::string>()(r->path());
    return std::hash<const void*>()(r);
  }
};
