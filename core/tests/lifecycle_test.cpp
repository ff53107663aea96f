// The lifecycle state machine driven directly: no actors, no threads. Each
// test feeds it what happened and checks what it answers.
#include "actor/lifecycle.hpp"

#include <gtest/gtest.h>

namespace {

using akt::detail::cell_state;
using akt::detail::lifecycle;
using next = lifecycle::next;

// A lifecycle whose pre_start succeeded.
struct running : lifecycle {
  running() { started(); }
};

}  // namespace

TEST(lifecycle, a_new_actor_is_starting_and_handles_nothing_yet) {
  lifecycle l;
  EXPECT_EQ(l.state(), cell_state::starting);
  EXPECT_FALSE(l.is_running());
  EXPECT_FALSE(l.is_handling());
  EXPECT_FALSE(l.is_stop_requested());
  EXPECT_FALSE(l.refuses_children());  // pre_start may spawn
}

TEST(lifecycle, started_makes_it_running_and_handling) {
  running l;
  EXPECT_EQ(l.state(), cell_state::running);
  EXPECT_TRUE(l.is_running());
  EXPECT_TRUE(l.is_handling());
  EXPECT_TRUE(l.hears_terminated());
  EXPECT_TRUE(l.accepts_restart());
  EXPECT_FALSE(l.waits_for_children());
}

TEST(lifecycle, only_the_first_stop_request_counts) {
  running l;
  EXPECT_TRUE(l.request_stop());
  EXPECT_FALSE(l.request_stop());
  EXPECT_TRUE(l.is_stop_requested());
  EXPECT_FALSE(l.is_running());
  EXPECT_FALSE(l.is_handling());
  EXPECT_FALSE(l.accepts_restart());
  EXPECT_TRUE(l.refuses_children());
  EXPECT_EQ(l.state(), cell_state::running);  // the stop message moves it on
}

TEST(lifecycle, a_stop_request_after_termination_is_ignored) {
  running l;
  ASSERT_TRUE(l.begin_stop());
  l.terminated();
  EXPECT_FALSE(l.request_stop());
  EXPECT_FALSE(l.is_stop_requested());
  EXPECT_FALSE(l.accepts_restart());
}

TEST(lifecycle, begin_stop_moves_to_stopping_once) {
  running l;
  EXPECT_TRUE(l.begin_stop());
  EXPECT_EQ(l.state(), cell_state::stopping);
  EXPECT_FALSE(l.begin_stop());
  EXPECT_TRUE(l.waits_for_children());
  EXPECT_TRUE(l.refuses_children());
  EXPECT_TRUE(l.hears_terminated());  // its children stop first; it still hears of them
  EXPECT_FALSE(l.is_handling());
}

TEST(lifecycle, the_last_child_gone_terminates_a_stopping_actor) {
  running l;
  ASSERT_TRUE(l.begin_stop());
  EXPECT_EQ(l.children_stopped(), next::terminate);
  l.terminated();
  EXPECT_EQ(l.state(), cell_state::terminated);
  EXPECT_FALSE(l.begin_stop());
  EXPECT_FALSE(l.hears_terminated());
}

TEST(lifecycle, children_stopped_means_nothing_to_a_running_actor) {
  running l;
  EXPECT_EQ(l.children_stopped(), next::none);
  EXPECT_EQ(l.state(), cell_state::running);
}

TEST(lifecycle, a_failed_start_without_children_terminates_at_once) {
  lifecycle l;
  EXPECT_EQ(l.start_failed(/*has_children=*/false), next::terminate);
  EXPECT_EQ(l.state(), cell_state::stopping);
  EXPECT_TRUE(l.is_stop_requested());
}

TEST(lifecycle, a_failed_start_with_children_stops_them_first) {
  lifecycle l;
  EXPECT_EQ(l.start_failed(/*has_children=*/true), next::stop);
  EXPECT_EQ(l.state(), cell_state::starting);
  EXPECT_TRUE(l.is_stop_requested());
  EXPECT_TRUE(l.refuses_children());
  EXPECT_TRUE(l.begin_stop());  // the stop message it posts
  EXPECT_EQ(l.children_stopped(), next::terminate);
}

TEST(lifecycle, only_a_running_actor_begins_a_restart) {
  lifecycle starting;
  EXPECT_FALSE(starting.begin_restart(false, false));
  running stopping;
  ASSERT_TRUE(stopping.begin_stop());
  EXPECT_FALSE(stopping.begin_restart(false, false));
  EXPECT_EQ(stopping.state(), cell_state::stopping);
}

TEST(lifecycle, a_restart_with_nothing_to_wait_for_finishes_at_once) {
  running l;
  ASSERT_TRUE(l.begin_restart(/*wait_for_children=*/false, /*wait_for_delay=*/false));
  EXPECT_EQ(l.state(), cell_state::restarting);
  EXPECT_TRUE(l.is_running());  // still alive to others
  EXPECT_FALSE(l.is_handling());
  EXPECT_TRUE(l.is_holding_for_restart());
  EXPECT_FALSE(l.hears_terminated());
  EXPECT_EQ(l.restart_step(), next::finish_restart);
  l.restarted();
  EXPECT_EQ(l.state(), cell_state::running);
  EXPECT_TRUE(l.is_handling());
}

TEST(lifecycle, a_restart_waits_for_the_old_children) {
  running l;
  ASSERT_TRUE(l.begin_restart(/*wait_for_children=*/true, /*wait_for_delay=*/false));
  EXPECT_EQ(l.restart_step(), next::none);
  EXPECT_TRUE(l.waits_for_children());
  EXPECT_EQ(l.children_stopped(), next::finish_restart);
}

TEST(lifecycle, a_restart_waits_for_its_delay) {
  running l;
  ASSERT_TRUE(l.begin_restart(/*wait_for_children=*/false, /*wait_for_delay=*/true));
  EXPECT_EQ(l.restart_step(), next::none);
  EXPECT_EQ(l.delay_elapsed(), next::finish_restart);
}

TEST(lifecycle, a_restart_waits_for_children_and_delay_in_either_order) {
  running a;
  ASSERT_TRUE(a.begin_restart(true, true));
  EXPECT_EQ(a.children_stopped(), next::none);
  EXPECT_EQ(a.delay_elapsed(), next::finish_restart);

  running b;
  ASSERT_TRUE(b.begin_restart(true, true));
  EXPECT_EQ(b.delay_elapsed(), next::none);
  EXPECT_EQ(b.children_stopped(), next::finish_restart);
}

TEST(lifecycle, a_stop_asked_during_a_restart_ends_it_in_a_stop) {
  running l;
  ASSERT_TRUE(l.begin_restart(true, false));
  EXPECT_TRUE(l.request_stop());
  EXPECT_FALSE(l.is_holding_for_restart());  // user messages are dead letters now
  EXPECT_EQ(l.children_stopped(), next::stop);
  EXPECT_EQ(l.state(), cell_state::running);  // back to running, to stop from there
  EXPECT_TRUE(l.begin_stop());
  EXPECT_EQ(l.children_stopped(), next::terminate);
}

TEST(lifecycle, a_late_delay_after_the_restart_finished_does_nothing) {
  running l;
  ASSERT_TRUE(l.begin_restart(false, false));
  ASSERT_EQ(l.restart_step(), next::finish_restart);
  l.restarted();
  EXPECT_EQ(l.delay_elapsed(), next::none);
  EXPECT_EQ(l.restart_step(), next::none);
  EXPECT_EQ(l.state(), cell_state::running);
}

TEST(lifecycle, a_second_restart_after_the_first_waits_afresh) {
  running l;
  ASSERT_TRUE(l.begin_restart(true, false));
  ASSERT_EQ(l.children_stopped(), next::finish_restart);
  l.restarted();
  ASSERT_TRUE(l.begin_restart(false, true));
  EXPECT_EQ(l.children_stopped(), next::none);  // no children were waited for: the delay still is
  EXPECT_EQ(l.delay_elapsed(), next::finish_restart);
}
