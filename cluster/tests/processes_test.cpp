// Cluster nodes as processes of their own (akt_cluster_test_peer), against
// a real etcd: the same membership changes in the same order everywhere,
// and a singleton that survives its node being killed.
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
  const std::string expected = "OK member_joined " + p4_address + ";member_left " + p1.address() +
                               ";leader_changed " + p2.address() + ";member_left " + p4_address;
  EXPECT_EQ(p2.command("events"), expected);
  EXPECT_EQ(p3.command("events"), expected);
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

}  // namespace
