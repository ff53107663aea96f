// fanout: one plain (non-actor) thread — a network reader, a feed handler —
// sends N small messages round robin to 60 actors, each of which does a
// small computation (a running checksum) per message. Measures the
// plain-thread send path: envelope, push, waking an idle actor and a parked
// worker. Each actor reports its count and checksum when it has seen its
// share; main stops the timer when all 60 have.
//
// Not one of the shared harness's workloads (issue 13 asks for it as our
// own): bench/caf/fanout.cpp is the same program on CAF 0.17.
#include "common.hpp"

#include <atomic>

namespace {

constexpr int actor_count = 60;

struct tick {
  std::uint64_t v;
};
struct totals {
  std::int64_t count;
  std::uint64_t checksum;
};

class worker : public akt::actor {
 public:
  worker(std::int64_t share, std::atomic<int>* finished, std::atomic<std::uint64_t>* checksum,
         bench::result_slot<bool>* all_done)
      : share_(share), finished_(finished), checksum_(checksum), all_done_(all_done) {}

  void receive(akt::context& ctx) override {
    if (ctx.message<tick>() == nullptr) return;  // matched: a handled message, not an unhandled one
    sum_ = sum_ * 31 + 7;                        // the small computation
    if (++count_ == share_) {
      checksum_->fetch_add(sum_, std::memory_order_relaxed);
      if (finished_->fetch_add(1, std::memory_order_acq_rel) + 1 == actor_count) all_done_->set(true);
    }
  }

 private:
  std::int64_t share_;
  std::int64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::atomic<int>* finished_;
  std::atomic<std::uint64_t>* checksum_;
  bench::result_slot<bool>* all_done_;
};

// The checksum every worker reaches after `share` ticks.
std::uint64_t expected_sum(std::int64_t share) {
  std::uint64_t s = 0;
  for (std::int64_t i = 0; i < share; ++i) s = s * 31 + 7;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const long long n = bench::parse_args(argc, argv, 10'000'000).n;
  if (n < actor_count) bench::fail("fanout: N must be >= 60");
  const std::int64_t share = n / actor_count;  // every actor gets the same share
  const long long sent = share * actor_count;

  std::atomic<int> finished{0};
  std::atomic<std::uint64_t> checksum{0};
  bench::result_slot<bool> all_done;
  auto sys = bench::start_system("fanout");
  std::vector<akt::pid> workers;
  for (int i = 0; i < actor_count; ++i)
    workers.push_back(bench::value_or_fail(
        sys->spawn_anonymous<worker>(share, &finished, &checksum, &all_done), "spawn worker"));

  auto t0 = bench::clock_type::now();
  for (std::int64_t i = 0; i < share; ++i)
    for (const akt::pid& w : workers)
      if (!w.tell(tick{static_cast<std::uint64_t>(i)})) bench::fail("fanout: tell failed");
  bench::wait_or_fail(all_done, "fanout");
  auto t1 = bench::clock_type::now();

  if (checksum.load() != expected_sum(share) * actor_count) bench::fail("fanout: wrong checksum");
  bench::stop_system(*sys);

  const double s = bench::seconds_between(t0, t1);
  bench::bench_line("fanout", sent)
      .metric("msgs_per_s", static_cast<double>(sent) / s, 0, "msgs/s")
      .extra("elapsed_s", s, 4)
      .extra("actors", static_cast<long long>(actor_count))
      .print();
  return 0;
}
