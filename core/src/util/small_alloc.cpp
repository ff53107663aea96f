#include <akt/detail/envelope.hpp>
#include <akt/detail/small_alloc.hpp>
#include <akt/pid.hpp>

#include <mutex>
#include <new>
#include <vector>

namespace akt::detail {

envelope::~envelope() = default;  // here because actor_ref is complete here

#if defined(__SANITIZE_ADDRESS__)

void* small_alloc(std::size_t size) {
  return ::operator new(size);
}
void small_free(void* p, std::size_t size) noexcept {
  ::operator delete(p, size);
}

#else

namespace {

constexpr std::size_t granularity = 16;
constexpr std::size_t max_small = 512;
constexpr std::size_t classes = max_small / granularity;
constexpr std::uint32_t batch_size = 256;  // blocks moved between threads at once

struct free_block {
  free_block* next;
};

// Batches of exactly batch_size blocks, linked through their first block.
struct central_lists {
  std::mutex mu;
  std::vector<free_block*> batches[classes];  // guarded by mu
};

central_lists& central() {
  static auto* c = new central_lists();  // never destroyed: threads may exit after main
  return *c;
}

// The per-thread lists are plain data (no constructor or destructor), so an
// access is one TLS-relative load: no initialization guard on the hot path.
// A separate guard object, created on the first refill, hands the blocks
// back to the central lists when the thread exits.
struct thread_cache {
  free_block* head[classes];
  std::uint32_t count[classes];
};
thread_local thread_cache tls_cache;  // NOLINT: zero-initialized

void give_back(thread_cache& tc, std::size_t c) {
  free_block* first = tc.head[c];
  free_block* last = first;
  for (std::uint32_t i = 1; i < batch_size; ++i) last = last->next;
  tc.head[c] = last->next;
  last->next = nullptr;
  tc.count[c] -= batch_size;
  auto& cl = central();
  std::lock_guard g(cl.mu);
  cl.batches[c].push_back(first);
}

struct thread_exit_guard {
  ~thread_exit_guard() {
    thread_cache& tc = tls_cache;
    for (std::size_t c = 0; c < classes; ++c) {
      // A partial batch stays behind to keep batches uniform: < 256 blocks per class per thread.
      while (tc.count[c] >= batch_size) give_back(tc, c);
    }
  }
};

[[gnu::noinline]] void refill(thread_cache& tc, std::size_t c) {
  thread_local thread_exit_guard guard;
  (void)guard;
  {
    auto& cl = central();
    std::lock_guard g(cl.mu);
    if (!cl.batches[c].empty()) {
      tc.head[c] = cl.batches[c].back();
      cl.batches[c].pop_back();
      tc.count[c] = batch_size;
      return;
    }
  }
  const std::size_t block = (c + 1) * granularity;
  auto* chunk = static_cast<char*>(::operator new(block* batch_size));
  for (std::uint32_t i = 0; i < batch_size; ++i) {
    auto* b = reinterpret_cast<free_block*>(chunk + i * block);
    b->next = i + 1 < batch_size ? reinterpret_cast<free_block*>(chunk + (i + 1) * block) : nullptr;
  }
  tc.head[c] = reinterpret_cast<free_block*>(chunk);
  tc.count[c] = batch_size;
}

}  // namespace

void* small_alloc(std::size_t size) {
  if (size > max_small || size == 0) [[unlikely]]
    return ::operator new(size);
  const std::size_t c = (size - 1) / granularity;
  thread_cache& tc = tls_cache;
  if (tc.head[c] == nullptr) [[unlikely]]
    refill(tc, c);
  free_block* b = tc.head[c];
  tc.head[c] = b->next;
  --tc.count[c];
  return b;
}

void small_free(void* p, std::size_t size) noexcept {
  if (p == nullptr) return;
  if (size > max_small || size == 0) [[unlikely]] {
    ::operator delete(p, size);
    return;
  }
  const std::size_t c = (size - 1) / granularity;
  thread_cache& tc = tls_cache;
  auto* b = static_cast<free_block*>(p);
  b->next = tc.head[c];
  tc.head[c] = b;
  if (++tc.count[c] >= 2 * batch_size) [[unlikely]]
    give_back(tc, c);
}

#endif

}  // namespace akt::detail
