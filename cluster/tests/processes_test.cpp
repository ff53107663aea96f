// Cluster nodes as processes of their own (akt_cluster_test_peer), against
// a real etcd: the same membership changes in the same order everywhere,
// and a singleton that survives its node being killed.
#include <atomic>

#include "cluster_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using akt_test::eventually;
using akt_test::peer_process;

bool has_members(peer_process& p, std::size_t n, const std::string& leader = {}) {
  return eventually([&] {
    const std::string want = "OK " + std::to_string(n) + (leader.empty() ? "" : " " + leader);
    const std::string got = p.command("members");
    return leader.empty() ? got.starts_with(want + " ") : got == want;
  });
}

TEST(cluster_processes, three_processes_see_the_same_changes_in_the_same_order) {
  akt_test::etcd_server etcd;
  peer_process p1(etcd.endpoint(), {});
  peer_process p2(etcd.endpoint(), {});
  peer_process p3(etcd.endpoint(), {});
  for (auto* p : {&p1, &p2, &p3}) {
    ASSERT_TRUE(has_members(*p, 3, p1.address())) << p->address() << ": the first one leads";
    ASSERT_EQ(p->command("mark"), "OK");
  }
  auto p4 = std::make_unique<peer_process>(etcd.endpoint(), std::vector<std::string>{});
  for (auto* p : {&p1, &p2, &p3}) ASSERT_TRUE(has_members(*p, 4));
  ASSERT_TRUE(p1.quit()) << "the leader leaves";
  for (auto* p : {&p2, &p3}) ASSERT_TRUE(has_members(*p, 3, p2.address()));
  const std::string p4_address = p4->address();
  p4->kill_now();  // and one dies
  for (auto* p : {&p2, &p3}) ASSERT_TRUE(has_members(*p, 2, p2.address()));
  // Events reach a node's subscribers after its view changed: read them
  // until they are all in (bounded). Only the tail is compared, since an
  // event of the first view may be recorded just after "mark".
  const std::string expected = "member_joined " + p4_address + ";member_left " + p1.address() +
                               ";leader_changed " + p2.address() + ";member_left " + p4_address;
  for (auto* p : {&p2, &p3}) {
    std::string got;
    EXPECT_TRUE(eventually([&] {
      got = p->command("events");
      return got.ends_with(expected);
    })) << p->address()
        << " saw " << got;
  }
}

TEST(cluster_processes, a_killed_nodes_singleton_comes_back_on_a_survivor_within_the_lease) {
  akt_test::etcd_server etcd;
  peer_process p1(etcd.endpoint(), {});
  peer_process p2(etcd.endpoint(), {});
  akt_test::node here = akt_test::join_cluster("observer", {etcd.endpoint()});
  ASSERT_TRUE(eventually([&] { return here.cluster->members().size() == 3; }));
  const std::string placed = p2.command("singleton ledger echo");
  ASSERT_TRUE(placed.starts_with("OK ")) << placed;
  EXPECT_NE(placed.find(p1.address()), std::string::npos) << "on the leader: " << placed;
  auto first = here.cluster->ask<google::protobuf::StringValue>("ledger", akt_test::text("a"), 5s);
  ASSERT_TRUE(first) << first.error().to_string();

  const auto t0 = std::chrono::steady_clock::now();
  p1.kill_now();
  // A send by name rides out the handoff: the lease (2 s) expires, p2 (now
  // the oldest) spawns the singleton, the name reappears.
  auto moved = here.cluster->ask<google::protobuf::StringValue>("ledger", akt_test::text("b"), 10s);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(moved) << moved.error().to_string();
  EXPECT_NE(moved->value().find(p2.address()), std::string::npos) << moved->value();
  EXPECT_LT(took, 2s + 1s + 2s) << "lease TTL plus one second (plus slack for a loaded machine)";
  const std::string from_p2 = p2.command("ask ledger c");
  EXPECT_TRUE(from_p2.starts_with("OK ")) << from_p2;
  EXPECT_EQ(p2.command("singleton ledger echo"), "OK " + moved->value().substr(0, moved->value().rfind(':')))
      << "idempotent after the move";
}

TEST(cluster_processes, a_frozen_nodes_watchers_hear_within_the_lease_and_it_is_stopped_when_it_thaws_late) {
  akt_test::etcd_server etcd;
  peer_process frozen(etcd.endpoint(), {"cart"});
  akt_test::node here = akt_test::join_cluster("observer", {etcd.endpoint()});
  ASSERT_TRUE(eventually([&] { return bool(here.sys->lookup("cart")); }));
  auto cart = here.sys->lookup("cart").value();
  std::atomic<bool> terminated{false};
  auto watcher = here.sys->spawn_fn(akt::spawn_options{}, [&, cart](akt::context& ctx) {
    if (ctx.is<std::string>()) {
      (void)ctx.watch(cart);
      (void)ctx.reply(std::string("watching"));
    }
    if (ctx.is<akt::terminated>()) terminated = true;
  });
  ASSERT_TRUE(watcher && watcher->ask<std::string>(std::string("watch"), 5s));
  ASSERT_TRUE(cart.ask<google::protobuf::StringValue>(akt_test::text("there?"), 5s)) << "the watch arrived";
  const auto t0 = std::chrono::steady_clock::now();
  frozen.freeze();
  ASSERT_TRUE(eventually([&] { return terminated.load(); }, 8s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s + 1s + 2s) << "lease TTL plus one second (plus slack)";
  ASSERT_TRUE(eventually([&] { return !here.sys->lookup("cart"); }, 8s));
  // Someone else takes the name meanwhile; the frozen node, thawed, must not
  // answer to it too: it registers again and stops its own "cart".
  ASSERT_TRUE(here.sys->spawn<akt_test::echo>("cart"));
  frozen.thaw();
  ASSERT_TRUE(eventually([&] { return here.cluster->members().size() == 2; }, 10s)) << "it came back";
  ASSERT_TRUE(eventually([&] { return frozen.command("local cart").starts_with("ERR "); }, 10s))
      << "its own cart stopped once it found the name taken";
  auto now = here.sys->lookup("cart");
  ASSERT_TRUE(now);
  EXPECT_NE(now->ref()->as_local(), nullptr) << "one holder, here";
}

}  // namespace
