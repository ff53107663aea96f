// akt/detail/small_alloc.hpp — the allocator behind envelopes, actor cells
// and actor instances: size classes of 16 bytes up to 512, per-thread stacks
// of free blocks, and whole batches handed between threads through one
// mutex-guarded central list (so a consumer freeing what a producer
// allocated costs a lock only once per batch). No per-object header. The common case — a
// block of a cached size class — is inline: a few instructions, no call.
//
// Memory is kept for reuse, never returned to the system: the footprint is
// the peak number of live small objects. Larger requests go to operator new.
// Under AddressSanitizer everything goes to operator new, so use-after-free
// is still caught.
//
// Blocks are 16-byte aligned, enough for every type up to the default new
// alignment. A class that allocates here must send over-aligned types
// (alignas(64) and the like) to the aligned operator new instead: give it
// the operator new / delete pair taking std::align_val_t, which C++ picks
// for those types (see envelope, actor, actor_factory).
//
// Thread safety: any thread may free what any thread allocated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

namespace akt::detail {

static_assert(__STDCPP_DEFAULT_NEW_ALIGNMENT__ <= 16, "small_alloc's blocks are aligned to 16 bytes only");

// Out of line: refills, hand-backs, and sizes outside the classes.
void* small_alloc_slow(std::size_t size);
void small_free_slow(void* p, std::size_t size) noexcept;

// Asks for the line at `p` in the state a write needs (the allocator's next
// block; a mailbox's count before a read-modify-write): one coherence
// transfer instead of a shared copy first. PREFETCHW: a no-op where the CPU
// lacks it (its opcode is a NOP there).
inline void prefetch_for_write(const void* p) noexcept {
#if defined(__x86_64__)
  asm volatile("prefetchw %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p, 1, 3);
#endif
}

#if defined(__SANITIZE_ADDRESS__)

inline void* small_alloc(std::size_t size) {
  return ::operator new(size);
}
inline void small_free(void* p, std::size_t size) noexcept {
  ::operator delete(p, size);
}

#else

struct small_alloc_cache {
  static constexpr std::size_t granularity = 16;
  static constexpr std::size_t max_small = 512;
  static constexpr std::size_t classes = max_small / granularity;
  static constexpr std::uint32_t keep = 512;  // blocks per class before a batch goes back
  static constexpr std::uint32_t prefetch_ahead = 4;

  // Per class, a stack of free blocks as an array of pointers (made on the
  // first refill: `room` is 0 until then). Not a list linked through the
  // blocks: popping one then never reads the block, whose line a consumer
  // on another core wrote last. A producer allocating what its consumers
  // freed would otherwise wait on one cross-core miss per block, in a row
  // (perf: 87 % of a plain thread's samples when it fanned out to 60
  // actors); its writes to the block now overlap.
  void** stack[classes];
  std::uint32_t count[classes];
  std::uint32_t room[classes];
};
// Plain data, zero-initialized: an access is one TLS-relative load.
inline thread_local small_alloc_cache small_cache;  // NOLINT

inline void* small_alloc(std::size_t size) {
  if (size - 1 < small_alloc_cache::max_small) {
    const std::size_t c = (size - 1) / small_alloc_cache::granularity;
    small_alloc_cache& tc = small_cache;
    if (const std::uint32_t n = tc.count[c]; n != 0) {
      // The block handed out a few allocations from now: its line is most
      // likely in the cache of the core that freed it (a consumer's), and
      // the first write to it waits for the line. Fetched for writing now,
      // the wait overlaps this block's use (a plain thread fanning out to
      // actors on other cores: perf put a tenth of its time on that write).
      if (n > small_alloc_cache::prefetch_ahead)
        prefetch_for_write(tc.stack[c][n - 1 - small_alloc_cache::prefetch_ahead]);
      tc.count[c] = n - 1;
      return tc.stack[c][n - 1];
    }
  }
  return small_alloc_slow(size);
}

inline void small_free(void* p, std::size_t size) noexcept {
  if (p != nullptr && size - 1 < small_alloc_cache::max_small) {
    const std::size_t c = (size - 1) / small_alloc_cache::granularity;
    small_alloc_cache& tc = small_cache;
    if (tc.count[c] < tc.room[c]) {
      tc.stack[c][tc.count[c]++] = p;
      return;
    }
  }
  small_free_slow(p, size);
}

#endif

}  // namespace akt::detail
