#include <akt/detail/envelope.hpp>
#include <akt/detail/small_alloc.hpp>
#include <akt/pid.hpp>

#include <sys/mman.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

namespace akt::detail {

envelope::~envelope() = default;  // here because actor_ref is complete here

#if defined(__SANITIZE_ADDRESS__)

void* small_alloc_slow(std::size_t size) {
  return ::operator new(size);
}
void small_free_slow(void* p, std::size_t size) noexcept {
  ::operator delete(p, size);
}

#else

namespace {

constexpr std::size_t granularity = small_alloc_cache::granularity;
constexpr std::size_t max_small = small_alloc_cache::max_small;
constexpr std::size_t classes = small_alloc_cache::classes;
constexpr std::uint32_t keep = small_alloc_cache::keep;
constexpr std::uint32_t batch_size = keep / 2;  // blocks moved between threads at once

// Batches of exactly batch_size blocks, each an array of their addresses.
using batch = std::unique_ptr<void*[]>;
struct central_lists {
  std::mutex mu;
  std::vector<batch> batches[classes];  // guarded by mu
};

central_lists& central() {
  static auto* c = new central_lists();  // never destroyed: threads may exit after main
  return *c;
}

// The oldest batch_size blocks of the thread's stack go to the central
// list (the newest, warm in this core's cache, stay).
void give_back(small_alloc_cache& tc, std::size_t c) {
  auto b = std::make_unique_for_overwrite<void*[]>(batch_size);
  void** stack = tc.stack[c];
  std::memcpy(b.get(), stack, batch_size * sizeof(void*));
  tc.count[c] -= batch_size;
  std::memmove(stack, stack + batch_size, tc.count[c] * sizeof(void*));
  auto& cl = central();
  std::lock_guard g(cl.mu);
  cl.batches[c].push_back(std::move(b));
}

// Set once the thread's exit guard has run: a block freed later (by
// another thread_local's destructor) gets a stack that is not handed back.
constinit thread_local bool tls_exited = false;  // NOLINT

// Hands the thread's cached blocks back when it exits (created with the
// thread's first stack), and frees its stacks.
struct thread_exit_guard {
  ~thread_exit_guard() {
    tls_exited = true;
    small_alloc_cache& tc = small_cache;
    for (std::size_t c = 0; c < classes; ++c) {
      // A partial batch stays behind to keep batches uniform: < 256 blocks per class per thread.
      while (tc.count[c] >= batch_size) give_back(tc, c);
      delete[] tc.stack[c];
      tc.stack[c] = nullptr;
      tc.count[c] = 0;
      tc.room[c] = 0;
    }
  }
};

// Fresh blocks come from regions of 256 KiB, and each chunk carved from
// one has its pages made present in one system call
// (MADV_POPULATE_WRITE, Linux 5.14) instead of a page fault per 4 KiB, each
// of which costs microseconds on a VM (perf, skynet: a quarter of its time
// went to faulting in the cells of 1.1 M actors). Only the chunks handed
// out are made present: a region's tail costs no memory. On an older
// kernel the advice fails and pages fault in as before. Memory is never
// returned, as above.
constexpr std::size_t region_bytes = 256 * 1024;
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

struct region_cursor {
  std::mutex mu;
  char* next = nullptr;  // guarded by mu
  std::size_t left = 0;  // guarded by mu
};

void* fresh_memory(std::size_t bytes) {
  static auto* cursor = new region_cursor();  // never destroyed, like central()
  char* p = nullptr;
  {
    std::lock_guard g(cursor->mu);
    if (cursor->left < bytes) {
      void* r = ::mmap(nullptr, region_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (r == MAP_FAILED) throw std::bad_alloc();
      cursor->next = static_cast<char*>(r);
      cursor->left = region_bytes;
    }
    p = cursor->next;
    cursor->next += bytes;
    cursor->left -= bytes;
  }
  constexpr std::uintptr_t page = 4096;
  const auto begin = reinterpret_cast<std::uintptr_t>(p) & ~(page - 1);
  const auto end = (reinterpret_cast<std::uintptr_t>(p) + bytes + page - 1) & ~(page - 1);
  (void)::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
  return p;
}

void make_stack(small_alloc_cache& tc, std::size_t c) {
  if (!tls_exited) {
    thread_local thread_exit_guard guard;
    (void)guard;
  }
  tc.stack[c] = new void*[keep];
  tc.room[c] = keep;
}

void refill(small_alloc_cache& tc, std::size_t c) {
  if (tc.stack[c] == nullptr) make_stack(tc, c);
  {
    auto& cl = central();
    std::unique_lock g(cl.mu);
    if (!cl.batches[c].empty()) {
      batch b = std::move(cl.batches[c].back());
      cl.batches[c].pop_back();
      g.unlock();
      std::memcpy(tc.stack[c], b.get(), batch_size * sizeof(void*));
      tc.count[c] = batch_size;
      return;
    }
  }
  const std::size_t block = (c + 1) * granularity;
  auto* chunk = static_cast<char*>(fresh_memory(block * batch_size));
  // Popped from the top: the chunk's first block first, in address order.
  for (std::uint32_t i = 0; i < batch_size; ++i) tc.stack[c][i] = chunk + (batch_size - 1 - i) * block;
  tc.count[c] = batch_size;
}

}  // namespace

void* small_alloc_slow(std::size_t size) {
  if (size > max_small || size == 0) return ::operator new(size);
  const std::size_t c = (size - 1) / granularity;
  small_alloc_cache& tc = small_cache;
  if (tc.count[c] == 0) refill(tc, c);
  return tc.stack[c][--tc.count[c]];
}

void small_free_slow(void* p, std::size_t size) noexcept {
  if (p == nullptr) return;
  if (size > max_small || size == 0) {
    ::operator delete(p, size);
    return;
  }
  const std::size_t c = (size - 1) / granularity;
  small_alloc_cache& tc = small_cache;
  try {
    if (tc.stack[c] == nullptr) make_stack(tc, c);
    if (tc.count[c] == keep) give_back(tc, c);
  } catch (const std::bad_alloc&) {
    return;  // out of memory for the bookkeeping: this block is leaked, never corrupted
  }
  tc.stack[c][tc.count[c]++] = p;
}

#endif

}  // namespace akt::detail
