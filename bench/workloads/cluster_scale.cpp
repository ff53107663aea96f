// cluster_scale: 50 nodes (actor systems in this process, one worker each)
// on a three-member etcd, every node configured with the same endpoint
// list, as a deployment would be. Measures:
//   join       how long each node's enable takes, as the cluster grows;
//   fan-out    at 10, 25 and 50 nodes, a probe node joins then leaves:
//              the time until every view has the member_joined (from the
//              probe's enable) and the member_left (from its system's stop);
//   idle load  etcd's requests and watch events per node per second over
//              a quiet window (from etcd's own /metrics counters);
//   churn      10 nodes leave and 10 new ones join: the time until every
//              view holds exactly the 50 live members, and the watch events
//              etcd sent for it.
// The 500-node prediction built on these is in docs/benchmarks.md.
//
//   akt_bench_cluster_scale [nodes]         (default 50)
#include "cluster_common.hpp"
#include "etcd_metrics.hpp"

#include <set>

namespace {

constexpr auto lease = std::chrono::seconds(3);
constexpr auto view_limit = std::chrono::seconds(20);
constexpr int probes = 3;

akt::cluster::cluster_options options_for(const akt_test::etcd_cluster& etcd) {
  return {.etcd = {.endpoints = etcd.endpoints()}, .name = "scale", .lease_ttl = lease};
}

bench::cluster_node join(const akt_test::etcd_cluster& etcd, const std::string& name) {
  return bench::join_cluster(name, options_for(etcd), /*workers=*/1);
}

// The latest of the times `seen(node)` gives for every node, once all have one.
template <class Seen>
bench::clock_type::time_point when_all_saw(std::vector<bench::cluster_node>& nodes, Seen seen,
                                           const std::string& what) {
  auto latest = bench::clock_type::time_point::min();
  const bool all = bench::wait_until(
      [&] {
        latest = bench::clock_type::time_point::min();
        for (auto& n : nodes) {
          auto t = seen(n);
          if (!t) return false;
          latest = std::max(latest, *t);
        }
        return true;
      },
      view_limit, std::chrono::milliseconds(1));
  if (!all) bench::fail("not every view saw " + what + " within 20 s");
  return latest;
}

struct fan_out {
  double join_ms = 0, leave_ms = 0;
};

// A probe node joins the cluster, then leaves.
fan_out probe(const akt_test::etcd_cluster& etcd, std::vector<bench::cluster_node>& nodes, int i) {
  const auto t_join = bench::clock_type::now();
  auto p = join(etcd, "probe" + std::to_string(i));
  const std::string address = p.address();
  const auto joined = when_all_saw(
      nodes, [&](bench::cluster_node& n) { return n.log->joined_at(address); }, "the probe join");
  const auto t_leave = bench::clock_type::now();
  bench::stop_system(*p.sys);
  const auto left = when_all_saw(
      nodes, [&](bench::cluster_node& n) { return n.log->left_at(address); }, "the probe leave");
  return {bench::millis_between(t_join, joined), bench::millis_between(t_leave, left)};
}

bench::etcd_counters read_all(const akt_test::etcd_cluster& etcd) {
  bench::etcd_counters sum;
  for (const auto& e : etcd.endpoints()) sum += bench::read_etcd_counters(e);
  return sum;
}

// Requests each member of etcd received over a window, per second.
std::vector<double> received_per_member(const akt_test::etcd_cluster& etcd,
                                        const std::vector<bench::etcd_counters>& before, double seconds) {
  std::vector<double> out;
  const auto endpoints = etcd.endpoints();
  for (std::size_t i = 0; i < endpoints.size(); ++i)
    out.push_back(bench::read_etcd_counters(endpoints[i]).minus(before[i]).received_total() / seconds);
  return out;
}

bool view_is(const bench::cluster_node& n, const std::set<std::string>& expected) {
  std::set<std::string> seen;
  for (const auto& m : n.cluster->members()) seen.insert(m.address);
  return seen == expected;
}

}  // namespace

int main(int argc, char** argv) {
  const auto args = bench::parse_args(argc, argv, 50);
  const int total = static_cast<int>(args.n);
  akt_test::etcd_cluster etcd;
  std::vector<bench::cluster_node> nodes;

  // ---- joins, with fan-out probes as the cluster grows
  std::vector<double> join_ms;
  std::printf("%6s %14s %16s %16s   (probes)\n", "nodes", "join ms", "join fan-out ms", "leave fan-out ms");
  for (int i = 0; i < total; ++i) {
    const auto t0 = bench::clock_type::now();
    nodes.push_back(join(etcd, "node" + std::to_string(i)));
    join_ms.push_back(bench::millis_between(t0, bench::clock_type::now()));
    const int n = i + 1;
    if (n != 10 && n != 25 && n != total) continue;
    std::vector<double> joins, leaves;
    for (int p = 0; p < probes; ++p) {
      const auto f = probe(etcd, nodes, n * 10 + p);
      joins.push_back(f.join_ms);
      leaves.push_back(f.leave_ms);
    }
    const auto recent = bench::spread_of(std::vector<double>(join_ms.end() - std::min(n, 10), join_ms.end()));
    std::printf("%6d %14.1f %16.1f %16.1f   (join %.0f/%.0f/%.0f, leave %.0f/%.0f/%.0f)\n", n, recent.median,
                bench::spread_of(joins).median, bench::spread_of(leaves).median, joins[0], joins[1], joins[2],
                leaves[0], leaves[1], leaves[2]);
    bench::bench_line("cluster_scale_fanout", n)
        .metric("join_fanout_ms", bench::spread_of(joins).median, 1, "ms")
        .extra("leave_fanout_ms", bench::spread_of(leaves).median, 1)
        .extra("join_ms_last10_median", recent.median, 1)
        .print();
  }
  const auto all_joins = bench::spread_of(join_ms);
  std::printf("join (enable) ms over all %d: min %.1f median %.1f max %.1f\n", total, all_joins.min,
              all_joins.median, all_joins.max);

  // ---- idle load: keep-alives only (and whatever else the nodes do when nothing happens)
  constexpr double idle_seconds = 10;
  std::vector<bench::etcd_counters> before;
  for (const auto& e : etcd.endpoints()) before.push_back(bench::read_etcd_counters(e));
  const auto idle_start = read_all(etcd);
  std::this_thread::sleep_for(std::chrono::duration<double>(idle_seconds));  // the measured window itself
  auto idle = read_all(etcd).minus(idle_start);
  const auto per_member = received_per_member(etcd, before, idle_seconds);
  const double keep_alives = idle.received["LeaseKeepAlive"] / idle_seconds / total;
  const double idle_requests = idle.received_total() / idle_seconds / total;
  std::printf(
      "idle, per node: %.2f requests/s (%.2f keep-alives/s), %.2f watch events/s; "
      "etcd members received %.0f / %.0f / %.0f requests/s\n",
      idle_requests, keep_alives, idle.watch_events / idle_seconds / total, per_member[0], per_member[1],
      per_member[2]);

  // ---- churn: the 10 oldest leave, 10 new nodes join
  const int churn = std::min(10, total / 2);
  const auto churn_counters = read_all(etcd);
  const auto t_churn = bench::clock_type::now();
  for (int i = 0; i < churn; ++i) bench::stop_system(*nodes[static_cast<std::size_t>(i)].sys);
  nodes.erase(nodes.begin(), nodes.begin() + churn);
  for (int i = 0; i < churn; ++i) nodes.push_back(join(etcd, "new" + std::to_string(i)));
  const auto t_done = bench::clock_type::now();
  std::set<std::string> expected;
  for (const auto& n : nodes) expected.insert(n.address());
  if (!bench::wait_until(
          [&] {
            return std::all_of(nodes.begin(), nodes.end(), [&](auto& n) { return view_is(n, expected); });
          },
          view_limit, std::chrono::milliseconds(1)))
    bench::fail("the views did not converge within 20 s of the churn");
  const auto t_converged = bench::clock_type::now();
  const auto churned = read_all(etcd).minus(churn_counters);
  std::printf(
      "churn (%d leave + %d join): operations %.0f ms, every view converged %.0f ms after the start "
      "(%.0f ms after the last operation); etcd sent %.0f watch events (%.1f per change per node)\n",
      churn, churn, bench::millis_between(t_churn, t_done), bench::millis_between(t_churn, t_converged),
      bench::millis_between(t_done, t_converged), churned.watch_events,
      churned.watch_events / (2.0 * churn) / total);
  bench::bench_line("cluster_scale", total)
      .metric("join_ms_median", all_joins.median, 1, "ms")
      .extra("idle_requests_per_node_s", idle_requests, 2)
      .extra("keep_alives_per_node_s", keep_alives, 2)
      .extra("churn_converged_ms", bench::millis_between(t_churn, t_converged), 0)
      .extra("churn_watch_events", churned.watch_events, 0)
      .print();
  for (auto& n : nodes) bench::stop_system(*n.sys);
}
