#include <akt/detail/envelope.hpp>
#include <akt/detail/small_alloc.hpp>
#include <akt/pid.hpp>

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
  auto* chunk = static_cast<char*>(::operator new(block* batch_size));
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
