// A counter that many threads bump without sharing a cache line: each
// thread adds to its own padded shard; reading sums the shards (exact once
// the writers are quiet, approximate while they run). For statistics that
// change on every spawn or stop, which a single atomic would serialize.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace akt::detail {

class sharded_counter {
 public:
  void add(std::int64_t n) noexcept { shards_[my_shard()].v.fetch_add(n, std::memory_order_relaxed); }
  std::int64_t sum() const noexcept {
    std::int64_t total = 0;
    for (const auto& s : shards_) total += s.v.load(std::memory_order_relaxed);
    return total;
  }

 private:
  static constexpr std::size_t shard_count = 16;
  struct alignas(64) shard {
    std::atomic<std::int64_t> v{0};
  };
  static std::size_t my_shard() noexcept {
    static std::atomic<std::size_t> next{0};
    thread_local const std::size_t mine = next.fetch_add(1, std::memory_order_relaxed) % shard_count;
    return mine;
  }
  std::array<shard, shard_count> shards_{};
};

// Process-wide unique ids, handed to each thread in blocks so that spawning
// on several workers at once does not contend on one atomic.
inline std::uint64_t next_actor_id() noexcept {
  static std::atomic<std::uint64_t> next_block{1};
  constexpr std::uint64_t block = 1024;
  thread_local std::uint64_t next = 0;
  thread_local std::uint64_t end = 0;
  if (next == end) {
    next = next_block.fetch_add(block, std::memory_order_relaxed);
    end = next + block;
  }
  return next++;
}

}  // namespace akt::detail
