#include <akt/detail/envelope.hpp>
#include <akt/detail/small_alloc.hpp>
#include <akt/pid.hpp>

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
constexpr std::uint32_t batch_size = small_alloc_cache::keep / 2;  // blocks moved between threads at once

// Batches of exactly batch_size blocks, linked through their first word.
struct central_lists {
  std::mutex mu;
  std::vector<void*> batches[classes];  // guarded by mu
};

central_lists& central() {
  static auto* c = new central_lists();  // never destroyed: threads may exit after main
  return *c;
}

void*& next_of(void* b) {
  return *static_cast<void**>(b);
}

void give_back(small_alloc_cache& tc, std::size_t c) {
  void* first = tc.head[c];
  void* last = first;
  for (std::uint32_t i = 1; i < batch_size; ++i) last = next_of(last);
  tc.head[c] = next_of(last);
  next_of(last) = nullptr;
  tc.count[c] -= batch_size;
  auto& cl = central();
  std::lock_guard g(cl.mu);
  cl.batches[c].push_back(first);
}

// Hands the thread's cached blocks back when it exits (created on first refill).
struct thread_exit_guard {
  ~thread_exit_guard() {
    small_alloc_cache& tc = small_cache;
    for (std::size_t c = 0; c < classes; ++c) {
      // A partial batch stays behind to keep batches uniform: < 256 blocks per class per thread.
      while (tc.count[c] >= batch_size) give_back(tc, c);
    }
  }
};

void refill(small_alloc_cache& tc, std::size_t c) {
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
    next_of(chunk + i * block) = i + 1 < batch_size ? chunk + (i + 1) * block : nullptr;
  }
  tc.head[c] = chunk;
  tc.count[c] = batch_size;
}

}  // namespace

void* small_alloc_slow(std::size_t size) {
  if (size > max_small || size == 0) return ::operator new(size);
  const std::size_t c = (size - 1) / granularity;
  small_alloc_cache& tc = small_cache;
  if (tc.head[c] == nullptr) refill(tc, c);
  void* b = tc.head[c];
  tc.head[c] = next_of(b);
  --tc.count[c];
  return b;
}

void small_free_slow(void* p, std::size_t size) noexcept {
  if (p == nullptr) return;
  if (size > max_small || size == 0) {
    ::operator delete(p, size);
    return;
  }
  const std::size_t c = (size - 1) / granularity;
  small_alloc_cache& tc = small_cache;
  next_of(p) = tc.head[c];
  tc.head[c] = p;
  if (++tc.count[c] >= small_alloc_cache::keep) give_back(tc, c);
}

#endif

}  // namespace akt::detail
