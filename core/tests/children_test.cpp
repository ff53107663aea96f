// Children: names unique among siblings, stopping a parent stops its subtree
// children first, spawning from pre_start, and children stopping alone.
#include "test_util.hpp"

#include <akt/akt.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace akt_test;
using namespace std::chrono_literals;

TEST(children, names_are_unique_among_siblings) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto parent = sys->spawn<tree_node>("parent");
  ASSERT_TRUE(parent);
  ASSERT_TRUE(add_child(*parent, "kid"));
  auto twin = try_add_child(*parent, "kid");
  ASSERT_FALSE(twin);
  EXPECT_EQ(twin.code(), akt::errc::name_taken);
  EXPECT_EQ(parent->children().size(), 1u);
}

TEST(children, same_name_under_different_parents_is_fine) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto p1 = sys->spawn<tree_node>("p1");
  auto p2 = sys->spawn<tree_node>("p2");
  auto top = sys->spawn<tree_node>("kid");
  ASSERT_TRUE(p1 && p2 && top);
  auto k1 = try_add_child(*p1, "kid");
  auto k2 = try_add_child(*p2, "kid");
  ASSERT_TRUE(k1) << outcome(k1);
  ASSERT_TRUE(k2) << outcome(k2);
  EXPECT_NE(*k1, *k2);
  EXPECT_EQ(k1->path(), "akt://sys/p1/kid");
  EXPECT_EQ(k2->path(), "akt://sys/p2/kid");
  auto found1 = sys->lookup("p1/kid");
  auto found2 = sys->lookup("p2/kid");
  auto found_top = sys->lookup("kid");
  ASSERT_TRUE(found1 && found2 && found_top);
  EXPECT_EQ(*found1, *k1);
  EXPECT_EQ(*found2, *k2);
  EXPECT_EQ(*found_top, *top);
  EXPECT_EQ(sys->actor_count(), 5u);
}

TEST(children, stopping_a_parent_stops_its_subtree_children_first) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto stops = std::make_shared<recorder>();
  auto root = sys->spawn<tree_node>("root", stops, "root");
  auto bystander = sys->spawn<tree_node>("bystander", stops, "bystander");
  ASSERT_TRUE(root && bystander);
  auto a = add_child(*root, "a");
  auto b = add_child(*root, "b");
  ASSERT_TRUE(a && b);
  auto a1 = add_child(a, "a1");
  auto a2 = add_child(a, "a2");
  auto b1 = add_child(b, "b1");
  ASSERT_TRUE(a1 && a2 && b1);

  ASSERT_TRUE(root->stop());
  ASSERT_TRUE(root->wait_stopped(5s));

  for (const auto& p : {*root, a, b, a1, a2, b1}) EXPECT_FALSE(p.is_running()) << p.path();
  EXPECT_TRUE(bystander->is_running());
  const auto order = stops->items();
  ASSERT_EQ(order.size(), 6u) << ::testing::PrintToString(order);
  EXPECT_EQ(order.back(), "root") << "the parent's post_stop runs last";
  EXPECT_LT(stops->index_of("root/a/a1"), stops->index_of("root/a"));
  EXPECT_LT(stops->index_of("root/a/a2"), stops->index_of("root/a"));
  EXPECT_LT(stops->index_of("root/b/b1"), stops->index_of("root/b"));
  EXPECT_FALSE(stops->contains("bystander"));
  EXPECT_TRUE(wait_until([&] { return sys->actor_count() == 1; })) << sys->actor_count();
  EXPECT_FALSE(sys->lookup("root/a/a1"));
  EXPECT_FALSE(sys->lookup("root"));
}

// Records, in post_stop, whether any child was still running then.
class watchful_parent : public akt::actor {
 public:
  explicit watchful_parent(std::shared_ptr<recorder> log) : log_(std::move(log)) {}
  akt::status pre_start(akt::context& ctx) override {
    // Children may be spawned from pre_start: the context is the same.
    for (const char* name : {"x", "y", "z"}) {
      auto kid = ctx.spawn<tree_node>(name, log_, name);
      if (!kid) return std::move(kid).error();
      kids_.push_back(*kid);
    }
    return {};
  }
  void receive(akt::context& ctx) override {
    if (ctx.message<get_count>()) (void)ctx.reply(static_cast<int>(ctx.children().size()));
  }
  void post_stop(akt::context&) override {
    int running = 0;
    for (const auto& k : kids_) running += k.is_running() ? 1 : 0;
    log_->add("parent post_stop, children running: " + std::to_string(running));
  }

 private:
  std::shared_ptr<recorder> log_;
  std::vector<akt::pid> kids_;
};

TEST(children, parent_post_stop_runs_after_every_child_has_stopped) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto log = std::make_shared<recorder>();
  auto parent = sys->spawn<watchful_parent>("parent", log);
  ASSERT_TRUE(parent) << outcome(parent);
  auto count = parent->ask<int>(get_count{}, 5s);
  ASSERT_TRUE(count) << outcome(count);
  EXPECT_EQ(*count, 3) << "children spawned in pre_start are children";
  EXPECT_TRUE(sys->lookup("parent/y"));

  ASSERT_TRUE(parent->stop());
  ASSERT_TRUE(parent->wait_stopped(5s));
  const auto order = log->items();
  ASSERT_EQ(order.size(), 4u) << ::testing::PrintToString(order);
  EXPECT_EQ(order.back(), "parent post_stop, children running: 0");
  for (const char* kid : {"x", "y", "z"}) EXPECT_TRUE(log->contains(kid)) << kid;
}

TEST(children, a_child_stopping_alone_leaves_the_parent_running) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto stops = std::make_shared<recorder>();
  auto parent = sys->spawn<tree_node>("parent", stops, "parent");
  ASSERT_TRUE(parent);
  auto kid = add_child(*parent, "kid");
  auto other = add_child(*parent, "other");
  ASSERT_TRUE(kid && other);
  ASSERT_TRUE(kid.stop());
  ASSERT_TRUE(kid.wait_stopped(5s));
  EXPECT_TRUE(parent->is_running());
  EXPECT_TRUE(other.is_running());
  EXPECT_EQ(stops->items(), std::vector<std::string>{"parent/kid"});
  auto r = parent->ask<pong>(ping{2}, 5s);
  ASSERT_TRUE(r) << outcome(r);
  EXPECT_EQ(r->seq, 2);
  EXPECT_TRUE(wait_until([&] { return parent->children().size() == 1; }));
  // The name is free again under the same parent.
  akt::result<akt::pid> again = akt::error(akt::errc::not_found, "not tried");
  EXPECT_TRUE(wait_until([&] {
    again = try_add_child(*parent, "kid");
    return again.has_value() || again.code() != akt::errc::name_taken;
  }));
  EXPECT_TRUE(again) << outcome(again);
}

// Stops its child "kid" when told, and again once the child has stopped.
struct stop_the_kid {};
class stops_its_child_twice : public akt::actor {
 public:
  explicit stops_its_child_twice(std::shared_ptr<recorder> outcomes) : outcomes_(std::move(outcomes)) {}
  akt::status pre_start(akt::context& ctx) override {
    auto kid = ctx.spawn<silent_actor>("kid");
    if (!kid) return std::move(kid).error();
    kid_ = *kid;
    return ctx.watch(kid_);
  }
  void receive(akt::context& ctx) override {
    if (ctx.message<stop_the_kid>()) {
      outcomes_->add("running: " + code_name(ctx.stop(kid_)));
    } else if (ctx.message<akt::terminated>()) {
      outcomes_->add("stopped: " + code_name(ctx.stop(kid_)));
    }
  }
  static std::string code_name(const akt::status& s) {
    return s ? "ok" : std::string(akt::to_string(s.code()));
  }

 private:
  std::shared_ptr<recorder> outcomes_;
  akt::pid kid_;
};

TEST(children, stopping_a_child_that_already_stopped_returns_dead_actor) {
  auto sys = start_system("sys", {.deterministic = true});
  ASSERT_TRUE(sys);
  auto outcomes = std::make_shared<recorder>();
  auto parent = sys->spawn<stops_its_child_twice>("parent", outcomes);
  ASSERT_TRUE(parent) << outcome(parent);
  ASSERT_TRUE(parent->tell(stop_the_kid{}));
  sys->run_ready();
  EXPECT_EQ(outcomes->items(), (std::vector<std::string>{"running: ok", "stopped: dead_actor"}));
}

// Grows a chain: each link spawns the next on a message (never from
// pre_start, which would nest one spawn inside the other), the last one
// hands its pid back.
struct grow {
  int levels = 0;
  std::shared_ptr<akt::pid> last;
};
class chain_link : public akt::actor {
 public:
  void receive(akt::context& ctx) override {
    auto* g = ctx.message<grow>();
    if (g == nullptr) return;
    if (g->levels == 0) {
      *g->last = ctx.self();
      return;
    }
    auto next = ctx.spawn<chain_link>("c");
    if (next) (void)next->tell(grow{g->levels - 1, g->last});
  }
};

TEST(children, an_actor_50000_levels_deep_has_a_path_and_stops_with_its_system) {
  constexpr int depth = 50'000;
  auto sys = start_system("deep", {.deterministic = true});
  ASSERT_TRUE(sys);
  auto first = sys->spawn<chain_link>("c");
  ASSERT_TRUE(first) << outcome(first);
  auto last = std::make_shared<akt::pid>();
  ASSERT_TRUE(first->tell(grow{depth - 1, last}));
  sys->run_ready();
  ASSERT_TRUE(*last) << "the chain stopped growing at " << sys->actor_count() << " actors";
  EXPECT_EQ(sys->actor_count(), static_cast<std::uint64_t>(depth));

  std::string expected = "akt://deep";
  for (int i = 0; i < depth; ++i) expected += "/c";
  EXPECT_EQ(last->path(), expected);
  auto found = sys->lookup(expected);
  ASSERT_TRUE(found) << outcome(found);
  EXPECT_EQ(*found, *last);

  EXPECT_TRUE(sys->stop());
  EXPECT_FALSE(last->is_running());
  EXPECT_EQ(sys->actor_count(), 0u);
  sys.reset();
  found = akt::error(akt::errc::not_found, "dropped");
  last.reset();  // the last pid held the whole chain: it is freed without recursing
}

TEST(children, a_parent_stopped_by_stop_self_stops_its_children_too) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto stops = std::make_shared<recorder>();
  class leaving_parent : public tree_node {
   public:
    using tree_node::tree_node;
    void receive(akt::context& ctx) override {
      if (ctx.message<get_count>()) {
        ctx.stop_self();
        return;
      }
      tree_node::receive(ctx);
    }
  };
  auto parent = sys->spawn<leaving_parent>("parent", stops, "parent");
  ASSERT_TRUE(parent);
  auto kid = add_child(*parent, "kid");
  ASSERT_TRUE(kid);
  ASSERT_TRUE(parent->tell(get_count{}));
  ASSERT_TRUE(parent->wait_stopped(5s));
  EXPECT_FALSE(kid.is_running());
  EXPECT_EQ(stops->items(), (std::vector<std::string>{"parent/kid", "parent"}));
}

}  // namespace
