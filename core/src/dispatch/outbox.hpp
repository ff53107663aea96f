// The outbox: messages an actor sends while its handler runs are collected
// per target on this thread and handed over in one splice per target when
// the handler returns (or when 64 are waiting for one target, or before a
// blocking ask). One contended atomic operation per batch instead of two
// per message: with several producers hammering one actor this is the
// difference between cache-line ping-pong and streaming.
//
// Order per (sender, receiver) pair is kept: a batch is spliced in order,
// and a later batch of the same sender is spliced after it. Only unbounded
// local mailboxes are batched (a bounded one must answer mailbox_full at
// tell time), and only inside handlers run by Akt (which always flush).
//
// Thread safety: thread-local; no sharing.
#pragma once

#include <akt/detail/envelope.hpp>

#include <cstdint>

namespace akt::detail {

class actor_cell;

// Per-thread flags read on every send and every handler; inline variables
// with constant initialization, so an access is one TLS-relative load.
inline thread_local bool outbox_active = false;    // a handler that will flush runs here
inline thread_local bool outbox_has_work = false;  // batches (or a backlog) wait
inline thread_local int outbox_direct_used = 0;    // targets sent to directly in this handler
constexpr int outbox_max_targets = 8;              // batched at once; a ninth flushes them all
// Targets sent to directly in this handler (addresses only: a hint, see
// try_add); outbox_direct_used says how many are current.
inline thread_local const actor_cell* outbox_direct[outbox_max_targets] = {};

class outbox {
 public:
  // True while a handler that will flush runs on this thread.
  static bool active() noexcept { return outbox_active; }
  // Takes `e` for `target` (which must be unbounded and accepting), or
  // returns false when the caller should enqueue it directly: the first
  // message to a target in a handler goes straight through (a handler that
  // sends once pays nothing for batching); later ones are batched.
  static bool try_add(actor_cell* target, envelope* e) noexcept {
    if (!outbox_has_work && outbox_direct_used == 0) {  // the handler's first send: nothing to search
      outbox_direct[0] = target;
      outbox_direct_used = 1;
      return false;
    }
    return try_add_batched(target, e);
  }
  // Hands every batch over now.
  static void flush() noexcept;

  // Marks a handler scope: active inside, flushed at its end.
  class scope {
   public:
    scope() noexcept : was_active_(outbox_active) {
      outbox_active = true;
      outbox_direct_used = 0;
    }
    ~scope() {
      if (outbox_has_work) flush();
      outbox_direct_used = 0;
      outbox_active = was_active_;
    }
    scope(const scope&) = delete;
    scope& operator=(const scope&) = delete;

   private:
    bool was_active_;
  };

  struct state;  // per thread; defined in outbox.cpp

 private:
  static bool try_add_batched(actor_cell* target, envelope* e) noexcept;
};

}  // namespace akt::detail
