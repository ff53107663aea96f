// A growable FIFO ring of runnables (actors with messages) guarded by a spinlock: a worker's
// local queue (its owner pushes and pops, idle workers steal half) and the
// dispatcher's global queue (for schedules from threads that are not
// workers). Operations are a few instructions under an uncontended lock.
#pragma once

#include <cstddef>
#include <mutex>
#include <vector>

#include "dispatch/runnable.hpp"
#include "util/spinlock.hpp"

namespace akt::detail {

class run_queue {
 public:
  run_queue() : ring_(64) {}

  void push(runnable* c) {
    std::lock_guard g(lock_);
    if (size_ == ring_.size()) grow();
    ring_[(head_ + size_) & (ring_.size() - 1)] = c;
    ++size_;
    size_hint_.store(size_, std::memory_order_relaxed);
  }

  runnable* pop() {
    if (size_hint_.load(std::memory_order_relaxed) == 0) return nullptr;
    std::lock_guard g(lock_);
    return pop_locked();
  }

  // Moves about half of this queue (at least one) into `into`; returns one
  // of them to run at once, or nullptr if there was nothing.
  runnable* steal_half(run_queue& into) {
    if (size_hint_.load(std::memory_order_relaxed) == 0) return nullptr;
    std::vector<runnable*> taken;
    {
      std::unique_lock g(lock_, std::try_to_lock);
      if (!g.owns_lock() || size_ == 0) return nullptr;
      std::size_t n = (size_ + 1) / 2;
      taken.reserve(n);
      while (n-- > 0) taken.push_back(pop_locked());
    }
    runnable* first = taken.front();
    for (std::size_t i = 1; i < taken.size(); ++i) into.push(taken[i]);
    return first;
  }

  bool empty_hint() const noexcept { return size_hint_.load(std::memory_order_seq_cst) == 0; }

 private:
  runnable* pop_locked() {
    if (size_ == 0) return nullptr;
    runnable* c = ring_[head_];
    head_ = (head_ + 1) & (ring_.size() - 1);
    --size_;
    size_hint_.store(size_, std::memory_order_relaxed);
    return c;
  }
  void grow() {
    std::vector<runnable*> bigger(ring_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i) bigger[i] = ring_[(head_ + i) & (ring_.size() - 1)];
    ring_.swap(bigger);
    head_ = 0;
  }

  spinlock lock_;
  std::vector<runnable*> ring_;  // size is a power of two
  std::size_t head_ = 0;
  std::size_t size_ = 0;
  std::atomic<std::size_t> size_hint_{0};  // size_, readable without the lock
};

}  // namespace akt::detail
