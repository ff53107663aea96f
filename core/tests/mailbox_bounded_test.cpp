// Bounded mailboxes: a full mailbox fails tells (overflow_policy::fail) or
// dead-letters them (drop_to_dead_letters); the count is exact and no
// accepted message is lost.
#include "test_util.hpp"

#include <akt/akt.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace {

using namespace akt_test;
using namespace std::chrono_literals;

// Blocks inside receive on the first ping until the gate opens, so the
// mailbox fills deterministically behind it; records every seq it handles.
class blockable_actor : public akt::actor {
 public:
  blockable_actor(std::shared_ptr<gate> release, std::shared_ptr<recorder> seen)
      : release_(std::move(release)), seen_(std::move(seen)) {}
  void receive(akt::context& ctx) override {
    if (auto* p = ctx.message<ping>()) {
      if (p->seq == 0) release_->wait_for(10s);
      seen_->add(std::to_string(p->seq));
    }
  }

 private:
  std::shared_ptr<gate> release_;
  std::shared_ptr<recorder> seen_;
};

struct blocked_fixture {
  std::unique_ptr<akt::actor_system> sys;
  std::shared_ptr<gate> release = std::make_shared<gate>();
  std::shared_ptr<recorder> seen = std::make_shared<recorder>();
  akt::pid actor;

  // Spawns the actor with `mailbox` and parks it inside receive on ping 0:
  // from then on its mailbox is empty and nothing leaves it.
  bool setup(akt::mailbox_options mailbox) {
    sys = start_system("sys", {.workers = 2});
    if (!sys) return false;
    auto a =
        sys->spawn<blockable_actor>(akt::spawn_options{.name = "bounded", .mailbox = mailbox}, release, seen);
    if (!a) {
      ADD_FAILURE() << outcome(a);
      return false;
    }
    actor = *a;
    if (!actor.tell(ping{0})) return false;
    return wait_until([&] { return actor.metrics().received == 1 && actor.metrics().mailbox_size == 0; });
  }
  ~blocked_fixture() { release->open(); }
};

TEST(mailbox_bounded, tell_fails_with_mailbox_full_once_capacity_is_reached) {
  blocked_fixture f;
  ASSERT_TRUE(f.setup({.capacity = 4, .overflow = akt::overflow_policy::fail}));
  for (int i = 1; i <= 4; ++i) {
    auto s = f.actor.tell(ping{i});
    ASSERT_TRUE(s) << "message " << i << " of 4 fits: " << outcome(s);
  }
  EXPECT_EQ(f.actor.metrics().mailbox_size, 4u);
  for (int i = 5; i <= 7; ++i) {
    auto s = f.actor.tell(ping{i});
    ASSERT_FALSE(s) << "message " << i << " exceeds the capacity of 4";
    EXPECT_EQ(s.code(), akt::errc::mailbox_full);
  }
  auto asked = f.actor.ask(ping{100}, 1s);
  ASSERT_FALSE(asked) << "an ask to a full mailbox is refused too";
  EXPECT_EQ(asked.code(), akt::errc::mailbox_full);
  EXPECT_EQ(f.actor.metrics().mailbox_size, 4u);

  f.release->open();
  ASSERT_TRUE(wait_until([&] { return f.seen->size() == 5; }));
  EXPECT_EQ(f.seen->items(), (std::vector<std::string>{"0", "1", "2", "3", "4"}))
      << "every accepted message is processed, in order, and none of the refused ones";
}

TEST(mailbox_bounded, room_frees_up_as_the_actor_catches_up) {
  blocked_fixture f;
  ASSERT_TRUE(f.setup({.capacity = 2}));
  ASSERT_TRUE(f.actor.tell(ping{1}));
  ASSERT_TRUE(f.actor.tell(ping{2}));
  EXPECT_EQ(code_of(f.actor.tell(ping{3})), akt::errc::mailbox_full);
  f.release->open();
  ASSERT_TRUE(wait_until([&] { return f.seen->size() == 3; }));
  EXPECT_TRUE(f.actor.tell(ping{4}));
  EXPECT_TRUE(f.actor.tell(ping{5}));
  ASSERT_TRUE(wait_until([&] { return f.seen->size() == 5; }));
  EXPECT_EQ(f.seen->items(), (std::vector<std::string>{"0", "1", "2", "4", "5"}));
}

TEST(mailbox_bounded, drop_to_dead_letters_accepts_the_tell_and_counts_the_drop) {
  blocked_fixture f;
  ASSERT_TRUE(f.setup({.capacity = 2, .overflow = akt::overflow_policy::drop_to_dead_letters}));
  const auto dead_before = f.sys->dead_letters();
  ASSERT_TRUE(f.actor.tell(ping{1}));
  ASSERT_TRUE(f.actor.tell(ping{2}));
  EXPECT_EQ(f.sys->dead_letters(), dead_before);
  for (int i = 3; i <= 5; ++i) {
    auto s = f.actor.tell(ping{i});
    EXPECT_TRUE(s) << "drop_to_dead_letters: tell succeeds even when full: " << outcome(s);
  }
  EXPECT_EQ(f.sys->dead_letters(), dead_before + 3);
  EXPECT_EQ(f.actor.metrics().mailbox_size, 2u);

  f.release->open();
  ASSERT_TRUE(wait_until([&] { return f.seen->size() == 3; }));
  EXPECT_EQ(f.seen->items(), (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(f.sys->dead_letters(), dead_before + 3);
}

TEST(mailbox_bounded, capacity_holds_exactly_under_concurrent_producers) {
  blocked_fixture f;
  constexpr std::size_t capacity = 100;
  ASSERT_TRUE(f.setup({.capacity = capacity}));
  std::atomic<int> accepted{0};
  std::atomic<int> refused{0};
  std::atomic<int> other{0};
  std::vector<std::thread> producers;
  for (int t = 0; t < 4; ++t) {
    producers.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        auto s = f.actor.tell(ping{1 + t * 1000 + i});
        if (s)
          ++accepted;
        else if (s.code() == akt::errc::mailbox_full)
          ++refused;
        else
          ++other;
      }
    });
  }
  for (auto& p : producers) p.join();
  EXPECT_EQ(accepted.load(), static_cast<int>(capacity));
  EXPECT_EQ(refused.load(), 400 - static_cast<int>(capacity));
  EXPECT_EQ(other.load(), 0);
  f.release->open();
  ASSERT_TRUE(wait_until([&] { return f.seen->size() == capacity + 1; }));
  EXPECT_TRUE(wait_until([&] { return f.actor.metrics().processed == capacity + 1; }));
}

// Watches whom it is told to; everything else it ignores.
struct watch_this {
  akt::pid target;
};
class watching_actor : public akt::actor {
 public:
  void receive(akt::context& ctx) override {
    if (auto* w = ctx.message<watch_this>()) (void)ctx.watch(w->target);
  }
};

TEST(mailbox_bounded, bounded_mailbox_capacity_does_not_drift_with_system_messages) {
  auto sys = start_system("sys", {.deterministic = true});
  ASSERT_TRUE(sys);
  constexpr std::size_t capacity = 3;
  auto bounded =
      sys->spawn<watching_actor>(akt::spawn_options{.name = "bounded", .mailbox = {.capacity = capacity}});
  ASSERT_TRUE(bounded) << outcome(bounded);
  ASSERT_TRUE(sys->subscribe(*bounded));
  // Terminated and the event stream's events reach it past the bound (the
  // runtime's own messages are never refused): thirty of them.
  for (int i = 0; i < 10; ++i) {
    auto other = sys->spawn<silent_actor>("other-" + std::to_string(i));  // actor_started
    ASSERT_TRUE(other) << outcome(other);
    ASSERT_TRUE(bounded->tell(watch_this{*other}));
    sys->run_ready();
    ASSERT_TRUE(other->stop());  // actor_stopped and terminated
    sys->run_ready();
  }
  ASSERT_EQ(bounded->metrics().mailbox_size, 0u);

  for (std::size_t i = 0; i < capacity; ++i) {
    auto s = bounded->tell(ping{static_cast<int>(i)});
    ASSERT_TRUE(s) << "message " << i + 1 << " of " << capacity << " fits: " << outcome(s);
  }
  EXPECT_EQ(code_of(bounded->tell(ping{99})), akt::errc::mailbox_full)
      << "the capacity is still " << capacity << " after thirty runtime messages";
}

TEST(mailbox_bounded, unbounded_by_default) {
  blocked_fixture f;
  ASSERT_TRUE(f.setup({}));
  for (int i = 1; i <= 10'000; ++i) ASSERT_TRUE(f.actor.tell(ping{i})) << i;
  EXPECT_EQ(f.actor.metrics().mailbox_size, 10'000u);
  f.release->open();
  EXPECT_TRUE(wait_until([&] { return f.seen->size() == 10'001; }));
}

}  // namespace
