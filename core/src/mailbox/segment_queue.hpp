// A lock-free multi-producer single-consumer queue of envelope addresses,
// kept in segments of 15 slots: the mailbox of every actor.
//
// Why segments and not a list linked through the envelopes: a consumer that
// works through a backlog of a list learns where the next envelope is only
// by reading the one before, a line another core wrote; its misses come one
// after the other (perf: 63 % of a plain thread's fan-out to 60 actors was
// that one load). Here the addresses sit side by side, so the consumer reads
// eight per line and prefetches the envelopes a few slots ahead: the misses
// overlap.
//
// The producers' end is one word: the tail segment's address with, in its
// low four bits (segments are 16-byte aligned), the next free slot; 15 means
// full. A push claims a slot with a compare-and-swap on that word, then
// stores the address into the slot. The push that finds the tail full (or
// no segment at all) makes a new segment holding its envelope in slot 0 and
// swaps it in, then links it behind the old one (or hands it to the
// consumer through `first_` when there was none).
//
// The consumer reads slots in order and frees a segment once it has read all
// 15 and the next is linked. A fully read segment with nothing behind it is
// retired by swapping the tail word to 0, so an actor that has gone idle
// holds at most one partly read segment (128 bytes), and none after every
// 15th message.
//
// pop returns nullptr when the queue is empty. When a producer is between
// its two steps (slot claimed, address not yet stored; or segment swapped
// in, not yet linked), the address is a few instructions away: pop waits
// for it a bounded while (256 pauses), then returns nullptr too; the
// mailbox's count tells callers a message is on its way.
//
// Memory ordering: the tail word is changed acq_rel, a slot stored release
// and loaded acquire, a segment's link (or `first_`) stored release after
// the swap that made it the tail and loaded acquire: everything a producer
// wrote into an envelope (and into a segment it made) before pushing is
// visible to the consumer that pops it. A producer dereferences a segment
// only after its swap succeeded, when the consumer cannot have freed it (it
// frees a segment after reading every slot and the link, or after swapping
// the tail away from it). A swap that succeeds against an address that was
// freed and made again meets the same state it expected: harmless.
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
  static constexpr std::uint32_t slots = 15;  // the four low bits of an aligned address count 0..15
  std::atomic<mail_segment*> next{nullptr};
  std::atomic<envelope*> slot[slots] = {};

  static mail_segment* make() { return new (small_alloc(sizeof(mail_segment))) mail_segment; }
  static void free(mail_segment* s) noexcept {
    s->~mail_segment();
    small_free(s, sizeof(mail_segment));
  }
};
static_assert(sizeof(mail_segment) == 128);

// The producers' end: every push writes here.
class segment_tail {
 public:
  segment_tail() noexcept = default;
  segment_tail(const segment_tail&) = delete;
  segment_tail& operator=(const segment_tail&) = delete;

  // The tail word now (a guess for push: its swap checks it).
  std::uintptr_t peek() const noexcept { return tail_.load(std::memory_order_relaxed); }
  static bool has_room(std::uintptr_t t, std::uint32_t count) noexcept {
    return (t & ~mask) != 0 && (t & mask) + count <= mail_segment::slots;
  }

  // A new segment when the tail has no room for `count` more, else null:
  // for the caller to make before it counts the messages, and then pass to
  // push_chain. A consumer that sees the count waits for the slot to be
  // stored; it must not wait on the allocator meanwhile (when the
  // allocation sat between the two, a plain thread's fan-out to 60 actors
  // ran 713 k empty turns per 10 M messages).
  mail_segment* reserve(std::uint32_t count) const {
    return has_room(peek(), count) ? nullptr : mail_segment::make();
  }

  // Pushes one envelope; `t` is the tail word peek saw, with room (should
  // it fill up meanwhile, the segment is made here, after the count).
  void push(envelope* e, std::uintptr_t t) noexcept {
    for (;;) {
      auto* seg = reinterpret_cast<mail_segment*>(t & ~mask);
      const auto at = static_cast<std::uint32_t>(t & mask);
      if (seg == nullptr || at == mail_segment::slots) [[unlikely]]
        return push_chain(e, 1, nullptr);  // filled since reserve looked
      if (tail_.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel, std::memory_order_relaxed)) {
        seg->slot[at].store(e, std::memory_order_release);
        return;
      }
    }
  }

  // Pushes `count` envelopes linked from `first` on through their `next`,
  // in that order: one swap per segment they fill. `spare` from reserve
  // (used, or freed); further segments are made here.
  [[gnu::noinline]] void push_chain(envelope* first, std::uint32_t count, mail_segment* spare) noexcept {
    std::uintptr_t t = tail_.load(std::memory_order_acquire);
    while (count > 0) {
      auto* seg = reinterpret_cast<mail_segment*>(t & ~mask);
      const auto at = static_cast<std::uint32_t>(t & mask);
      if (seg != nullptr && at < mail_segment::slots) {
        const std::uint32_t n = count < mail_segment::slots - at ? count : mail_segment::slots - at;
        if (!tail_.compare_exchange_weak(t, t + n, std::memory_order_acq_rel, std::memory_order_acquire))
          continue;
        first = fill(seg, at, n, first);
        count -= n;
        t += n;
        continue;
      }
      // Full, or no segment: a new one, its first slots filled before it is
      // seen. (A swap that loses keeps it as the spare for the next round.)
      mail_segment* fresh = spare != nullptr ? spare : mail_segment::make();
      spare = nullptr;
      assert((reinterpret_cast<std::uintptr_t>(fresh) & mask) == 0);
      const std::uint32_t n = count < mail_segment::slots ? count : mail_segment::slots;
      envelope* after = first;
      for (std::uint32_t i = 0; i < n; ++i) {
        fresh->slot[i].store(after, std::memory_order_relaxed);
        after = next_of(after, i + 1 < count);
      }
      const std::uintptr_t mine = reinterpret_cast<std::uintptr_t>(fresh) | n;
      if (!tail_.compare_exchange_strong(t, mine, std::memory_order_acq_rel, std::memory_order_acquire)) {
        for (std::uint32_t i = 0; i < n; ++i) fresh->slot[i].store(nullptr, std::memory_order_relaxed);
        spare = fresh;
        continue;
      }
      if (seg != nullptr) {
        seg->next.store(fresh, std::memory_order_release);
      } else {
        first_.store(fresh, std::memory_order_release);
      }
      first = after;
      count -= n;
      t = mine;
    }
    if (spare != nullptr) mail_segment::free(spare);
  }

 private:
  friend class segment_head;
  static constexpr std::uintptr_t mask = 15;
  static_assert(alignof(std::max_align_t) >= 16, "segments' low four bits count slots");

  static envelope* next_of(envelope* e, bool more) noexcept { return more ? e->next : nullptr; }
  // Stores `n` envelopes from `e` on into seg's slots from `at`; returns the one after.
  static envelope* fill(mail_segment* seg, std::uint32_t at, std::uint32_t n, envelope* e) noexcept {
    for (std::uint32_t i = 0; i < n; ++i) {
      envelope* after = e->next;
      seg->slot[at + i].store(e, std::memory_order_release);
      e = after;  // read before the store: once stored, the consumer may free e
    }
    return e;
  }

  std::atomic<std::uintptr_t> tail_{0};        // segment | next free slot; 0: no segment
  std::atomic<mail_segment*> first_{nullptr};  // a segment swapped in when there was none
};

// The consumer's end: a cursor the consumer keeps where it likes. An actor
// keeps it among the fields its turn writes, at least 64 bytes away from the
// tail, so that producers and the consumer never write the same cache line.
class segment_head {
 public:
  explicit segment_head(segment_tail&) noexcept {}
  segment_head(const segment_head&) = delete;
  segment_head& operator=(const segment_head&) = delete;

  [[gnu::always_inline]] envelope* pop(segment_tail& q) noexcept {
    mail_segment* seg = segment();
    std::uint32_t at = slot();
    if (at == mail_segment::slots || seg == nullptr) [[unlikely]] {
      seg = advance(q);
      if (seg == nullptr) return nullptr;
      at = 0;
    }
    envelope* e = seg->slot[at].load(std::memory_order_acquire);
    if (e == nullptr) {
      if (q.tail_.load(std::memory_order_relaxed) == (reinterpret_cast<std::uintptr_t>(seg) | at))
        return nullptr;
      e = wait_for_store(seg, at);  // claimed: on its way
      if (e == nullptr) return nullptr;
    }
    head_ = reinterpret_cast<std::uintptr_t>(seg) | (at + 1);
    // The envelope a few slots on is another core's line: ask for it now, so
    // that its miss overlaps with this one's handling (a hint: the slot may
    // still be empty, and nothing is read through it).
    if (at + prefetch_distance < mail_segment::slots) {
      if (envelope* ahead = seg->slot[at + prefetch_distance].load(std::memory_order_relaxed))
        __builtin_prefetch(ahead);
    }
    return e;
  }

  // Frees the segment left at the consumer's end; for when nothing more can come.
  void release(segment_tail& q) noexcept {
    while (pop(q) != nullptr) {
    }
    if (mail_segment* seg = segment()) mail_segment::free(seg);
    head_ = 0;
  }

 private:
  static constexpr std::uint32_t prefetch_distance = 4;
  static constexpr int mid_way_spins = 256;
  static constexpr std::uintptr_t mask = 15;

  mail_segment* segment() const noexcept { return reinterpret_cast<mail_segment*>(head_ & ~mask); }
  std::uint32_t slot() const noexcept { return static_cast<std::uint32_t>(head_ & mask); }

  // The slot is empty but a producer has claimed it (the tail is past it):
  // its store is a few instructions away. Wait for it, a bounded while,
  // rather than end the turn and have the actor run again at once for
  // nothing (a plain thread's fan-out whose workers keep up ran 150-600 k
  // such empty turns per 10 M messages). A producer taken off its core
  // mid-way is not waited for: null after the bound, as when empty.
  [[gnu::noinline]] static envelope* wait_for_store(mail_segment* seg, std::uint32_t at) noexcept {
    for (int i = 0; i < mid_way_spins; ++i) {
      cpu_relax();
      if (envelope* e = seg->slot[at].load(std::memory_order_acquire)) return e;
    }
    return nullptr;
  }

  // The next segment to read from slot 0 (or the first); null when there is none yet.
  [[gnu::noinline]] mail_segment* advance(segment_tail& q) noexcept {
    mail_segment* seg = segment();
    if (seg == nullptr) {
      seg = q.first_.load(std::memory_order_acquire);
      for (int i = 0; seg == nullptr && i < mid_way_spins && q.tail_.load(std::memory_order_relaxed) != 0;
           ++i) {
        cpu_relax();  // a producer has swapped a segment in and is handing it over
        seg = q.first_.load(std::memory_order_acquire);
      }
      if (seg == nullptr) return nullptr;
      q.first_.store(nullptr, std::memory_order_relaxed);  // set again only after a retire below
      head_ = reinterpret_cast<std::uintptr_t>(seg);
      return seg;
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
      }
      return nullptr;  // empty, or a producer is linking the next
    }
    mail_segment::free(seg);
    head_ = reinterpret_cast<std::uintptr_t>(next);
    return next;
  }

  std::uintptr_t head_ = 0;  // the segment being read | the next slot to read (15: all read)
};

}  // namespace akt::detail
