// actor_cell: one live actor. It owns the user's actor instance and puts
// together the parts that make it run, each in its own class:
//   - its mailbox (mailbox/mailbox.hpp): the queue and the message count
//     that schedules the actor;
//   - its lifecycle (lifecycle.hpp): the state machine from starting to
//     terminated, with restarts;
//   - its children (child_tree.hpp): the list and the index by name;
//   - the parts few actors use (cell_extras.hpp), allocated on first use.
// The cell itself is the glue: it is what a pid points at (actor_ref) and
// what the scheduler runs (runnable). Where its work is:
//   actor_cell.cpp   enqueue (deliver, post) and the turn (run, handle)
//   start_stop.cpp   start, stop, terminate; the user's hooks; passivation
//   children.cpp     adopting, unlinking, finding and listing children
//   supervise.cpp    failures and restarts (supervision/)
//   watch.cpp        death watch
//
// A stopping actor asks every child to stop and waits for the last one
// (children_stopped), then runs post_stop and unlinks from its parent; the
// parent's list held the reference that kept an unobserved actor alive.
//
// Thread safety: deliver, request_stop and the read-only members are for any
// thread. run() is called by one worker at a time (the mailbox's count
// guarantees it). The children list is guarded by the tree's lock.
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
#include <vector>

#include "actor/child_tree.hpp"
#include "actor/lifecycle.hpp"
#include "dispatch/runnable.hpp"
#include "mailbox/mailbox.hpp"

namespace akt::detail {

class system_core;

struct cell_extras;

class actor_cell final : public actor_ref, public runnable {
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
  bool is_running() const noexcept override { return life_.is_running(); }
  std::string name() const override;
  std::string path() const override;
  ref_ptr<actor_ref> parent() const override;
  std::vector<ref_ptr<actor_ref>> children() const override;
  actor_metrics metrics() const noexcept override;
  std::string_view kind() const noexcept override;
  actor_cell* as_local() noexcept override { return this; }

  // runnable: one turn of up to `budget` messages. True if the actor still
  // has messages (it stays scheduled and the caller must run it again);
  // false if it went idle, after which the caller must not touch it.
  bool run(std::uint32_t budget) noexcept override;
  void abandon() noexcept override { release(); }
  std::int64_t backlog() const noexcept override { return mailbox_.pending(); }

  // Set by spawn when an extension's before_bind accepted the actor's name.
  void set_bound() noexcept { bound_ = true; }
  // From now on enqueues and turns are reported to the system's observers.
  void set_observed() noexcept;

  // Runs pre_start on the calling thread, then opens the mailbox. On failure
  // the cell is stopped (synchronously when it spawned no children).
  status start();

  // Links a new child under this cell. Errors: name_taken, dead_actor.
  status adopt_child(actor_cell* child);
  // Finds a running child by name (null if none, or starting, or stopping).
  ref_ptr<actor_cell> find_child(std::string_view name) const;
  bool has_child(const actor_cell* child) const;

  // Enqueues a runtime message (not subject to the mailbox bound).
  void post(envelope_ptr e) noexcept;
  // Enqueues `count` linked user envelopes at once (from the outbox);
  // returns how many messages the actor has now.
  std::int64_t enqueue_chain(envelope* first, std::uint32_t count) noexcept;

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
  cell_state state() const noexcept { return life_.state(); }
  // terminate() has run to its end: post_stop, watchers, the name freed, the
  // extensions told (state() reads terminated earlier, for watchers).
  bool has_finished() const noexcept { return finished_.load(std::memory_order_seq_cst); }
  bool is_guardian() const noexcept { return !parent_; }
  // The live actors under (and including, unless it is the guardian) this
  // one, each after its subtree, for reports.
  void collect_live(std::vector<ref_ptr<actor_cell>>& out) const;

 private:
  friend class akt::context;
  friend class child_tree<actor_cell>;
  child_tree_links<actor_cell>& tree_links() noexcept { return siblings_; }
  const std::string* tree_name() const noexcept { return name_.get(); }

  ~actor_cell() override;
  void enqueue(envelope_ptr e) noexcept;
  void schedule() noexcept;
  status refuse_full(envelope_ptr e) noexcept;  // a bounded mailbox is full
  void handle(envelope_ptr& e) noexcept;        // may consume e
  void handle_runtime(envelope_ptr& e) noexcept;
  void handle_user(envelope_ptr& e) noexcept;
  void handle_observed(envelope_ptr& e) noexcept;  // traced or observed: the slower path
  void observe_send(envelope& e) noexcept;         // a traced message: a tracer's send span
  void call_receive(envelope_ptr& e) noexcept;
  void call_continuation(envelope_ptr& e) noexcept;
  void count_error() noexcept;
  void reject(envelope_ptr e, std::string_view why) noexcept;
  void after_handler() noexcept;
  envelope_ptr next_envelope(std::uint32_t& taken) noexcept;
  bool holds_replay() const noexcept;  // messages wait in the replay list

  // Lifecycle (start_stop.cpp): what the cell does for each transition.
  void act(lifecycle::next step) noexcept;
  void begin_stop() noexcept;
  void terminate() noexcept;
  void unlink_child(actor_cell* child) noexcept;  // child_tree.cpp
  // The lifecycle hooks, with their exceptions caught and described: the
  // one place start, restart and terminate call them.
  status call_pre_start() noexcept;
  void call_post_stop_and_destroy() noexcept;
  void check_passivation() noexcept;

  // Supervision (supervise.cpp).
  void on_failure(failure_info f) noexcept;
  // Counts a restart against the strategy's budget: which restart within
  // the window it is, or nothing when the budget is spent (logged).
  std::optional<std::uint32_t> count_restart(const supervisor_strategy& strategy) noexcept;
  void begin_restart(std::chrono::milliseconds delay) noexcept;
  void finish_restart() noexcept;
  // Death watch (watch.cpp).
  void notify_watchers() noexcept;
  bool accept_terminated(envelope& e) noexcept;

  // Laid out for size (a million idle actors is a normal day: 224 bytes, a
  // static_assert in actor_cell.cpp keeps it so) and for sharing. Cells are
  // 16-byte aligned, so cache lines cannot be assigned; instead what
  // senders touch on every tell sits at the front and what the running turn
  // writes on every message at the back, more than 64 bytes apart, so they
  // never share a line whatever the cell's address. (When they did, fanin
  // ran at 21 or 31 M msgs/s depending on where the counter landed.) The
  // mailbox and the tree let the fields after them use their tail padding.

  // Front: read by senders on every tell (the stop flag, the bound), written
  // per batch (the outbox hands over up to 64 at a time) or rarely.
  lifecycle life_;
  std::atomic<bool> slow_deliver_;  // bounded, or enqueues observed: deliver takes its slower path
  bool started_ok_ = false;         // pre_start succeeded (post_stop runs only then)
  bool bound_ = false;              // before_bind accepted the name (extensions are told at termination)
  bool hooked_ = false;             // the extensions' after_start ran for it (after_terminate will)
  [[no_unique_address]] mailbox mailbox_;  // its senders' end and count
  std::uint32_t passivate_ms_ = 0;         // 0 = never; read by the turn

  // Middle: cold, or touched once per turn.
  system_core& system_;
  ref_ptr<actor_cell> parent_;               // null for the guardian
  ref_ptr<actor_factory> factory_;           // makes instance_ again on restart; released at termination
  const std::string* kind_;                  // the actor's C++ type (the factory's static name)
  std::unique_ptr<const std::string> name_;  // null for anonymous actors ("$<id>")
  std::uint64_t id_;
  [[no_unique_address]] mutable child_tree<actor_cell> children_;
  child_tree_links<actor_cell> siblings_;  // in the parent's children_, guarded by its lock
  actor_cell* wheel_next_ = nullptr;       // guarded by the passivation wheel's lock

  // Back: the running turn's, written or read on every message; metrics()
  // reads the counters relaxed.
  [[no_unique_address]] mailbox_cursor next_in_mail_{mailbox_};  // the mailbox's consumer end
  // Which turns the system's observers hear of (actor_observer::interest):
  // none (unobserved), traced and timed ones (sparse), those and entry
  // messages' (sparse_with_entries), or every one.
  enum : std::uint8_t { unobserved = 0, sparse = 1, sparse_with_entries = 2, every_turn = 3 };
  std::atomic<std::uint8_t> observed_{unobserved};
  bool stop_after_handler_ = false;  // stop_self() was called by the running handler
  bool after_work_ = false;  // the running handler left work for after_handler (one check per message)
  std::atomic<bool> finished_{false};  // terminate() has done everything: what wait_stopped waits for
  std::atomic<std::uint32_t> last_active_ms_{0};  // coarse_now_ms() after the last user message
  std::unique_ptr<actor> instance_;
  std::atomic<cell_extras*> extras_{nullptr};  // owned; see extras()
  std::atomic<std::uint64_t> received_{0};
  std::atomic<std::uint64_t> processed_{0};
};

// A runtime message (stop, restart, children stopped, ...) for a cell's mailbox.
envelope_ptr make_runtime_envelope(envelope_kind kind);

// The cell whose handler runs on this thread (null outside handlers).
actor_cell* current_cell() noexcept;

}  // namespace akt::detail
