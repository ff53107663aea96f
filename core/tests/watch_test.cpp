// Death watch: a watcher gets exactly one akt::terminated naming the watched
// actor, whatever ended it (a stop, its supervisor, its parent stopping, the
// system shutting down), at once for an actor already stopped, and none after
// unwatch. Pure protocol: the tests run on the deterministic test_system,
// except the race between a first watch and a termination, which needs
// threads.
#include "test_util.hpp"

#include <akt/akt.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace akt_test;
using namespace std::chrono_literals;

struct watch_this {
  akt::pid target;
};
struct unwatch_this {
  akt::pid target;
};
struct marker {
  int n = 0;
};
struct boom {};

// What a watcher saw, in order: "terminated:<path>" and "marker:<n>".
struct watch_log {
  recorder seen;
  guarded<akt::pid> last_terminated;
};

// Watches and unwatches on request (replying with the status), records every
// akt::terminated and marker it gets, and answers ping (to flush its mailbox).
class watcher : public akt::actor {
 public:
  explicit watcher(std::shared_ptr<watch_log> log) : log_(std::move(log)) {}
  void receive(akt::context& ctx) override {
    if (auto* w = ctx.message<watch_this>()) {
      (void)ctx.reply(ctx.watch(w->target));
    } else if (auto* u = ctx.message<unwatch_this>()) {
      (void)ctx.reply(ctx.unwatch(u->target));
    } else if (auto* t = ctx.message<akt::terminated>()) {
      log_->last_terminated.set(t->actor);  // before the entry a test waits for
      log_->seen.add("terminated:" + t->actor.path());
    } else if (auto* m = ctx.message<marker>()) {
      log_->seen.add("marker:" + std::to_string(m->n));
    } else if (auto* p = ctx.message<ping>()) {
      (void)ctx.reply(pong{p->seq});
    }
  }

 private:
  std::shared_ptr<watch_log> log_;
};

// Throws on boom; ignores the rest.
class fragile : public akt::actor {
 public:
  void receive(akt::context& ctx) override {
    if (ctx.message<boom>()) throw std::runtime_error("boom");
  }
};

std::size_t count_of(const recorder& r, std::string_view item) {
  const auto items = r.items();
  return static_cast<std::size_t>(std::count(items.begin(), items.end(), item));
}

akt::status ask_status(const akt::pid& to, auto msg) {
  auto r = to.ask<akt::status>(std::move(msg), 5s);
  if (!r) return std::move(r).error();
  return std::move(*r);
}

bool watch(const akt::pid& w, const akt::pid& target) {
  auto s = ask_status(w, watch_this{target});
  EXPECT_TRUE(s) << "watch " << target.path() << ": " << outcome(s);
  return static_cast<bool>(s);
}

// Returns once every message queued for `w` before this call has been handled.
bool flush(const akt::pid& w) {
  auto r = w.ask<pong>(ping{1}, 5s);
  EXPECT_TRUE(r) << "flush " << w.path() << ": " << outcome(r);
  return static_cast<bool>(r);
}

std::string terminated_entry(const akt::pid& p) {
  return "terminated:" + p.path();
}

// On a threaded system: `entry` shows up before the deadline.
bool saw(const watch_log& log, const std::string& entry) {
  return wait_until([&] { return log.seen.contains(entry); });
}
// On a test_system: `entry` is there once everything ready has run.
bool saw(akt::testkit::test_system& sys, const watch_log& log, const std::string& entry) {
  return after_run(sys, [&] { return log.seen.contains(entry); });
}

TEST(watch, a_watcher_gets_terminated_naming_the_actor_that_was_stopped) {
  akt::testkit::test_system sys("sys");
  auto log = std::make_shared<watch_log>();
  auto target = sys->spawn<silent_actor>("target");
  auto w = sys->spawn<watcher>("watcher", log);
  ASSERT_TRUE(target && w);
  ASSERT_TRUE(watch(*w, *target));

  ASSERT_TRUE(target->stop());

  EXPECT_TRUE(saw(sys, *log, terminated_entry(*target))) << ::testing::PrintToString(log->seen.items());
  EXPECT_EQ(log->last_terminated.get(), *target);
  ASSERT_TRUE(target->wait_stopped(5s));
  ASSERT_TRUE(flush(*w));
  EXPECT_EQ(count_of(log->seen, terminated_entry(*target)), 1u);
}

TEST(watch, a_watcher_gets_terminated_when_the_supervisor_stops_the_watched_actor) {
  akt::testkit::test_system sys(
      "sys", {.supervisor = std::make_shared<const akt::supervisor_strategy>(
                  akt::supervisor_strategy::one_for_one().otherwise(akt::directive::stop))});
  auto log = std::make_shared<watch_log>();
  auto target = sys->spawn<fragile>("target");
  auto w = sys->spawn<watcher>("watcher", log);
  ASSERT_TRUE(target && w);
  ASSERT_TRUE(watch(*w, *target));

  ASSERT_TRUE(target->tell(boom{}));

  ASSERT_TRUE(target->wait_stopped(5s));
  EXPECT_TRUE(saw(sys, *log, terminated_entry(*target))) << ::testing::PrintToString(log->seen.items());
  ASSERT_TRUE(flush(*w));
  EXPECT_EQ(count_of(log->seen, terminated_entry(*target)), 1u);
}

TEST(watch, a_watcher_gets_terminated_when_the_watched_actors_parent_stops) {
  akt::testkit::test_system sys("sys");
  auto log = std::make_shared<watch_log>();
  auto parent = sys->spawn<tree_node>("parent");
  auto w = sys->spawn<watcher>("watcher", log);
  ASSERT_TRUE(parent && w);
  auto kid = add_child(*parent, "kid");
  ASSERT_TRUE(kid);
  ASSERT_TRUE(watch(*w, kid));

  ASSERT_TRUE(parent->stop());

  ASSERT_TRUE(parent->wait_stopped(5s));
  EXPECT_FALSE(kid.is_running());
  EXPECT_TRUE(saw(sys, *log, terminated_entry(kid))) << ::testing::PrintToString(log->seen.items());
  ASSERT_TRUE(flush(*w));
  EXPECT_EQ(log->seen.items(), std::vector<std::string>{terminated_entry(kid)})
      << "one terminated, for the watched child only";
}

// Spawns a child on request and watches it; records what it sees, and its post_stop.
struct adopt {};
class watching_parent : public akt::actor {
 public:
  explicit watching_parent(std::shared_ptr<recorder> log) : log_(std::move(log)) {}
  void receive(akt::context& ctx) override {
    if (ctx.message<adopt>()) {
      auto kid = ctx.spawn<silent_actor>("kid");
      (void)ctx.reply(kid ? ctx.watch(*kid) : akt::status(std::move(kid).error()));
    } else if (auto* t = ctx.message<akt::terminated>()) {
      log_->add("terminated:" + t->actor.name());
    }
  }
  void post_stop(akt::context&) override { log_->add("post_stop"); }

 private:
  std::shared_ptr<recorder> log_;
};

TEST(watch, a_parent_watching_its_child_gets_terminated_during_system_shutdown) {
  akt::testkit::test_system sys("sys");
  auto log = std::make_shared<recorder>();
  auto parent = sys->spawn<watching_parent>("parent", log);
  ASSERT_TRUE(parent);
  auto adopted = ask_status(*parent, adopt{});
  ASSERT_TRUE(adopted) << outcome(adopted);

  auto stopped = sys->stop();

  EXPECT_TRUE(stopped) << outcome(stopped);
  EXPECT_EQ(log->items(), (std::vector<std::string>{"terminated:kid", "post_stop"}))
      << "children stop first, so their watching parent hears of it before its own post_stop";
}

TEST(watch, watching_an_actor_that_already_stopped_delivers_terminated_at_once) {
  akt::testkit::test_system sys("sys");
  auto log = std::make_shared<watch_log>();
  auto target = sys->spawn<silent_actor>("target");
  auto w = sys->spawn<watcher>("watcher", log);
  ASSERT_TRUE(target && w);
  ASSERT_TRUE(target->stop());
  ASSERT_TRUE(target->wait_stopped(5s));

  (void)ask_status(*w, watch_this{*target});

  EXPECT_TRUE(saw(sys, *log, terminated_entry(*target))) << ::testing::PrintToString(log->seen.items());
  EXPECT_EQ(log->last_terminated.get(), *target);
  ASSERT_TRUE(flush(*w));
  EXPECT_EQ(count_of(log->seen, terminated_entry(*target)), 1u);
}

// The first watch of an actor makes its extras (where watchers are kept)
// while the actor may be terminating on another worker: the watcher is told
// either way. Each round races the two; the loss, when it happens, is a
// terminated that never comes.
TEST(watch, a_first_watch_racing_the_termination_of_the_watched_actor_still_delivers_terminated) {
  auto sys = start_system("sys", {.workers = 2});
  ASSERT_TRUE(sys);
  for (int round = 0; round < 20000; ++round) {
    auto log = std::make_shared<watch_log>();
    auto target = sys->spawn_anonymous<silent_actor>();
    auto w = sys->spawn_anonymous<watcher>(log);
    ASSERT_TRUE(target && w);
    ASSERT_TRUE(w->tell(watch_this{*target}));  // the watch, on one worker...
    ASSERT_TRUE(target->stop());                // ...and the termination, on another
    ASSERT_TRUE(saw(*log, terminated_entry(*target))) << "round " << round;
    ASSERT_TRUE(w->stop());
  }
}

TEST(watch, unwatch_before_the_stop_means_no_terminated) {
  akt::testkit::test_system sys("sys");
  auto quitter_log = std::make_shared<watch_log>();
  auto control_log = std::make_shared<watch_log>();
  auto target = sys->spawn<silent_actor>("target");
  auto quitter = sys->spawn<watcher>("quitter", quitter_log);
  auto control = sys->spawn<watcher>("control", control_log);
  ASSERT_TRUE(target && quitter && control);
  ASSERT_TRUE(watch(*quitter, *target));
  ASSERT_TRUE(watch(*control, *target));
  auto unwatched = ask_status(*quitter, unwatch_this{*target});
  ASSERT_TRUE(unwatched) << outcome(unwatched);

  ASSERT_TRUE(target->stop());
  ASSERT_TRUE(target->wait_stopped(5s));

  // Everything has run: the control watcher, which still watches, heard;
  // the quitter heard nothing.
  sys.run();
  EXPECT_EQ(control_log->seen.items(), std::vector<std::string>{terminated_entry(*target)});
  EXPECT_TRUE(quitter_log->seen.items().empty()) << ::testing::PrintToString(quitter_log->seen.items());
}

TEST(watch, two_watchers_each_get_exactly_one_terminated) {
  akt::testkit::test_system sys("sys");
  auto log1 = std::make_shared<watch_log>();
  auto log2 = std::make_shared<watch_log>();
  auto target = sys->spawn<silent_actor>("target");
  auto w1 = sys->spawn<watcher>("w1", log1);
  auto w2 = sys->spawn<watcher>("w2", log2);
  ASSERT_TRUE(target && w1 && w2);
  ASSERT_TRUE(watch(*w1, *target));
  ASSERT_TRUE(watch(*w2, *target));

  ASSERT_TRUE(target->stop());

  EXPECT_TRUE(saw(sys, *log1, terminated_entry(*target)));
  EXPECT_TRUE(saw(sys, *log2, terminated_entry(*target)));
  ASSERT_TRUE(target->wait_stopped(5s));
  ASSERT_TRUE(flush(*w1));
  ASSERT_TRUE(flush(*w2));
  EXPECT_EQ(log1->seen.items(), std::vector<std::string>{terminated_entry(*target)});
  EXPECT_EQ(log2->seen.items(), std::vector<std::string>{terminated_entry(*target)});
}

TEST(watch, watching_the_same_actor_twice_still_delivers_one_terminated) {
  akt::testkit::test_system sys("sys");
  auto log = std::make_shared<watch_log>();
  auto target = sys->spawn<silent_actor>("target");
  auto w = sys->spawn<watcher>("watcher", log);
  ASSERT_TRUE(target && w);
  ASSERT_TRUE(watch(*w, *target));
  ASSERT_TRUE(watch(*w, *target));

  ASSERT_TRUE(target->stop());

  EXPECT_TRUE(saw(sys, *log, terminated_entry(*target)));
  ASSERT_TRUE(target->wait_stopped(5s));
  ASSERT_TRUE(flush(*w));
  EXPECT_EQ(count_of(log->seen, terminated_entry(*target)), 1u);
}

TEST(watch, a_restart_of_the_watched_actor_sends_no_terminated) {
  akt::testkit::test_system sys("sys");  // default strategy: restart
  auto log = std::make_shared<watch_log>();
  auto target = sys->spawn<fragile>("target");
  auto w = sys->spawn<watcher>("watcher", log);
  ASSERT_TRUE(target && w);
  ASSERT_TRUE(watch(*w, *target));

  ASSERT_TRUE(target->tell(boom{}));
  sys.run();
  ASSERT_EQ(target->metrics().restarts, 1u);
  EXPECT_TRUE(log->seen.items().empty())
      << "a restarted actor has not stopped: " << ::testing::PrintToString(log->seen.items());

  // The watch outlives the restart.
  ASSERT_TRUE(target->stop());
  EXPECT_TRUE(saw(sys, *log, terminated_entry(*target))) << ::testing::PrintToString(log->seen.items());
}

}  // namespace

namespace {

using namespace akt_test;

struct numbered {
  int n;
};

TEST(stop, a_graceful_stop_handles_the_messages_queued_before_it) {
  akt::testkit::test_system sys("graceful");
  auto seen = std::make_shared<int>(0);
  auto a = sys->spawn_fn("counter", [seen](akt::context& ctx) {
    if (ctx.message<numbered>()) ++*seen;
  });
  ASSERT_TRUE(a);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(a->tell(numbered{i}));  // queued: nothing runs yet
  ASSERT_TRUE(a->stop_gracefully());
  ASSERT_TRUE(a->wait_stopped(10s));
  EXPECT_EQ(*seen, 5) << "all five queued before the pill were handled";
}

TEST(stop, an_immediate_stop_drops_what_is_queued_to_dead_letters) {
  auto sys = start_system("immediate");
  ASSERT_TRUE(sys);
  auto seen = std::make_shared<std::atomic<int>>(0);
  auto g = std::make_shared<gate>();
  auto a = sys->spawn_fn("counter", [seen, g](akt::context& ctx) {
    if (ctx.message<numbered>()) {
      (void)g->wait_for(10s);
      ++*seen;
    }
  });
  ASSERT_TRUE(a);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(a->tell(numbered{i}));
  ASSERT_TRUE(wait_until([&] { return a->metrics().received == 1; })) << "the first is in hand";
  const auto dead_before = sys->dead_letters();
  ASSERT_TRUE(a->stop());
  g->open();
  ASSERT_TRUE(a->wait_stopped(10s));
  EXPECT_EQ(seen->load(), 1) << "only the message in hand finished";
  EXPECT_EQ(sys->dead_letters() - dead_before, 4u) << "the four queued went to dead letters";
  EXPECT_TRUE(a->stop()) << "stopping a stopped actor is a no-op";
}

}  // namespace
