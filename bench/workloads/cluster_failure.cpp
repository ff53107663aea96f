// cluster_failure: how long a SIGKILLed node takes to be noticed. An
// observer node in this process (lease_ttl 2 s, like the victim); each
// round starts a victim node in a process of its own (the cluster tests'
// peer) holding one named actor, which an actor on the observer watches;
// then SIGKILLs it and times, from the kill:
//   left        the observer's member_left event for the victim;
//   terminated  the watcher's Terminated for the victim's actor.
// The kill comes at a random point of the victim's keep-alive period, so
// the rounds sample the whole range (TTL - TTL/3 .. TTL, plus etcd's lease
// expiry check, plus the watch's latency).
//
// With --freeze the victim is SIGSTOPped instead (then killed once both
// came): its TCP connections stay open, so Terminated too must wait for
// the lease — the path a frozen or partitioned node takes.
//
//   akt_bench_cluster_failure [rounds] [--freeze]     (default 10 rounds)
#include "cluster_common.hpp"

#include <fcntl.h>

#include <atomic>
#include <random>

namespace {

constexpr int lease_seconds = 2;

// A victim node in its own process; killed (and reaped) at the latest when
// this goes away.
class victim {
 public:
  victim(const std::string& etcd, const std::string& cluster, const std::string& name) {
    int out[2], in[2];
    if (::pipe(out) != 0 || ::pipe(in) != 0) bench::fail("pipe");
    std::vector<std::string> args = {AKT_BENCH_CLUSTER_PEER, etcd, cluster, std::to_string(lease_seconds),
                                     name};
    pid_ = akt_test::spawn_child(std::move(args), in[0], out[1]);
    if (pid_ < 0) bench::fail("cannot start " AKT_BENCH_CLUSTER_PEER);
    ::close(out[1]);
    ::close(in[0]);
    to_child_ = in[1];
    address_ = read_ready(out[0]);
    ::close(out[0]);
  }
  ~victim() { kill(); }
  victim(const victim&) = delete;
  victim& operator=(const victim&) = delete;

  const std::string& address() const { return address_; }

  void freeze() { ::kill(pid_, SIGSTOP); }

  void kill() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    if (to_child_ >= 0) ::close(to_child_);
    to_child_ = -1;
  }

 private:
  // "READY <address>\n", within 20 s.
  std::string read_ready(int fd) {
    std::string line;
    ::fcntl(fd, F_SETFL, O_NONBLOCK);
    const auto until = bench::clock_type::now() + std::chrono::seconds(20);
    while (line.find('\n') == std::string::npos && bench::clock_type::now() < until) {
      char buf[256];
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) {
        line.append(buf, static_cast<std::size_t>(n));
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
    if (!line.starts_with("READY ")) bench::fail("the victim did not say READY: '" + line + "'");
    return line.substr(6, line.find('\n') - 6);
  }

  pid_t pid_ = -1;
  int to_child_ = -1;
  std::string address_;
};

struct round_result {
  double left_ms = 0;
  double terminated_ms = 0;
};

round_result one_round(bench::cluster_node& observer, const std::string& etcd, int round, std::mt19937& rng,
                       bool freeze) {
  const std::string name = "victim-" + std::to_string(round);
  victim v(etcd, "failure", name);
  if (!bench::wait_until([&] { return bool(observer.cluster->lookup(name)); }, std::chrono::seconds(10)))
    bench::fail("the observer never saw " + name);
  auto target = observer.cluster->lookup(name).value();
  auto terminated_at = std::make_shared<std::atomic<std::int64_t>>(0);  // steady ns, 0 = not yet
  auto watcher = bench::value_or_fail(
      observer.sys->spawn_fn(akt::spawn_options{},
                             [target, terminated_at](akt::context& ctx) {
                               if (ctx.is<std::string>()) (void)ctx.watch(target);
                               if (ctx.is<akt::terminated>())
                                 terminated_at->store(bench::clock_type::now().time_since_epoch().count());
                             }),
      "spawn the watcher");
  bench::check_or_fail(watcher.tell(std::string("watch")), "start watching");
  // A random point of the victim's keep-alive period (TTL/3), after the
  // watch has surely reached it.
  std::uniform_int_distribution<int> phase(0, lease_seconds * 1000 / 3);
  std::this_thread::sleep_for(std::chrono::milliseconds(200 + phase(rng)));

  const auto killed = bench::clock_type::now();
  if (freeze) {
    v.freeze();
  } else {
    v.kill();
  }
  const auto limit = std::chrono::seconds(lease_seconds * 4);
  if (!bench::wait_until([&] { return observer.log->left_at(v.address()).has_value(); }, limit))
    bench::fail("no member_left for " + v.address() + " within " + std::to_string(lease_seconds * 4) + " s");
  if (!bench::wait_until([&] { return terminated_at->load() != 0; }, limit))
    bench::fail("no Terminated for " + name + " within " + std::to_string(lease_seconds * 4) + " s");
  const auto terminated = bench::clock_type::time_point(bench::clock_type::duration(terminated_at->load()));
  (void)watcher.stop();
  v.kill();
  return {bench::millis_between(killed, *observer.log->left_at(v.address())),
          bench::millis_between(killed, terminated)};
}

}  // namespace

int main(int argc, char** argv) {
  const auto args = bench::parse_args(argc, argv, 10, {"--freeze"});
  const bool freeze = args.has("--freeze");
  akt_test::etcd_server etcd;
  auto observer = bench::join_cluster("observer", {.etcd = {.endpoints = {etcd.endpoint()}},
                                                   .name = "failure",
                                                   .lease_ttl = std::chrono::seconds(lease_seconds)});
  std::mt19937 rng(std::random_device{}());
  std::vector<double> left, terminated;
  for (int r = 0; r < args.n; ++r) {
    const auto got = one_round(observer, etcd.endpoint(), r, rng, freeze);
    std::printf("round %2d: member_left %7.0f ms   Terminated %7.0f ms\n", r, got.left_ms, got.terminated_ms);
    std::fflush(stdout);
    left.push_back(got.left_ms);
    terminated.push_back(got.terminated_ms);
  }
  const auto l = bench::spread_of(left), t = bench::spread_of(terminated);
  std::printf("lease_ttl %d s, %lld rounds, %s\n", lease_seconds, args.n, freeze ? "SIGSTOP" : "SIGKILL");
  std::printf("%-12s %8s %8s %8s\n", "ms from it", "min", "median", "max");
  std::printf("%-12s %8.0f %8.0f %8.0f\n", "member_left", l.min, l.median, l.max);
  std::printf("%-12s %8.0f %8.0f %8.0f\n", "Terminated", t.min, t.median, t.max);
  bench::bench_line(freeze ? "cluster_failure_freeze" : "cluster_failure", args.n)
      .metric("left_median_ms", l.median, 0, "ms")
      .extra("left_min_ms", l.min, 0)
      .extra("left_max_ms", l.max, 0)
      .extra("terminated_median_ms", t.median, 0)
      .extra("terminated_min_ms", t.min, 0)
      .extra("terminated_max_ms", t.max, 0)
      .print();
  bench::stop_system(*observer.sys);
}
