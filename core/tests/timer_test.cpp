// Timers: schedule_once delivers once after its delay, schedule_repeatedly
// delivers until cancelled, a timer cancelled before it fires never delivers,
// and cancel_timer says whether it stopped a pending timer.
//
// No test sleeps: each waits for a message that must arrive (a marker on a
// later timer) and then checks what arrived before it.
#include "test_util.hpp"
#include "timer/timer_service.hpp"

#include <akt/akt.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace akt_test;
using namespace std::chrono_literals;

struct tick {
  int seq = 0;
};
struct marker {
  int n = 0;
};

struct timer_log {
  recorder seen;  // "tick:<seq>" and "marker:<n>", in arrival order
  std::atomic<int> ticks{0};
  std::atomic<int> with_sender{0};  // ticks that arrived with a sender
  guarded<clock_type::time_point> first_tick_at;
};

class tick_counter : public akt::actor {
 public:
  explicit tick_counter(std::shared_ptr<timer_log> log) : log_(std::move(log)) {}
  void receive(akt::context& ctx) override {
    if (auto* t = ctx.message<tick>()) {
      if (!log_->first_tick_at.has()) log_->first_tick_at.set(clock_type::now());
      if (!ctx.sender().is_null()) log_->with_sender.fetch_add(1);
      log_->seen.add("tick:" + std::to_string(t->seq));
      log_->ticks.fetch_add(1);
    } else if (auto* m = ctx.message<marker>()) {
      log_->seen.add("marker:" + std::to_string(m->n));
    }
  }

 private:
  std::shared_ptr<timer_log> log_;
};

struct timer_fixture {
  std::unique_ptr<akt::actor_system> sys = start_system("sys");
  std::shared_ptr<timer_log> log = std::make_shared<timer_log>();
  akt::pid actor = spawn();

  akt::pid spawn() {
    if (!sys) return {};
    auto r = sys->spawn<tick_counter>("ticks", log);
    if (!r) {
      ADD_FAILURE() << "spawn: " << outcome(r);
      return {};
    }
    return *r;
  }
  bool saw(const std::string& entry) {
    return wait_until([&] { return log->seen.contains(entry); });
  }
};

TEST(timer, schedule_once_delivers_the_message_once_after_the_delay) {
  timer_fixture f;
  ASSERT_TRUE(f.actor);
  constexpr auto delay = 100ms;

  const auto scheduled_at = clock_type::now();
  ASSERT_TRUE(f.sys->schedule_once(delay, f.actor, tick{1}));

  ASSERT_TRUE(wait_until([&] { return f.log->ticks.load() == 1; }));
  const auto waited = f.log->first_tick_at.get() - scheduled_at;
  EXPECT_GE(waited, delay / 2) << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count()
                               << " ms";
  // A later timer: by the time it arrives, a repeat of the first would have too.
  ASSERT_TRUE(f.sys->schedule_once(3 * delay, f.actor, marker{1}));
  ASSERT_TRUE(f.saw("marker:1"));
  EXPECT_EQ(f.log->seen.items(), (std::vector<std::string>{"tick:1", "marker:1"}));
}

TEST(timer, a_timer_message_arrives_without_a_sender) {
  timer_fixture f;
  ASSERT_TRUE(f.actor);

  ASSERT_TRUE(f.sys->schedule_once(1ms, f.actor, tick{1}));

  ASSERT_TRUE(wait_until([&] { return f.log->ticks.load() == 1; }));
  EXPECT_EQ(f.log->with_sender.load(), 0);
}

TEST(timer, schedule_repeatedly_delivers_a_copy_again_and_again_until_cancelled) {
  timer_fixture f;
  ASSERT_TRUE(f.actor);
  constexpr auto interval = 20ms;

  const auto id = f.sys->schedule_repeatedly(interval, interval, f.actor, tick{7});
  ASSERT_TRUE(id) << outcome(id);

  ASSERT_TRUE(wait_until([&] { return f.log->ticks.load() >= 3; })) << f.log->ticks.load();
  ASSERT_TRUE(f.sys->cancel_timer(*id));
  // Every tick delivered before the cancel is ahead of this marker.
  ASSERT_TRUE(f.actor.tell(marker{1}));
  ASSERT_TRUE(f.saw("marker:1"));
  const int ticks_at_cancel = f.log->ticks.load();
  // Ten intervals later, as measured by a timer that must arrive.
  ASSERT_TRUE(f.sys->schedule_once(10 * interval, f.actor, marker{2}));
  ASSERT_TRUE(f.saw("marker:2"));

  EXPECT_LE(f.log->ticks.load() - ticks_at_cancel, 1) << "at most one tick was in flight during the cancel";
  for (const auto& s : f.log->seen.items()) {
    if (s.rfind("tick:", 0) == 0) {
      EXPECT_EQ(s, "tick:7");
    }
  }
}

TEST(timer, a_timer_cancelled_before_it_fires_never_delivers) {
  timer_fixture f;
  ASSERT_TRUE(f.actor);

  const auto far_once = f.sys->schedule_once(10s, f.actor, tick{1});
  const auto far_repeated = f.sys->schedule_repeatedly(10s, 10s, f.actor, tick{2});
  const auto near_once = f.sys->schedule_once(300ms, f.actor, tick{3});
  ASSERT_TRUE(far_once && far_repeated && near_once);
  EXPECT_TRUE(f.sys->cancel_timer(*far_once));
  EXPECT_TRUE(f.sys->cancel_timer(*far_repeated));
  ASSERT_TRUE(f.sys->cancel_timer(*near_once)) << "cancelled well within its 300 ms";

  // Twice the near timer's delay later, as measured by a timer that must arrive.
  ASSERT_TRUE(f.sys->schedule_once(600ms, f.actor, marker{1}));
  ASSERT_TRUE(f.saw("marker:1"));
  EXPECT_EQ(f.log->seen.items(), std::vector<std::string>{"marker:1"});
}

TEST(timer, cancel_timer_on_a_one_shot_that_already_fired_returns_false) {
  timer_fixture f;
  ASSERT_TRUE(f.actor);

  const auto id = f.sys->schedule_once(10ms, f.actor, tick{1});
  ASSERT_TRUE(id) << outcome(id);
  ASSERT_TRUE(wait_until([&] { return f.log->ticks.load() == 1; }));

  EXPECT_FALSE(f.sys->cancel_timer(*id));
}

TEST(timer, cancel_timer_returns_false_the_second_time_and_for_an_unknown_id) {
  timer_fixture f;
  ASSERT_TRUE(f.actor);
  const auto id = f.sys->schedule_once(10s, f.actor, tick{1});
  ASSERT_TRUE(id) << outcome(id);

  EXPECT_TRUE(f.sys->cancel_timer(*id));
  EXPECT_FALSE(f.sys->cancel_timer(*id));
  EXPECT_FALSE(f.sys->cancel_timer(*id + 1'000'000));
}

TEST(timer, schedule_before_start_or_after_stop_fails_with_not_running) {
  auto created = akt::actor_system::create("sys", {.logger = akt::make_discard_logger()});
  ASSERT_TRUE(created) << outcome(created);
  auto& sys = **created;
  auto other = start_system("other");
  ASSERT_TRUE(other);
  auto target = other->spawn<silent_actor>("target");
  ASSERT_TRUE(target) << outcome(target);

  EXPECT_EQ(code_of(sys.schedule_once(1ms, *target, tick{1})), akt::errc::not_running) << "before start";
  ASSERT_TRUE(sys.start());
  auto running = sys.schedule_once(1h, *target, tick{2});
  ASSERT_TRUE(running) << outcome(running);
  ASSERT_TRUE(sys.stop());
  auto once = sys.schedule_once(1ms, *target, tick{3});
  ASSERT_FALSE(once) << "a timer scheduled after stop would never fire";
  EXPECT_EQ(once.code(), akt::errc::not_running);
  EXPECT_NE(once.error().message().find("sys"), std::string::npos) << once.error().message();
  EXPECT_EQ(code_of(sys.schedule_repeatedly(1ms, 1ms, *target, tick{4})), akt::errc::not_running);
}

// The timer thread waits for the earliest deadline. Cancelling that entry
// and scheduling an earlier one wakes it: it must not read the cancelled
// entry's deadline, freed with the entry (AddressSanitizer reports a
// heap-use-after-free when it does; elsewhere it reads garbage).
TEST(timer, timer_service_does_not_read_the_deadline_of_an_entry_cancelled_while_it_waits) {
  akt::detail::timer_service timers;
  timers.start();
  for (int round = 0; round < 20; ++round) {
    std::atomic<bool> armed{false};
    std::atomic<bool> fired{false};
    akt::detail::timer_service::key far{};
    // Armed from a callback, so the timer thread goes straight from it to
    // waiting for the far deadline.
    (void)timers.schedule_after(0ns, [&] {
      far = timers.schedule_after(1h, [] {});
      armed.store(true);
    });
    ASSERT_TRUE(wait_until([&] { return armed.load(); }));
    EXPECT_TRUE(timers.cancel(far));
    (void)timers.schedule_after(0ns, [&] { fired.store(true); });
    ASSERT_TRUE(wait_until([&] { return fired.load(); })) << "round " << round;
  }
  timers.stop();
}

TEST(timer, a_timer_to_a_stopped_actor_delivers_a_dead_letter) {
  timer_fixture f;
  ASSERT_TRUE(f.actor);
  ASSERT_TRUE(f.actor.stop());
  ASSERT_TRUE(f.actor.wait_stopped(5s));
  const auto dead_before = f.sys->dead_letters();

  ASSERT_TRUE(f.sys->schedule_once(10ms, f.actor, tick{1}));

  EXPECT_TRUE(wait_until([&] { return f.sys->dead_letters() == dead_before + 1; }))
      << "dead letters: " << f.sys->dead_letters() << ", before: " << dead_before;
  EXPECT_EQ(f.log->ticks.load(), 0);
}

}  // namespace
