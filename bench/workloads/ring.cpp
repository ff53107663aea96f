// ring: measures actor-to-actor hops per second. 1000 actors form a ring
// (member i knows member (i+1) mod 1000); main hands token(N) to member 0 and
// the token travels exactly N hops, counting down. The member that gets
// token(0) tells main, which checks that it is member N mod 1000. Building
// the ring is not timed.
#include "common.hpp"

namespace {

constexpr int ring_size = 1000;

struct set_next {
  akt::pid next;
};
struct ack {};
struct token {
  std::int64_t remaining;
};

class member : public akt::actor {
 public:
  member(int index, bench::result_slot<int>* done) : index_(index), done_(done) {}

  void receive(akt::context& ctx) override {
    if (auto* t = ctx.message<token>()) {
      if (t->remaining == 0) {
        done_->set(index_);
      } else {
        ctx.tell(next_, token{t->remaining - 1});
      }
    } else if (auto* s = ctx.message<set_next>()) {
      next_ = std::move(s->next);
      ctx.reply(ack{});
    }
  }

 private:
  int index_;
  akt::pid next_;
  bench::result_slot<int>* done_;
};

// Spawns the members, then links each to its successor; every link is
// acknowledged, so the ring is complete before the timed section.
std::vector<akt::pid> build_ring(akt::actor_system& sys, bench::result_slot<int>* done) {
  std::vector<akt::pid> members;
  members.reserve(ring_size);
  for (int i = 0; i < ring_size; ++i) {
    members.push_back(bench::value_or_fail(sys.spawn_anonymous<member>(i, done), "spawn member"));
  }
  for (int i = 0; i < ring_size; ++i) {
    auto r = members[i].ask<ack>(set_next{members[(i + 1) % ring_size]}, std::chrono::seconds(10));
    bench::value_or_fail(std::move(r), "link ring member");
  }
  return members;
}

}  // namespace

int main(int argc, char** argv) {
  const long long n = bench::parse_args(argc, argv, 4'000'000).n;

  bench::result_slot<int> done;
  auto sys = bench::start_system("ring");
  auto members = build_ring(*sys, &done);

  auto t0 = bench::clock_type::now();
  bench::check_or_fail(members[0].tell(token{n}), "tell token");
  const int last = bench::wait_or_fail(done, "ring");
  auto t1 = bench::clock_type::now();

  if (last != n % ring_size) {
    bench::fail("ring: token ended at member " + std::to_string(last) + ", expected " +
                std::to_string(n % ring_size));
  }
  bench::stop_system(*sys);

  const double s = bench::seconds_between(t0, t1);
  bench::bench_line("ring", n)
      .metric("hops_per_s", static_cast<double>(n) / s, 0, "hops/s")
      .extra("elapsed_s", s, 4)
      .extra("ring_size", static_cast<long long>(ring_size))
      .print();
  return 0;
}
