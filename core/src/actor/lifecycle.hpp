// lifecycle: where an actor is between its spawn and its end, and the rules
// for moving on. A small state machine with no threads, locks or timers of
// its own: the owner (actor_cell) feeds it what happened — pre_start
// returned, a stop was asked, the last child went, a restart delay passed —
// and does what each transition answers (`next`). lifecycle_test.cpp drives
// it directly.
//
//   starting ──started──> running ──begin_restart──> restarting ──restarted──> running
//       │                    │                           │
//       └──start_failed──────┴──begin_stop──> stopping <─┘ (stop asked meanwhile)
//                                                │
//                                 (children gone) terminated
//
// A stop request is a flag beside the state: once set, user messages are
// dead letters, lookup no longer finds the actor, and a restart in progress
// ends in a stop instead. A restart waits for the old children to stop and
// for its backoff delay, in either order.
//
// Thread safety: state() and the predicates from any thread (acquire);
// request_stop from any thread; every other transition from the thread that
// runs the actor. The owner makes the moves to stopping, restarting and
// terminated under its child tree's lock, so that no child is adopted and
// no watcher registers after them. The state is one byte, the stop flag
// another: senders read the flag on every tell.
#pragma once

#include <atomic>
#include <cstdint>

namespace akt::detail {

enum class cell_state : std::uint8_t { starting, running, restarting, stopping, terminated };

class lifecycle {
 public:
  // What the owner does after a transition.
  enum class next : std::uint8_t {
    none,            // nothing (yet): wait for a child, a delay, or a message
    stop,            // begin stopping (stop the children first, if any)
    terminate,       // post_stop, unlink, tell the watchers, then terminated()
    finish_restart,  // a fresh instance and its pre_start, then restarted()
  };

  cell_state state() const noexcept { return state_.load(std::memory_order_acquire); }
  bool is_stop_requested() const noexcept { return stop_requested_.load(std::memory_order_acquire); }

  // Alive as far as others can tell: found by lookup, may be restarted.
  bool is_running() const noexcept {
    const cell_state s = state();
    return (s == cell_state::running || s == cell_state::restarting) &&
           !stop_requested_.load(std::memory_order_relaxed);
  }
  // Handles user messages, request replies, restart and passivation checks.
  bool is_handling() const noexcept {
    return state() == cell_state::running && !stop_requested_.load(std::memory_order_relaxed);
  }
  // User messages that arrive now wait for the new instance (the replay list).
  bool is_holding_for_restart() const noexcept {
    return state() == cell_state::restarting && !stop_requested_.load(std::memory_order_relaxed);
  }
  // Still hears that a watched actor stopped: its children stop before it.
  bool hears_terminated() const noexcept {
    const cell_state s = state();
    return s == cell_state::running || s == cell_state::stopping;
  }
  // Refuses new children (they could outlive its stop).
  bool refuses_children() const noexcept {
    const cell_state s = state();
    return s == cell_state::stopping || s == cell_state::terminated ||
           stop_requested_.load(std::memory_order_acquire);
  }
  // A restart may be asked for.
  bool accepts_restart() const noexcept {
    return state() != cell_state::terminated && !stop_requested_.load(std::memory_order_acquire);
  }
  // The last child going concerns it (it waits for that).
  bool waits_for_children() const noexcept {
    const cell_state s = state();
    return s == cell_state::stopping || s == cell_state::restarting;
  }

  // pre_start succeeded: starting -> running.
  void started() noexcept { state_.store(cell_state::running, std::memory_order_release); }
  // pre_start failed: the stop is requested. With no children it goes to
  // stopping and answers terminate; with children, stop.
  next start_failed(bool has_children) noexcept;

  // Any thread. True for the first request made before termination: the
  // caller then makes the actor stop (posts it the stop message).
  bool request_stop() noexcept;
  // -> stopping. False when already stopping or terminated.
  bool begin_stop() noexcept;
  // running -> restarting, waiting for the children to stop and for the
  // backoff delay as told. False when not running (nothing to restart).
  // Then the owner stops the children, arms the delay and asks restart_step.
  bool begin_restart(bool wait_for_children, bool wait_for_delay) noexcept;
  // What a restart in progress does now: none while it waits; stop when a
  // stop was asked meanwhile (the state is back to running, to stop from);
  // otherwise finish_restart.
  next restart_step() noexcept;
  // The last child has gone.
  next children_stopped() noexcept;
  // The restart's backoff delay has passed.
  next delay_elapsed() noexcept;
  // The fresh instance is in place: restarting -> running.
  void restarted() noexcept { state_.store(cell_state::running, std::memory_order_release); }
  // -> terminated (the owner then tells its watchers).
  void terminated() noexcept { state_.store(cell_state::terminated, std::memory_order_seq_cst); }

 private:
  std::atomic<cell_state> state_{cell_state::starting};
  std::atomic<bool> stop_requested_{false};
  bool restart_waits_for_children_ = false;  // the thread running the actor only
  bool restart_waits_for_delay_ = false;     // likewise
};

inline lifecycle::next lifecycle::start_failed(bool has_children) noexcept {
  stop_requested_.store(true, std::memory_order_release);
  if (has_children) return next::stop;  // they stop first, then the actor
  state_.store(cell_state::stopping, std::memory_order_release);
  return next::terminate;  // nothing was started: undo at once
}

inline bool lifecycle::request_stop() noexcept {
  if (state() == cell_state::terminated) return false;  // stopping a stopped actor: nothing to do
  return !stop_requested_.exchange(true, std::memory_order_acq_rel);  // else only the first request counts
}

inline bool lifecycle::begin_stop() noexcept {
  const cell_state s = state();
  if (s == cell_state::stopping || s == cell_state::terminated) return false;
  state_.store(cell_state::stopping, std::memory_order_release);
  return true;
}

inline bool lifecycle::begin_restart(bool wait_for_children, bool wait_for_delay) noexcept {
  if (state() != cell_state::running) return false;
  state_.store(cell_state::restarting, std::memory_order_release);
  restart_waits_for_children_ = wait_for_children;
  restart_waits_for_delay_ = wait_for_delay;
  return true;
}

inline lifecycle::next lifecycle::restart_step() noexcept {
  if (state() != cell_state::restarting) return next::none;
  if (restart_waits_for_children_ || restart_waits_for_delay_) return next::none;
  if (stop_requested_.load(std::memory_order_acquire)) {  // stopped while restarting
    state_.store(cell_state::running, std::memory_order_release);
    return next::stop;
  }
  return next::finish_restart;
}

inline lifecycle::next lifecycle::children_stopped() noexcept {
  switch (state()) {
    case cell_state::stopping:
      return next::terminate;
    case cell_state::restarting:
      restart_waits_for_children_ = false;
      return restart_step();
    default:
      return next::none;
  }
}

inline lifecycle::next lifecycle::delay_elapsed() noexcept {
  if (state() != cell_state::restarting) return next::none;
  restart_waits_for_delay_ = false;
  return restart_step();
}

}  // namespace akt::detail
