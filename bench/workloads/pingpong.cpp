// pingpong: measures the message rate of two actors that exchange N messages
// strictly alternately (exactly one in flight). N counts pings and pongs, so
// R = floor(N/2) round trips; ping checks every sequence number and hands
// done(R) to main, which stops the timer.
#include "common.hpp"
#include "telemetry_flags.hpp"

namespace {

struct start {};
struct ping {
  std::int64_t i;
};
struct pong {
  std::int64_t i;
};

// Answers every ping(i) with pong(i) to its sender.
struct ponger : akt::actor {
  void receive(akt::context& ctx) override {
    if (auto* p = ctx.message<ping>()) ctx.reply(pong{p->i});
  }
};

class pinger : public akt::actor {
 public:
  pinger(akt::pid pong_pid, std::int64_t rounds, bench::result_slot<std::int64_t>* done)
      : pong_(std::move(pong_pid)), rounds_(rounds), done_(done) {}

  void receive(akt::context& ctx) override {
    if (ctx.message<start>()) {
      send_ping(ctx, 1);
    } else if (auto* p = ctx.message<pong>()) {
      on_pong(ctx, p->i);
    }
  }

 private:
  void on_pong(akt::context& ctx, std::int64_t i) {
    if (i != expected_)
      bench::fail("pingpong: pong " + std::to_string(i) + ", expected " + std::to_string(expected_));
    if (i == rounds_) {
      done_->set(i);
      ctx.stop_self();
      return;
    }
    send_ping(ctx, i + 1);
  }

  void send_ping(akt::context& ctx, std::int64_t i) {
    expected_ = i;
    ctx.tell(pong_, ping{i});
  }

  akt::pid pong_;
  std::int64_t rounds_;
  std::int64_t expected_ = 0;
  bench::result_slot<std::int64_t>* done_;
};

}  // namespace

int main(int argc, char** argv) {
  const auto args =
      bench::parse_args(argc, argv, 5'000'000, {"--passivate", "--metrics", "--trace-1pct", "--trace-all"});
  const long long n = args.n;
  // --passivate: both actors have passivation on (60 s, never reached), to
  // measure what it costs per message.
  const akt::spawn_options opts{.passivate_after = args.has("--passivate") ? std::chrono::milliseconds(60'000)
                                                                           : std::chrono::milliseconds(0)};
  const std::int64_t rounds = n / 2;
  if (rounds < 1) bench::fail("pingpong: N must be >= 2");

  bench::result_slot<std::int64_t> done;
  auto sys = bench::start_system("pingpong");
  bench::enable_telemetry(*sys, args);
  auto pong_pid = bench::value_or_fail(sys->spawn<ponger>(opts), "spawn pong");
  auto ping_pid = bench::value_or_fail(sys->spawn<pinger>(opts, pong_pid, rounds, &done), "spawn ping");

  auto t0 = bench::clock_type::now();
  bench::check_or_fail(ping_pid.tell(start{}), "tell start");
  const std::int64_t got = bench::wait_or_fail(done, "pingpong");
  auto t1 = bench::clock_type::now();

  if (got != rounds)
    bench::fail("pingpong: done(" + std::to_string(got) + "), expected " + std::to_string(rounds));
  bench::stop_system(*sys);

  const double s = bench::seconds_between(t0, t1);
  bench::bench_line("pingpong", n)
      .metric("msgs_per_s", 2.0 * static_cast<double>(rounds) / s, 0, "msgs/s")
      .extra("elapsed_s", s, 4)
      .extra("round_trips", static_cast<long long>(rounds))
      .extra("passivation", args.has("--passivate") ? 1LL : 0LL)
      .extra("telemetry", bench::telemetry_mode(args))
      .print();
  return 0;
}
