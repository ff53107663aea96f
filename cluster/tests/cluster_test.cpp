// Cluster mode against a real etcd: three systems in this process, each
// with remoting and the cluster extension (the multi-process tests start
// nodes as processes).
#include <atomic>
#include <thread>

#include <akt/testkit/metric_recorder.hpp>
#include "cluster_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using akt_test::eventually;
using akt_test::node;

class cluster_test : public ::testing::Test {
 protected:
  node join(const std::string& name, akt::cluster::cluster_options extra = {}) {
    return akt_test::join_cluster(name, {etcd_.endpoint()}, std::move(extra));
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

TEST_F(cluster_test, a_killed_nodes_names_vanish_and_watchers_hear_within_the_lease) {
  node a = join("alpha");
  akt_test::peer_process b(etcd_.endpoint(), {"cart"});
  ASSERT_FALSE(b.address().empty());
  ASSERT_TRUE(eventually([&] { return bool(a.sys->lookup("cart")); }));
  // A local actor watches the remote one.
  std::atomic<bool> terminated{false};
  auto cart = a.sys->lookup("cart").value();
  auto watcher = a.sys->spawn_fn(akt::spawn_options{}, [&, cart](akt::context& ctx) {
    if (ctx.is<std::string>()) {
      (void)ctx.watch(cart);
      (void)ctx.reply(std::string("watching"));
    }
    if (ctx.is<akt::terminated>()) terminated = true;
  });
  ASSERT_TRUE(watcher);
  ASSERT_TRUE(watcher->ask<std::string>(std::string("watch"), 5s));
  // The watch went out before this ask, on the same connection: answered, it arrived.
  ASSERT_TRUE(cart.ask<google::protobuf::StringValue>(akt_test::text("there?"), 5s));
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

TEST_F(cluster_test, a_node_whose_lease_was_lost_registers_again_and_keeps_its_names) {
  node a = join("alpha");
  node b = join("beta");
  ASSERT_TRUE(a.sys->spawn<akt_test::echo>("kept"));
  ASSERT_TRUE(eventually([&] { return b.cluster->members().size() == 2 && bool(b.sys->lookup("kept")); }));
  // What a partition longer than the TTL does to alpha, from etcd's side: its lease is gone.
  akt::cluster::detail::etcd_client etcd({.endpoints = {etcd_.endpoint()}});
  auto key = etcd.get("/akt/shop/members/" + a.remoting->address());
  ASSERT_TRUE(key && *key);
  ASSERT_TRUE(etcd.revoke_lease((*key)->lease));
  ASSERT_TRUE(eventually([&] { return b.cluster->members().size() == 1; })) << "beta saw alpha go";
  // A claim now is refused clearly (or succeeds, if alpha already registered again).
  auto meanwhile = a.sys->spawn<akt_test::echo>("meanwhile");
  if (!meanwhile) {
    EXPECT_EQ(meanwhile.code(), akt::errc::unavailable) << meanwhile.error().to_string();
    EXPECT_NE(meanwhile.error().message().find("lease expired"), std::string::npos)
        << meanwhile.error().message();
  }
  // alpha registers again and claims "kept" again: beta sees both.
  ASSERT_TRUE(eventually([&] { return b.cluster->members().size() == 2; }, 10s));
  ASSERT_TRUE(eventually([&] { return bool(b.sys->lookup("kept")); }, 10s));
  ASSERT_TRUE(eventually([&] { return bool(a.sys->spawn<akt_test::echo>("after")); }, 10s));
}

TEST_F(cluster_test, a_passivated_actors_name_is_released) {
  node a = join("alpha");
  node b = join("beta");
  auto idle = a.sys->spawn<akt_test::echo>(akt::spawn_options{.name = "idle", .passivate_after = 100ms});
  ASSERT_TRUE(idle) << idle.error().to_string();
  ASSERT_TRUE(eventually([&] { return bool(b.sys->lookup("idle")); }));
  ASSERT_TRUE(idle->wait_stopped(5s)) << "passivated";
  ASSERT_TRUE(eventually([&] { return !b.sys->lookup("idle"); }));
  EXPECT_TRUE(b.sys->spawn<akt_test::echo>("idle")) << "the name is free for anyone";
}

TEST_F(cluster_test, the_registry_lists_every_name_from_every_node) {
  node a = join("alpha");
  node b = join("beta");
  ASSERT_TRUE(a.sys->spawn<akt_test::echo>("one"));
  ASSERT_TRUE(b.sys->spawn<akt_test::echo>("two"));
  const std::vector<std::string> want = {"one", "two"};
  for (node* n : {&a, &b}) {
    ASSERT_TRUE(eventually([&] {
      std::vector<std::string> got;
      for (const auto& [name, path] : n->cluster->names()) got.push_back(name);
      return got == want;
    })) << n->sys->name();
  }
  EXPECT_NE(a.cluster->names()[1].second.find(b.remoting->address()), std::string::npos);
}

TEST_F(cluster_test, each_node_reports_members_leadership_names_and_etcd_latency) {
  node a = join("alpha");
  node b = join("beta");
  node c = join("gamma");
  ASSERT_TRUE(a.sys->spawn<akt_test::echo>("one"));
  ASSERT_TRUE(b.sys->spawn<akt_test::echo>("two"));
  auto report = [](const node& n) {
    akt::testkit::metric_recorder r;
    n.sys->report_metrics(r);
    return r;
  };
  for (node* n : {&a, &b, &c}) {
    ASSERT_TRUE(eventually([&] {
      auto r = report(*n);
      return r.value("akt.cluster.members") == 3 && r.value("akt.cluster.names") == 2;
    })) << n->sys->name();
  }
  int leaders = 0;
  for (node* n : {&a, &b, &c}) {
    auto r = report(*n);
    const auto leads = r.value("akt.cluster.leader");
    ASSERT_TRUE(leads) << n->sys->name();
    EXPECT_EQ(*leads == 1, n->cluster->is_leader()) << n->sys->name();
    leaders += static_cast<int>(*leads);
    EXPECT_EQ(r.find("akt.cluster.members")[0]->kind, akt::metric_kind::up_down);
    EXPECT_EQ(r.find("akt.cluster.members")[0]->attributes.at("akt.system"), n->sys->name());
  }
  EXPECT_EQ(leaders, 1) << "exactly one node leads";

  // etcd: this node granted a lease, put its member key, claimed "one" in
  // a transaction and listed the prefix; each is a histogram in seconds.
  auto r = report(a);
  for (const char* op : {"lease_grant", "put", "txn", "range"}) {
    auto h = r.find("akt.cluster.etcd.duration", {{"akt.etcd.operation", op}});
    ASSERT_EQ(h.size(), 1u) << op;
    EXPECT_EQ(h[0]->kind, akt::metric_kind::histogram);
    EXPECT_EQ(h[0]->unit, "s");
    EXPECT_GT(h[0]->count, 0u) << op;
    EXPECT_GT(h[0]->sum, 0.0) << op;
    EXPECT_EQ(h[0]->buckets.size(), h[0]->bounds.size() + 1);
    std::uint64_t total = 0;
    for (auto n : h[0]->buckets) total += n;
    EXPECT_EQ(total, h[0]->count) << op;
    EXPECT_EQ(r.value("akt.cluster.etcd.errors", {{"akt.etcd.operation", op}}), 0) << op;
  }
  EXPECT_TRUE(r.find("akt.cluster.etcd.duration", {{"akt.etcd.operation", "member_add"}}).empty())
      << "no series for an operation never made";
}

}  // namespace
