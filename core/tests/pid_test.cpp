// pid: identity (copy, ==, hash), path/name/parent/children, stopping, and
// what a pid of a stopped actor or a null pid does.
#include "test_util.hpp"

#include <akt/akt.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <unordered_map>
#include <unordered_set>

namespace {

using namespace akt_test;
using namespace std::chrono_literals;

TEST(pid, path_is_akt_system_then_names) {
  auto sys = start_system("shop");
  ASSERT_TRUE(sys);
  auto parent = sys->spawn<tree_node>("parent");
  ASSERT_TRUE(parent);
  auto child = add_child(*parent, "child");
  ASSERT_TRUE(child);
  auto grandchild = add_child(child, "grandchild");
  ASSERT_TRUE(grandchild);
  EXPECT_EQ(parent->path(), "akt://shop/parent");
  EXPECT_EQ(child.path(), "akt://shop/parent/child");
  EXPECT_EQ(grandchild.path(), "akt://shop/parent/child/grandchild");
  EXPECT_EQ(parent->name(), "parent");
  EXPECT_EQ(child.name(), "child");
}

TEST(pid, parent_is_null_for_top_level_and_the_spawner_for_children) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto parent = sys->spawn<tree_node>("parent");
  ASSERT_TRUE(parent);
  EXPECT_TRUE(parent->parent().is_null());
  auto child = add_child(*parent, "child");
  ASSERT_TRUE(child);
  EXPECT_EQ(child.parent(), *parent);
  auto grandchild = add_child(child, "grandchild");
  ASSERT_TRUE(grandchild);
  EXPECT_EQ(grandchild.parent(), child);
}

TEST(pid, children_lists_exactly_the_live_children) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto parent = sys->spawn<tree_node>("parent");
  ASSERT_TRUE(parent);
  EXPECT_TRUE(parent->children().empty());
  auto a = add_child(*parent, "a");
  auto b = add_child(*parent, "b");
  ASSERT_TRUE(a && b);
  auto grandchild = add_child(a, "deep");
  ASSERT_TRUE(grandchild);

  auto kids = parent->children();
  ASSERT_EQ(kids.size(), 2u) << "grandchildren are not children";
  EXPECT_NE(std::find(kids.begin(), kids.end(), a), kids.end());
  EXPECT_NE(std::find(kids.begin(), kids.end(), b), kids.end());

  ASSERT_TRUE(b.stop());
  ASSERT_TRUE(b.wait_stopped(5s));
  EXPECT_TRUE(wait_until([&] { return parent->children().size() == 1; }));
  kids = parent->children();
  ASSERT_EQ(kids.size(), 1u);
  EXPECT_EQ(kids[0], a);
}

TEST(pid, copies_are_equal_and_hash_equal) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto a = sys->spawn<echo_actor>("a");
  auto b = sys->spawn<echo_actor>("b");
  ASSERT_TRUE(a && b);
  akt::pid copy = *a;
  akt::pid moved_into = akt::pid(copy);
  EXPECT_EQ(copy, *a);
  EXPECT_EQ(moved_into, *a);
  EXPECT_EQ(std::hash<akt::pid>()(copy), std::hash<akt::pid>()(*a));
  EXPECT_NE(*a, *b);
  EXPECT_FALSE(*a == *b);

  auto looked_up = sys->lookup("a");
  ASSERT_TRUE(looked_up);
  EXPECT_EQ(*looked_up, *a) << "lookup returns the same actor's pid";
  EXPECT_EQ(std::hash<akt::pid>()(*looked_up), std::hash<akt::pid>()(*a));

  std::unordered_set<akt::pid> set{*a, copy, *looked_up, *b};
  EXPECT_EQ(set.size(), 2u);
  std::unordered_map<akt::pid, int> map;
  map[*a] = 1;
  map[copy] += 1;
  EXPECT_EQ(map.at(*looked_up), 2);
}

TEST(pid, copy_works_through_the_copy) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto a = sys->spawn<echo_actor>("a");
  ASSERT_TRUE(a);
  const akt::pid copy = *a;
  auto r = copy.ask<pong>(ping{11}, 5s);
  ASSERT_TRUE(r) << outcome(r);
  EXPECT_EQ(r->seq, 11);
}

TEST(pid, stop_runs_post_stop_and_wait_stopped_waits_for_it) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto stops = std::make_shared<recorder>();
  auto a = sys->spawn<tree_node>("a", stops, "a");
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->stop());
  auto waited = a->wait_stopped(5s);
  ASSERT_TRUE(waited) << outcome(waited);
  EXPECT_FALSE(a->is_running());
  EXPECT_EQ(stops->items(), std::vector<std::string>{"a"});
  EXPECT_TRUE(a->wait_stopped(1s)) << "waiting again on a stopped actor succeeds at once";
}

TEST(pid, after_stop_tell_and_ask_fail_with_dead_actor) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto a = sys->spawn<echo_actor>("a");
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->stop());
  ASSERT_TRUE(a->wait_stopped(5s));
  EXPECT_FALSE(a->is_running());

  EXPECT_EQ(code_of(a->tell(ping{})), akt::errc::dead_actor);
  const auto t0 = clock_type::now();
  auto r = a->ask(ping{}, 10s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.code(), akt::errc::dead_actor);
  EXPECT_LT(clock_type::now() - t0, 5s) << "an ask to a dead actor fails at once, not after its timeout";
  auto typed = a->ask<pong>(ping{}, 1s);
  ASSERT_FALSE(typed);
  EXPECT_EQ(typed.code(), akt::errc::dead_actor);
  EXPECT_EQ(code_of(a->stop()), akt::errc{0}) << "stopping a stopped actor is a no-op";
  EXPECT_EQ(a->path(), "akt://sys/a") << "a pid stays valid after its actor stopped";
}

TEST(pid, tell_to_a_stopped_actor_is_a_dead_letter) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto a = sys->spawn<echo_actor>("a");
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->stop());
  ASSERT_TRUE(a->wait_stopped(5s));
  EXPECT_TRUE(wait_until([&] { return sys->actor_count() == 0; }));
  const auto before = sys->dead_letters();
  (void)a->tell(ping{});
  (void)a->tell(ping{});
  EXPECT_EQ(sys->dead_letters(), before + 2);
}

TEST(pid, stop_finishes_the_message_in_hand_and_dead_letters_the_queue) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto release = std::make_shared<gate>();
  auto handled = std::make_shared<std::atomic<int>>(0);
  auto a = sys->spawn_fn("busy", [release, handled](akt::context& ctx) {
    if (ctx.message<ping>()) {
      release->wait_for(5s);
      ++*handled;
    }
  });
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->tell(ping{0}));
  ASSERT_TRUE(wait_until([&] { return a->metrics().received == 1; }));
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(a->tell(ping{i}));
  ASSERT_TRUE(wait_until([&] { return a->metrics().mailbox_size == 3; }));
  const auto before = sys->dead_letters();

  ASSERT_TRUE(a->stop());
  release->open();
  ASSERT_TRUE(a->wait_stopped(5s));
  EXPECT_EQ(handled->load(), 1) << "only the message in hand is finished";
  wait_until([&] { return sys->dead_letters() >= before + 3; });
  EXPECT_EQ(sys->dead_letters(), before + 3) << "the three queued messages go to dead letters";
}

TEST(pid, wait_stopped_on_a_running_actor_fails_after_its_timeout) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto a = sys->spawn<echo_actor>("a");
  ASSERT_TRUE(a);
  const auto t0 = clock_type::now();
  auto s = a->wait_stopped(100ms);
  EXPECT_FALSE(s);
  EXPECT_GE(clock_type::now() - t0, 100ms);
  EXPECT_TRUE(a->is_running());
}

TEST(pid, null_pid_returns_errors_instead_of_crashing) {
  const akt::pid none;
  EXPECT_TRUE(none.is_null());
  EXPECT_FALSE(static_cast<bool>(none));
  EXPECT_FALSE(none.is_running());
  EXPECT_EQ(none, akt::pid());
  EXPECT_EQ(none.name(), "");
  EXPECT_EQ(none.path(), "akt://<null>");
  EXPECT_TRUE(none.parent().is_null());
  EXPECT_TRUE(none.children().empty());
  EXPECT_EQ(none.metrics().received, 0u);

  auto told = none.tell(ping{});
  ASSERT_FALSE(told);
  EXPECT_FALSE(told.error().message().empty());
  auto asked = none.ask(ping{}, 1s);
  EXPECT_FALSE(asked);
  auto typed = none.ask<pong>(ping{}, 1s);
  EXPECT_FALSE(typed);
  EXPECT_FALSE(none.stop());
  EXPECT_FALSE(none.wait_stopped(1s));
  EXPECT_EQ(std::hash<akt::pid>()(none), std::hash<akt::pid>()(akt::pid()));
}

TEST(pid, null_pid_from_inside_an_actor_returns_errors) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto a = sys->spawn_fn("a", [](akt::context& ctx) {
    if (ctx.message<ping>()) {
      const akt::pid none;
      auto t = ctx.tell(none, pong{});
      auto r = none.ask(pong{}, 1s);
      (void)ctx.reply(!t && !r);
    }
  });
  ASSERT_TRUE(a);
  auto r = a->ask<bool>(ping{}, 5s);
  ASSERT_TRUE(r) << outcome(r);
  EXPECT_TRUE(*r);
}

}  // namespace
