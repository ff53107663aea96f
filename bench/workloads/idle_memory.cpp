// idle_memory: measures the resident memory one idle actor costs. Reads
// VmRSS after the runtime has settled, spawns N actors that hold no state and
// only wait for a stop message, waits until each has run its initialization,
// settles again and reads VmRSS: bytes_per_actor = (after - before) / N,
// including main's one pid per actor. Then stops them all and waits until
// every one has terminated.
#include "common.hpp"
#include "telemetry_flags.hpp"

#include <atomic>

namespace {

struct stop_msg {};

// Incremented once by every idle actor's pre_start.
std::atomic<long long> started{0};

struct idle : akt::actor {
  akt::status pre_start(akt::context&) override {
    started.fetch_add(1, std::memory_order_relaxed);
    return {};
  }
  void receive(akt::context& ctx) override {
    if (ctx.message<stop_msg>()) ctx.stop_self();
  }
};

constexpr auto settle_time = std::chrono::milliseconds(200);

void wait_started(long long n) {
  if (!bench::wait_until([&] { return started.load(std::memory_order_relaxed) >= n; }, bench::wait_limit,
                         std::chrono::milliseconds(1))) {
    bench::fail("idle_memory: only " + std::to_string(started.load()) + " of " + std::to_string(n) +
                " actors started");
  }
}

// Waits until no more than `base` actors (those alive before the idle ones)
// remain.
void wait_terminated(akt::actor_system& sys, std::uint64_t base) {
  if (!bench::wait_until([&] { return sys.actor_count() <= base; }, bench::wait_limit,
                         std::chrono::milliseconds(1))) {
    bench::fail("idle_memory: " + std::to_string(sys.actor_count() - base) +
                " actors still alive after their stop message");
  }
}

}  // namespace

int main(int argc, char** argv) {
  const auto args =
      bench::parse_args(argc, argv, 100'000, {"--passivate", "--metrics", "--trace-1pct", "--trace-all"});
  const long long n = args.n;
  // --passivate: every actor has passivation on (60 s, never reached here),
  // to show it costs no memory beyond the target and no CPU while idle.
  const bool passivate = args.has("--passivate");

  auto sys = bench::start_system("idle_memory");
  bench::enable_telemetry(*sys, args);
  std::vector<akt::pid> actors;
  const std::uint64_t base = sys->actor_count();  // the runtime's own actors, if any

  std::this_thread::sleep_for(settle_time);
  const long long before_kb = bench::rss_kb();

  auto t0 = bench::clock_type::now();
  for (long long i = 0; i < n; ++i) {
    actors.push_back(bench::value_or_fail(
        passivate ? sys->spawn<idle>(akt::spawn_options{.passivate_after = std::chrono::seconds(60)})
                  : sys->spawn_anonymous<idle>(),
        "spawn idle actor"));
  }
  wait_started(n);
  const double spawn_s = bench::seconds_between(t0, bench::clock_type::now());
  const auto alive = static_cast<long long>(sys->actor_count() - base);

  std::this_thread::sleep_for(settle_time);
  const long long after_kb = bench::rss_kb();
  // CPU used by the whole process over one idle second, all actors alive.
  const double cpu_before = bench::process_cpu_seconds();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const double idle_cpu_ms = (bench::process_cpu_seconds() - cpu_before) * 1e3;

  auto t2 = bench::clock_type::now();
  for (auto& a : actors) bench::check_or_fail(a.tell(stop_msg{}), "tell stop");
  wait_terminated(*sys, base);
  const double stop_s = bench::seconds_between(t2, bench::clock_type::now());

  if (before_kb <= 0 || after_kb <= 0) bench::fail("idle_memory: cannot read VmRSS");
  if (alive != n) {
    bench::fail("idle_memory: actor_count() = " + std::to_string(alive) + " after spawning " +
                std::to_string(n));
  }
  actors.clear();
  bench::stop_system(*sys);

  const double per_actor = static_cast<double>(after_kb - before_kb) * 1024.0 / static_cast<double>(n);
  bench::bench_line("idle_memory", n)
      .metric("bytes_per_actor", per_actor, 0, "B")
      .extra("rss_before_kb", before_kb)
      .extra("rss_after_kb", after_kb)
      .extra("spawn_s", spawn_s, 4)
      .extra("stop_s", stop_s, 4)
      .extra("idle_cpu_ms", idle_cpu_ms, 2)
      .extra("passivation", passivate ? 1LL : 0LL)
      .extra("telemetry", bench::telemetry_mode(args))
      .print();
  return 0;
}
