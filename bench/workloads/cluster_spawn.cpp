// cluster_spawn: named spawns per second in cluster mode, beside the raw
// etcd transaction rate they are built on. For 1, 8 and 64 threads:
//   raw:     each thread sends etcd_client::create (the create-only txn a
//            claim is) for fresh keys under one lease, through one client;
//   watched: the same, while one watch stream follows the prefix — as a
//            cluster node's own view does (etcd sends it every claim back);
//   cluster: each thread spawns named top-level actors on one node, each
//            spawn claiming its name with that txn.
// Same etcd member, same value size, same window; the three alternate, two
// rounds each, and each figure is the mean of its two rounds (the disk and
// the shared cores drift). Issue 10's goal: cluster >= 50% of raw.
//
//   akt_bench_cluster_spawn [window_ms]     (default 2000 per phase)
#include "cluster_common.hpp"

#include <atomic>

namespace {

using akt::cluster::detail::etcd_client;

// Runs `threads` threads calling `one(thread, i)` until the window closes;
// the number of successful calls per second.
template <class One>
double rate(int threads, std::chrono::milliseconds window, One one) {
  std::atomic<long long> done{0};
  std::atomic<bool> go{false};
  const auto until_ready = bench::clock_type::now() + std::chrono::seconds(5);
  std::vector<std::thread> pool;
  bench::clock_type::time_point end;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      while (!go.load() && bench::clock_type::now() < until_ready) std::this_thread::yield();
      long long mine = 0;
      for (long long i = 0; bench::clock_type::now() < end; ++i) mine += one(t, i) ? 1 : 0;
      done += mine;
    });
  }
  const auto start = bench::clock_type::now() + std::chrono::milliseconds(50);
  end = start + window;
  std::this_thread::sleep_until(start);
  go = true;
  for (auto& th : pool) th.join();
  // A call in flight at the window's end finishes after it: count the real span.
  const double span = bench::seconds_between(start, bench::clock_type::now());
  return static_cast<double>(done.load()) / span;
}

std::string key_of(const std::string& prefix, int thread, long long i) {
  return prefix + std::to_string(thread) + "-" + std::to_string(i);
}

double raw_txn_rate(const std::string& endpoint, int threads, std::chrono::milliseconds window, bool watched,
                    int round) {
  etcd_client client({.endpoints = {endpoint}});
  const auto lease = bench::value_or_fail(client.grant_lease(std::chrono::seconds(30)), "grant a lease");
  // The value a claim writes: "<address>\t<path>", the same length.
  const std::string value = "127.0.0.1:40000\takt://spawner@127.0.0.1:40000/n-00-000000";
  const std::string prefix =
      "/akt/raw" + std::to_string(threads) + "-" + std::to_string(round) + (watched ? "w" : "") + "/names/n-";
  std::atomic<long long> events{0};
  std::unique_ptr<etcd_client::watch_stream> watch;
  if (watched) {
    watch = bench::value_or_fail(client.watch(
                                     prefix, 0,
                                     [&](const std::vector<akt::cluster::detail::etcd_event>& e,
                                         std::int64_t) { events += static_cast<long long>(e.size()); },
                                     [](akt::status) {}),
                                 "watch the prefix");
  }
  const double r = rate(threads, window, [&](int t, long long i) {
    auto held = client.create(key_of(prefix, t, i), value, lease);
    return held && !*held;
  });
  if (watch) watch->stop();
  (void)client.revoke_lease(lease);  // deletes every key at once
  return r;
}

double cluster_spawn_rate(const std::string& endpoint, int threads, std::chrono::milliseconds window,
                          int round) {
  auto node =
      bench::join_cluster("spawner", {.etcd = {.endpoints = {endpoint}},
                                      .name = "spawn" + std::to_string(threads) + "-" + std::to_string(round),
                                      .lease_ttl = std::chrono::seconds(5)});
  const double r = rate(threads, window, [&](int t, long long i) {
    return node.sys->spawn_fn("n-" + std::to_string(t) + "-" + std::to_string(i), [](akt::context&) {})
        .has_value();
  });
  bench::stop_system(*node.sys);  // leaving revokes the lease: every name goes at once
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const auto args = bench::parse_args(argc, argv, 2000);
  const auto window = std::chrono::milliseconds(args.n);
  akt_test::etcd_server etcd;
  std::printf("%8s %22s %22s %22s %8s\n", "threads", "raw txn/s (rounds)", "watched txn/s", "cluster spawn/s",
              "ratio");
  for (int threads : {1, 8, 64}) {
    double raw[2], watched[2], spawns[2];
    for (int round = 0; round < 2; ++round) {
      raw[round] = raw_txn_rate(etcd.endpoint(), threads, window, false, round);
      watched[round] = raw_txn_rate(etcd.endpoint(), threads, window, true, round);
      spawns[round] = cluster_spawn_rate(etcd.endpoint(), threads, window, round);
    }
    const double r = (raw[0] + raw[1]) / 2, w = (watched[0] + watched[1]) / 2,
                 c = (spawns[0] + spawns[1]) / 2;
    std::printf("%8d %6.0f (%5.0f %5.0f) %6.0f (%5.0f %5.0f) %6.0f (%5.0f %5.0f) %7.0f%%\n", threads, r,
                raw[0], raw[1], w, watched[0], watched[1], c, spawns[0], spawns[1], 100.0 * c / r);
    std::fflush(stdout);
    bench::bench_line("cluster_spawn", threads)
        .metric("spawns_per_s", c, 0, "1/s")
        .extra("raw_txn_per_s", r, 0)
        .extra("watched_txn_per_s", w, 0)
        .extra("percent_of_raw", 100.0 * c / r, 1)
        .print();
  }
}
