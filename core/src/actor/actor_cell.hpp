// actor_cell: one live actor. It owns the user's actor instance and its
// mailbox, runs its turns on the dispatcher, and carries its lifecycle and
// its place in the tree of actors. A pid points at a cell.
//
// The message count (`pending_`) is the heart of it. Every enqueue adds one
// before pushing; the turn subtracts what it took, once, at its end:
//   - the enqueue that moves it from 0 to 1 schedules the actor, so an actor
//     is in at most one run queue and runs on one worker at a time;
//   - a turn that brings it to 0 leaves the actor idle; otherwise the actor
//     is run again;
//   - while starting it holds an extra 1, so messages sent during pre_start
//     wait until pre_start has finished;
//   - mailbox size and the bounded-mailbox check read it.
//
// Lifecycle: starting -> running -> stopping -> terminated. Stopping asks
// every child to stop and waits for the last one (children_stopped), then
// runs post_stop and unlinks from the parent; the parent's list held the
// reference that kept an unobserved actor alive.
//
// Thread safety: deliver, request_stop and the read-only members are for any
// thread. run() is called by one worker at a time (guaranteed by pending_).
// The children list is guarded by `children_lock_`.
#pragma once

#include <akt/actor.hpp>
#include <akt/context.hpp>
#include <akt/detail/small_alloc.hpp>
#include <akt/options.hpp>
#include <akt/pid.hpp>
#include <akt/spawner.hpp>
#include <akt/supervision.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mailbox/mpsc_queue.hpp"
#include "util/spinlock.hpp"

namespace akt::detail {

class system_core;

enum class cell_state : std::uint8_t { starting, running, restarting, stopping, terminated };

struct cell_extras;

class actor_cell final : public actor_ref {
 public:
  actor_cell(system_core& system, actor_cell* parent, std::string name, std::uint64_t id,
             mailbox_options mailbox, ref_ptr<actor_factory> factory, std::unique_ptr<actor> instance,
             std::shared_ptr<const supervisor_strategy> supervisor);

  // actor_ref
  status deliver(envelope_ptr e) noexcept override;
  status request_stop() noexcept override;
  status request_restart() noexcept override;
  status add_watcher(actor_ref& watcher) noexcept override;
  void remove_watcher(actor_ref& watcher) noexcept override;
  status wait_stopped(std::chrono::nanoseconds timeout) const override;
  bool is_running() const noexcept override;
  std::string name() const override;
  std::string path() const override;
  ref_ptr<actor_ref> parent() const override;
  std::vector<ref_ptr<actor_ref>> children() const override;
  actor_metrics metrics() const noexcept override;
  std::string_view kind() const noexcept override;
  actor_cell* as_local() noexcept override { return this; }

  // Set by spawn when an extension's before_bind accepted the actor's name.
  void set_bound() noexcept { bound_ = true; }
  // From now on enqueues and turns are reported to the system's observers.
  void set_observed() noexcept;

  // Runs pre_start on the calling thread, then opens the mailbox. On failure
  // the cell is stopped (synchronously when it spawned no children).
  status start();

  // One turn of up to `budget` messages. Returns true if the actor still has
  // messages (it stays scheduled and the caller must run it again); false if
  // it went idle, after which the caller must not touch it.
  bool run(std::uint32_t budget) noexcept;

  // Links a new child under this cell. Errors: name_taken, dead_actor.
  status adopt_child(actor_cell* child);
  // Finds a running child by name (null if none, or starting, or stopping).
  ref_ptr<actor_cell> find_child(std::string_view name) const;
  bool has_child(const actor_cell* child) const;

  // Enqueues a runtime message (not subject to the mailbox bound).
  void post(envelope_ptr e) noexcept;
  // Enqueues `count` linked user envelopes at once (from the outbox);
  // returns how many messages the actor has now.
  std::int64_t enqueue_chain(envelope* first, envelope* last, std::uint32_t count) noexcept;
  std::int64_t pending() const noexcept { return pending_.load(std::memory_order_relaxed); }

  // Stops this actor at the end of the handler running now (no envelope).
  void stop_self() noexcept;
  // A failure reported by the running handler (context::fail).
  void report_failure(error e);

  // The parts few actors use (supervision, watches, behaviors, stash),
  // allocated on first use. extras() may be null; ensure_extras() never is.
  cell_extras* extras() const noexcept { return extras_.load(std::memory_order_acquire); }
  cell_extras& ensure_extras();
  // How this actor supervises its children.
  const supervisor_strategy& child_strategy() const noexcept;

  // Passivation (see passivation_wheel.hpp).
  void enable_passivation(std::chrono::milliseconds after) noexcept;
  void ask_passivation() noexcept;  // from the wheel: queue a check for the actor's turn
  actor_cell* wheel_next() const noexcept { return wheel_next_; }
  void set_wheel_next(actor_cell* c) noexcept { wheel_next_ = c; }

  static void* operator new(std::size_t size) { return small_alloc(size); }
  static void operator delete(void* p, std::size_t size) noexcept { small_free(p, size); }

  system_core& system() const noexcept { return system_; }
  actor_cell* parent_cell() const noexcept { return parent_.get(); }
  cell_state state() const noexcept { return state_.load(std::memory_order_acquire); }
  bool is_guardian() const noexcept { return !parent_; }
  // The live actors under (and including, unless it is the guardian) this
  // one, each after its subtree, for reports.
  void collect_live(std::vector<ref_ptr<actor_cell>>& out) const;

 private:
  friend class akt::context;

  ~actor_cell() override;
  std::int64_t enqueue(envelope_ptr e) noexcept;  // returns the count before
  void schedule() noexcept;
  void handle(envelope_ptr& e) noexcept;  // may consume e
  void handle_user(envelope_ptr& e) noexcept;
  void handle_observed(envelope_ptr& e) noexcept;  // traced or observed: the slower path
  void call_receive(envelope_ptr& e) noexcept;
  void begin_stop() noexcept;
  void terminate() noexcept;
  void unlink_child(actor_cell* child) noexcept;
  void reject(envelope_ptr e, std::string_view why) noexcept;
  void after_handler() noexcept;
  // The lifecycle hooks, with their exceptions caught and described: the
  // one place start, restart and terminate call them.
  status call_pre_start() noexcept;
  void call_post_stop_and_destroy() noexcept;
  envelope_ptr next_envelope(std::uint32_t& taken) noexcept;

  // Supervision (supervise.cpp).
  void on_failure(failure_info f) noexcept;
  // Counts a restart against the strategy's budget: which restart within
  // the window it is, or nothing when the budget is spent (logged).
  std::optional<std::uint32_t> count_restart(const supervisor_strategy& strategy) noexcept;
  void begin_restart(std::chrono::milliseconds delay) noexcept;
  void finish_restart_if_ready() noexcept;
  void finish_restart() noexcept;
  void check_passivation() noexcept;
  // Death watch (watch.cpp).
  void notify_watchers() noexcept;
  bool accept_terminated(envelope& e) noexcept;

  // Laid out for size (a million idle actors is a normal day) and for
  // sharing. Cells are 16-byte aligned, so cache lines cannot be assigned;
  // instead what senders touch on every tell sits at the front and what the
  // running turn writes on every message at the back, more than 64 bytes
  // apart, so they never share a line whatever the cell's address. (When
  // they did, fanin ran at 21 or 31 M msgs/s depending on where the counter
  // landed.) The 4-byte capacity_ fills the base's tail padding.

  // Front: read by senders on every tell, written per batch (the outbox
  // hands over up to 64 at a time) or rarely.
  std::uint32_t capacity_;                // 0 = unbounded; read-only after construction
  std::atomic<std::int64_t> pending_{1};  // see the file comment; 1 = the start hold
  mpsc_tail mailbox_;                     // the producers' end of the mailbox
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> slow_deliver_;  // capacity_ != 0 or observed_: deliver takes its slower path
  overflow_policy overflow_;
  mutable spinlock children_lock_;
  std::atomic<cell_state> state_{cell_state::starting};  // read per message, written rarely
  bool started_ok_ = false;                              // pre_start succeeded (post_stop runs only then)
  bool holding_ = false;  // pending_ includes 1 for messages waiting in the replay list
  bool bound_ = false;    // before_bind accepted the name (extensions are told at termination)
  bool hooked_ = false;   // the extensions' after_start ran for it (after_terminate will)

  // Middle: cold, or touched once per turn.
  system_core& system_;
  ref_ptr<actor_cell> parent_;      // null for the guardian
  ref_ptr<actor_factory> factory_;  // makes instance_ again on restart; released at termination
  const std::string* kind_;         // the actor's C++ type (the factory's static name); null once terminated
  std::unique_ptr<const std::string> name_;  // null for anonymous actors ("$<id>")
  std::uint64_t id_;
  std::atomic<std::int64_t> queued_{0};  // bounded only: envelopes deliver() counted, not yet taken
  std::atomic<std::uint64_t> errors_{0};
  // The tree. Sibling links are guarded by the *parent's* children_lock_;
  // first_child_, child_count_ and named_children_ by this cell's.
  actor_cell* first_child_ = nullptr;
  actor_cell* prev_sibling_ = nullptr;
  actor_cell* next_sibling_ = nullptr;
  std::unique_ptr<std::unordered_map<std::string_view, actor_cell*>> named_children_;
  actor_cell* wheel_next_ = nullptr;  // guarded by the passivation wheel's lock
  std::uint32_t child_count_ = 0;
  std::atomic<std::uint32_t> restarts_{0};

  // Back: the running turn's, written or read on every message; metrics()
  // reads the counters relaxed.
  std::atomic<std::uint32_t> in_hand_{0};  // taken this turn, not yet subtracted from pending_
  std::uint32_t passivate_ms_ = 0;         // 0 = never
  mpsc_head next_in_mail_{mailbox_};       // the consumer's end of the mailbox
  std::unique_ptr<actor> instance_;
  std::atomic<cell_extras*> extras_{nullptr};  // owned; see extras()
  std::atomic<std::uint64_t> received_{0};
  std::atomic<std::uint64_t> processed_{0};
  std::atomic<std::uint32_t> last_active_ms_{0};  // coarse_now_ms() after the last user message
  std::atomic<bool> observed_{false};             // observers are installed: turns report to them
  bool stop_after_handler_ = false;               // stop_self() was called by the running handler
  bool after_work_ = false;  // the running handler left work for after_handler (one check per message)
};

// A runtime message (stop, restart, children stopped, ...) for a cell's mailbox.
envelope_ptr make_runtime_envelope(envelope_kind kind);

// The cell whose handler runs on this thread (null outside handlers).
actor_cell* current_cell() noexcept;

}  // namespace akt::detail
