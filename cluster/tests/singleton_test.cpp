// Singletons and sends by name, against a real etcd, systems in this
// process (the multi-process tests kill nodes).
#include "cluster_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using akt_test::eventually;
using akt_test::node;
using google::protobuf::StringValue;

class singleton_test : public ::testing::Test {
 protected:
  node join(const std::string& name, std::vector<std::string> roles = {}) {
    return akt_test::join_cluster(name, {etcd_.endpoint()}, {.roles = std::move(roles)});
  }
  akt_test::etcd_server etcd_;
};

TEST_F(singleton_test, it_runs_on_the_leader_and_every_node_gets_the_same_actor) {
  node a = join("alpha");
  node b = join("beta");
  node c = join("gamma");
  ASSERT_TRUE(eventually([&] { return c.cluster->members().size() == 3; }));
  auto from_c = c.cluster->spawn_singleton("ledger", "echo");
  ASSERT_TRUE(from_c) << from_c.error().to_string();
  EXPECT_NE(from_c->path().find(a.remoting->address()), std::string::npos)
      << "on the leader: " << from_c->path();
  auto from_b = b.cluster->spawn_singleton("ledger", "echo");
  ASSERT_TRUE(from_b) << from_b.error().to_string();
  EXPECT_EQ(from_b->path(), from_c->path()) << "idempotent";
  auto from_a = a.cluster->spawn_singleton("ledger", "echo");
  ASSERT_TRUE(from_a) << from_a.error().to_string();
  EXPECT_NE(from_a->ref()->as_local(), nullptr);
  EXPECT_EQ(a.cluster->singletons(), (std::vector<std::pair<std::string, std::string>>{{"ledger", "echo"}}));
  auto answer = c.cluster->ask<StringValue>("ledger", akt_test::text("hi"), 5s);
  ASSERT_TRUE(answer) << answer.error().to_string();
  EXPECT_EQ(answer->value(), from_a->path() + ":hi");
}

TEST_F(singleton_test, it_moves_to_the_next_oldest_when_its_node_leaves_and_sends_ride_out_the_move) {
  node a = join("alpha");
  node b = join("beta");
  node c = join("gamma");
  ASSERT_TRUE(eventually([&] { return c.cluster->members().size() == 3; }));
  ASSERT_TRUE(c.cluster->spawn_singleton("ledger", "echo"));
  const std::string b_address = b.remoting->address();
  ASSERT_TRUE(a.sys->stop());  // the leader leaves
  a.sys.reset();
  // A send by name from c waits out the handoff and reaches the new one, on b.
  auto answer = c.cluster->ask<StringValue>("ledger", akt_test::text("moved?"), 10s);
  ASSERT_TRUE(answer) << answer.error().to_string();
  EXPECT_NE(answer->value().find(b_address), std::string::npos) << answer->value();
  ASSERT_TRUE(eventually([&] {
    auto p = b.sys->lookup_local("ledger");
    return p.has_value();
  }));
  EXPECT_TRUE(c.cluster->tell("ledger", akt_test::text("fire and forget"), 2s));
}

TEST_F(singleton_test, a_role_picks_its_host_and_a_missing_role_or_kind_is_a_clear_error) {
  node a = join("alpha");
  node b = join("beta", {"billing"});
  ASSERT_TRUE(eventually([&] { return a.cluster->members().size() == 2; }));
  auto billed = a.cluster->spawn_singleton("invoicer", "echo", {.role = "billing"});
  ASSERT_TRUE(billed) << billed.error().to_string();
  EXPECT_NE(billed->path().find(b.remoting->address()), std::string::npos) << billed->path();
  auto nobody = a.cluster->spawn_singleton("auditor", "echo", {.role = "audit"});
  ASSERT_FALSE(nobody);
  EXPECT_EQ(nobody.code(), akt::errc::not_found);
  EXPECT_NE(nobody.error().message().find("role 'audit'"), std::string::npos) << nobody.error().message();
  auto unknown = a.cluster->spawn_singleton("ghost", "no-such-kind");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.code(), akt::errc::not_found);
  EXPECT_NE(unknown.error().message().find("no-such-kind"), std::string::npos) << unknown.error().message();
  // Neither left a record behind.
  EXPECT_TRUE(eventually([&] { return a.cluster->singletons().size() == 1u; }));
  auto other_kind = b.cluster->spawn_singleton("invoicer", "other");
  ASSERT_FALSE(other_kind);
  EXPECT_EQ(other_kind.code(), akt::errc::invalid_argument) << other_kind.error().to_string();
  auto bad = a.cluster->spawn_singleton("a/b", "echo");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.code(), akt::errc::invalid_name);
}

TEST_F(singleton_test, an_ordinary_actors_name_is_not_a_singleton) {
  node a = join("alpha");
  ASSERT_TRUE(a.sys->spawn<akt_test::echo>("plain"));
  auto s = a.cluster->spawn_singleton("plain", "echo");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.code(), akt::errc::invalid_argument) << s.error().to_string();
  EXPECT_TRUE(a.cluster->singletons().empty());
}

TEST_F(singleton_test, stop_singleton_stops_it_for_good) {
  node a = join("alpha");
  node b = join("beta");
  ASSERT_TRUE(eventually([&] { return b.cluster->members().size() == 2; }));
  auto s = b.cluster->spawn_singleton("ledger", "echo");
  ASSERT_TRUE(s) << s.error().to_string();
  ASSERT_TRUE(b.cluster->stop_singleton("ledger"));
  ASSERT_TRUE(eventually([&] { return !a.sys->lookup_local("ledger"); }));
  ASSERT_TRUE(eventually([&] { return !b.sys->lookup("ledger") && b.cluster->singletons().empty(); }));
  auto again = b.cluster->stop_singleton("ledger");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.code(), akt::errc::not_found);
}

TEST_F(singleton_test, a_singleton_that_stops_comes_back) {
  node a = join("alpha");
  auto s = a.cluster->spawn_singleton("ledger", "echo");
  ASSERT_TRUE(s) << s.error().to_string();
  ASSERT_TRUE(s->stop());
  ASSERT_TRUE(s->wait_stopped(5s));
  auto back = a.cluster->await("ledger", 10s, &*s);
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_FALSE(*back == *s);
}

TEST_F(singleton_test, sends_by_name_wait_for_a_name_within_the_deadline_only) {
  node a = join("alpha");
  node b = join("beta");
  const auto t0 = std::chrono::steady_clock::now();
  auto nobody = a.cluster->tell("nobody", akt_test::text("x"), 300ms);
  ASSERT_FALSE(nobody);
  EXPECT_EQ(nobody.code(), akt::errc::not_found);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  // A name that appears while a send waits for it.
  std::thread later([&] {
    std::this_thread::sleep_for(200ms);  // the send below is already waiting (a scenario, not a sync)
    (void)b.sys->spawn<akt_test::echo>("late");
  });
  auto r = a.cluster->ask<StringValue>("late", akt_test::text("x"), 10s);
  later.join();
  ASSERT_TRUE(r) << r.error().to_string();
}

}  // namespace
