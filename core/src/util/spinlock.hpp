// A one-byte test-and-test-and-set lock for very short critical sections
// (linking a child, a run-queue operation). It yields the CPU after a short
// spin so that a preempted holder on this 2-core class of machine is not
// starved by its waiters. Acquire on lock, release on unlock.
#pragma once

#include <atomic>
#include <thread>

#include "util/futex.hpp"

namespace akt::detail {

class spinlock {
 public:
  void lock() noexcept {
    for (int spins = 0; flag_.exchange(true, std::memory_order_acquire);) {
      while (flag_.load(std::memory_order_relaxed)) {
        if (++spins < 64) {
          cpu_relax();
        } else {
          std::this_thread::yield();
        }
      }
    }
  }
  bool try_lock() noexcept { return !flag_.exchange(true, std::memory_order_acquire); }
  void unlock() noexcept { flag_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> flag_{false};
};

}  // namespace akt::detail
