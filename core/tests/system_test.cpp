// actor_system: creation and its validation, start/stop, graceful shutdown,
// and independence of several systems in one process.
#include "test_util.hpp"

#include <akt/akt.hpp>
#include <akt/testkit/proc.hpp>

#include <gtest/gtest.h>

#include <limits>
#include <memory>
#include <string>
#include <string_view>

namespace {

using namespace akt_test;
using namespace std::chrono_literals;

TEST(actor_system, create_accepts_names_of_letters_digits_dash_underscore_up_to_64) {
  for (std::string name : {std::string("a"), std::string("Shop-2_x"), std::string(64, 'z')}) {
    auto sys = akt::actor_system::create(name, {.logger = akt::make_discard_logger()});
    ASSERT_TRUE(sys) << name << ": " << outcome(sys);
    EXPECT_EQ((*sys)->name(), name);
    EXPECT_FALSE((*sys)->is_running()) << "a system is created stopped";
  }
}

TEST(actor_system, create_rejects_bad_names_with_invalid_name_naming_the_name) {
  const std::string bad[] = {"a b", "a.b", "a/b", "$x", "shop!", "caf\xC3\xA9", std::string(65, 'z')};
  for (const auto& name : bad) {
    auto sys = akt::actor_system::create(name);
    ASSERT_FALSE(sys) << "accepted bad system name '" << name << "'";
    EXPECT_EQ(sys.code(), akt::errc::invalid_name) << name;
    if (name.find('\xC3') == std::string::npos) {  // non-ASCII may be escaped in the message
      EXPECT_NE(sys.error().message().find(name), std::string::npos)
          << "the message should name the bad name '" << name << "': " << sys.error().message();
    }
  }
}

TEST(actor_system, create_rejects_empty_name) {
  auto sys = akt::actor_system::create("");
  ASSERT_FALSE(sys);
  EXPECT_EQ(sys.code(), akt::errc::invalid_name);
  EXPECT_FALSE(sys.error().message().empty());
}

TEST(actor_system, create_rejects_zero_throughput_with_invalid_argument) {
  auto sys = akt::actor_system::create("sys", {.throughput = 0});
  ASSERT_FALSE(sys);
  EXPECT_EQ(sys.code(), akt::errc::invalid_argument);
  EXPECT_FALSE(sys.error().message().empty());
}

TEST(actor_system, create_rejects_absurd_worker_count_with_invalid_argument) {
  auto sys = akt::actor_system::create("sys", {.workers = std::numeric_limits<std::size_t>::max()});
  ASSERT_FALSE(sys) << "a system with SIZE_MAX workers cannot be started; create must refuse it";
  EXPECT_EQ(sys.code(), akt::errc::invalid_argument);
}

TEST(actor_system, options_and_logger_are_the_ones_given) {
  auto log = std::make_shared<recording_logger>();
  auto sys = akt::actor_system::create("sys", {.workers = 3, .throughput = 7, .logger = log});
  ASSERT_TRUE(sys) << outcome(sys);
  EXPECT_EQ((*sys)->options().workers, 3u);
  EXPECT_EQ((*sys)->options().throughput, 7u);
  EXPECT_EQ(&(*sys)->logger(), log.get());
}

TEST(actor_system, start_runs_and_stop_stops) {
  auto created = akt::actor_system::create("sys", {.logger = akt::make_discard_logger()});
  ASSERT_TRUE(created) << outcome(created);
  auto& sys = *created;
  ASSERT_TRUE(sys->start());
  EXPECT_TRUE(sys->is_running());
  auto echo = sys->spawn<echo_actor>("echo");
  ASSERT_TRUE(echo) << outcome(echo);
  auto r = echo->ask<pong>(ping{5}, 5s);
  ASSERT_TRUE(r) << outcome(r);
  EXPECT_EQ(r->seq, 5);

  auto stopped = sys->stop();
  EXPECT_TRUE(stopped) << outcome(stopped);
  EXPECT_FALSE(sys->is_running());
  EXPECT_FALSE(echo->is_running()) << "stop returns after every actor has stopped";
  EXPECT_EQ(sys->actor_count(), 0u);
}

TEST(actor_system, stop_is_idempotent) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  EXPECT_TRUE(sys->stop());
  EXPECT_TRUE(sys->stop()) << "stopping a stopped system is a no-op";
  EXPECT_FALSE(sys->is_running());
}

TEST(actor_system, stop_before_start_is_a_no_op) {
  auto sys = akt::actor_system::create("sys", {.logger = akt::make_discard_logger()});
  ASSERT_TRUE(sys);
  EXPECT_TRUE((*sys)->stop());
  EXPECT_FALSE((*sys)->is_running());
}

TEST(actor_system, spawn_before_start_fails_with_not_running) {
  auto created = akt::actor_system::create("sys", {.logger = akt::make_discard_logger()});
  ASSERT_TRUE(created);
  auto& sys = *created;
  auto a = sys->spawn<echo_actor>("echo");
  ASSERT_FALSE(a);
  EXPECT_EQ(a.code(), akt::errc::not_running);
  auto b = sys->spawn_anonymous<echo_actor>();
  ASSERT_FALSE(b);
  EXPECT_EQ(b.code(), akt::errc::not_running);
  auto c = sys->spawn_fn("fn", [](akt::context&) {});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.code(), akt::errc::not_running);
  EXPECT_EQ(sys->actor_count(), 0u);
}

TEST(actor_system, spawn_after_stop_fails_with_not_running) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  ASSERT_TRUE(sys->stop());
  auto a = sys->spawn<echo_actor>("echo");
  ASSERT_FALSE(a);
  EXPECT_EQ(a.code(), akt::errc::not_running);
  auto b = sys->spawn_fn("fn", [](akt::context&) {});
  ASSERT_FALSE(b);
  EXPECT_EQ(b.code(), akt::errc::not_running);
}

TEST(actor_system, stop_runs_every_post_stop_children_before_parents) {
  auto sys = start_system("tree");
  ASSERT_TRUE(sys);
  auto stops = std::make_shared<recorder>();
  auto root = sys->spawn<tree_node>("root", stops, "root");
  auto solo = sys->spawn<tree_node>("solo", stops, "solo");
  ASSERT_TRUE(root && solo);
  auto a = add_child(*root, "a");
  auto b = add_child(*root, "b");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(add_child(a, "a1"));
  ASSERT_TRUE(add_child(a, "a2"));
  ASSERT_TRUE(add_child(b, "b1"));
  EXPECT_EQ(sys->actor_count(), 7u);

  auto stopped = sys->stop();
  ASSERT_TRUE(stopped) << outcome(stopped);

  const auto order = stops->items();
  ASSERT_EQ(order.size(), 7u) << "every actor's post_stop runs exactly once";
  for (const char* label : {"root", "solo", "root/a", "root/b", "root/a/a1", "root/a/a2", "root/b/b1"}) {
    EXPECT_EQ(std::count(order.begin(), order.end(), label), 1) << label;
  }
  auto before = [&](const char* child, const char* parent) {
    EXPECT_LT(stops->index_of(child), stops->index_of(parent)) << child << " must stop before " << parent;
  };
  before("root/a/a1", "root/a");
  before("root/a/a2", "root/a");
  before("root/b/b1", "root/b");
  before("root/a", "root");
  before("root/b", "root");
  before("root/a/a1", "root");
  EXPECT_EQ(sys->actor_count(), 0u);
}

TEST(actor_system, destroying_a_running_system_stops_its_actors) {
  auto stops = std::make_shared<recorder>();
  {
    auto sys = start_system("sys");
    ASSERT_TRUE(sys);
    auto root = sys->spawn<tree_node>("root", stops, "root");
    ASSERT_TRUE(root);
    ASSERT_TRUE(add_child(*root, "kid"));
  }
  const auto order = stops->items();
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(order[0], "root/kid");
  EXPECT_EQ(order[1], "root");
}

TEST(actor_system, stop_called_from_inside_an_actor_returns_invalid_argument) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto a = sys->spawn_fn("stopper", [](akt::context& ctx) {
    if (ctx.message<ping>()) {
      auto s = ctx.system().stop();
      (void)ctx.reply(code_of(s));
    }
  });
  ASSERT_TRUE(a);
  auto r = a->ask<akt::errc>(ping{}, 5s);
  ASSERT_TRUE(r) << outcome(r);
  EXPECT_EQ(*r, akt::errc::invalid_argument);
  EXPECT_TRUE(sys->is_running());
  auto again = a->ask<akt::errc>(ping{}, 5s);
  EXPECT_TRUE(again) << "the system keeps working: " << outcome(again);
}

TEST(actor_system, stop_past_shutdown_timeout_names_the_stuck_actor) {
  auto sys = start_system("sys", {.shutdown_timeout = 200ms});
  ASSERT_TRUE(sys);
  auto release = std::make_shared<gate>();
  auto stuck = sys->spawn_fn("stuck-actor", [release](akt::context& ctx) {
    if (ctx.message<ping>()) release->wait_for(1s);  // stop may wait for it: keep it short
  });
  ASSERT_TRUE(stuck);
  ASSERT_TRUE(stuck->tell(ping{}));
  ASSERT_TRUE(wait_until([&] { return stuck->metrics().received == 1; }));

  const auto t0 = clock_type::now();
  auto s = sys->stop();
  const auto elapsed = clock_type::now() - t0;
  release->open();

  ASSERT_FALSE(s) << "an actor stuck in receive cannot stop within 200 ms";
  EXPECT_EQ(s.code(), akt::errc::shutdown_timeout);
  EXPECT_NE(s.error().message().find("stuck-actor"), std::string::npos) << s.error().message();
  EXPECT_GE(elapsed, 200ms);
}

TEST(actor_system, actor_count_follows_spawns_and_stops) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  EXPECT_EQ(sys->actor_count(), 0u);
  auto a = sys->spawn<echo_actor>("a");
  auto b = sys->spawn<echo_actor>("b");
  auto c = sys->spawn_anonymous<echo_actor>();
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(sys->actor_count(), 3u);
  ASSERT_TRUE(b->stop());
  ASSERT_TRUE(b->wait_stopped(5s));
  EXPECT_TRUE(wait_until([&] { return sys->actor_count() == 2; })) << sys->actor_count();
}

TEST(actor_system, several_systems_in_one_process_are_independent) {
  auto one = start_system("one");
  auto two = start_system("two");
  ASSERT_TRUE(one && two);
  auto x1 = one->spawn<echo_actor>("x");
  auto x2 = two->spawn<echo_actor>("x");
  ASSERT_TRUE(x1) << outcome(x1);
  ASSERT_TRUE(x2) << "the same name in another system is free: " << outcome(x2);
  EXPECT_NE(*x1, *x2);
  EXPECT_EQ(x1->path(), "akt://one/x");
  EXPECT_EQ(x2->path(), "akt://two/x");

  auto only_in_one = one->spawn<echo_actor>("only-one");
  ASSERT_TRUE(only_in_one);
  auto missing = two->lookup("only-one");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.code(), akt::errc::not_found);
  auto foreign = two->lookup("akt://one/only-one");
  EXPECT_FALSE(foreign) << "a system resolves only its own paths";

  const auto dead_two = two->dead_letters();
  ASSERT_TRUE(one->stop());
  EXPECT_FALSE(x1->is_running());
  EXPECT_TRUE(two->is_running());
  EXPECT_TRUE(x2->is_running());
  auto r = x2->ask<pong>(ping{9}, 5s);
  ASSERT_TRUE(r) << outcome(r);
  EXPECT_EQ(r->seq, 9);
  EXPECT_EQ(code_of(x1->tell(ping{})), akt::errc::dead_actor);
  EXPECT_EQ(two->dead_letters(), dead_two) << "dead letters of one system do not count in another";
  EXPECT_EQ(two->actor_count(), 1u);
}

// Threads of this process whose name starts with `prefix` (Linux).
int threads_named(std::string_view prefix) {
  int n = 0;
  for (const auto& t : akt::testkit::threads_of_this_process()) n += t.name.starts_with(prefix) ? 1 : 0;
  return n;
}

TEST(actor_system, its_threads_carry_akt_names_while_it_runs) {
  const int workers = threads_named("akt-worker-");
  const int timers = threads_named("akt-timer");
  const int third = threads_named("akt-worker-2");
  ASSERT_FALSE(akt::testkit::threads_of_this_process().empty()) << "/proc/self/task cannot be read";
  auto sys = akt::actor_system::launch("named", {.workers = 3, .logger = akt::make_discard_logger()});
  ASSERT_TRUE(sys) << outcome(sys);
  EXPECT_TRUE(wait_until([&] { return threads_named("akt-worker-") == workers + 3; }))
      << "each worker names itself akt-worker-<index>";
  EXPECT_EQ(threads_named("akt-worker-2"), third + 1);
  EXPECT_TRUE(wait_until([&] { return threads_named("akt-timer") == timers + 1; }));
  EXPECT_TRUE((*sys)->stop());
  // A joined thread may still be listed for a moment (the kernel clears its
  // tid, which join waits for, before it leaves the thread group).
  EXPECT_TRUE(wait_until([&] { return threads_named("akt-worker-") == workers; }))
      << "joined with its system";
  EXPECT_TRUE(wait_until([&] { return threads_named("akt-timer") == timers; }));
}

}  // namespace
