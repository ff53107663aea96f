// Thin wrappers over the Linux futex: park a thread on a 32-bit atomic word
// until another thread changes it and wakes it. Used by idle workers and by
// threads blocked in an ask; nothing else in Akt sleeps on the hot path.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace akt::detail {

// Sleeps while *word == expected, up to `timeout` (negative = no limit).
// Returns spuriously at times: callers loop on their own condition.
void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                std::chrono::nanoseconds timeout = std::chrono::nanoseconds(-1)) noexcept;
void futex_wake_one(std::atomic<std::uint32_t>& word) noexcept;
void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace akt::detail
