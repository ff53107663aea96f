// machine_gaps: how much of each core the machine itself takes away. One
// thread per core, pinned to it, reads the clock in a loop for N
// milliseconds (default 1000) and counts the gaps between two reads of at
// least 5 µs: time the thread did not run (a hypervisor holding the vCPU,
// an interrupt, another thread). Run alone, between a benchmark's runs (it
// spins every core: beside a benchmark it would measure the benchmark), it
// shows how much a shared VM takes at the time: on the 2-vCPU machine of
// docs/benchmarks.md a quiet core loses 15–40 µs some 1,300 times a second,
// which is what puts a remote round trip's p99 at its p50 plus such a gap.
//
// Output: one BENCH line: gaps per second per core, the share of time lost,
// the gaps' p50 / p99 in µs (nearest rank over 1 µs buckets; 10 ms and
// longer share the last), and whether every thread got pinned to its core
// (if not, threads sharing a core count each other's turns as gaps). Not an
// Akt workload: no actor runs; the harness never calls it.
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

constexpr double min_gap_us = 5.0;
constexpr std::size_t buckets = 10'001;  // 1 µs each; the last holds 10 ms and longer

struct core_gaps {
  std::vector<std::uint64_t> histogram = std::vector<std::uint64_t>(buckets);  // gaps by whole µs
  std::uint64_t count = 0;
  double lost_us = 0;
  bool pinned = false;
};

core_gaps watch(unsigned core, std::chrono::milliseconds how_long) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  core_gaps out;
  out.pinned = pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
  const auto end = clock_type::now() + how_long;
  auto last = clock_type::now();
  for (;;) {
    const auto now = clock_type::now();
    const double gap = std::chrono::duration<double, std::micro>(now - last).count();
    if (gap >= min_gap_us) {
      ++out.histogram[std::min(static_cast<std::size_t>(gap), buckets - 1)];
      ++out.count;
      out.lost_us += gap;
    }
    last = now;
    if (now >= end) return out;
  }
}

// The bucket (µs) holding the gap of nearest rank p among `count`.
double nearest_rank(const std::vector<std::uint64_t>& histogram, std::uint64_t count, double p) {
  if (count == 0) return 0;
  const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(p / 100.0 * count)));
  std::uint64_t seen = 0;
  for (std::size_t us = 0; us < histogram.size(); ++us) {
    seen += histogram[us];
    if (seen >= rank) return static_cast<double>(us);
  }
  return static_cast<double>(histogram.size() - 1);
}

}  // namespace

int main(int argc, char** argv) {
  const long ms = argc >= 2 ? std::strtol(argv[1], nullptr, 10) : 1000;
  if (ms <= 0 || ms > 600'000) {
    std::fprintf(stderr, "FAIL: machine_gaps: give the duration in milliseconds, 1 to 600000\n");
    return 2;
  }
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  std::vector<core_gaps> results(cores);
  std::vector<std::thread> threads;
  for (unsigned c = 0; c < cores; ++c) {
    threads.emplace_back([&results, c, ms] { results[c] = watch(c, std::chrono::milliseconds(ms)); });
  }
  for (auto& t : threads) t.join();

  std::vector<std::uint64_t> all(buckets);
  std::uint64_t count = 0;
  double lost_us = 0;
  bool pinned = true;
  for (const auto& r : results) {
    for (std::size_t i = 0; i < buckets; ++i) all[i] += r.histogram[i];
    count += r.count;
    lost_us += r.lost_us;
    pinned = pinned && r.pinned;
  }
  const double seconds = static_cast<double>(ms) / 1000.0;
  const double per_core_per_s = static_cast<double>(count) / cores / seconds;
  const double lost_share = lost_us / (cores * seconds * 1e6);
  const double p50 = nearest_rank(all, count, 50), p99 = nearest_rank(all, count, 99);
  std::printf(
      "BENCH machine_gaps host %ld gaps_per_core_per_s=%.0f per_s lost_pct=%.2f gap_p50_us=%.0f "
      "gap_p99_us=%.0f cores=%u pinned=%d\n",
      ms, per_core_per_s, lost_share * 100.0, p50, p99, cores, pinned ? 1 : 0);
  return 0;
}
