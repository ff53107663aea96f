// Spawning: pre_start and constructor failures, actor names (validation,
// uniqueness, anonymous names) and lookup by name and path.
#include "test_util.hpp"

#include <akt/akt.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace akt_test;
using namespace std::chrono_literals;

struct lifecycle_log {
  std::atomic<int> pre_starts{0};
  std::atomic<int> post_stops{0};
  std::atomic<int> received{0};
};

enum class failure { none, error, exception };

class failing_actor : public akt::actor {
 public:
  failing_actor(std::shared_ptr<lifecycle_log> log, failure how) : log_(std::move(log)), how_(how) {}

  akt::status pre_start(akt::context&) override {
    ++log_->pre_starts;
    if (how_ == failure::error) return akt::error(akt::errc::invalid_argument, "not today");
    if (how_ == failure::exception) throw std::runtime_error("pre_start exploded");
    return {};
  }
  void receive(akt::context& ctx) override {
    ++log_->received;
    if (auto* p = ctx.message<ping>()) (void)ctx.reply(pong{p->seq});
  }
  void post_stop(akt::context&) override { ++log_->post_stops; }

 private:
  std::shared_ptr<lifecycle_log> log_;
  failure how_;
};

class throwing_constructor : public akt::actor {
 public:
  explicit throwing_constructor(std::shared_ptr<lifecycle_log> log) {
    ++log->pre_starts;  // counts constructions here
    throw std::runtime_error("constructor exploded");
  }
  void receive(akt::context&) override {}
};

// Spawns a failing child when told to, replying with the spawn's result.
struct spawn_failing_child {
  std::string name;
  failure how;
};

class failing_parent : public akt::actor {
 public:
  explicit failing_parent(std::shared_ptr<lifecycle_log> log) : log_(std::move(log)) {}
  void receive(akt::context& ctx) override {
    if (auto* m = ctx.message<spawn_failing_child>()) {
      (void)ctx.reply(ctx.spawn<failing_actor>(m->name, log_, m->how));
    }
  }

 private:
  std::shared_ptr<lifecycle_log> log_;
};

class ready_flag_actor : public akt::actor {
 public:
  explicit ready_flag_actor(std::shared_ptr<std::atomic<bool>> ready) : ready_(std::move(ready)) {}
  akt::status pre_start(akt::context&) override {
    ready_->store(true);
    return {};
  }
  void receive(akt::context&) override {}

 private:
  std::shared_ptr<std::atomic<bool>> ready_;
};

TEST(spawn, returns_a_running_pid_whose_pre_start_has_run) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto ready = std::make_shared<std::atomic<bool>>(false);
  auto a = sys->spawn<ready_flag_actor>("ready", ready);
  ASSERT_TRUE(a) << outcome(a);
  EXPECT_TRUE(ready->load()) << "spawn runs pre_start before it returns";
  EXPECT_TRUE(a->is_running());
  EXPECT_EQ(a->name(), "ready");
}

TEST(spawn, forwards_constructor_arguments) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto total = std::make_shared<std::atomic<std::int64_t>>(0);
  auto a = sys->spawn<counting_actor>("counter", total);
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->tell(ping{}));
  EXPECT_TRUE(wait_until([&] { return total->load() == 1; }));
}

TEST(spawn, spawn_fn_makes_an_actor_of_a_lambda) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto a = sys->spawn_fn("doubler", [](akt::context& ctx) {
    if (auto* p = ctx.message<ping>()) (void)ctx.reply(pong{p->seq * 2});
  });
  ASSERT_TRUE(a) << outcome(a);
  auto r = a->ask<pong>(ping{21}, 5s);
  ASSERT_TRUE(r) << outcome(r);
  EXPECT_EQ(r->seq, 42);
}

// A cycle the runtime must break: the actor's own pid, held in state that
// lives as long as its cell (the spawn's function, a behavior). Until the
// actor stops, the pid keeps its cell alive, the cell its parent, up to the
// guardian and the system.
TEST(spawn, an_actor_whose_spawn_fn_state_holds_its_own_pid_is_released_when_it_stops) {
  auto sys = start_system("sys", {.deterministic = true});
  ASSERT_TRUE(sys);
  auto in_fn = std::make_shared<akt::pid>();
  auto in_behavior = std::make_shared<akt::pid>();
  const std::weak_ptr<akt::pid> fn_state = in_fn;
  const std::weak_ptr<akt::pid> behavior_state = in_behavior;
  auto a = sys->spawn_fn("selfish", [in_fn, in_behavior](akt::context& ctx) {
    if (ctx.message<ping>()) ctx.become([in_behavior](akt::context&) {});
  });
  ASSERT_TRUE(a) << outcome(a);
  *in_fn = *a;
  *in_behavior = *a;
  in_fn.reset();
  in_behavior.reset();
  ASSERT_TRUE(a->tell(ping{}));
  sys->run_ready();

  ASSERT_TRUE(a->stop());
  ASSERT_TRUE(a->wait_stopped(5s));

  EXPECT_TRUE(fn_state.expired()) << "the spawn's function still holds the stopped actor's pid";
  EXPECT_TRUE(behavior_state.expired()) << "the behavior still holds the stopped actor's pid";
}

// Over-aligned types: the small-object allocator's blocks are 16-byte aligned.
struct alignas(64) wide_argument {
  int value = 0;
};
struct alignas(64) wide_message {
  int seq = 0;
};
struct alignas(64) wider_message {  // another size class
  int seq = 0;
  char padding[200] = {};
};

class alignas(64) wide_actor : public akt::actor {
 public:
  wide_actor(wide_argument arg, std::shared_ptr<recorder> misaligned)
      : arg_(arg), misaligned_(std::move(misaligned)) {
    if (!is_aligned(this)) misaligned_->add("actor " + std::to_string(arg_.value));
  }
  void receive(akt::context& ctx) override {
    if (auto* m = ctx.message<wide_message>(); m != nullptr && !is_aligned(m)) {
      misaligned_->add("message " + std::to_string(m->seq));
    } else if (auto* w = ctx.message<wider_message>(); w != nullptr && !is_aligned(w)) {
      misaligned_->add("wider message " + std::to_string(w->seq));
    }
  }

 private:
  static bool is_aligned(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 64 == 0; }

  wide_argument arg_;
  std::shared_ptr<recorder> misaligned_;
};

TEST(spawn, over_aligned_actors_messages_and_arguments_get_memory_aligned_for_them) {
  auto sys = start_system("sys", {.deterministic = true});
  ASSERT_TRUE(sys);
  auto misaligned = std::make_shared<recorder>();
  for (int i = 0; i < 8; ++i) {  // a block of the allocator is 64-byte aligned by chance
    auto a = sys->spawn_anonymous<wide_actor>(wide_argument{i}, misaligned);
    ASSERT_TRUE(a) << outcome(a);
    ASSERT_TRUE(a->tell(wide_message{i}));
    ASSERT_TRUE(a->tell(wider_message{i}));
    sys->run_ready();
  }
  EXPECT_EQ(misaligned->items(), std::vector<std::string>{});
}

void expect_failed_pre_start_leaves_nothing(failure how) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto log = std::make_shared<lifecycle_log>();
  auto a = sys->spawn<failing_actor>("fragile", log, how);
  ASSERT_FALSE(a) << "spawn must fail when pre_start fails";
  EXPECT_EQ(a.code(), akt::errc::pre_start_failed) << outcome(a);
  EXPECT_EQ(log->pre_starts.load(), 1);
  EXPECT_EQ(sys->actor_count(), 0u);
  auto found = sys->lookup("fragile");
  ASSERT_FALSE(found) << "a failed spawn leaves no actor behind";
  EXPECT_EQ(found.code(), akt::errc::not_found);

  // The name is free again (waiting, bounded, in case freeing is asynchronous).
  akt::result<akt::pid> again = akt::error(akt::errc::not_found, "not tried");
  EXPECT_TRUE(wait_until([&] {
    again = sys->spawn<failing_actor>("fragile", log, failure::none);
    return again.has_value() || again.code() != akt::errc::name_taken;
  }));
  ASSERT_TRUE(again) << outcome(again);
  auto r = again->ask<pong>(ping{3}, 5s);
  ASSERT_TRUE(r) << outcome(r);
  EXPECT_EQ(r->seq, 3);

  ASSERT_TRUE(sys->stop());
  EXPECT_EQ(log->post_stops.load(), 1)
      << "post_stop runs for the healthy actor only, never for the failed one";
}

TEST(spawn, pre_start_returning_an_error_fails_with_pre_start_failed_and_frees_the_name) {
  expect_failed_pre_start_leaves_nothing(failure::error);
}

TEST(spawn, pre_start_throwing_fails_with_pre_start_failed_and_frees_the_name) {
  expect_failed_pre_start_leaves_nothing(failure::exception);
}

TEST(spawn, pre_start_failure_of_a_child_fails_ctx_spawn_with_pre_start_failed) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto log = std::make_shared<lifecycle_log>();
  auto parent = sys->spawn<failing_parent>("parent", log);
  ASSERT_TRUE(parent);
  for (auto how : {failure::error, failure::exception}) {
    auto r = parent->ask<akt::result<akt::pid>>(spawn_failing_child{"kid", how}, 5s);
    ASSERT_TRUE(r) << outcome(r);
    ASSERT_FALSE(*r);
    EXPECT_EQ(r->code(), akt::errc::pre_start_failed);
  }
  EXPECT_TRUE(parent->children().empty());
  auto missing = sys->lookup("parent/kid");
  EXPECT_FALSE(missing);
  akt::result<akt::result<akt::pid>> ok = akt::error(akt::errc::not_found, "not tried");
  EXPECT_TRUE(wait_until([&] {
    ok = parent->ask<akt::result<akt::pid>>(spawn_failing_child{"kid", failure::none}, 5s);
    return !ok || ok->has_value() || ok->code() != akt::errc::name_taken;
  }));
  ASSERT_TRUE(ok) << outcome(ok);
  EXPECT_TRUE(*ok) << "the child's name is free again: " << outcome(*ok);
  ASSERT_TRUE(sys->stop());
  EXPECT_EQ(log->post_stops.load(), 1);
}

TEST(spawn, constructor_throwing_fails_with_pre_start_failed) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto log = std::make_shared<lifecycle_log>();
  auto a = sys->spawn<throwing_constructor>("ctor", log);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.code(), akt::errc::pre_start_failed);
  EXPECT_NE(a.error().message().find("constructor exploded"), std::string::npos) << a.error().message();
  EXPECT_EQ(log->pre_starts.load(), 1);
  EXPECT_EQ(sys->actor_count(), 0u);
  auto again = sys->spawn<echo_actor>("ctor");
  EXPECT_TRUE(again) << "the name was never taken: " << outcome(again);
}

class throws_an_int : public akt::actor {
 public:
  throws_an_int() { throw 42; }
  void receive(akt::context&) override {}
};

// Constructs fine the first time, throws an int when made again (a restart).
class throws_an_int_when_restarted : public akt::actor {
 public:
  explicit throws_an_int_when_restarted(std::shared_ptr<std::atomic<int>> made) {
    if (made->fetch_add(1) > 0) throw 42;
  }
  void receive(akt::context& ctx) override {
    if (ctx.message<ping>()) throw std::runtime_error("restart me");
  }
};

TEST(spawn, a_constructor_throwing_something_not_derived_from_std_exception_fails_the_spawn_or_restart) {
  auto sys = start_system("sys", {.deterministic = true});
  ASSERT_TRUE(sys);
  auto a = sys->spawn<throws_an_int>("odd");
  ASSERT_FALSE(a);
  EXPECT_EQ(a.code(), akt::errc::pre_start_failed);
  EXPECT_NE(a.error().message().find("threw: a value of type int (not derived from std::exception)"),
            std::string::npos)
      << a.error().message();
  EXPECT_EQ(sys->actor_count(), 0u);

  // In a restart, where nothing may escape: the actor is stopped instead.
  auto made = std::make_shared<std::atomic<int>>(0);
  auto b = sys->spawn<throws_an_int_when_restarted>("odd-later", made);
  ASSERT_TRUE(b) << outcome(b);
  ASSERT_TRUE(b->tell(ping{}));
  sys->run_ready();
  EXPECT_EQ(made->load(), 2);
  EXPECT_TRUE(b->wait_stopped(5s)) << "the restart failed, so the actor stops";
}

TEST(spawn, name_in_use_fails_with_name_taken_and_leaves_the_owner_alone) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto first = sys->spawn<echo_actor>("orders");
  ASSERT_TRUE(first);
  auto second = sys->spawn<echo_actor>("orders");
  ASSERT_FALSE(second);
  EXPECT_EQ(second.code(), akt::errc::name_taken);
  EXPECT_NE(second.error().message().find("orders"), std::string::npos) << second.error().message();
  auto fn = sys->spawn_fn("orders", [](akt::context&) {});
  ASSERT_FALSE(fn);
  EXPECT_EQ(fn.code(), akt::errc::name_taken);

  EXPECT_EQ(sys->actor_count(), 1u);
  auto r = first->ask<pong>(ping{1}, 5s);
  EXPECT_TRUE(r) << outcome(r);
  auto found = sys->lookup("orders");
  ASSERT_TRUE(found);
  EXPECT_EQ(*found, *first);
}

TEST(spawn, name_of_a_stopped_actor_can_be_used_again) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto first = sys->spawn<echo_actor>("reused");
  ASSERT_TRUE(first);
  ASSERT_TRUE(first->stop());
  ASSERT_TRUE(first->wait_stopped(5s));
  akt::result<akt::pid> second = akt::error(akt::errc::not_found, "not tried");
  EXPECT_TRUE(wait_until([&] {
    second = sys->spawn<echo_actor>("reused");
    return second.has_value() || second.code() != akt::errc::name_taken;
  }));
  ASSERT_TRUE(second) << outcome(second);
  EXPECT_NE(*second, *first);
  EXPECT_TRUE(second->is_running());
  EXPECT_FALSE(first->is_running());
}

TEST(spawn, invalid_actor_names_fail_with_invalid_name) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  const std::string bad[] = {"a b", "a/b", "$x", "a:b", "tab\there", "akt://sys/x", std::string(256, 'n')};
  for (const auto& name : bad) {
    auto a = sys->spawn<echo_actor>(name);
    ASSERT_FALSE(a) << "accepted bad actor name '" << name << "'";
    EXPECT_EQ(a.code(), akt::errc::invalid_name) << name;
    EXPECT_FALSE(a.error().message().empty());
  }
  EXPECT_EQ(sys->actor_count(), 0u);
}

TEST(spawn, invalid_child_names_fail_with_invalid_name) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto parent = sys->spawn<tree_node>("parent");
  ASSERT_TRUE(parent);
  for (std::string name :
       {std::string("a b"), std::string("a/b"), std::string("$x"), std::string(256, 'n')}) {
    auto r = try_add_child(*parent, name);
    ASSERT_FALSE(r) << "accepted bad child name '" << name << "'";
    EXPECT_EQ(r.code(), akt::errc::invalid_name) << name;
  }
  EXPECT_TRUE(parent->children().empty());
}

TEST(spawn, valid_actor_names_are_letters_digits_dot_dash_underscore_up_to_255) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  for (std::string name : {std::string("a"), std::string("Order.Book-2_x"), std::string(255, 'n')}) {
    auto a = sys->spawn<echo_actor>(name);
    ASSERT_TRUE(a) << name.size() << " chars '" << name.substr(0, 20) << "': " << outcome(a);
    EXPECT_EQ(a->name(), name);
  }
}

TEST(spawn, anonymous_actors_get_distinct_names_starting_with_dollar) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  std::set<std::string> names;
  for (int i = 0; i < 10; ++i) {
    auto a = sys->spawn_anonymous<echo_actor>();
    ASSERT_TRUE(a) << outcome(a);
    const auto name = a->name();
    ASSERT_FALSE(name.empty());
    EXPECT_EQ(name[0], '$') << name;
    EXPECT_EQ(a->path(), "akt://sys/" + name);
    names.insert(name);
  }
  EXPECT_EQ(names.size(), 10u);
  EXPECT_EQ(sys->actor_count(), 10u);
}

TEST(spawn, empty_name_means_anonymous) {
  // spawn_options: "Empty = anonymous"; spawn<A>("") builds spawn_options{.name = ""}.
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto a = sys->spawn<echo_actor>("");
  ASSERT_TRUE(a) << outcome(a);
  ASSERT_FALSE(a->name().empty());
  EXPECT_EQ(a->name()[0], '$');
  auto b = sys->spawn<echo_actor>(akt::spawn_options{});
  ASSERT_TRUE(b) << "two anonymous actors never clash: " << outcome(b);
  EXPECT_NE(a->name(), b->name());
}

TEST(spawn, anonymous_actors_cannot_be_looked_up) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto a = sys->spawn_anonymous<echo_actor>();
  ASSERT_TRUE(a);
  EXPECT_FALSE(sys->lookup(a->name()));
  EXPECT_FALSE(sys->lookup(a->path()));
}

TEST(lookup, finds_top_level_actor_by_name_and_by_full_path) {
  auto sys = start_system("shop");
  ASSERT_TRUE(sys);
  auto orders = sys->spawn<echo_actor>("orders");
  ASSERT_TRUE(orders);
  auto by_name = sys->lookup("orders");
  ASSERT_TRUE(by_name) << outcome(by_name);
  EXPECT_EQ(*by_name, *orders);
  auto by_path = sys->lookup("akt://shop/orders");
  ASSERT_TRUE(by_path) << outcome(by_path);
  EXPECT_EQ(*by_path, *orders);
}

TEST(lookup, finds_children_by_relative_and_full_path) {
  auto sys = start_system("shop");
  ASSERT_TRUE(sys);
  auto parent = sys->spawn<tree_node>("parent");
  ASSERT_TRUE(parent);
  auto child = add_child(*parent, "child");
  ASSERT_TRUE(child);
  auto grandchild = add_child(child, "grandchild");
  ASSERT_TRUE(grandchild);

  auto rel = sys->lookup("parent/child");
  ASSERT_TRUE(rel) << outcome(rel);
  EXPECT_EQ(*rel, child);
  auto full = sys->lookup("akt://shop/parent/child");
  ASSERT_TRUE(full) << outcome(full);
  EXPECT_EQ(*full, child);
  auto deep = sys->lookup("parent/child/grandchild");
  ASSERT_TRUE(deep) << outcome(deep);
  EXPECT_EQ(*deep, grandchild);
  auto deep_full = sys->lookup("akt://shop/parent/child/grandchild");
  ASSERT_TRUE(deep_full) << outcome(deep_full);
  EXPECT_EQ(*deep_full, grandchild);

  auto not_top_level = sys->lookup("child");
  EXPECT_FALSE(not_top_level) << "a child is not a top-level name";
}

TEST(lookup, unknown_names_and_paths_fail_with_not_found) {
  auto sys = start_system("shop");
  ASSERT_TRUE(sys);
  auto parent = sys->spawn<tree_node>("parent");
  ASSERT_TRUE(parent);
  for (const char* what : {"nobody", "parent/nobody", "nobody/child", "akt://shop/nobody"}) {
    auto r = sys->lookup(what);
    ASSERT_FALSE(r) << what;
    EXPECT_EQ(r.code(), akt::errc::not_found) << what;
  }
  auto other_system = sys->lookup("akt://elsewhere/parent");
  EXPECT_FALSE(other_system) << "a path of another system is not found here";
}

// Looks itself up while its post_stop runs.
class looks_itself_up_in_post_stop : public akt::actor {
 public:
  explicit looks_itself_up_in_post_stop(std::shared_ptr<guarded<akt::errc>> found)
      : found_(std::move(found)) {}
  void receive(akt::context&) override {}
  void post_stop(akt::context& ctx) override { found_->set(code_of(ctx.system().lookup(ctx.self().name()))); }

 private:
  std::shared_ptr<guarded<akt::errc>> found_;
};

TEST(lookup, an_actor_whose_post_stop_is_running_is_not_found) {
  auto sys = start_system("sys", {.deterministic = true});
  ASSERT_TRUE(sys);
  auto found = std::make_shared<guarded<akt::errc>>();
  auto a = sys->spawn<looks_itself_up_in_post_stop>("stopping", found);
  ASSERT_TRUE(a) << outcome(a);
  ASSERT_TRUE(a->stop());
  ASSERT_TRUE(a->wait_stopped(5s));
  ASSERT_TRUE(found->has());
  EXPECT_EQ(found->get(), akt::errc::not_found) << "a stopping actor must not be found";
}

TEST(lookup, stopped_actor_is_not_found) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto a = sys->spawn<echo_actor>("short-lived");
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->stop());
  ASSERT_TRUE(a->wait_stopped(5s));
  EXPECT_TRUE(wait_until([&] {
    auto r = sys->lookup("short-lived");
    return !r && r.code() == akt::errc::not_found;
  }));
}

}  // namespace
