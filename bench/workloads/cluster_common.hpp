// cluster_common.hpp — what the cluster-mode benchmarks (issue 10) share:
// a node (actor system + remoting + cluster) joined to an etcd, a record of
// the membership events each node saw with their times, heap accounting,
// and small statistics. The etcd itself is the test fixture's
// (cluster/tests/etcd_server.hpp): a real /usr/bin/etcd on free loopback
// ports with a temporary data directory, removed at the end.
//
// Thread safety: membership_log from any thread; a cluster_node is used
// from main only (its system is thread-safe as always).
#pragma once

#include <akt/cluster/cluster.hpp>
#include <akt/remote/remoting.hpp>

#include <malloc.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common.hpp"
#include "etcd_server.hpp"

namespace bench {

// The secret of cluster/tests/peer/cluster_peer.cpp, which the failure
// benchmark starts as its victim: every node of one cluster shares it.
inline constexpr const char* cluster_secret = "cluster-test-secret-0123";

// When each member_joined / member_left was first seen by one node, by
// address (a node that joins again under the same address overwrites).
class membership_log {
 public:
  void record(const akt::system_event& e) {
    const auto now = clock_type::now();
    std::lock_guard g(mu_);
    if (e.kind == akt::event_kind::member_joined) {
      joined_[e.detail] = now;
    } else if (e.kind == akt::event_kind::member_left) {
      left_[e.detail.substr(0, e.detail.find(": "))] = now;  // detail: "<address>: <why>"
    }
  }
  std::optional<clock_type::time_point> joined_at(const std::string& address) const {
    return at(joined_, address);
  }
  std::optional<clock_type::time_point> left_at(const std::string& address) const {
    return at(left_, address);
  }

 private:
  using times = std::map<std::string, clock_type::time_point>;
  std::optional<clock_type::time_point> at(const times& t, const std::string& address) const {
    std::lock_guard g(mu_);
    auto it = t.find(address);
    if (it == t.end()) return std::nullopt;
    return it->second;
  }
  mutable std::mutex mu_;
  times joined_, left_;  // guarded by mu_
};

// On FAIL (and on any exit that skips destructors): SIGKILLs this process's children (its etcd members, a
// victim node) and removes the etcd data directories the fixture made for this process
// (/tmp/akt-etcd-<pid>-<port>), which its destructors would have.
inline void stop_children() {
  const std::string self = std::to_string(::getpid());
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::ifstream stat(entry.path() / "stat");
    std::string pid, comm, state, ppid;
    if (stat >> pid >> comm >> state >> ppid && ppid == self) ::kill(std::atoi(pid.c_str()), SIGKILL);
  }
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::temp_directory_path(), ec)) {
    if (entry.path().filename().string().starts_with("akt-etcd-" + self + "-"))
      std::filesystem::remove_all(entry.path(), ec);
  }
}

inline const bool stop_children_on_fail = [] {
  on_fail = &stop_children;
  return true;
}();

struct cluster_node {
  std::unique_ptr<akt::actor_system> sys;
  akt::remote::remoting* remoting = nullptr;
  akt::cluster::cluster* cluster = nullptr;
  std::shared_ptr<membership_log> log = std::make_shared<membership_log>();

  std::string address() const { return remoting->address(); }
};

// A system named `name` with remoting on 127.0.0.1 and cluster mode, its
// membership events recorded from before it joins (so its own view's first
// listing is in the log too); or why cluster mode could not be enabled.
inline akt::result<cluster_node> try_join_cluster(const std::string& name,
                                                  akt::cluster::cluster_options options,
                                                  std::size_t workers = 0) {
  cluster_node n;
  n.sys = value_or_fail(
      akt::actor_system::launch(name, {.workers = workers, .logger = akt::make_discard_logger()}),
      "launch " + name);
  auto log = n.log;
  auto subscriber = value_or_fail(n.sys->spawn_fn(akt::spawn_options{},
                                                  [log](akt::context& ctx) {
                                                    if (auto* e = ctx.message<akt::system_event>())
                                                      log->record(*e);
                                                  }),
                                  "spawn the event recorder");
  check_or_fail(n.sys->subscribe(subscriber), "subscribe the event recorder");
  n.remoting = value_or_fail(
      akt::remote::remoting::enable(*n.sys, {.host = "127.0.0.1", .port = 0, .secret = cluster_secret}),
      "enable remoting on " + name);
  auto c = akt::cluster::cluster::enable(*n.sys, std::move(options));
  if (!c) {
    check_or_fail(n.sys->stop(), "stop " + name);
    return std::move(c).error();
  }
  n.cluster = *c;
  return n;
}

// try_join_cluster, or FAIL if etcd refuses the node.
inline cluster_node join_cluster(const std::string& name, akt::cluster::cluster_options options,
                                 std::size_t workers = 0) {
  return value_or_fail(try_join_cluster(name, std::move(options), workers), "join " + name);
}

// Bytes the allocator has handed out and not had back (small chunks plus
// mmap'd large ones): the heap in use, whatever RSS the arenas keep.
inline long long heap_in_use() {
  const struct mallinfo2 m = ::mallinfo2();
  return static_cast<long long>(m.uordblks + m.hblkhd);
}

struct spread {
  double min = 0, median = 0, max = 0;
};

inline spread spread_of(std::vector<double> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  return {v.front(), nearest_rank(v, 50), v.back()};
}

inline double millis_between(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace bench
