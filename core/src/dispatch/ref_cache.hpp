// ref_cache: references a worker thread has let go of and not yet given
// back to their objects' counts. A worker that runs two actors ping-ponging
// drops and takes references to the same two cells on every message (the
// schedule reference, the sender's reference); each was a locked
// instruction (perf: a third of pingpong's time sat on them). Dropped here,
// a reference waits in a small per-thread cache; taken again, it comes out
// of the cache; only what leaves the cache touches the shared count.
//
// The count in the object is never lower than the true count (the cache
// only holds references this thread owns), so nothing is freed early; a
// freed object is only ever freed later. The cache is given back when the
// worker looks for work and finds none (before it spins or parks), every
// few hundred turns, and when it stops: an idle system holds nothing.
//
// Thread safety: thread-local; active on worker threads only (elsewhere
// drop_ref releases at once and reuse_ref finds nothing).
#pragma once

#include <akt/detail/ref_ptr.hpp>

#include <cstdint>

namespace akt::detail {

// Two-way set associative, indexed by the object's address: a lookup
// compares two entries, not eight. A ring of a thousand actors misses on
// every message (each cell is scheduled once per lap), and a scan of every
// slot per miss was an eighth of its hop; two objects that take turns
// (ping-pong) always fit, in one set or two.
struct ref_cache {
  static constexpr int sets = 8;  // first_slot takes the top 3 bits
  static constexpr int ways = 2;
  static constexpr int slots = sets * ways;
  const ref_counted* object[slots];  // set s holds slots 2s and 2s + 1
  std::uint32_t count[slots];        // > 0 where object is set
  std::uint8_t evict[sets];          // per set: the way to give back when both are used
  bool active;

  static int first_slot(const ref_counted* o) noexcept {
    // Fibonacci hashing: the product's top bits depend on every address
    // bit, so objects a power of two apart spread over the sets.
    const auto v = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(o));
    return static_cast<int>((v * 0x9E3779B97F4A7C15ull) >> 61) * ways;  // 61 = 64 - log2(sets)
  }
};
inline constinit thread_local ref_cache tls_ref_cache{};  // NOLINT: per thread by design

// Gives back everything (and what destroying objects drops meanwhile),
// and tells the consumption held back (flush_consumption) first.
void flush_refs() noexcept;

// Messages from another node this worker handed to their actors and whose
// consumption hook was not told yet (wire_envelope.cpp): a stream from one
// connection reports its consumption, and gives back its hook's
// references, once per few KiB rather than with two locked instructions a
// message. Told when it reaches the bound, when the next message has
// another hook, and with flush_refs (before the worker spins or parks,
// every few hundred turns, at stop).
void flush_consumption() noexcept;

// Lets go of `n` references to `o`.
inline void drop_ref(const ref_counted* o, std::uint32_t n = 1) noexcept {
  ref_cache& c = tls_ref_cache;
  if (!c.active) {
    o->release_refs(n);
    return;
  }
  const int s = ref_cache::first_slot(o);
  if (c.object[s] == o) {
    c.count[s] += n;
    return;
  }
  if (c.object[s + 1] == o) {
    c.count[s + 1] += n;
    return;
  }
  int i = c.object[s] == nullptr ? s : c.object[s + 1] == nullptr ? s + 1 : -1;
  if (i >= 0) {
    c.object[i] = o;
    c.count[i] = n;
    return;
  }
  std::uint8_t& way = c.evict[s / ref_cache::ways];
  i = s + way;
  way ^= 1;
  const ref_counted* old = c.object[i];
  const std::uint32_t old_n = c.count[i];
  c.object[i] = o;
  c.count[i] = n;
  old->release_refs(old_n);  // last: destroying it may drop references here
}

// Takes one reference to `o` out of the cache instead of adding one to its
// count; false when the cache holds none (the caller adds one).
inline bool reuse_ref(const ref_counted* o) noexcept {
  ref_cache& c = tls_ref_cache;
  int i = ref_cache::first_slot(o);
  if (c.object[i] != o && c.object[++i] != o) return false;
  if (--c.count[i] == 0) c.object[i] = nullptr;
  return true;
}

}  // namespace akt::detail
