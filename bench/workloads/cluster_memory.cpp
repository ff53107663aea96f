// cluster_memory: what one registered remote name costs in a node's view.
// 100,000 names spread over three holder nodes, seen by an observer node,
// the only actor system in this process, so that the heap's growth is its
// view's and nothing else's:
//   - the holders are written straight into etcd, as their claims would
//     write them (member keys and name keys in the cluster's format, each
//     holder's under a lease of its own, the same create-only txn), by 64
//     threads through the cluster's etcd client — real holder systems in
//     this process would grow the same heap with their actors and claims;
//   - the observer's view takes them in through its watch; at every 25,000
//     the heap in use (mallinfo2) is read once the view holds them all;
//   - after the first 25,000, a second node joins and builds its view by
//     listing them (then leaves); after all, one more tries to join — the
//     listing of 100,000 is larger than gRPC's default 4 MiB message limit.
// Issue 10's goal: linear, <= 200 bytes per entry.
//
//   akt_bench_cluster_memory [names]        (default 100000)
#include "cluster_common.hpp"

#include <atomic>

namespace {

using akt::cluster::detail::etcd_client;

constexpr int holders = 3;
constexpr auto settle = std::chrono::milliseconds(300);
const std::string prefix = "/akt/memory/";

std::string holder_address(int h) {
  return "127.0.0.1:" + std::to_string(41000 + h);
}

std::string name_of(long long k) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "name-%06lld", k);
  return buf;
}

// Writes names [from, to) with 64 threads; holder k % 3 holds name k.
void write_names(etcd_client& etcd, const std::vector<std::int64_t>& leases, long long from, long long to) {
  std::atomic<long long> next{from};
  std::vector<std::thread> writers;
  for (int t = 0; t < 64; ++t) {
    writers.emplace_back([&] {
      for (long long k = next++; k < to; k = next++) {
        const int h = static_cast<int>(k % holders);
        const std::string name = name_of(k);
        const std::string value =
            holder_address(h) + "\takt://holder" + std::to_string(h) + "@" + holder_address(h) + "/" + name;
        auto held = etcd.create(prefix + "names/" + name, value, leases[static_cast<std::size_t>(h)]);
        if (!held || *held) bench::fail("cannot write " + name);
      }
    });
  }
  for (auto& w : writers) w.join();
}

// The heap in use once `node`'s view lists `n` names (and has settled).
long long heap_when_view_holds(bench::cluster_node& node, std::size_t n) {
  if (!bench::wait_until([&] { return node.cluster->names().size() == n; }, std::chrono::seconds(30),
                         std::chrono::milliseconds(20)))
    bench::fail("the view did not reach " + std::to_string(n) + " names");
  std::this_thread::sleep_for(settle);  // the watch's buffers from the last batch are freed
  return bench::heap_in_use();
}

}  // namespace

int main(int argc, char** argv) {
  const auto args = bench::parse_args(argc, argv, 100'000);
  akt_test::etcd_server etcd;
  etcd_client writer({.endpoints = {etcd.endpoint()}});
  const akt::cluster::cluster_options options{
      .etcd = {.endpoints = {etcd.endpoint()}}, .name = "memory", .lease_ttl = std::chrono::seconds(5)};

  // What a node costs with an empty registry: subtracted from the second node's join below.
  const long long before_join = bench::heap_in_use();
  auto observer = bench::join_cluster("observer", options);
  const long long empty_view = heap_when_view_holds(observer, 0);
  const long long node_cost = empty_view - before_join;

  std::vector<std::int64_t> leases;
  for (int h = 0; h < holders; ++h) {
    leases.push_back(bench::value_or_fail(writer.grant_lease(std::chrono::seconds(300)), "grant a lease"));
    bench::check_or_fail(writer.put(prefix + "members/" + holder_address(h),
                                    "holder" + std::to_string(h) + "\t\t0", leases.back()),
                         "register a holder");
  }
  if (!bench::wait_until([&] { return observer.cluster->members().size() == holders + 1; },
                         std::chrono::seconds(10)))
    bench::fail("the observer never saw the three holders");
  const long long with_holders = heap_when_view_holds(observer, 0);

  std::printf("%10s %14s %16s\n", "names", "heap growth", "bytes per name");
  std::vector<double> per_name;
  double listed_per_name = 0;
  const long long step = args.n / 4;
  for (long long written = 0; written < args.n;) {
    const long long to = std::min(args.n, written + step);
    write_names(writer, leases, written, to);
    written = to;
    const long long growth = heap_when_view_holds(observer, static_cast<std::size_t>(written)) - with_holders;
    per_name.push_back(static_cast<double>(growth) / static_cast<double>(written));
    std::printf("%10lld %14lld %16.1f\n", written, growth, per_name.back());
    if (written != step) continue;
    // A node joining now builds its view by listing everything at once.
    const long long before_late = bench::heap_in_use();
    auto late = bench::join_cluster("late", options);
    const long long late_growth = heap_when_view_holds(late, static_cast<std::size_t>(written)) - before_late;
    listed_per_name = static_cast<double>(late_growth - node_cost) / static_cast<double>(written);
    std::printf(
        "a node with an empty view: %lld bytes; a node joining with %lld names: %lld bytes "
        "(%.1f bytes per name, listed)\n",
        node_cost, written, late_growth, listed_per_name);
    bench::stop_system(*late.sys);
  }
  auto last = bench::try_join_cluster("last", options);
  std::printf("a node joining with %lld names: %s\n", args.n,
              last ? "joined" : ("refused: " + last.error().to_string()).c_str());
  if (last) bench::stop_system(*last->sys);
  bench::bench_line("cluster_memory", args.n)
      .metric("bytes_per_name", per_name.back(), 1, "B")
      .extra("bytes_per_name_first_quarter", per_name.front(), 1)
      .extra("bytes_per_name_listed_first_quarter", listed_per_name, 1)
      .extra("join_with_all_names_ok", last ? 1LL : 0LL)
      .extra("rss_kb", bench::rss_kb())
      .print();
  bench::stop_system(*observer.sys);
  for (auto lease : leases) (void)writer.revoke_lease(lease);
}
