// actor_stats.hpp — what the actors of one system did, per actor kind:
// messages received, processed, failed, unhandled; restarts, starts,
// stops; processing time as a histogram.
//
// Nothing is counted per message here: every actor already counts its own
// messages, failures and restarts (actor_view::metrics). A collection walks
// the live actors and sums them per kind; an actor that terminates hands
// its final counts to its kind's `retired` sums (after_terminate), so the
// totals only grow. What the actors do not count — starts, stops,
// unhandled messages and the timed turns' histogram — is counted per
// thread: each thread owns one shard of counters per kind and is its only
// writer, so a count is a relaxed load and store on a line no other thread
// writes. Nothing is kept per actor.
//
// Thread safety: count_* from any thread (each writes its own shard);
// report from one collecting thread at a time. A shard outlives its thread
// (it belongs to the stats), so a thread's counts are never lost.
#pragma once

#include <akt/metrics.hpp>
#include <akt/pid.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace akt::otel::detail {

// Processing-time buckets (upper bounds, seconds): 1 µs .. 5 s.
inline constexpr std::array<double, 14> processing_bounds = {1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3,
                                                             5e-3, 1e-2, 5e-2, 0.1,  0.5,  1.0,  5.0};

class actor_stats {
 public:
  // A counter written by one thread, read by the collector.
  struct owned_counter {
    std::atomic<std::uint64_t> v{0};
    void add(std::uint64_t n = 1) noexcept {
      v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    std::uint64_t get() const noexcept { return v.load(std::memory_order_relaxed); }
  };
  struct kind_counters {
    owned_counter started, stopped, unhandled;
    owned_counter retired_received, retired_processed, retired_errors, retired_restarts;
    std::array<owned_counter, processing_bounds.size() + 1> buckets;
    owned_counter time_sum_ns;
  };

  actor_stats();
  ~actor_stats();
  actor_stats(const actor_stats&) = delete;
  actor_stats& operator=(const actor_stats&) = delete;

  // This thread's counters for `kind` (a view whose characters live as long
  // as the system: the core interns kind names).
  kind_counters& of(std::string_view kind) noexcept;

  // A timed handling counted `weight` times (it stands for the untimed ones
  // around it); an untimed one (took < 0) counts nothing here.
  static void count_time(kind_counters& k, std::chrono::nanoseconds took, std::uint32_t weight) noexcept;

  // What the live actors of one kind count now (summed by a walk).
  struct live_counts {
    std::uint64_t alive = 0, received = 0, processed = 0, errors = 0, restarts = 0, mailbox = 0;
  };
  using live_by_kind = std::unordered_map<std::string_view, live_counts>;

  // An actor terminated: its final counts join its kind's retired sums.
  void retire(std::string_view kind, const actor_metrics& final_counts) noexcept;

  // Reports the per-kind series (attribute akt.actor.kind) and the
  // system-wide sums. `walk` sums the live actors; it is called after the
  // retired sums are read, so an actor is never counted twice (one that
  // terminates in between is counted at the next collection, and the
  // counters never go down: each is reported as at least its last value).
  void report(metric_sink& sink, std::string_view system_name, const std::function<live_by_kind()>& walk);

 private:
  struct shard;
  shard& this_thread_shard() noexcept;
  kind_counters& slow_of(std::string_view kind) noexcept;

  const std::uint64_t id_;  // never reused: a thread's cache entry for a gone stats never matches
  mutable std::mutex mu_;   // guards shards_ and every shard's table (not the counters)
  std::vector<std::unique_ptr<shard>> shards_;
  // The last value reported per (kind, series): counters never go down.
  std::mutex report_mu_;
  std::map<std::string, std::array<std::uint64_t, 5>, std::less<>> last_;  // guarded by report_mu_
};

}  // namespace akt::otel::detail
