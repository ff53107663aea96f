// machine_gaps: how much of each core the machine itself takes away. One
// thread per core, pinned to it, reads the clock in a loop for N
// milliseconds (default 1000) and counts the gaps between two reads of at
// least 5 µs: time the thread did not run (a hypervisor holding the vCPU,
// an interrupt, another thread). Run beside a benchmark's runs, it tells a
// slow phase of a shared VM from a slow change: on the 2-vCPU machine of
// docs/benchmarks.md a quiet core loses 20–40 µs some 1,300 times a second,
// which is what puts a remote round trip's p99 at its p50 plus such a gap.
//
// Output: one BENCH line, gaps per second per core, the share of time lost,
// and the gaps' p50 / p99 (nearest rank) in µs. Not an Akt workload: no
// actor runs; the harness never calls it.
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

struct core_gaps {
  std::vector<double> gaps_us;  // each gap of at least min_gap_us
  double lost_us = 0;
};

constexpr double min_gap_us = 5.0;

core_gaps watch(unsigned core, std::chrono::milliseconds how_long) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);  // unpinned, it still measures
  core_gaps out;
  out.gaps_us.reserve(16384);
  const auto end = clock_type::now() + how_long;
  auto last = clock_type::now();
  for (;;) {
    const auto now = clock_type::now();
    const double gap = std::chrono::duration<double, std::micro>(now - last).count();
    if (gap >= min_gap_us) {
      if (out.gaps_us.size() < out.gaps_us.capacity()) out.gaps_us.push_back(gap);
      out.lost_us += gap;
    }
    last = now;
    if (now >= end) return out;
  }
}

double nearest_rank(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size()) + 0.999999);
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
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

  std::vector<double> all;
  double lost_us = 0;
  for (auto& r : results) {
    all.insert(all.end(), r.gaps_us.begin(), r.gaps_us.end());
    lost_us += r.lost_us;
  }
  const double seconds = static_cast<double>(ms) / 1000.0;
  const double per_core_per_s = static_cast<double>(all.size()) / cores / seconds;
  const double lost_share = lost_us / (cores * seconds * 1e6);
  const double p50 = nearest_rank(all, 50), p99 = nearest_rank(all, 99);
  std::printf(
      "BENCH machine_gaps host %ld gaps_per_core_per_s=%.0f per_s lost_pct=%.2f gap_p50_us=%.1f "
      "gap_p99_us=%.1f cores=%u\n",
      ms, per_core_per_s, lost_share * 100.0, p50, p99, cores);
  return 0;
}
