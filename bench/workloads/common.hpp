// Shared helpers for Akt's peer benchmarks (see /work/shared/peers/README.md
// for the workloads): argument parsing, timing on steady_clock, the BENCH
// output line, FAIL handling, nearest-rank percentiles, VmRSS, a bounded
// hand-over of one result from an actor to main, and actor-system set-up.
#pragma once

#include <sys/resource.h>

#include <akt/akt.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace bench {

// User + system CPU time of the whole process so far.
inline double process_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto sec = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

using clock_type = std::chrono::steady_clock;

// The peer label in every BENCH line.
inline constexpr std::string_view peer = "akt";

// Every wait of a benchmark is bounded by this (the harness kills a run
// after 120 s anyway; failing first gives a clearer message).
inline constexpr auto wait_limit = std::chrono::seconds(110);

// Round trips run before the recorded ones in the latency workloads.
inline constexpr int latency_warmup = 1000;

inline double seconds_between(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

inline double micros_between(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

// ------------------------------------------------------------------ failure

// Run by fail() before it exits, when set: since no destructors run, a
// benchmark that started servers of its own (the cluster ones start etcd)
// stops them here rather than leave them running.
inline void (*on_fail)() = nullptr;

// Prints "FAIL: <what>" to stderr and exits with status 1, from any thread
// (no destructors run, so a wedged runtime cannot hang the exit).
[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "FAIL: %s\n", what.c_str());
  if (on_fail != nullptr) on_fail();
  std::fflush(stderr);
  std::fflush(stdout);
  std::_Exit(1);
}

// The value of an Akt result, or FAIL naming what was attempted.
template <class T>
T value_or_fail(akt::result<T> r, std::string_view what) {
  if (!r) fail(std::string(what) + ": " + r.error().to_string());
  return std::move(r).value();
}

inline void check_or_fail(const akt::status& s, std::string_view what) {
  if (!s) fail(std::string(what) + ": " + s.error().to_string());
}

// ------------------------------------------------------------------ arguments

// Command line: [N] [--flag ...]. N is the first positional argument.
struct arguments {
  long long n = 0;
  std::vector<std::string> flags;

  bool has(std::string_view flag) const { return std::find(flags.begin(), flags.end(), flag) != flags.end(); }
};

inline long long parse_positive(const char* text) {
  char* end = nullptr;
  long long v = std::strtoll(text, &end, 10);
  if (end == text || *end != '\0' || v <= 0) {
    std::fprintf(stderr, "invalid N: %s\n", text);
    std::exit(2);
  }
  return v;
}

// Parses N (default `default_n`) and the flags in `known`; anything else is a
// usage error (exit 2).
inline arguments parse_args(int argc, char** argv, long long default_n,
                            std::initializer_list<std::string_view> known = {}) {
  arguments args;
  args.n = default_n;
  bool have_n = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a.starts_with("--")) {
      if (std::find(known.begin(), known.end(), a) == known.end()) {
        std::fprintf(stderr, "unknown option: %s\n", argv[i]);
        std::exit(2);
      }
      args.flags.emplace_back(a);
    } else if (!have_n) {
      args.n = parse_positive(argv[i]);
      have_n = true;
    } else {
      std::fprintf(stderr, "unexpected argument: %s\n", argv[i]);
      std::exit(2);
    }
  }
  return args;
}

// ------------------------------------------------------------------ output

// Builds "BENCH <workload> akt <N> <metric>=<v> <unit> [<key>=<number> ...]".
class bench_line {
 public:
  bench_line(std::string_view workload, long long n) {
    text_ = "BENCH " + std::string(workload) + " " + std::string(peer) + " " + std::to_string(n);
  }

  // The primary metric; call once, first.
  bench_line& metric(std::string_view key, double v, int decimals, std::string_view unit) {
    add(key, format(v, decimals));
    text_ += " ";
    text_ += unit;
    return *this;
  }
  // A secondary latency metric or an extra (after the unit: key=number only).
  bench_line& extra(std::string_view key, double v, int decimals) {
    add(key, format(v, decimals));
    return *this;
  }
  bench_line& extra(std::string_view key, long long v) {
    add(key, std::to_string(v));
    return *this;
  }

  // The one line on stdout.
  void print() const {
    std::printf("%s\n", text_.c_str());
    std::fflush(stdout);
  }

 private:
  static std::string format(double v, int decimals) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
  }
  void add(std::string_view key, const std::string& v) {
    text_ += " ";
    text_ += key;
    text_ += "=";
    text_ += v;
  }

  std::string text_;
};

// ------------------------------------------------------------------ statistics

struct latency_stats {
  double mean_us = 0;
  double p50_us = 0;
  double p99_us = 0;
};

// Nearest rank over n samples: pX = sorted[ceil(X/100 * n) - 1] (0-based).
inline double nearest_rank(const std::vector<double>& sorted, double percent) {
  auto n = static_cast<double>(sorted.size());
  auto k = static_cast<std::size_t>(std::ceil(percent / 100.0 * n));
  return sorted[k == 0 ? 0 : k - 1];
}

// Sorts `samples_us` in place.
inline latency_stats compute_latency(std::vector<double>& samples_us) {
  latency_stats r;
  if (samples_us.empty()) return r;
  std::sort(samples_us.begin(), samples_us.end());
  double sum = 0;
  for (double x : samples_us) sum += x;
  r.mean_us = sum / static_cast<double>(samples_us.size());
  r.p50_us = nearest_rank(samples_us, 50);
  r.p99_us = nearest_rank(samples_us, 99);
  return r;
}

// ------------------------------------------------------------------ memory

// VmRSS of this process in KiB (from /proc/self/status), or -1.
inline long long rss_kb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6);
  }
  return -1;
}

// ------------------------------------------------------------------ waiting

// One value handed from an actor (any thread) to main, which waits for it
// with a deadline. Create it before the actor system so that it outlives
// every actor that holds a pointer to it.
template <class T>
class result_slot {
 public:
  void set(T v) {
    std::lock_guard lock(mutex_);
    value_ = std::move(v);
    ready_.notify_one();  // under the lock: main may destroy us once it sees the value
  }

  // The value, or nullopt if none came within `timeout`.
  std::optional<T> wait_for(std::chrono::nanoseconds timeout) {
    std::unique_lock lock(mutex_);
    ready_.wait_for(lock, timeout, [&] { return value_.has_value(); });
    return value_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::optional<T> value_;
};

// The value set in `slot`, or FAIL "<what>: timeout" after wait_limit.
template <class T>
T wait_or_fail(result_slot<T>& slot, std::string_view what) {
  auto v = slot.wait_for(wait_limit);
  if (!v) fail(std::string(what) + ": timeout");
  return std::move(*v);
}

// Polls `done()` every `period` until it holds or `timeout` passes; returns
// whether it held.
template <class Pred>
bool wait_until(Pred done, std::chrono::nanoseconds timeout,
                std::chrono::microseconds period = std::chrono::microseconds(500)) {
  auto deadline = clock_type::now() + timeout;
  while (!done()) {
    if (clock_type::now() >= deadline) return false;
    std::this_thread::sleep_for(period);
  }
  return true;
}

// ------------------------------------------------------------------ system

// A started system with the default configuration (workers = hardware
// threads; AKT_BENCH_WORKERS=n in the environment sets n, for experiments).
// Logs are discarded unless AKT_BENCH_LOG is set in the environment, which
// sends them to stderr at info level.
inline std::unique_ptr<akt::actor_system> start_system(std::string_view name) {
  auto logger = std::getenv("AKT_BENCH_LOG") ? akt::make_stderr_logger(akt::log_level::info)
                                             : akt::make_discard_logger();
  const char* workers = std::getenv("AKT_BENCH_WORKERS");
  auto sys = value_or_fail(
      akt::actor_system::create(
          name, {.workers = workers ? std::strtoul(workers, nullptr, 10) : 0, .logger = std::move(logger)}),
      "create actor system");
  check_or_fail(sys->start(), "start actor system");
  return sys;
}

// Stops every actor and joins the workers; FAIL if that does not finish.
inline void stop_system(akt::actor_system& sys) {
  check_or_fail(sys.stop(), "stop actor system");
}

}  // namespace bench
