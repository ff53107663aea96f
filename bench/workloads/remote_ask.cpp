// remote_ask: N sequential request/response round trips from the main
// thread of process A to an echo actor in process B over 127.0.0.1; each
// request carries a sequence number and a 32-byte payload, echoed back.
#include <algorithm>
#include <cmath>
#include <vector>

#include "remote_common.hpp"

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "--server") {
    return bench::serve([](akt::actor_system& sys) {
      (void)sys.spawn_fn("echo", [](akt::context& ctx) {
        if (auto* p = ctx.message<akt_bench::Payload>()) (void)ctx.reply(*p);
      });
    });
  }
  const long long n = bench::parse_args(argc, argv, 30'000).n;
  auto server = bench::start_server(argv[0], "remote_ask");
  auto sys = bench::start_system("client");
  bench::register_bench_messages(*sys);
  auto* node =
      bench::value_or_fail(akt::remote::remoting::enable(*sys, bench::node_options()), "enable remoting");
  auto echo = bench::value_or_fail(node->lookup("127.0.0.1", server.port, "echo", std::chrono::seconds(10)),
                                   "lookup echo");

  akt_bench::Payload req;
  req.set_data(bench::payload_bytes());
  auto round_trip = [&](long long seq) {
    req.set_seq(seq);
    auto r = echo.ask<akt_bench::Payload>(req, std::chrono::seconds(10));
    if (!r) bench::fail("remote_ask: " + r.error().to_string());
    if (r->seq() != seq || r->data() != req.data()) bench::fail("remote_ask: wrong echo");
  };
  for (long long i = 0; i < 1000; ++i) round_trip(-1 - i);  // warm-up, not recorded

  std::vector<double> us(static_cast<std::size_t>(n));
  auto t0 = bench::clock_type::now();
  for (long long i = 0; i < n; ++i) {
    auto a = bench::clock_type::now();
    round_trip(i);
    us[static_cast<std::size_t>(i)] =
        std::chrono::duration<double, std::micro>(bench::clock_type::now() - a).count();
  }
  const double elapsed = bench::seconds_between(t0, bench::clock_type::now());
  bench::stop_system(*sys);
  bench::stop_server(server);

  if (const char* dump = std::getenv("AKT_BENCH_DUMP")) {
    if (FILE* f = std::fopen(dump, "w")) {
      for (double v : us) std::fprintf(f, "%.2f\n", v);
      std::fclose(f);
    }
  }
  double sum = 0;
  for (double v : us) sum += v;
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) { return us[static_cast<std::size_t>(std::ceil(p / 100.0 * double(n))) - 1]; };
  bench::bench_line("remote_ask", n)
      .metric("mean_us", sum / double(n), 2, "us")
      .extra("p50_us", pct(50), 2)
      .extra("p99_us", pct(99), 2)
      .extra("elapsed_s", elapsed, 4)
      .print();
  return 0;
}
