// ask_latency: measures the round-trip latency of Akt's blocking ask from a
// thread that is not an actor (main) to an echo actor. N sequential asks,
// each carrying its sequence number and timed on its own from just before
// the request until the reply is in hand and checked; 1000 warm-up asks
// first, not recorded. Reports mean and nearest-rank p50 / p99.
#include "common.hpp"

namespace {

constexpr auto ask_timeout = std::chrono::seconds(10);

// Replies with the request.
struct echo : akt::actor {
  void receive(akt::context& ctx) override {
    if (auto* v = ctx.message<std::int64_t>()) ctx.reply(*v);
  }
};

// One checked round trip.
void round_trip(const akt::pid& target, std::int64_t seq) {
  auto r = target.ask<std::int64_t>(seq, ask_timeout);
  if (!r) bench::fail("ask_latency: ask " + std::to_string(seq) + ": " + r.error().to_string());
  if (*r != seq) {
    bench::fail("ask_latency: asked " + std::to_string(seq) + ", got " + std::to_string(*r));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const long long n = bench::parse_args(argc, argv, 100'000).n;

  auto sys = bench::start_system("ask_latency");
  auto target = bench::value_or_fail(sys->spawn_anonymous<echo>(), "spawn echo");

  for (int i = 1; i <= bench::latency_warmup; ++i) round_trip(target, -i);

  std::vector<double> samples_us;
  samples_us.reserve(static_cast<std::size_t>(n));
  auto start = bench::clock_type::now();
  for (long long i = 0; i < n; ++i) {
    auto t0 = bench::clock_type::now();
    round_trip(target, i);
    auto t1 = bench::clock_type::now();
    samples_us.push_back(bench::micros_between(t0, t1));
  }
  const double elapsed = bench::seconds_between(start, bench::clock_type::now());
  bench::stop_system(*sys);

  const auto st = bench::compute_latency(samples_us);
  bench::bench_line("ask_latency", n)
      .metric("mean_us", st.mean_us, 2, "us")
      .extra("p50_us", st.p50_us, 2)
      .extra("p99_us", st.p99_us, 2)
      .extra("elapsed_s", elapsed, 4)
      .print();
  return 0;
}
