// mailbox: an actor's queue of envelopes and the count that goes with it.
// The count (pending) is what makes an actor run, and only the mailbox
// changes it:
//   - every push adds to it before linking the envelope; the push that moves
//     it from 0 schedules the actor (push says so), so an actor sits in at
//     most one run queue and runs on one worker at a time;
//   - the turn takes envelopes through a cursor (counted as "in hand") and
//     subtracts what it took once, at its end (end_turn): at 0 the actor is
//     idle, otherwise it must run again;
//   - a new mailbox holds 1 (the start hold) until open(): messages sent
//     while pre_start runs wait for it to finish;
//   - while the owner keeps messages outside the queue (an actor's replay
//     list) end_turn keeps 1 extra, so the actor stays scheduled;
//   - a bounded mailbox also counts what deliver admitted and the turn has
//     not taken (try_reserve; the envelope is marked `counted`). The
//     runtime's own posts (Terminated, events) pass the bound uncounted.
//   - size() is what waits: pending, less what is in hand, less the hold.
//
// The queue has two ends (see segment_queue.hpp): the senders' end lives in
// the mailbox, the consumer's end in a mailbox_cursor that the owner keeps
// at least 64 bytes away, so that senders and the running turn never write
// the same cache line whatever the owner's address.
//
// Thread safety: push, push_chain, try_reserve and size from any thread;
// open, take and end_turn from the one thread that runs the owner (the
// count guarantees there is one). Memory ordering: the count is changed
// acq_rel, so a turn that sees a count sees the envelopes pushed before it.
#pragma once

#include <akt/detail/envelope.hpp>
#include <akt/detail/small_alloc.hpp>  // prefetch_for_write
#include <akt/options.hpp>

#include <atomic>
#include <cstdint>

#include "mailbox/segment_queue.hpp"

namespace akt::detail {

class mailbox;

// The consumer's end of a mailbox.
class mailbox_cursor {
 public:
  explicit mailbox_cursor(mailbox& m) noexcept;
  mailbox_cursor(const mailbox_cursor&) = delete;
  mailbox_cursor& operator=(const mailbox_cursor&) = delete;

 private:
  friend class mailbox;
  segment_head head_;
  std::atomic<std::uint32_t> in_hand_{0};  // taken this turn, not yet subtracted from pending
  bool holding_ = false;                   // pending includes 1 for messages held outside the queue
};

class mailbox {
 public:
  explicit mailbox(mailbox_options o) noexcept
      : capacity_(static_cast<std::uint32_t>(o.capacity)), overflow_(o.overflow) {}
  mailbox(const mailbox&) = delete;
  mailbox& operator=(const mailbox&) = delete;

  bool is_bounded() const noexcept { return capacity_ != 0; }
  std::uint32_t capacity() const noexcept { return capacity_; }
  overflow_policy overflow() const noexcept { return overflow_; }

  // Bounded mailboxes: takes a place for `e` if one is free (false: full),
  // and marks it counted until it is taken.
  bool try_reserve(envelope& e) noexcept {
    std::uint32_t q = queued_.load(std::memory_order_relaxed);
    do {
      if (q >= capacity_) return false;
    } while (!queued_.compare_exchange_weak(q, q + 1, std::memory_order_acq_rel, std::memory_order_relaxed));
    e.counted = true;
    return true;
  }

  // Adds one envelope; returns the count before (0: the caller schedules
  // the owner).
  std::int64_t push(envelope* e) noexcept {
    prefetch_for_write(&pending_);  // the count and the tail word sit side by side: read, then changed
    std::uintptr_t seen = tail_.peek();
    if (!segment_tail::has_room(seen, false)) [[unlikely]]
      return push_chain(e, 1);  // makes the new segment before counting
    const std::int64_t before = pending_.fetch_add(1, std::memory_order_acq_rel);
    if (!tail_.try_push(e, seen)) [[unlikely]]
      tail_.push(e, seen, false, nullptr);  // another push took the last slot meanwhile
    return before;
  }
  // Adds `count` envelopes linked from `first` on through their `next` (the
  // last's next null) in one step; returns the count before.
  [[gnu::noinline]] std::int64_t push_chain(envelope* first, std::uint32_t count) noexcept {
    const bool is_chain = count > 1;
    prefetch_for_write(&pending_);
    mail_segment* spare = tail_.reserve(is_chain);
    const std::int64_t before = pending_.fetch_add(count, std::memory_order_acq_rel);
    tail_.push(first, tail_.peek(), is_chain, spare);
    return before;
  }

  // Ends the start hold (once); true when messages wait (schedule the owner).
  bool open() noexcept {
    opened_.store(true, std::memory_order_relaxed);
    return pending_.fetch_sub(1, std::memory_order_acq_rel) - 1 > 0;
  }

  // The running turn: the next envelope, or null (empty, or a push is
  // mid-way: the count then says to run again). `taken` counts this turn's.
  [[gnu::always_inline]] envelope* take(mailbox_cursor& c, std::uint32_t& taken) noexcept {
    envelope* e = c.head_.pop(tail_);
    if (e == nullptr) return nullptr;
    c.in_hand_.store(++taken, std::memory_order_relaxed);
    if (e->counted) {
      e->counted = false;
      queued_.fetch_sub(1, std::memory_order_acq_rel);
    }
    return e;
  }
  // The end of a turn that took `taken` envelopes; `hold`: the owner keeps
  // messages outside the queue. Returns what is left: > 0, run again; 0, the
  // owner is idle (and may be freed by another thread at once).
  std::int64_t end_turn(mailbox_cursor& c, std::uint32_t taken, bool hold) noexcept {
    c.in_hand_.store(0, std::memory_order_relaxed);
    std::int64_t settle = taken;
    if (hold != c.holding_) {
      settle += c.holding_ ? 1 : -1;
      c.holding_ = hold;
    }
    return pending_.fetch_sub(settle, std::memory_order_acq_rel) - settle;
  }
  // Envelopes left at destruction, one by one; the last call (null) frees
  // the queue's memory.
  envelope* drain(mailbox_cursor& c) noexcept {
    if (envelope* e = c.head_.pop(tail_)) return e;
    c.head_.release(tail_);
    return nullptr;
  }

  // Messages waiting to be taken (metrics' mailbox_size).
  std::uint64_t size(const mailbox_cursor& c) const noexcept {
    std::int64_t waiting =
        pending_.load(std::memory_order_relaxed) - c.in_hand_.load(std::memory_order_relaxed);
    if (!opened_.load(std::memory_order_relaxed)) --waiting;
    return waiting > 0 ? static_cast<std::uint64_t>(waiting) : 0;
  }
  // Nothing waits beyond what the running turn holds (passivation's test).
  bool is_drained(const mailbox_cursor& c) const noexcept {
    return pending_.load(std::memory_order_acquire) - c.in_hand_.load(std::memory_order_relaxed) <= 0;
  }
  // The whole count, holds included (backpressure's measure).
  std::int64_t pending() const noexcept { return pending_.load(std::memory_order_relaxed); }

 private:
  friend class mailbox_cursor;
  std::atomic<std::int64_t> pending_{1};  // 1 = the start hold
  segment_tail tail_;
  std::atomic<std::uint32_t> queued_{0};  // bounded only: counted envelopes not yet taken
  const std::uint32_t capacity_;          // 0 = unbounded
  const overflow_policy overflow_;
  std::atomic<bool> opened_{false};  // the start hold is gone
};

inline mailbox_cursor::mailbox_cursor(mailbox& m) noexcept : head_(m.tail_) {}

}  // namespace akt::detail
