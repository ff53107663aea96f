// skynet: measures how fast Akt creates, runs and tears down actors. A 10-ary
// tree with N leaves (N a power of 10; 1,111,111 actors for the default
// 1,000,000) in which every actor is spawned by its parent. A leaf sends its
// ordinal to its parent and stops; an inner actor spawns 10 children, sums
// their 10 values, sends the sum to its parent and stops. The root reports
// to main. Timed from just before the root is spawned until main has the sum.
//
// Where an actor does its work (spawning children, or a leaf's send):
//   default          in receive of a start message its parent sends right
//                    after spawning it (main sends it to the root), so the
//                    subtrees grow on every worker at once, as CAF's spawned
//                    actors and Go's goroutines do; one more message per actor;
//   --in-pre-start   in pre_start, which spawn runs synchronously on the
//                    parent's thread (the whole tree is built depth-first by
//                    whoever spawns the root).
// The BENCH line says which with start_message=0|1.
#include "common.hpp"

namespace {

constexpr std::int64_t fanout = 10;

struct start {};
struct partial_sum {
  std::int64_t value;
};

class node : public akt::actor {
 public:
  // `root_out` is set for the root only: where it reports, instead of a parent.
  node(std::int64_t num, std::int64_t size, bool start_message, bench::result_slot<std::int64_t>* root_out)
      : num_(num), size_(size), start_message_(start_message), root_out_(root_out) {}

  akt::status pre_start(akt::context& ctx) override {
    if (!start_message_) run(ctx);
    return {};
  }

  void receive(akt::context& ctx) override {
    if (auto* p = ctx.message<partial_sum>()) {
      sum_ += p->value;
      if (--pending_ == 0) finish(ctx, sum_);
    } else if (ctx.message<start>()) {
      run(ctx);
    }
  }

 private:
  // A leaf reports its ordinal; an inner node spawns its children.
  void run(akt::context& ctx) {
    if (size_ == 1) {
      finish(ctx, num_);
      return;
    }
    const std::int64_t child_size = size_ / fanout;
    for (std::int64_t i = 0; i < fanout; ++i) {
      auto child = bench::value_or_fail(
          ctx.spawn_anonymous<node>(num_ + i * child_size, child_size, start_message_, nullptr),
          "skynet: spawn child");
      if (start_message_) ctx.tell(child, start{});
    }
  }

  void finish(akt::context& ctx, std::int64_t v) {
    if (root_out_ != nullptr) {
      root_out_->set(v);
    } else if (!ctx.tell(ctx.parent(), partial_sum{v})) {
      bench::fail("skynet: tell to parent failed");
    }
    ctx.stop_self();
  }

  std::int64_t num_;
  std::int64_t size_;
  bool start_message_;
  bench::result_slot<std::int64_t>* root_out_;
  std::int64_t sum_ = 0;
  std::int64_t pending_ = fanout;
};

// Actors in the tree (N + N/10 + ... + 1); FAIL unless N is a power of 10.
long long tree_size(long long n) {
  long long total = 0;
  for (long long level = n;; level /= fanout) {
    total += level;
    if (level == 1) return total;
    if (level % fanout != 0) bench::fail("skynet: N must be a power of 10");
  }
}

}  // namespace

int main(int argc, char** argv) {
  const auto args = bench::parse_args(argc, argv, 1'000'000, {"--in-pre-start"});
  const long long n = args.n;
  const bool start_message = !args.has("--in-pre-start");
  const long long total = tree_size(n);
  const std::int64_t expected = static_cast<std::int64_t>(n) * (n - 1) / 2;

  bench::result_slot<std::int64_t> root_sum;
  auto sys = bench::start_system("skynet");

  auto t0 = bench::clock_type::now();
  auto root = bench::value_or_fail(
      sys->spawn_anonymous<node>(std::int64_t{0}, static_cast<std::int64_t>(n), start_message, &root_sum),
      "skynet: spawn root");
  if (start_message) bench::check_or_fail(root.tell(start{}), "skynet: tell start");
  const std::int64_t sum = bench::wait_or_fail(root_sum, "skynet");
  auto t1 = bench::clock_type::now();

  if (sum != expected) {
    bench::fail("skynet: sum " + std::to_string(sum) + ", expected " + std::to_string(expected));
  }
  bench::stop_system(*sys);

  const double s = bench::seconds_between(t0, t1);
  bench::bench_line("skynet", n)
      .metric("seconds", s, 4, "s")
      .extra("actors_per_s", static_cast<double>(total) / s, 0)
      .extra("actors", total)
      .extra("sum", static_cast<long long>(sum))
      .extra("start_message", start_message ? 1LL : 0LL)
      .print();
  return 0;
}
