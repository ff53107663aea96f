// spawn_on: kinds placed on members by strategy and role, against a real
// etcd, three systems in this process.
#include <set>

#include "cluster_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using akt::cluster::placement;
using akt_test::eventually;
using akt_test::node;

class placement_test : public ::testing::Test {
 protected:
  node join(const std::string& name, std::vector<std::string> roles = {}) {
    return akt_test::join_cluster(name, {etcd_.endpoint()}, {.roles = std::move(roles)});
  }
  static bool sees(const node& n, std::size_t members) {
    return eventually([&] { return n.cluster->members().size() == members; });
  }
  static std::string node_of(const akt::pid& p) {
    // akt://sys@host:port/name -> host:port
    const std::string path = p.path();
    const auto at = path.find('@');
    return path.substr(at + 1, path.find('/', at) - at - 1);
  }

  akt_test::etcd_server etcd_;
};

TEST_F(placement_test, alone_every_strategy_spawns_here) {
  node a = join("alpha");
  for (auto where :
       {placement::round_robin(), placement::random(), placement::least_loaded(), placement::local()}) {
    auto p = a.cluster->spawn_on("echo", "", where);
    ASSERT_TRUE(p) << p.error().to_string();
    EXPECT_NE(p->ref()->as_local(), nullptr);
  }
}

TEST_F(placement_test, round_robin_visits_every_member_and_the_actors_answer) {
  node a = join("alpha");
  node b = join("beta");
  node c = join("gamma");
  ASSERT_TRUE(sees(a, 3));
  std::set<std::string> hosts;
  for (int i = 0; i < 6; ++i) {
    auto p = a.cluster->spawn_on("echo", "cart-" + std::to_string(i), placement::round_robin());
    ASSERT_TRUE(p) << p.error().to_string();
    hosts.insert(node_of(*p));
    auto answer = p->ask<google::protobuf::StringValue>(akt_test::text("hi"), 5s);
    ASSERT_TRUE(answer) << answer.error().to_string();
    EXPECT_EQ(answer->value(), p->path() + ":hi");
  }
  EXPECT_EQ(hosts,
            (std::set<std::string>{a.remoting->address(), b.remoting->address(), c.remoting->address()}));
  // The names are cluster-wide: found from another node, taken for everyone.
  ASSERT_TRUE(eventually([&] { return bool(c.sys->lookup("cart-0")); }));
  auto twin = b.cluster->spawn_on("echo", "cart-0", placement::random());
  ASSERT_FALSE(twin);
  EXPECT_EQ(twin.code(), akt::errc::name_taken) << twin.error().to_string();
}

TEST_F(placement_test, a_role_limits_the_members_and_a_missing_role_is_a_clear_error) {
  node a = join("alpha");
  node b = join("beta", {"gpu"});
  ASSERT_TRUE(sees(a, 2));
  ASSERT_TRUE(eventually([&] { return a.cluster->members().back().has_role("gpu"); }));
  for (int i = 0; i < 4; ++i) {
    auto p = a.cluster->spawn_on("echo", "", placement::random("gpu"));
    ASSERT_TRUE(p) << p.error().to_string();
    EXPECT_EQ(node_of(*p), b.remoting->address());
  }
  auto none = a.cluster->spawn_on("echo", "", placement::round_robin("tpu"));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.code(), akt::errc::not_found);
  EXPECT_NE(none.error().message().find("role 'tpu'"), std::string::npos) << none.error().message();
  auto here = b.cluster->spawn_on("echo", "", placement::local());
  ASSERT_TRUE(here) << here.error().to_string();
  EXPECT_NE(here->ref()->as_local(), nullptr);
}

TEST_F(placement_test, an_unknown_kind_is_a_clear_error_and_spawns_nothing) {
  node a = join("alpha");
  node b = join("beta");
  ASSERT_TRUE(sees(a, 2));
  const auto before = a.sys->actor_count() + b.sys->actor_count();
  auto p = a.cluster->spawn_on("no-such-kind", "x", placement::round_robin());
  ASSERT_FALSE(p);
  EXPECT_EQ(p.code(), akt::errc::not_found);
  EXPECT_NE(p.error().message().find("no-such-kind"), std::string::npos) << p.error().message();
  EXPECT_EQ(a.sys->actor_count() + b.sys->actor_count(), before);
  auto local = a.cluster->spawn_on("no-such-kind", "x", placement::local());
  ASSERT_FALSE(local);
  EXPECT_EQ(local.code(), akt::errc::not_found);
  auto empty = a.cluster->spawn_on("", "x");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.code(), akt::errc::invalid_argument);
  auto bad_name = a.cluster->spawn_on("echo", "a/b", placement::local());
  ASSERT_FALSE(bad_name);
  EXPECT_EQ(bad_name.code(), akt::errc::invalid_name) << bad_name.error().to_string();
}

TEST_F(placement_test, least_loaded_fills_the_emptier_member_first) {
  node a = join("alpha");
  node b = join("beta");
  ASSERT_TRUE(sees(a, 2));
  // alpha is busy: 40 actors more than beta.
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(a.sys->spawn<akt_test::echo>(akt::spawn_options{}));
  // A burst of placements goes to beta, even before beta advertises again.
  for (int i = 0; i < 20; ++i) {
    auto p = a.cluster->spawn_on("echo", "", placement::least_loaded());
    ASSERT_TRUE(p) << p.error().to_string();
    EXPECT_EQ(node_of(*p), b.remoting->address()) << "placement " << i;
  }
}

}  // namespace
