// remote_tell: N one-way messages (32-byte payload) from process A to a
// counting actor in process B over 127.0.0.1; B answers once with (count,
// bytes). Timed from the first send to that answer. Sent from a plain
// thread (the shared harness's workload), or with --from-actor from inside
// one actor's handler, each tell then naming its sender.
#include "remote_common.hpp"

namespace {

class counter : public akt::actor {
 public:
  void receive(akt::context& ctx) override {
    if (auto* s = ctx.message<akt_bench::Start>()) {
      expected_ = s->n();
      report_to_ = ctx.sender();
      (void)ctx.reply(akt_bench::Done());  // the untimed handshake
    } else if (auto* p = ctx.message<akt_bench::Payload>()) {
      ++count_;
      bytes_ += static_cast<std::int64_t>(p->data().size());
      if (count_ == expected_) {
        akt_bench::Done d;
        d.set_count(count_);
        d.set_bytes(bytes_);
        (void)ctx.tell(report_to_, std::move(d));
      }
    }
  }

 private:
  std::int64_t expected_ = -1, count_ = 0, bytes_ = 0;
  akt::pid report_to_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "--server") {
    return bench::serve([](akt::actor_system& sys) { (void)sys.spawn<counter>("counter"); });
  }
  const auto args = bench::parse_args(argc, argv, 1'000'000, {"--from-actor"});
  const long long n = args.n;
  const bool from_actor = args.has("--from-actor");
  auto server = bench::start_server(argv[0], "remote_tell");
  auto sys = bench::start_system("client");
  bench::register_bench_messages(*sys);
  auto* node =
      bench::value_or_fail(akt::remote::remoting::enable(*sys, bench::node_options()), "enable remoting");

  auto target = bench::value_or_fail(
      node->lookup("127.0.0.1", server.port, "counter", std::chrono::seconds(10)), "lookup counter");
  // The reporter makes the untimed handshake (a request, so the counter
  // learns whom to tell at the end) and then waits for the final Done.
  bench::result_slot<bool> ready;
  bench::result_slot<akt_bench::Done> done;
  struct go {};
  struct stream {};
  akt_bench::Payload p;
  p.set_data(bench::payload_bytes());
  auto send_all = [&] {
    for (long long i = 0; i < n; ++i) {
      p.set_seq(i);
      bench::check_or_fail(target.tell(p), "remote tell");
    }
  };
  auto reporter = bench::value_or_fail(
      sys->spawn_fn("reporter",
                    [&](akt::context& ctx) {
                      if (ctx.message<stream>()) {
                        send_all();  // from inside this handler: each tell names the reporter
                      } else if (ctx.message<go>()) {
                        akt_bench::Start start;
                        start.set_n(n);
                        (void)ctx.request(
                            target, start, std::chrono::seconds(10),
                            [&ready](akt::context&, akt::result<akt::message> r) { ready.set(bool(r)); });
                      } else if (auto* d = ctx.message<akt_bench::Done>()) {
                        done.set(*d);
                      }
                    }),
      "spawn reporter");
  bench::check_or_fail(reporter.tell(go{}), "tell go");
  if (!bench::wait_or_fail(ready, "remote_tell handshake")) bench::fail("remote_tell: handshake failed");

  auto t0 = bench::clock_type::now();
  if (from_actor) {
    bench::check_or_fail(reporter.tell(stream{}), "tell stream");
  } else {
    send_all();
  }
  const akt_bench::Done d = bench::wait_or_fail(done, "remote_tell");
  auto t1 = bench::clock_type::now();

  if (d.count() != n || d.bytes() != 32 * n) {
    bench::fail("remote_tell: count " + std::to_string(d.count()) + " bytes " + std::to_string(d.bytes()));
  }
  bench::stop_system(*sys);
  bench::stop_server(server);
  const double s = bench::seconds_between(t0, t1);
  bench::bench_line("remote_tell", n)
      .metric("msgs_per_s", static_cast<double>(n) / s, 0, "msgs/s")
      .extra("elapsed_s", s, 4)
      .extra("count", static_cast<long long>(d.count()))
      .extra("payload_bytes", 32LL)
      .extra("from_actor", from_actor ? 1LL : 0LL)
      .print();
  return 0;
}
