// fanin: measures the rate at which one counting actor takes in N small
// messages that 4 producer actors send it as fast as they can (plain tells,
// no flow control, no batching). Producer p sends 1..share(p); the counter
// checks the count and the sum.
#include "common.hpp"
#include "telemetry_flags.hpp"

namespace {

constexpr int producer_count = 4;

struct start {};
struct value {
  std::int64_t v;
};
struct totals {
  std::int64_t count;
  std::int64_t sum;
};

// Counts and sums values; hands (count, sum) to main at the N-th.
class counter : public akt::actor {
 public:
  counter(std::int64_t expected, bench::result_slot<totals>* done) : expected_(expected), done_(done) {}

  void receive(akt::context& ctx) override {
    if (auto* m = ctx.message<value>()) {
      ++count_;
      sum_ += m->v;
      if (count_ == expected_) {
        done_->set(totals{count_, sum_});
        ctx.stop_self();
      }
    }
  }

 private:
  std::int64_t expected_;
  std::int64_t count_ = 0;
  std::int64_t sum_ = 0;
  bench::result_slot<totals>* done_;
};

// On start, sends 1..share to the counter in a tight loop.
class producer : public akt::actor {
 public:
  producer(akt::pid sink, std::int64_t share) : sink_(std::move(sink)), share_(share) {}

  void receive(akt::context& ctx) override {
    if (!ctx.message<start>()) return;
    for (std::int64_t i = 1; i <= share_; ++i) {
      if (!ctx.tell(sink_, value{i})) bench::fail("fanin: tell to the counter failed");
    }
    ctx.stop_self();
  }

 private:
  akt::pid sink_;
  std::int64_t share_;
};

std::int64_t share_of(long long n, int p) {
  return n / producer_count + (p < n % producer_count ? 1 : 0);
}

}  // namespace

int main(int argc, char** argv) {
  const auto args = bench::parse_args(argc, argv, 10'000'000, {"--metrics", "--trace-1pct", "--trace-all"});
  const long long n = args.n;

  bench::result_slot<totals> done;
  auto sys = bench::start_system("fanin");
  bench::enable_telemetry(*sys, args);
  auto sink = bench::value_or_fail(sys->spawn_anonymous<counter>(n, &done), "spawn counter");
  std::vector<akt::pid> producers;
  std::int64_t expected_sum = 0;
  for (int p = 0; p < producer_count; ++p) {
    const std::int64_t share = share_of(n, p);
    expected_sum += share * (share + 1) / 2;
    producers.push_back(bench::value_or_fail(sys->spawn_anonymous<producer>(sink, share), "spawn producer"));
  }

  auto t0 = bench::clock_type::now();
  for (auto& p : producers) bench::check_or_fail(p.tell(start{}), "tell start");
  const totals got = bench::wait_or_fail(done, "fanin");
  auto t1 = bench::clock_type::now();

  if (got.count != n || got.sum != expected_sum) {
    bench::fail("fanin: count=" + std::to_string(got.count) + " sum=" + std::to_string(got.sum) +
                ", expected count=" + std::to_string(n) + " sum=" + std::to_string(expected_sum));
  }
  bench::stop_system(*sys);

  const double s = bench::seconds_between(t0, t1);
  bench::bench_line("fanin", n)
      .metric("msgs_per_s", static_cast<double>(n) / s, 0, "msgs/s")
      .extra("elapsed_s", s, 4)
      .extra("count", static_cast<long long>(got.count))
      .extra("producers", static_cast<long long>(producer_count))
      .extra("telemetry", bench::telemetry_mode(args))
      .print();
  return 0;
}
