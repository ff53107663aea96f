// Cluster mode against a real etcd: three systems in this process, each
// with remoting and the cluster extension (the multi-process tests start
// nodes as processes).
#include <akt/cluster/cluster.hpp>
#include <akt/remote/remoting.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include "etcd_server.hpp"

namespace {

using namespace std::chrono_literals;

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 10s) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return pred();
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// Records the cluster's events in order (an event-stream subscriber).
struct recorder {
  std::mutex mu;
  std::vector<std::string> seen;  // "member_joined 127.0.0.1:1234"
  std::vector<std::string> snapshot() {
    std::lock_guard g(mu);
    return seen;
  }
};

struct node {
  std::unique_ptr<akt::actor_system> sys;
  akt::remote::remoting* remoting = nullptr;
  akt::cluster::cluster* cluster = nullptr;
  std::shared_ptr<recorder> events = std::make_shared<recorder>();
};

class cluster_test : public ::testing::Test {
 protected:
  node join(const std::string& name, akt::cluster::cluster_options extra = {}) {
    node n;
    n.sys = akt::actor_system::launch(name, {.logger = akt::make_discard_logger()}).value();
    auto ev = n.events;
    auto sub = n.sys->spawn_fn(akt::spawn_options{}, [ev](akt::context& ctx) {
      if (auto* e = ctx.message<akt::system_event>()) {
        if (e->kind == akt::event_kind::member_joined || e->kind == akt::event_kind::member_left ||
            e->kind == akt::event_kind::leader_changed) {
          std::lock_guard g(ev->mu);
          ev->seen.push_back(std::string(akt::to_string(e->kind)) + " " +
                             e->detail.substr(0, e->detail.find(':', 10)));
        }
      }
    });
    EXPECT_TRUE(n.sys->subscribe(*sub));
    n.remoting = akt::remote::remoting::enable(*n.sys, {.secret = "cluster-test-secret-0123"}).value();
    extra.etcd.endpoints = {etcd_.endpoint()};
    if (extra.name.empty()) extra.name = "shop";
    extra.lease_ttl = 2s;
    auto c = akt::cluster::cluster::enable(*n.sys, extra);
    EXPECT_TRUE(c) << c.error().to_string();
    n.cluster = c ? *c : nullptr;
    return n;
  }

  akt_test::etcd_server etcd_;
};

TEST_F(cluster_test, nodes_see_each_other_join_and_leave_and_agree_on_the_leader) {
  node a = join("alpha");
  ASSERT_NE(a.cluster, nullptr);
  node b = join("beta");
  node c = join("gamma");
  for (node* n : {&a, &b, &c}) {
    ASSERT_TRUE(eventually([&] { return n->cluster->members().size() == 3; })) << n->sys->name();
    EXPECT_EQ(n->cluster->leader()->address, a.remoting->address()) << "the oldest leads";
  }
  EXPECT_TRUE(a.cluster->is_leader());
  EXPECT_FALSE(b.cluster->is_leader());
  // The leader leaves: the next oldest leads, everywhere.
  ASSERT_TRUE(a.sys->stop());
  for (node* n : {&b, &c}) {
    ASSERT_TRUE(eventually([&] { return n->cluster->members().size() == 2; })) << n->sys->name();
    ASSERT_TRUE(eventually([&] { return n->cluster->leader()->address == b.remoting->address(); }));
  }
  // b and c saw the same changes since c joined, in the same order.
  ASSERT_TRUE(eventually([&] {
    auto eb = b.events->snapshot();
    auto ec = c.events->snapshot();
    return ec.size() >= 3 && eb.size() >= ec.size() &&
           std::equal(ec.end() - 2, ec.end(), eb.end() - 2);  // a left, b leads
  }));
  auto ec = c.events->snapshot();
  EXPECT_EQ(ec[ec.size() - 2], "member_left " + a.remoting->address());
  EXPECT_EQ(ec.back(), "leader_changed " + b.remoting->address());
}

TEST_F(cluster_test, a_name_is_unique_cluster_wide_and_found_from_every_node) {
  node a = join("alpha");
  node b = join("beta");
  auto orders = a.sys->spawn_fn("orders", [](akt::context& ctx) {
    if (ctx.is<akt::detail::poison_pill>()) return;
  });
  ASSERT_TRUE(orders) << orders.error().to_string();
  auto twin = b.sys->spawn_fn("orders", [](akt::context&) {});
  ASSERT_FALSE(twin);
  EXPECT_EQ(twin.code(), akt::errc::name_taken);
  EXPECT_NE(twin.error().message().find(a.remoting->address()), std::string::npos) << twin.error().message();
  // Found from the other node by name, from its local view: a remote pid.
  ASSERT_TRUE(eventually([&] { return bool(b.sys->lookup("orders")); }));
  auto there = b.sys->lookup("orders").value();
  EXPECT_EQ(there.path(), orders->path());
  EXPECT_EQ(there.ref()->as_local(), nullptr);
  // Released when it stops: then the other node may take it.
  ASSERT_TRUE(orders->stop());
  ASSERT_TRUE(orders->wait_stopped(5s));
  ASSERT_TRUE(eventually([&] { return !b.sys->lookup("orders"); }));
  auto now_b = b.sys->spawn_fn("orders", [](akt::context&) {});
  ASSERT_TRUE(now_b) << now_b.error().to_string();
  ASSERT_TRUE(eventually([&] {
    auto p = a.sys->lookup("orders");
    return p && p->path() == now_b->path();
  }));
}

TEST_F(cluster_test, the_same_name_spawned_from_three_nodes_at_once_has_exactly_one_winner) {
  node a = join("alpha");
  node b = join("beta");
  node c = join("gamma");
  std::atomic<int> won{0}, taken{0};
  std::vector<std::thread> racers;
  for (node* n : {&a, &b, &c}) {
    racers.emplace_back([&, n] {
      auto r = n->sys->spawn_fn("singleton-ish", [](akt::context&) {});
      if (r) {
        ++won;
      } else if (r.code() == akt::errc::name_taken) {
        ++taken;
      }
    });
  }
  for (auto& t : racers) t.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(taken.load(), 2);
}

TEST_F(cluster_test, children_and_anonymous_actors_are_not_registered) {
  node a = join("alpha");
  auto parent = a.sys->spawn_fn("parent", [](akt::context& ctx) {
    if (ctx.is<std::string>()) (void)ctx.spawn_fn("child", [](akt::context&) {});
  });
  ASSERT_TRUE(parent);
  ASSERT_TRUE(parent->tell(std::string("go")));
  ASSERT_TRUE(a.sys->spawn_fn(akt::spawn_options{}, [](akt::context&) {}));
  ASSERT_TRUE(eventually([&] { return a.cluster->names().size() == 1; }));
  EXPECT_EQ(a.cluster->names()[0].first, "parent");
}

// A node in another process, killed with SIGKILL.
struct peer_process {
  pid_t pid = -1;
  std::string address;
  int to_child = -1;
  ~peer_process() { kill_now(); }
  void kill_now() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      pid = -1;
    }
    if (to_child >= 0) ::close(to_child);
    to_child = -1;
  }
};

peer_process start_peer(const std::string& etcd, const std::vector<std::string>& names) {
  int out[2], in[2];
  EXPECT_EQ(::pipe(out), 0);
  EXPECT_EQ(::pipe(in), 0);
  std::vector<std::string> args = {AKT_CLUSTER_TEST_PEER, etcd, "shop", "2"};
  args.insert(args.end(), names.begin(), names.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_adddup2(&files, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&files, in[0], STDIN_FILENO);
  posix_spawn_file_actions_addclose(&files, out[0]);
  posix_spawn_file_actions_addclose(&files, in[1]);
  peer_process p;
  EXPECT_EQ(posix_spawn(&p.pid, AKT_CLUSTER_TEST_PEER, &files, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&files);
  ::close(out[1]);
  ::close(in[0]);
  p.to_child = in[1];
  // "READY <address>", read with a bounded wait.
  std::string line;
  const auto until = std::chrono::steady_clock::now() + 20s;
  ::fcntl(out[0], F_SETFL, O_NONBLOCK);
  while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < until) {
    char buf[256];
    const ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n > 0) {
      line.append(buf, static_cast<std::size_t>(n));
    } else {
      std::this_thread::sleep_for(5ms);
    }
  }
  ::close(out[0]);
  EXPECT_TRUE(line.starts_with("READY ")) << "the peer said: " << line;
  if (line.starts_with("READY ")) p.address = line.substr(6, line.find('\n') - 6);
  return p;
}

TEST_F(cluster_test, a_killed_nodes_names_vanish_and_watchers_hear_within_the_lease) {
  node a = join("alpha");
  peer_process b = start_peer(etcd_.endpoint(), {"cart"});
  ASSERT_FALSE(b.address.empty());
  ASSERT_TRUE(eventually([&] { return bool(a.sys->lookup("cart")); }));
  // A local actor watches the remote one.
  std::atomic<bool> terminated{false};
  auto cart = a.sys->lookup("cart").value();
  auto watcher = a.sys->spawn_fn(akt::spawn_options{}, [&, cart](akt::context& ctx) {
    if (ctx.is<std::string>()) (void)ctx.watch(cart);
    if (ctx.is<akt::terminated>()) terminated = true;
  });
  ASSERT_TRUE(watcher && watcher->tell(std::string("watch")));
  std::this_thread::sleep_for(100ms);  // pacing: the watch reaches the peer
  const auto t0 = std::chrono::steady_clock::now();
  b.kill_now();
  ASSERT_TRUE(eventually([&] { return !a.sys->lookup("cart"); }, 8s)) << "its name went with its 2 s lease";
  ASSERT_TRUE(eventually([&] { return a.cluster->members().size() == 1; }, 8s));
  ASSERT_TRUE(eventually([&] { return terminated.load(); }, 8s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s + 1s + 2s) << "lease TTL plus one second (plus slack)";
}

TEST_F(cluster_test, etcd_down_fails_cluster_operations_fast_and_local_actors_keep_working) {
  node a = join("alpha");
  auto local = a.sys->spawn_fn(akt::spawn_options{}, [](akt::context& ctx) {
    if (auto* n = ctx.message<int>()) (void)ctx.reply(*n + 1);
  });
  ASSERT_TRUE(local);
  etcd_.stop();
  const auto t0 = std::chrono::steady_clock::now();
  auto named = a.sys->spawn_fn("needs-etcd", [](akt::context&) {});
  ASSERT_FALSE(named);
  EXPECT_EQ(named.code(), akt::errc::unavailable) << named.error().to_string();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 6s);
  auto r = local->ask<int>(41, 2s);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 42);
  // etcd back: the cluster recovers (the lease may have expired: re-registered).
  etcd_.start();
  ASSERT_TRUE(eventually([&] { return bool(a.sys->spawn_fn("after-etcd", [](akt::context&) {})); }, 20s));
}

TEST_F(cluster_test, cluster_mode_without_remoting_is_refused_clearly) {
  auto sys = akt::actor_system::launch("lonely", {.logger = akt::make_discard_logger()}).value();
  auto c = akt::cluster::cluster::enable(*sys, {.etcd = {.endpoints = {etcd_.endpoint()}}});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.code(), akt::errc::invalid_argument);
  EXPECT_NE(c.error().message().find("remoting"), std::string::npos);
}

TEST_F(cluster_test, an_etcd_that_does_not_answer_fails_enable_with_a_clear_error) {
  auto sys = akt::actor_system::launch("nowhere", {.logger = akt::make_discard_logger()}).value();
  ASSERT_TRUE(akt::remote::remoting::enable(*sys));
  const std::string dead = "127.0.0.1:" + std::to_string(akt_test::free_port());
  auto c = akt::cluster::cluster::enable(*sys, {.etcd = {.endpoints = {dead}, .request_timeout = 500ms}});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.code(), akt::errc::unavailable) << c.error().to_string();
  EXPECT_NE(c.error().message().find(dead), std::string::npos) << c.error().message();
}

}  // namespace
