// Supervision: what a failure is (an exception escaping receive, or
// context::fail), where the failing message goes, and what each directive and
// strategy option does to the failing actor, its siblings and its children.
//
// Pure protocol: every test runs on the deterministic test_system (no worker
// threads, a manual clock). Nothing runs until the test runs the system or
// asks (a blocking ask from the test thread runs what is ready, and moves
// the clock to the next timer when nothing is), so "queued while the actor
// is busy" is simply "told before running", and a backoff is clock time.
#include "test_util.hpp"

#include <akt/akt.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace akt_test;
using namespace std::chrono_literals;

using akt::testkit::test_system;
using strategy_ptr = std::shared_ptr<const akt::supervisor_strategy>;

struct increment {};
struct boom {};       // throws std::runtime_error
struct overflow {};   // throws std::overflow_error, derived from std::runtime_error
struct logic_bug {};  // throws std::logic_error, not derived from std::runtime_error
struct report {       // context::fail(error(code, ...)), no exception
  akt::errc code;
};
struct spawn_child {
  std::string name;
  strategy_ptr supervisor;
};
struct watch_this {
  akt::pid target;
};

// What every worker of a test writes into, whichever instance it is.
struct probe {
  recorder log;                    // "<label>:pre_start", "<label>:post_stop", "<label>:terminated:<name>"
  std::atomic<int> increments{0};  // increments handled, across restarts
};

strategy_ptr share(const akt::supervisor_strategy& s) {
  return std::make_shared<const akt::supervisor_strategy>(s);
}

std::size_t count_of(const recorder& r, std::string_view item) {
  const auto items = r.items();
  return static_cast<std::size_t>(std::count(items.begin(), items.end(), item));
}

// A counter that fails on demand, spawns children with a given strategy, and
// watches whom it is told to.
class worker : public akt::actor {
 public:
  worker(std::shared_ptr<probe> p, std::string label) : probe_(std::move(p)), label_(std::move(label)) {}

  akt::status pre_start(akt::context&) override {
    probe_->log.add(label_ + ":pre_start");
    return {};
  }
  void post_stop(akt::context&) override { probe_->log.add(label_ + ":post_stop"); }

  void receive(akt::context& ctx) override {
    if (ctx.message<increment>()) {
      ++count_;
      probe_->increments.fetch_add(1);
    } else if (ctx.message<get_count>()) {
      (void)ctx.reply(count_);
    } else if (ctx.message<boom>()) {
      throw std::runtime_error("boom");
    } else if (ctx.message<overflow>()) {
      throw std::overflow_error("overflow");
    } else if (ctx.message<logic_bug>()) {
      throw std::logic_error("logic bug");
    } else if (auto* r = ctx.message<report>()) {
      ctx.fail(akt::error(r->code, "reported by the worker"));
    } else if (auto* s = ctx.message<spawn_child>()) {
      (void)ctx.reply(ctx.spawn<worker>(akt::spawn_options{.name = s->name, .supervisor = s->supervisor},
                                        probe_, label_ + "/" + s->name));
    } else if (auto* w = ctx.message<watch_this>()) {
      (void)ctx.reply(ctx.watch(w->target));
    } else if (auto* t = ctx.message<akt::terminated>()) {
      probe_->log.add(label_ + ":terminated:" + t->actor.name());
    }
  }

 private:
  std::shared_ptr<probe> probe_;
  std::string label_;
  int count_ = 0;
};

akt::pid spawn_worker(akt::actor_system& sys, const std::shared_ptr<probe>& p, const std::string& name,
                      strategy_ptr supervisor = nullptr) {
  auto r = sys.spawn<worker>(akt::spawn_options{.name = name, .supervisor = std::move(supervisor)}, p, name);
  if (!r) {
    ADD_FAILURE() << "spawn " << name << ": " << outcome(r);
    return {};
  }
  return *r;
}

akt::pid add_worker(const akt::pid& parent, const std::string& name, strategy_ptr supervisor = nullptr) {
  auto r = parent.ask<akt::result<akt::pid>>(spawn_child{name, std::move(supervisor)}, 5s);
  if (!r || !*r) {
    ADD_FAILURE() << "spawn child " << name << " of " << parent.path() << ": "
                  << (r ? outcome(*r) : outcome(r));
    return {};
  }
  return **r;
}

// The worker's count, or -1 (with a test failure) when the ask fails.
int count(const akt::pid& w) {
  auto r = w.ask<int>(get_count{}, 5s);
  if (!r) {
    ADD_FAILURE() << "get_count from " << w.path() << ": " << outcome(r);
    return -1;
  }
  return *r;
}

void increment_times(const akt::pid& w, int n) {
  for (int i = 0; i < n; ++i) ASSERT_TRUE(w.tell(increment{}));
}

bool watch(const akt::pid& watcher, const akt::pid& target) {
  auto r = watcher.ask<akt::status>(watch_this{target}, 5s);
  EXPECT_TRUE(r && *r) << "watch " << target.path() << ": " << (r ? outcome(*r) : outcome(r));
  return r && *r;
}

// Once everything ready has run, `w` has restarted exactly n times.
bool restarts_reach(test_system& sys, const akt::pid& w, std::uint64_t n) {
  return after_run(sys, [&] { return w.metrics().restarts == n; });
}

// --- what a failure is ---------------------------------------------------------

TEST(supervision, an_exception_escaping_receive_counts_an_error_and_its_message_becomes_a_dead_letter) {
  test_system sys("sys");
  auto p = std::make_shared<probe>();
  auto w = spawn_worker(sys.system(), p, "w");
  ASSERT_TRUE(w);
  const auto dead_before = sys->dead_letters();

  ASSERT_TRUE(w.tell(boom{}));
  sys.run();

  EXPECT_EQ(w.metrics().errors, 1u);
  EXPECT_EQ(sys->dead_letters(), dead_before + 1);
}

TEST(supervision, context_fail_is_a_failure_like_an_exception) {
  test_system sys("sys");
  auto p = std::make_shared<probe>();
  auto w = spawn_worker(sys.system(), p, "w");
  ASSERT_TRUE(w);
  increment_times(w, 2);
  ASSERT_EQ(count(w), 2);
  const auto dead_before = sys->dead_letters();

  ASSERT_TRUE(w.tell(report{akt::errc::timeout}));

  EXPECT_EQ(count(w), 0) << "the default strategy restarts: a fresh instance";
  EXPECT_TRUE(restarts_reach(sys, w, 1)) << w.metrics().restarts;
  EXPECT_EQ(w.metrics().errors, 1u);
  EXPECT_EQ(sys->dead_letters(), dead_before + 1);
}

// --- restart ---------------------------------------------------------------------

TEST(supervision, the_default_strategy_restarts_a_failing_actor_with_fresh_state) {
  test_system sys("sys");
  auto p = std::make_shared<probe>();
  auto w = spawn_worker(sys.system(), p, "w");
  ASSERT_TRUE(w);
  increment_times(w, 3);
  ASSERT_EQ(count(w), 3);

  ASSERT_TRUE(w.tell(boom{}));

  EXPECT_EQ(count(w), 0);
  EXPECT_TRUE(w.is_running());
  EXPECT_TRUE(restarts_reach(sys, w, 1)) << w.metrics().restarts;
  EXPECT_EQ(count_of(p->log, "w:pre_start"), 2u);
  EXPECT_EQ(count_of(p->log, "w:post_stop"), 1u);
}

TEST(supervision, restart_runs_post_stop_on_the_old_instance_before_pre_start_on_the_new_one) {
  test_system sys("sys");
  auto p = std::make_shared<probe>();
  auto w = spawn_worker(sys.system(), p, "w");
  ASSERT_TRUE(w);

  ASSERT_TRUE(w.tell(boom{}));
  sys.run();

  EXPECT_EQ(p->log.items(), (std::vector<std::string>{"w:pre_start", "w:post_stop", "w:pre_start"}));
}

TEST(supervision, restarts_are_counted_and_never_reset) {
  test_system sys("sys");
  auto p = std::make_shared<probe>();
  auto w = spawn_worker(sys.system(), p, "w");
  ASSERT_TRUE(w);

  for (int round = 1; round <= 3; ++round) {
    increment_times(w, 1);
    ASSERT_TRUE(w.tell(boom{}));
    EXPECT_EQ(count(w), 0) << "round " << round;
    EXPECT_TRUE(restarts_reach(sys, w, static_cast<std::uint64_t>(round)))
        << "round " << round << ": " << w.metrics().restarts;
  }
  EXPECT_EQ(w.metrics().errors, 3u);
  EXPECT_EQ(count_of(p->log, "w:pre_start"), 4u);
}

TEST(supervision, messages_queued_behind_the_failing_one_are_processed_after_the_restart) {
  test_system sys("sys");
  auto p = std::make_shared<probe>();
  auto w = spawn_worker(sys.system(), p, "w");
  ASSERT_TRUE(w);

  // Queued before the actor runs: the failure, then three increments.
  ASSERT_TRUE(w.tell(boom{}));
  increment_times(w, 3);
  EXPECT_EQ(sys.mailbox_size(w), 4u);

  EXPECT_EQ(count(w), 3) << "the increments reach the fresh instance";
  EXPECT_TRUE(restarts_reach(sys, w, 1)) << w.metrics().restarts;
  EXPECT_EQ(p->increments.load(), 3);
}

TEST(supervision, restart_stops_the_children_of_the_restarted_actor) {
  test_system sys("sys");
  auto p = std::make_shared<probe>();
  auto parent = spawn_worker(sys.system(), p, "parent");
  ASSERT_TRUE(parent);
  auto kid = add_worker(parent, "kid");
  ASSERT_TRUE(kid);

  ASSERT_TRUE(parent.tell(boom{}));

  EXPECT_TRUE(kid.wait_stopped(5s)) << "the child of a restarted actor is stopped";
  EXPECT_TRUE(restarts_reach(sys, parent, 1)) << parent.metrics().restarts;
  EXPECT_TRUE(parent.is_running());
  EXPECT_TRUE(parent.children().empty()) << parent.children().size();
  EXPECT_EQ(count_of(p->log, "parent/kid:post_stop"), 1u);
  EXPECT_EQ(count_of(p->log, "parent/kid:pre_start"), 1u) << "the child is stopped, not restarted";
}

TEST(supervision, restart_by_hand_restarts_the_actor_and_keeps_its_queued_messages) {
  test_system sys("sys");
  auto p = std::make_shared<probe>();
  auto w = spawn_worker(sys.system(), p, "w");
  ASSERT_TRUE(w);
  increment_times(w, 3);  // queued: the actor has not run yet
  const auto dead_before = sys->dead_letters();

  auto s = w.restart();
  ASSERT_TRUE(s) << outcome(s);

  EXPECT_TRUE(restarts_reach(sys, w, 1)) << w.metrics().restarts;
  EXPECT_EQ(p->increments.load(), 3) << "handled: " << p->increments.load();
  EXPECT_EQ(count_of(p->log, "w:pre_start"), 2u);
  EXPECT_EQ(count_of(p->log, "w:post_stop"), 1u);
  EXPECT_EQ(sys->dead_letters(), dead_before) << "no queued message was lost";
  EXPECT_EQ(w.metrics().errors, 0u) << "a restart by hand is not a failure";
}

TEST(supervision, restart_by_hand_of_a_stopped_actor_fails_with_dead_actor) {
  test_system sys("sys");
  auto p = std::make_shared<probe>();
  auto w = spawn_worker(sys.system(), p, "w");
  ASSERT_TRUE(w);
  ASSERT_TRUE(w.stop());
  ASSERT_TRUE(w.wait_stopped(5s));

  EXPECT_EQ(code_of(w.restart()), akt::errc::dead_actor);
  EXPECT_EQ(count_of(p->log, "w:pre_start"), 1u);
}

// --- resume and stop -----------------------------------------------------------------

TEST(supervision, resume_keeps_the_instance_and_its_state) {
  test_system sys(
      "sys",
      {.supervisor = share(akt::supervisor_strategy::one_for_one().otherwise(akt::directive::resume))});
  auto p = std::make_shared<probe>();
  auto w = spawn_worker(sys.system(), p, "w");
  ASSERT_TRUE(w);
  increment_times(w, 3);

  ASSERT_TRUE(w.tell(boom{}));
  increment_times(w, 1);

  EXPECT_EQ(count(w), 4);
  EXPECT_EQ(w.metrics().errors, 1u);
  EXPECT_EQ(w.metrics().restarts, 0u);
  EXPECT_EQ(p->log.items(), std::vector<std::string>{"w:pre_start"});
}

TEST(supervision, stop_directive_stops_the_actor_and_its_watcher_gets_terminated) {
  test_system sys(
      "sys", {.supervisor = share(akt::supervisor_strategy::one_for_one().otherwise(akt::directive::stop))});
  auto p = std::make_shared<probe>();
  auto w = spawn_worker(sys.system(), p, "w");
  auto watcher = spawn_worker(sys.system(), p, "watcher");
  ASSERT_TRUE(w && watcher);
  ASSERT_TRUE(watch(watcher, w));

  ASSERT_TRUE(w.tell(boom{}));

  ASSERT_TRUE(w.wait_stopped(5s));
  sys.run();
  EXPECT_FALSE(w.is_running());
  EXPECT_EQ(w.metrics().restarts, 0u);
  EXPECT_EQ(count_of(p->log, "watcher:terminated:w"), 1u) << ::testing::PrintToString(p->log.items());
  EXPECT_EQ(count_of(p->log, "w:post_stop"), 1u);
  EXPECT_EQ(count_of(p->log, "w:pre_start"), 1u);
}

// --- escalate ----------------------------------------------------------------------------

TEST(supervision, escalate_lets_the_grandparent_strategy_restart_the_parent_which_stops_the_child) {
  test_system sys("sys");
  auto p = std::make_shared<probe>();
  auto gp = spawn_worker(sys.system(), p, "gp",
                         share(akt::supervisor_strategy::one_for_one().otherwise(akt::directive::restart)));
  ASSERT_TRUE(gp);
  auto parent = add_worker(
      gp, "parent", share(akt::supervisor_strategy::one_for_one().otherwise(akt::directive::escalate)));
  ASSERT_TRUE(parent);
  auto child = add_worker(parent, "child");
  ASSERT_TRUE(child);

  ASSERT_TRUE(child.tell(boom{}));

  EXPECT_TRUE(child.wait_stopped(5s)) << "the restarted parent stops its child";
  EXPECT_TRUE(restarts_reach(sys, parent, 1)) << parent.metrics().restarts;
  EXPECT_TRUE(parent.is_running());
  EXPECT_TRUE(gp.is_running());
  EXPECT_EQ(gp.metrics().restarts, 0u);
  EXPECT_EQ(child.metrics().restarts, 0u);
  EXPECT_EQ(count_of(p->log, "gp/parent:pre_start"), 2u);
  EXPECT_EQ(count_of(p->log, "gp/parent/child:pre_start"), 1u);
  EXPECT_EQ(count_of(p->log, "gp:pre_start"), 1u);
}

TEST(supervision, escalate_to_a_grandparent_that_stops_stops_the_parent_and_its_child) {
  test_system sys("sys");
  auto p = std::make_shared<probe>();
  auto gp = spawn_worker(sys.system(), p, "gp",
                         share(akt::supervisor_strategy::one_for_one().otherwise(akt::directive::stop)));
  ASSERT_TRUE(gp);
  auto parent = add_worker(
      gp, "parent", share(akt::supervisor_strategy::one_for_one().otherwise(akt::directive::escalate)));
  ASSERT_TRUE(parent);
  auto child = add_worker(parent, "child");
  ASSERT_TRUE(child);

  ASSERT_TRUE(child.tell(boom{}));

  EXPECT_TRUE(parent.wait_stopped(5s));
  EXPECT_TRUE(child.wait_stopped(5s));
  EXPECT_TRUE(gp.is_running());
  EXPECT_EQ(parent.metrics().restarts, 0u);
  EXPECT_TRUE(after_run(sys, [&] { return gp.children().empty(); })) << gp.children().size();
}

// --- one_for_all ---------------------------------------------------------------------------

TEST(supervision, one_for_all_restarts_every_child_when_one_fails) {
  test_system sys("sys");
  auto p = std::make_shared<probe>();
  auto parent = spawn_worker(sys.system(), p, "parent", share(akt::supervisor_strategy::one_for_all()));
  ASSERT_TRUE(parent);
  auto a = add_worker(parent, "a");
  auto b = add_worker(parent, "b");
  auto c = add_worker(parent, "c");
  ASSERT_TRUE(a && b && c);
  increment_times(b, 2);
  ASSERT_EQ(count(b), 2);

  ASSERT_TRUE(a.tell(boom{}));
  sys.run();

  for (const char* kid : {"a", "b", "c"}) {
    const std::string started = std::string("parent/") + kid + ":pre_start";
    EXPECT_EQ(count_of(p->log, started), 2u) << started;
  }
  EXPECT_EQ(count(b), 0) << "the sibling got a fresh instance";
  EXPECT_TRUE(restarts_reach(sys, a, 1)) << a.metrics().restarts;
  for (const auto& kid : {a, b, c}) EXPECT_TRUE(kid.is_running()) << kid.path();
  EXPECT_TRUE(parent.is_running());
  EXPECT_EQ(parent.metrics().restarts, 0u);
  EXPECT_EQ(count_of(p->log, "parent:pre_start"), 1u);
}

TEST(supervision, one_for_all_with_stop_stops_every_child) {
  test_system sys(
      "sys", {.supervisor = share(akt::supervisor_strategy::one_for_all().otherwise(akt::directive::stop))});
  auto p = std::make_shared<probe>();
  auto parent = spawn_worker(sys.system(), p, "parent",
                             share(akt::supervisor_strategy::one_for_all().otherwise(akt::directive::stop)));
  ASSERT_TRUE(parent);
  auto a = add_worker(parent, "a");
  auto b = add_worker(parent, "b");
  auto c = add_worker(parent, "c");
  ASSERT_TRUE(a && b && c);

  ASSERT_TRUE(a.tell(boom{}));

  for (const auto& kid : {a, b, c}) EXPECT_TRUE(kid.wait_stopped(5s)) << kid.path();
  EXPECT_TRUE(parent.is_running());
  EXPECT_TRUE(after_run(sys, [&] { return parent.children().empty(); })) << parent.children().size();
  EXPECT_EQ(count_of(p->log, "parent/b:pre_start"), 1u) << "stopped, not restarted";
}

TEST(supervision, one_for_all_stops_every_sibling_when_the_retry_budget_is_exhausted) {
  test_system sys("sys", {.supervisor = share(akt::supervisor_strategy::one_for_all().with_retries(1, 10s))});
  auto p = std::make_shared<probe>();
  auto a = spawn_worker(sys.system(), p, "a");
  auto b = spawn_worker(sys.system(), p, "b");
  ASSERT_TRUE(a && b);

  ASSERT_TRUE(a.tell(boom{}));  // within the budget: both restart
  sys.run();
  EXPECT_EQ(count_of(p->log, "a:pre_start"), 2u);
  EXPECT_EQ(count_of(p->log, "b:pre_start"), 2u);

  ASSERT_TRUE(a.tell(boom{}));  // past it: the group stops together
  sys.run();
  EXPECT_TRUE(a.wait_stopped(5s));
  EXPECT_TRUE(b.wait_stopped(5s)) << "the sibling stops with the child that exhausted the budget";
  EXPECT_EQ(count_of(p->log, "b:pre_start"), 2u) << "the sibling was restarted past the budget";
  EXPECT_EQ(count_of(p->log, "b:post_stop"), 2u);
}

// --- rules -------------------------------------------------------------------------------------

TEST(supervision, a_rule_for_an_exception_type_matches_derived_exceptions) {
  test_system sys("sys", {.supervisor = share(akt::supervisor_strategy::one_for_one()
                                                  .on<std::runtime_error>(akt::directive::resume)
                                                  .otherwise(akt::directive::stop))});
  auto p = std::make_shared<probe>();
  auto w = spawn_worker(sys.system(), p, "w");
  ASSERT_TRUE(w);
  increment_times(w, 2);

  ASSERT_TRUE(w.tell(overflow{}));  // std::overflow_error derives from std::runtime_error
  increment_times(w, 1);

  EXPECT_EQ(count(w), 3) << "resumed: the count survived";
  EXPECT_TRUE(w.is_running());
  EXPECT_EQ(w.metrics().errors, 1u);
}

TEST(supervision, a_failure_that_no_rule_matches_gets_the_otherwise_directive) {
  test_system sys("sys", {.supervisor = share(akt::supervisor_strategy::one_for_one()
                                                  .on<std::runtime_error>(akt::directive::resume)
                                                  .otherwise(akt::directive::stop))});
  auto p = std::make_shared<probe>();
  auto w = spawn_worker(sys.system(), p, "w");
  ASSERT_TRUE(w);

  ASSERT_TRUE(w.tell(logic_bug{}));  // std::logic_error is no std::runtime_error

  EXPECT_TRUE(w.wait_stopped(5s));
  EXPECT_EQ(w.metrics().restarts, 0u);
}

TEST(supervision, rules_are_tried_in_order_and_the_first_match_decides) {
  test_system sys("sys", {.supervisor = share(akt::supervisor_strategy::one_for_one()
                                                  .on<std::runtime_error>(akt::directive::resume)
                                                  .on<std::overflow_error>(akt::directive::stop)
                                                  .otherwise(akt::directive::stop))});
  auto p = std::make_shared<probe>();
  auto w = spawn_worker(sys.system(), p, "w");
  ASSERT_TRUE(w);
  increment_times(w, 1);

  ASSERT_TRUE(w.tell(overflow{}));

  EXPECT_EQ(count(w), 1) << "the runtime_error rule came first: resumed";
  EXPECT_TRUE(w.is_running());
}

TEST(supervision, an_error_code_rule_matches_context_fail_with_that_code) {
  test_system sys("sys", {.supervisor = share(akt::supervisor_strategy::one_for_one()
                                                  .on(akt::errc::invalid_argument, akt::directive::stop)
                                                  .otherwise(akt::directive::resume))});
  auto p = std::make_shared<probe>();
  auto w = spawn_worker(sys.system(), p, "w");
  ASSERT_TRUE(w);
  increment_times(w, 1);

  ASSERT_TRUE(w.tell(report{akt::errc::timeout}));  // another code: otherwise, resume
  increment_times(w, 1);
  ASSERT_EQ(count(w), 2);
  ASSERT_TRUE(w.is_running());

  ASSERT_TRUE(w.tell(report{akt::errc::invalid_argument}));

  EXPECT_TRUE(w.wait_stopped(5s));
  EXPECT_EQ(w.metrics().errors, 2u);
  EXPECT_EQ(w.metrics().restarts, 0u);
}

TEST(supervision, an_error_code_rule_does_not_match_an_exception) {
  test_system sys("sys", {.supervisor = share(akt::supervisor_strategy::one_for_one()
                                                  .on(akt::errc::invalid_argument, akt::directive::stop)
                                                  .otherwise(akt::directive::resume))});
  auto p = std::make_shared<probe>();
  auto w = spawn_worker(sys.system(), p, "w");
  ASSERT_TRUE(w);
  increment_times(w, 1);

  ASSERT_TRUE(w.tell(boom{}));

  EXPECT_EQ(count(w), 1) << "resumed";
  EXPECT_TRUE(w.is_running());
}

// --- where the strategy comes from --------------------------------------------------------

TEST(supervision, a_parent_without_a_strategy_supervises_with_the_system_default) {
  test_system sys(
      "sys",
      {.supervisor = share(akt::supervisor_strategy::one_for_one().otherwise(akt::directive::resume))});
  auto p = std::make_shared<probe>();
  auto parent = spawn_worker(sys.system(), p, "parent");
  ASSERT_TRUE(parent);
  auto kid = add_worker(parent, "kid");
  ASSERT_TRUE(kid);
  increment_times(kid, 1);

  ASSERT_TRUE(kid.tell(boom{}));
  increment_times(kid, 1);

  EXPECT_EQ(count(kid), 2) << "resumed, as the system default says";
  EXPECT_EQ(kid.metrics().restarts, 0u);
}

TEST(supervision, a_parent_strategy_overrides_the_system_default_for_its_children) {
  test_system sys(
      "sys",
      {.supervisor = share(akt::supervisor_strategy::one_for_one().otherwise(akt::directive::resume))});
  auto p = std::make_shared<probe>();
  auto parent =
      spawn_worker(sys.system(), p, "parent",
                   share(akt::supervisor_strategy::one_for_one().otherwise(akt::directive::restart)));
  ASSERT_TRUE(parent);
  auto kid = add_worker(parent, "kid");
  ASSERT_TRUE(kid);
  increment_times(kid, 1);

  ASSERT_TRUE(kid.tell(boom{}));

  EXPECT_EQ(count(kid), 0) << "restarted, as the parent's strategy says";
  EXPECT_TRUE(restarts_reach(sys, kid, 1)) << kid.metrics().restarts;
}

// --- retry budget and backoff -------------------------------------------------------------

TEST(supervision, failures_within_the_retry_budget_keep_restarting_the_actor) {
  test_system sys("sys",
                  {.supervisor = share(akt::supervisor_strategy::one_for_one().with_retries(3, 1000ms))});
  auto p = std::make_shared<probe>();
  auto w = spawn_worker(sys.system(), p, "w");
  ASSERT_TRUE(w);

  for (int i = 0; i < 3; ++i) ASSERT_TRUE(w.tell(boom{}));

  EXPECT_EQ(count(w), 0);
  EXPECT_TRUE(w.is_running());
  EXPECT_TRUE(restarts_reach(sys, w, 3)) << w.metrics().restarts;
}

TEST(supervision, a_fourth_failure_within_the_retry_window_stops_the_actor_and_its_watcher_gets_terminated) {
  test_system sys("sys",
                  {.supervisor = share(akt::supervisor_strategy::one_for_one().with_retries(3, 1000ms))});
  auto p = std::make_shared<probe>();
  auto w = spawn_worker(sys.system(), p, "w");
  auto watcher = spawn_worker(sys.system(), p, "watcher");
  ASSERT_TRUE(w && watcher);
  ASSERT_TRUE(watch(watcher, w));

  for (int i = 0; i < 4; ++i) ASSERT_TRUE(w.tell(boom{}));

  ASSERT_TRUE(w.wait_stopped(5s));
  sys.run();
  EXPECT_EQ(w.metrics().restarts, 3u);
  EXPECT_EQ(w.metrics().errors, 4u);
  EXPECT_EQ(count_of(p->log, "watcher:terminated:w"), 1u) << ::testing::PrintToString(p->log.items());
}

TEST(supervision, backoff_delays_the_restart_and_messages_sent_meanwhile_are_processed_after_it) {
  constexpr auto min_backoff = 200ms;
  test_system sys(
      "sys", {.supervisor = share(akt::supervisor_strategy::one_for_one().with_backoff(min_backoff, 1s))});
  auto p = std::make_shared<probe>();
  auto w = spawn_worker(sys.system(), p, "w");
  ASSERT_TRUE(w);
  increment_times(w, 2);
  ASSERT_EQ(count(w), 2);

  ASSERT_TRUE(w.tell(boom{}));
  increment_times(w, 3);  // sent while the restart waits
  sys.run();
  EXPECT_EQ(w.metrics().restarts, 0u) << "the restart waits for its backoff";
  EXPECT_EQ(p->increments.load(), 2) << "the messages sent meanwhile wait for the new instance";

  sys.advance(min_backoff - 1ms);
  EXPECT_EQ(w.metrics().restarts, 0u) << "not before the backoff";
  EXPECT_EQ(p->increments.load(), 2);

  sys.advance(1ms);
  EXPECT_EQ(w.metrics().restarts, 1u);
  EXPECT_EQ(p->increments.load(), 5);
  EXPECT_EQ(count(w), 3) << "the messages sent during the backoff reach the new instance";
  EXPECT_EQ(count_of(p->log, "w:pre_start"), 2u);
}

// Validation of a strategy's options, on a threaded system: no protocol runs.
TEST(supervision, a_backoff_whose_max_is_below_its_min_or_a_negative_duration_is_rejected) {
  const auto max_below_min = share(akt::supervisor_strategy::one_for_one().with_backoff(200ms, 100ms));
  auto created = akt::actor_system::create("sys", {.supervisor = max_below_min});
  ASSERT_FALSE(created) << "a system whose default strategy is invalid";
  EXPECT_EQ(created.code(), akt::errc::invalid_argument);
  EXPECT_NE(created.error().message().find("backoff max 100 ms is below min 200 ms"), std::string::npos)
      << created.error().message();

  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto spawned = sys->spawn<silent_actor>(akt::spawn_options{.name = "p", .supervisor = max_below_min});
  ASSERT_FALSE(spawned) << "an actor whose strategy is invalid";
  EXPECT_EQ(spawned.code(), akt::errc::invalid_argument);
  EXPECT_NE(spawned.error().message().find("backoff max 100 ms is below min 200 ms"), std::string::npos)
      << spawned.error().message();
  EXPECT_FALSE(sys->lookup("p")) << "nothing was spawned";

  for (const auto& negative : {akt::supervisor_strategy::one_for_one().with_backoff(-1ms, 1s),
                               akt::supervisor_strategy::one_for_one().with_backoff(10ms, -1ms),
                               akt::supervisor_strategy::one_for_all().with_retries(3, -1s)}) {
    auto r = sys->spawn<silent_actor>(akt::spawn_options{.supervisor = share(negative)});
    EXPECT_EQ(code_of(r), akt::errc::invalid_argument) << outcome(r);
    if (!r) EXPECT_NE(r.error().message().find("negative"), std::string::npos) << r.error().message();
  }
  EXPECT_TRUE(sys->spawn<silent_actor>(akt::spawn_options{
      .supervisor = share(akt::supervisor_strategy::one_for_one().with_backoff(10ms, 10ms))}))
      << "max equal to min is fine";
}

}  // namespace
