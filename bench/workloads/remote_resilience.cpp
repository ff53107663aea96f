// remote_resilience: the figures of the remote-hardening issue, two
// processes over 127.0.0.1 (not a peer workload; run by hand):
//
//   flood   a sender floods an actor that takes 1 ms per message for 5 s
//           while a second actor on the same connection answers asks:
//           tells refused with backpressure, the slow actor's mailbox and
//           the receiver's RSS at most, the other actor's ask latency.
//   freeze  the receiver is stopped (SIGSTOP) while the sender tells, waits
//           on 20 asks and watches an actor: time until node down, until
//           the asks fail and until the watcher hears Terminated.
//
//   akt_bench_remote_resilience            # both
#include <atomic>
#include <fstream>

#include "remote_common.hpp"

namespace {

using namespace std::chrono_literals;

struct go_watch {};

using bench::rss_kb;

akt::remote::remoting_options options() {
  auto o = bench::node_options();
  o.backpressure_wait = 0ms;  // refusals are what the flood measures
  o.heartbeat_interval = 200ms;
  return o;
}

int serve() {
  auto sys = bench::start_system("server");
  bench::register_bench_messages(*sys);
  auto slow = sys->spawn_fn("slow", [](akt::context& ctx) {
    if (ctx.is<akt_bench::Payload>()) std::this_thread::sleep_for(1ms);  // a slow consumer
  });
  (void)sys->spawn_fn("echo", [](akt::context& ctx) {
    if (ctx.is<akt_bench::Payload>()) (void)ctx.reply(akt_bench::Done());
  });
  auto held = std::make_shared<std::vector<akt::response_promise>>();
  (void)sys->spawn_fn("mute", [held](akt::context& ctx) {  // takes asks, never answers
    if (ctx.is<akt_bench::Payload>()) held->push_back(ctx.make_response_promise().value());
  });
  (void)sys->spawn_fn("stats", [slow = *slow](akt::context& ctx) {  // the slow mailbox and this RSS
    if (ctx.is<akt_bench::Start>()) {
      akt_bench::Done d;
      d.set_count(static_cast<std::int64_t>(slow.metrics().mailbox_size));
      d.set_bytes(rss_kb());
      (void)ctx.reply(std::move(d));
    }
  });
  auto node = akt::remote::remoting::enable(*sys, options());
  if (!node) bench::fail("server: " + node.error().to_string());
  std::printf("PORT %u\n", static_cast<unsigned>((*node)->port()));
  std::fflush(stdout);
  char c;
  while (read(STDIN_FILENO, &c, 1) > 0) {
  }
  bench::stop_system(*sys);
  return 0;
}

akt_bench::Done stats(const akt::pid& s) {
  return bench::value_or_fail(s.ask<akt_bench::Done>(akt_bench::Start(), 10s), "stats");
}

void flood(const char* argv0) {
  auto server = bench::start_server(argv0, "flood");
  auto sys = bench::start_system("client");
  bench::register_bench_messages(*sys);
  auto* node = bench::value_or_fail(akt::remote::remoting::enable(*sys, options()), "enable");
  auto slow = bench::value_or_fail(node->lookup("127.0.0.1", server.port, "slow", 10s), "lookup slow");
  auto echo = bench::value_or_fail(node->lookup("127.0.0.1", server.port, "echo", 10s), "lookup echo");
  auto st = bench::value_or_fail(node->lookup("127.0.0.1", server.port, "stats", 10s), "lookup stats");
  const long long rss_before = stats(st).bytes();
  const long long client_before = rss_kb();

  std::atomic<bool> stop{false};
  std::vector<double> latencies;
  std::thread asker([&] {
    akt_bench::Payload p;
    while (!stop.load()) {
      const auto t0 = bench::clock_type::now();
      if (echo.ask<akt_bench::Done>(p, 5s))
        latencies.push_back(bench::micros_between(t0, bench::clock_type::now()));
      std::this_thread::sleep_for(5ms);  // pacing, 200 asks a second
    }
  });
  akt_bench::Payload p;
  p.set_data(bench::payload_bytes());
  long long ok = 0, refused = 0, other = 0;
  std::int64_t max_mailbox = 0;
  long long max_rss = 0;
  const auto end = bench::clock_type::now() + 5s;
  auto next_sample = bench::clock_type::now();
  while (bench::clock_type::now() < end) {
    for (int i = 0; i < 1000; ++i) {
      auto s = slow.tell(p);
      if (s) {
        ++ok;
      } else if (s.code() == akt::errc::backpressure) {
        ++refused;
      } else {
        ++other;
      }
    }
    if (bench::clock_type::now() >= next_sample) {
      auto d = stats(st);
      max_mailbox = std::max<std::int64_t>(max_mailbox, d.count());
      max_rss = std::max<long long>(max_rss, d.bytes());
      next_sample += 250ms;
    }
  }
  stop = true;
  asker.join();
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double q) {
    return latencies.empty() ? 0.0 : latencies[static_cast<std::size_t>(q * (latencies.size() - 1))];
  };
  std::printf(
      "flood (5 s at a 1 ms/message actor): tells ok %lld, refused with backpressure %lld, other errors "
      "%lld\n"
      "  slow actor's mailbox at most %lld messages; receiver RSS %lld -> at most %lld KiB; sender RSS %lld "
      "-> %lld KiB\n"
      "  the other actor on the same connection meanwhile: %zu asks, p50 %.0f us, p99 %.0f us\n",
      ok, refused, other, static_cast<long long>(max_mailbox), rss_before, max_rss, client_before, rss_kb(),
      latencies.size(), pct(0.5), pct(0.99));
  bench::stop_system(*sys);
  bench::stop_server(server);
}

void freeze(const char* argv0) {
  auto server = bench::start_server(argv0, "freeze");
  auto sys = bench::start_system("client");
  bench::register_bench_messages(*sys);
  auto* node = bench::value_or_fail(akt::remote::remoting::enable(*sys, options()), "enable");
  auto slow = bench::value_or_fail(node->lookup("127.0.0.1", server.port, "slow", 10s), "lookup slow");
  auto mute = bench::value_or_fail(node->lookup("127.0.0.1", server.port, "mute", 10s), "lookup mute");
  std::atomic<long long> down_at_us{0}, terminated_at_us{0};
  const auto t_origin = bench::clock_type::now();
  auto since = [&] {
    return static_cast<long long>(bench::micros_between(t_origin, bench::clock_type::now()));
  };
  auto watcher = bench::value_or_fail(sys->spawn_fn("watcher",
                                                    [&, slow](akt::context& ctx) {
                                                      if (ctx.is<go_watch>()) (void)ctx.watch(slow);
                                                      if (ctx.is<akt::terminated>())
                                                        terminated_at_us = since();
                                                      if (auto* e = ctx.message<akt::system_event>()) {
                                                        if (e->kind == akt::event_kind::node_down)
                                                          down_at_us = since();
                                                      }
                                                    }),
                                      "watcher");
  (void)watcher.tell(go_watch{});
  (void)sys->subscribe(watcher);
  std::this_thread::sleep_for(100ms);  // the watch reaches the server (pacing)
  std::vector<std::thread> askers;
  std::atomic<int> failed{0};
  std::atomic<long long> last_failure_us{0};
  for (int i = 0; i < 20; ++i) {
    askers.emplace_back([&] {
      auto r = mute.ask(akt_bench::Payload(), 30s);
      if (!r) {
        ++failed;
        last_failure_us = since();
      }
    });
  }
  std::this_thread::sleep_for(100ms);
  kill(server.pid, SIGSTOP);
  const long long stopped_at = since();
  akt_bench::Payload p;
  p.set_data(bench::payload_bytes());
  long long ok = 0, errors = 0;
  while (since() - stopped_at < 4'000'000 && (down_at_us == 0 || terminated_at_us == 0 || failed < 20)) {
    if (slow.tell(p))
      ++ok;
    else
      ++errors;
  }
  for (auto& t : askers) t.join();
  auto ms = [&](long long at) { return at == 0 ? -1.0 : static_cast<double>(at - stopped_at) / 1000.0; };
  std::printf(
      "freeze (heartbeat 200 ms, 3 silent intervals = 600 ms): node down after %.0f ms, watcher's Terminated "
      "after "
      "%.0f ms, %d/20 asks failed, the last after %.0f ms\n"
      "  tells meanwhile: %lld ok, %lld refused; client dead letters %llu\n",
      ms(down_at_us), ms(terminated_at_us), failed.load(), ms(last_failure_us), ok, errors,
      static_cast<unsigned long long>(sys->dead_letters()));
  kill(server.pid, SIGCONT);
  bench::stop_system(*sys);
  bench::stop_server(server);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "--server") return serve();
  flood(argv[0]);
  freeze(argv[0]);
  return 0;
}
