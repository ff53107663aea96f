// Stash: stash() sets the message in hand aside, stash_size() counts them,
// unstash() puts back the oldest, unstash_all() all of them in order ahead of
// the mailbox; past system_options::stash_capacity stash fails with
// errc::mailbox_full. Pure protocol: the tests run on the deterministic
// test_system, except the one whose asker is a thread of its own.
#include "test_util.hpp"

#include <akt/akt.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace akt_test;
using namespace std::chrono_literals;

struct work {  // handled ("work:<n>", replying n * 10) or stashed
  int n = 0;
};
struct open_all {};  // from now on handle work; unstash_all()
struct let_one {};   // handle one more work; unstash()
struct stash_size_query {};

struct door_log {
  recorder handled;    // "work:<n>" in the order handled
  recorder stashes;    // the outcome of each stash(): "ok" or the error code
  recorder unstashes;  // "unstash:true|false", "unstash_all:<count>"
};

// Stashes every work until it is opened (or let one through).
class doorkeeper : public akt::actor {
 public:
  explicit doorkeeper(std::shared_ptr<door_log> log) : log_(std::move(log)) {}
  void receive(akt::context& ctx) override {
    if (auto* w = ctx.message<work>()) {
      if (open_ || allowance_ > 0) {
        if (!open_) --allowance_;
        log_->handled.add("work:" + std::to_string(w->n));
        (void)ctx.reply(w->n * 10);
      } else {
        auto s = ctx.stash();
        log_->stashes.add(s ? std::string("ok") : std::string(akt::to_string(s.code())));
      }
    } else if (ctx.message<open_all>()) {
      open_ = true;
      log_->unstashes.add("unstash_all:" + std::to_string(ctx.unstash_all()));
    } else if (ctx.message<let_one>()) {
      ++allowance_;
      log_->unstashes.add(std::string("unstash:") + (ctx.unstash() ? "true" : "false"));
    } else if (ctx.message<stash_size_query>()) {
      (void)ctx.reply(ctx.stash_size());
    }
  }

 private:
  std::shared_ptr<door_log> log_;
  bool open_ = false;
  int allowance_ = 0;
};

// The stash size; every message sent before has been handled when it returns.
long stash_size(const akt::pid& a) {
  auto r = a.ask<std::size_t>(stash_size_query{}, 5s);
  if (!r) {
    ADD_FAILURE() << "stash_size_query: " << outcome(r);
    return -1;
  }
  return static_cast<long>(*r);
}

void send_work(const akt::pid& a, std::initializer_list<int> ns) {
  for (int n : ns) ASSERT_TRUE(a.tell(work{n}));
}

std::vector<std::string> works(std::initializer_list<int> ns) {
  std::vector<std::string> out;
  for (int n : ns) out.push_back("work:" + std::to_string(n));
  return out;
}

TEST(stash, stash_sets_the_message_in_hand_aside_and_stash_size_counts_it) {
  akt::testkit::test_system sys("sys");
  auto log = std::make_shared<door_log>();
  auto door = sys->spawn<doorkeeper>("door", log);
  ASSERT_TRUE(door);

  send_work(*door, {1, 2, 3});

  EXPECT_EQ(stash_size(*door), 3);
  EXPECT_EQ(log->handled.size(), 0u);
  EXPECT_EQ(log->stashes.items(), (std::vector<std::string>{"ok", "ok", "ok"}));
}

TEST(stash, unstash_all_replays_the_stash_in_order_before_messages_still_in_the_mailbox) {
  akt::testkit::test_system sys("sys");
  auto log = std::make_shared<door_log>();
  auto door = sys->spawn<doorkeeper>("door", log);
  ASSERT_TRUE(door);
  send_work(*door, {1, 2, 3});
  ASSERT_EQ(stash_size(*door), 3);
  // Told before the actor runs: open_all, 4 and 5 are all in the mailbox
  // when open_all runs.
  ASSERT_TRUE(door->tell(open_all{}));
  send_work(*door, {4, 5});
  EXPECT_EQ(sys.mailbox_size(*door), 3u);

  EXPECT_EQ(stash_size(*door), 0);
  EXPECT_EQ(log->handled.items(), works({1, 2, 3, 4, 5}));
  EXPECT_EQ(log->unstashes.items(), std::vector<std::string>{"unstash_all:3"});
}

TEST(stash, unstash_puts_back_only_the_oldest_stashed_message) {
  akt::testkit::test_system sys("sys");
  auto log = std::make_shared<door_log>();
  auto door = sys->spawn<doorkeeper>("door", log);
  ASSERT_TRUE(door);
  send_work(*door, {1, 2, 3});

  ASSERT_TRUE(door->tell(let_one{}));

  EXPECT_EQ(stash_size(*door), 2);
  EXPECT_EQ(log->handled.items(), works({1}));
  EXPECT_EQ(log->unstashes.items(), std::vector<std::string>{"unstash:true"});

  ASSERT_TRUE(door->tell(open_all{}));
  EXPECT_EQ(stash_size(*door), 0);
  EXPECT_EQ(log->handled.items(), works({1, 2, 3}));
}

TEST(stash, stash_past_the_capacity_fails_with_mailbox_full) {
  akt::testkit::test_system sys("sys", {.stash_capacity = 2});
  auto log = std::make_shared<door_log>();
  auto door = sys->spawn<doorkeeper>("door", log);
  ASSERT_TRUE(door);

  send_work(*door, {1, 2, 3});

  EXPECT_EQ(stash_size(*door), 2);
  EXPECT_EQ(log->stashes.items(),
            (std::vector<std::string>{"ok", "ok", std::string(akt::to_string(akt::errc::mailbox_full))}));
  ASSERT_TRUE(door->tell(open_all{}));
  EXPECT_EQ(stash_size(*door), 0);
  EXPECT_EQ(log->handled.items(), works({1, 2})) << "the message that did not fit was not stashed";
}

TEST(stash, unstash_with_nothing_stashed_does_nothing) {
  akt::testkit::test_system sys("sys");
  auto log = std::make_shared<door_log>();
  auto door = sys->spawn<doorkeeper>("door", log);
  ASSERT_TRUE(door);

  ASSERT_TRUE(door->tell(let_one{}));
  ASSERT_TRUE(door->tell(open_all{}));

  EXPECT_EQ(stash_size(*door), 0);
  EXPECT_EQ(log->unstashes.items(), (std::vector<std::string>{"unstash:false", "unstash_all:0"}));
  EXPECT_EQ(log->handled.size(), 0u);
}

TEST(stash, a_stashed_ask_is_answered_after_unstash) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto log = std::make_shared<door_log>();
  auto door = sys->spawn<doorkeeper>("door", log);
  ASSERT_TRUE(door);

  akt::result<int> answer = akt::error(akt::errc::timeout, "not asked yet");
  std::thread asker([&] { answer = door->ask<int>(work{7}, 5s); });
  const bool stashed = wait_until([&] { return stash_size(*door) == 1; });
  ASSERT_TRUE(door->tell(open_all{}));
  asker.join();

  ASSERT_TRUE(stashed);
  ASSERT_TRUE(answer) << outcome(answer);
  EXPECT_EQ(*answer, 70) << "the stashed message kept its asker";
  EXPECT_EQ(log->handled.items(), works({7}));
}

}  // namespace
