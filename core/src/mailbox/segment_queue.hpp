// A lock-free multi-producer single-consumer queue of envelope addresses,
// kept in segments of 14 slots: the mailbox of every actor.
//
// Why segments and not a list linked through the envelopes: a consumer that
// works through a backlog of a list learns where the next envelope is only
// by reading the one before, a line another core wrote; its misses come one
// after the other (perf: 63 % of a plain thread's fan-out to 60 actors was
// that one load). Here the addresses sit side by side, so the consumer reads
// eight per line and prefetches the envelopes a few slots ahead: the misses
// overlap.
//
// The producers' end is one word, the tail word, in one of three states:
//   - 0: empty;
//   - an envelope's address | 15: one envelope and no segment. Most actors
//     hold one message at a time (a reply, a ring's token, a new actor's
//     first message): they never allocate a segment;
//   - a segment's address | the next free slot (0..14; 14: full).
// Envelopes' and segments' addresses are 16-byte aligned (small_alloc's
// blocks): the low four bits are free.
//
// A push on an empty word swaps its envelope in. Otherwise it claims a slot
// with a compare-and-swap on the word and stores its address there. The
// push that finds no room makes a segment (the word's one envelope, if any,
// in slot 0, its own after it), swaps it in, then links it behind the old
// segment or hands it over through `first_`. A slot holds an envelope's
// address, or with bit 0 set the first of a chain linked through `next`
// (an outbox's batch: one swap for the lot).
//
// The consumer takes the word's one envelope by swapping the word back to
// 0; reads slots in order; frees a segment once it has read all 14 and the
// next is linked; and retires the segment it reads (the word back to 0)
// once it has read everything pushed, so an idle actor holds none.
//
// pop returns nullptr when the queue is empty. When a producer is between
// its two steps (slot claimed, address not yet stored; or segment swapped
// in, not yet linked or handed over), the address is a few instructions
// away: pop waits for it a bounded while (256 pauses), then returns nullptr
// too; the mailbox's count tells callers a message is on its way.
//
// Memory ordering: the tail word is changed acq_rel, a slot stored release
// and loaded acquire, a segment's link (or `first_`) stored release after
// the swap that made it the tail and loaded acquire: everything a producer
// wrote into an envelope (and into a segment it made) before pushing is
// visible to the consumer that pops it. A producer dereferences a segment
// only after its swap succeeded, when the consumer cannot have freed it (it
// frees a segment after reading every slot and the link, or after swapping
// the word away from it); it never dereferences the word's one envelope. A
// swap that succeeds against an address freed and made again meets the
// state it expected: harmless.
//
// Not for: several consumers. Segments come from small_alloc; a push that
// needs one and cannot have it ends the process (the push is noexcept, as
// every enqueue in the runtime).
#pragma once

#include <akt/detail/envelope.hpp>
#include <akt/detail/small_alloc.hpp>

#include <atomic>
#include <cassert>
#include <cstdint>
#include <new>

#include "util/futex.hpp"  // cpu_relax

namespace akt::detail {

struct mail_segment {
  static constexpr std::uint32_t slots = 14;  // 15 in the tail word's low bits marks its one envelope
  static constexpr std::uintptr_t chain = 1;  // a slot's bit 0: a chain linked through next
  std::atomic<mail_segment*> next{nullptr};
  std::atomic<std::uintptr_t> slot[slots] = {};

  static mail_segment* make() { return new (small_alloc(sizeof(mail_segment))) mail_segment; }
  static void free(mail_segment* s) noexcept {
    s->~mail_segment();
    small_free(s, sizeof(mail_segment));
  }
};
static_assert(sizeof(mail_segment) == 120);

// The producers' end: every push writes here.
class segment_tail {
 public:
  segment_tail() noexcept = default;
  segment_tail(const segment_tail&) = delete;
  segment_tail& operator=(const segment_tail&) = delete;

  // The tail word now (a guess for push: its swap checks it).
  std::uintptr_t peek() const noexcept { return tail_.load(std::memory_order_relaxed); }
  // Whether the word `t` takes one more envelope (or chain) without a new segment.
  static bool has_room(std::uintptr_t t, bool is_chain) noexcept {
    if (t == 0) return !is_chain;             // the word itself holds one envelope
    return (t & mask) < mail_segment::slots;  // not full (14), not the word's one envelope (15)
  }

  // A new segment when the tail has no room, else null: for the caller to
  // make before it counts the message, and then pass to push. A consumer
  // that sees the count waits for the slot to be stored; it must not wait
  // on the allocator meanwhile (when the allocation sat between the two, a
  // plain thread's fan-out to 60 actors ran 713 k empty turns per 10 M
  // messages).
  mail_segment* reserve(bool is_chain) const {
    return has_room(peek(), is_chain) ? nullptr : mail_segment::make();
  }

  // The fast path of a single push: one compare-and-swap when the word is
  // empty or its segment has a free slot; false (nothing done) when a new
  // segment is needed. `t`: the word peek saw (a guess; updated).
  [[gnu::always_inline]] bool try_push(envelope* e, std::uintptr_t& t) noexcept {
    assert((reinterpret_cast<std::uintptr_t>(e) & mask) == 0);  // envelopes come from small_alloc
    for (;;) {
      if (t == 0) {
        if (tail_.compare_exchange_weak(t, reinterpret_cast<std::uintptr_t>(e) | one_envelope,
                                        std::memory_order_acq_rel, std::memory_order_relaxed))
          return true;
        continue;
      }
      const std::uintptr_t at = t & mask;
      if (at >= mail_segment::slots) return false;  // full (14), or the word's one envelope (15)
      if (tail_.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel, std::memory_order_relaxed)) {
        segment_of(t)->slot[at].store(reinterpret_cast<std::uintptr_t>(e), std::memory_order_release);
        return true;
      }
    }
  }

  // Pushes one envelope, or a chain linked from `e` through `next` (the
  // last's next null), making a segment when needed. `t`: the word peek
  // saw (a guess); `spare`: from reserve (used, or freed).
  [[gnu::noinline]] void push(envelope* e, std::uintptr_t t, bool is_chain, mail_segment* spare) noexcept {
    assert((reinterpret_cast<std::uintptr_t>(e) & mask) == 0);
    const std::uintptr_t value = reinterpret_cast<std::uintptr_t>(e) | (is_chain ? mail_segment::chain : 0);
    for (;;) {
      const std::uintptr_t at = t & mask;
      if (t == 0 && !is_chain) {
        if (tail_.compare_exchange_weak(t, reinterpret_cast<std::uintptr_t>(e) | one_envelope,
                                        std::memory_order_acq_rel, std::memory_order_relaxed))
          break;
        continue;
      }
      if (t != 0 && at < mail_segment::slots) {
        if (tail_.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel, std::memory_order_relaxed)) {
          segment_of(t)->slot[at].store(value, std::memory_order_release);
          break;
        }
        continue;
      }
      // No room (a chain on an empty word, the word's one envelope, a full
      // segment): a new segment, filled before anyone sees it.
      mail_segment* fresh = spare != nullptr ? spare : mail_segment::make();
      spare = nullptr;
      assert((reinterpret_cast<std::uintptr_t>(fresh) & mask) == 0);
      std::uint32_t n = 0;
      if (at == one_envelope) fresh->slot[n++].store(t & ~mask, std::memory_order_relaxed);  // it came first
      fresh->slot[n++].store(value, std::memory_order_relaxed);
      const std::uintptr_t mine = reinterpret_cast<std::uintptr_t>(fresh) | n;
      if (tail_.compare_exchange_strong(t, mine, std::memory_order_acq_rel, std::memory_order_relaxed)) {
        if (t != 0 && at != one_envelope) {
          segment_of(t)->next.store(fresh, std::memory_order_release);
        } else {
          first_.store(fresh, std::memory_order_release);
        }
        break;
      }
      for (std::uint32_t i = 0; i < n; ++i) fresh->slot[i].store(0, std::memory_order_relaxed);
      spare = fresh;  // the swap lost: for the next round, or freed below
    }
    if (spare != nullptr) mail_segment::free(spare);
  }

 private:
  friend class segment_head;
  static constexpr std::uintptr_t mask = 15;
  static constexpr std::uintptr_t one_envelope = 15;
  static_assert(alignof(std::max_align_t) >= 16, "the low four bits of addresses are the tail word's");

  static mail_segment* segment_of(std::uintptr_t t) noexcept {
    return reinterpret_cast<mail_segment*>(t & ~mask);
  }

  std::atomic<std::uintptr_t> tail_{0};        // see the states above
  std::atomic<mail_segment*> first_{nullptr};  // a segment swapped in when the word had none
};

// The consumer's end: a cursor the consumer keeps where it likes. An actor
// keeps it among the fields its turn writes, at least 64 bytes away from the
// tail, so that producers and the consumer never write the same cache line.
class segment_head {
 public:
  explicit segment_head(segment_tail&) noexcept {}
  segment_head(const segment_head&) = delete;
  segment_head& operator=(const segment_head&) = delete;

  // The fast path is inline and calls nothing; every other case goes to
  // pop_slow, which starts again from the cursor (so that no value is kept
  // across the call and the callers' frames stay small).
  [[gnu::always_inline]] envelope* pop(segment_tail& q) noexcept {
    const std::uintptr_t h = head_;
    mail_segment* seg = segment_of(h);
    const std::uint32_t at = static_cast<std::uint32_t>(h & mask);
    if (seg != nullptr && at != mail_segment::slots) {
      const std::uintptr_t v = seg->slot[at].load(std::memory_order_acquire);
      if (v != 0) return take(seg, at, v);
    } else if (seg == nullptr) {
      // No segment at hand: the word is empty, holds one envelope (taken by
      // emptying it), or names a segment (pop_slow). The word is 0 only
      // when no segment waits to be handed over (first_ is cleared before
      // the consumer retires what it took).
      std::uintptr_t t = q.tail_.load(std::memory_order_acquire);
      if (t == 0) return nullptr;
      if ((t & mask) == segment_tail::one_envelope &&
          q.tail_.compare_exchange_strong(t, 0, std::memory_order_acq_rel, std::memory_order_relaxed))
        return reinterpret_cast<envelope*>(t & ~mask);
    }
    return pop_slow(q);
  }

  // Frees the segment left at the consumer's end; for when nothing more can come.
  void release([[maybe_unused]] segment_tail& q) noexcept {
    assert(pop(q) == nullptr);  // drained first: an envelope dropped here would leak
    if (mail_segment* seg = segment()) mail_segment::free(seg);
    head_ = 0;
  }

 private:
  static constexpr std::uint32_t prefetch_distance = 4;
  static constexpr int mid_way_spins = 256;
  static constexpr std::uintptr_t mask = 15;

  mail_segment* segment() const noexcept { return segment_of(head_); }
  std::uint32_t slot() const noexcept { return static_cast<std::uint32_t>(head_ & mask); }

  static mail_segment* segment_of(std::uintptr_t h) noexcept {
    return reinterpret_cast<mail_segment*>(h & ~mask);
  }

  // Takes what slot `at` holds (`v`, not 0): an envelope, or the first of a
  // chain, whose rest the slot then keeps (the consumer owns a slot once it
  // is stored); the cursor moves on after an envelope or a chain's last.
  [[gnu::always_inline]] envelope* take(mail_segment* seg, std::uint32_t at, std::uintptr_t v) noexcept {
    if ((v & mail_segment::chain) != 0) [[unlikely]] {
      auto* e = reinterpret_cast<envelope*>(v & ~mail_segment::chain);
      if (envelope* rest = e->next) {
        seg->slot[at].store(reinterpret_cast<std::uintptr_t>(rest) | mail_segment::chain,
                            std::memory_order_relaxed);
        __builtin_prefetch(rest);
      } else {
        head_ = reinterpret_cast<std::uintptr_t>(seg) | (at + 1);
      }
      return e;
    }
    head_ = reinterpret_cast<std::uintptr_t>(seg) | (at + 1);
    // The envelope a few slots on is another core's line: ask for it now, so
    // that its miss overlaps with this one's handling (a hint: the slot may
    // still be empty, and nothing is read through it).
    if (at + prefetch_distance < mail_segment::slots) {
      if (const std::uintptr_t ahead = seg->slot[at + prefetch_distance].load(std::memory_order_relaxed))
        __builtin_prefetch(reinterpret_cast<const void*>(ahead & ~mail_segment::chain));
    }
    return reinterpret_cast<envelope*>(v);
  }

  // The slot at the cursor, once more, for pop_slow: null when it is empty
  // and nothing claimed it; a claimed one is waited for (wait_for_store).
  envelope* take_or_wait(segment_tail& q, mail_segment* seg, std::uint32_t at) noexcept {
    std::uintptr_t v = seg->slot[at].load(std::memory_order_acquire);
    if (v == 0) {
      std::uintptr_t caught_up = reinterpret_cast<std::uintptr_t>(seg) | at;
      if (q.tail_.load(std::memory_order_relaxed) == caught_up) {
        // Everything pushed is read: retire the segment (an idle actor
        // holds none); a push that loses its swap to this one starts over.
        if (q.tail_.compare_exchange_strong(caught_up, 0, std::memory_order_acq_rel,
                                            std::memory_order_relaxed)) {
          mail_segment::free(seg);
          head_ = 0;
        }
        return nullptr;
      }
      v = wait_for_store(seg, at);  // claimed: on its way
      if (v == 0) return nullptr;
    }
    return take(seg, at, v);
  }

  // The slot is empty but a producer has claimed it (the tail is past it):
  // its store is a few instructions away. Wait for it, a bounded while,
  // rather than end the turn and have the actor run again at once for
  // nothing. A producer taken off its core mid-way is not waited for: 0
  // after the bound, as when empty.
  [[gnu::noinline]] static std::uintptr_t wait_for_store(mail_segment* seg, std::uint32_t at) noexcept {
    for (int i = 0; i < mid_way_spins; ++i) {
      cpu_relax();
      if (const std::uintptr_t v = seg->slot[at].load(std::memory_order_acquire)) return v;
    }
    return 0;
  }

  // Everything but the fast path: the slot at the cursor empty (claimed or
  // not), no segment at hand, or the one at hand read to its end.
  [[gnu::noinline]] envelope* pop_slow(segment_tail& q) noexcept {
    mail_segment* seg = segment();
    if (seg != nullptr && slot() != mail_segment::slots) return take_or_wait(q, seg, slot());
    if (seg == nullptr) {
      seg = q.first_.load(std::memory_order_acquire);
      if (seg == nullptr) {
        std::uintptr_t t = q.tail_.load(std::memory_order_acquire);
        if (t == 0) return nullptr;
        if ((t & mask) == segment_tail::one_envelope) {
          // The word's one envelope: take it by emptying the word. Losing
          // the swap means a push has moved it into a segment, handed over next.
          if (q.tail_.compare_exchange_strong(t, 0, std::memory_order_acq_rel, std::memory_order_relaxed))
            return reinterpret_cast<envelope*>(t & ~mask);
        }
        for (int i = 0; seg == nullptr && i < mid_way_spins; ++i) {
          cpu_relax();  // a producer has swapped a segment in and is handing it over
          seg = q.first_.load(std::memory_order_acquire);
        }
        if (seg == nullptr) return nullptr;
      }
      q.first_.store(nullptr, std::memory_order_relaxed);  // set again only after the word is back to 0
      head_ = reinterpret_cast<std::uintptr_t>(seg);
      return take_or_wait(q, seg, 0);
    }
    mail_segment* next = seg->next.load(std::memory_order_acquire);
    const std::uintptr_t full = reinterpret_cast<std::uintptr_t>(seg) | mail_segment::slots;
    for (int i = 0; next == nullptr && i < mid_way_spins && q.tail_.load(std::memory_order_relaxed) != full;
         ++i) {
      cpu_relax();  // a producer has swapped the next segment in and is linking it
      next = seg->next.load(std::memory_order_acquire);
    }
    if (next == nullptr) {
      // Read to the end and nothing linked: retire it if nothing is behind it.
      std::uintptr_t expected = full;
      if (q.tail_.compare_exchange_strong(expected, 0, std::memory_order_acq_rel,
                                          std::memory_order_relaxed)) {
        mail_segment::free(seg);
        head_ = 0;
        return pop_slow(q);  // a push may have filled the word since: once more, from empty
      }
      return nullptr;  // a producer is linking the next
    }
    mail_segment::free(seg);
    head_ = reinterpret_cast<std::uintptr_t>(next);
    return take_or_wait(q, next, 0);
  }

  std::uintptr_t head_ = 0;  // the segment being read | the next slot to read (14: all read)
};

}  // namespace akt::detail
