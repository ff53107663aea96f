// The mailbox's own accounting, driven directly on one thread: the count
// that schedules an actor, the start hold, the bound, mailbox_size.
#include <akt/pid.hpp>

#include "mailbox/mailbox.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using akt::detail::envelope;
using akt::detail::mailbox;
using akt::detail::mailbox_cursor;

struct plain_envelope final : envelope {
  std::string type_name() const override { return "plain"; }
};

// Envelopes owned by the test, pushed by address.
struct envelopes {
  std::vector<plain_envelope> items;
  explicit envelopes(std::size_t n) : items(n) {}
  envelope* operator[](std::size_t i) { return &items[i]; }
};

// Empties the queue at the end of a test, so that its memory is freed (the
// envelopes are the test's: only their addresses are taken).
struct drain_at_exit {
  mailbox& m;
  mailbox_cursor& c;
  ~drain_at_exit() {
    while (m.drain(c) != nullptr) {
    }
  }
};

}  // namespace

TEST(mailbox, the_start_hold_keeps_messages_waiting_until_open) {
  mailbox m({});
  mailbox_cursor c(m);
  const drain_at_exit drained{m, c};
  envelopes e(2);
  EXPECT_EQ(m.size(c), 0u);
  EXPECT_EQ(m.push(e[0]), 1);  // not 0: nobody schedules a starting actor
  EXPECT_EQ(m.size(c), 1u);
  EXPECT_TRUE(m.open());  // a message waits: schedule it now
  EXPECT_EQ(m.size(c), 1u);
}

TEST(mailbox, opening_an_empty_mailbox_schedules_nothing) {
  mailbox m({});
  mailbox_cursor c(m);
  const drain_at_exit drained{m, c};
  EXPECT_FALSE(m.open());
  envelopes e(1);
  EXPECT_EQ(m.push(e[0]), 0);  // the first push after open schedules
}

TEST(mailbox, a_turn_takes_in_order_and_settles_once) {
  mailbox m({});
  mailbox_cursor c(m);
  const drain_at_exit drained{m, c};
  (void)m.open();
  envelopes e(3);
  for (std::size_t i = 0; i < 3; ++i) (void)m.push(e[i]);
  std::uint32_t taken = 0;
  EXPECT_EQ(m.take(c, taken), e[0]);
  EXPECT_EQ(m.take(c, taken), e[1]);
  EXPECT_EQ(taken, 2u);
  EXPECT_EQ(m.size(c), 1u);  // what is in hand is not waiting
  EXPECT_EQ(m.end_turn(c, taken, false), 1);
  taken = 0;
  EXPECT_EQ(m.take(c, taken), e[2]);
  EXPECT_EQ(m.take(c, taken), nullptr);
  EXPECT_EQ(m.end_turn(c, taken, false), 0);  // idle
  EXPECT_EQ(m.size(c), 0u);
}

TEST(mailbox, a_chain_counts_all_its_envelopes) {
  mailbox m({});
  mailbox_cursor c(m);
  const drain_at_exit drained{m, c};
  (void)m.open();
  envelopes e(3);
  e[0]->next = e[1];
  e[1]->next = e[2];
  EXPECT_EQ(m.push_chain(e[0], 3), 0);
  EXPECT_EQ(m.size(c), 3u);
  std::uint32_t taken = 0;
  while (m.take(c, taken) != nullptr) {
  }
  EXPECT_EQ(m.end_turn(c, taken, false), 0);
}

TEST(mailbox, a_hold_keeps_the_owner_scheduled_until_released) {
  mailbox m({});
  mailbox_cursor c(m);
  const drain_at_exit drained{m, c};
  (void)m.open();
  envelopes e(1);
  (void)m.push(e[0]);
  std::uint32_t taken = 0;
  ASSERT_EQ(m.take(c, taken), e[0]);
  EXPECT_EQ(m.end_turn(c, taken, /*hold=*/true), 1);  // messages wait outside the queue
  EXPECT_EQ(m.end_turn(c, 0, /*hold=*/true), 1);      // the hold is counted once
  EXPECT_EQ(m.end_turn(c, 0, /*hold=*/false), 0);
}

TEST(mailbox, a_bounded_mailbox_admits_up_to_its_capacity) {
  mailbox m({.capacity = 2});
  mailbox_cursor c(m);
  const drain_at_exit drained{m, c};
  (void)m.open();
  envelopes e(3);
  ASSERT_TRUE(m.try_reserve(*e[0]));
  ASSERT_TRUE(m.try_reserve(*e[1]));
  EXPECT_FALSE(m.try_reserve(*e[2]));
  EXPECT_FALSE(e[2]->counted);
  (void)m.push(e[0]);
  (void)m.push(e[1]);
  std::uint32_t taken = 0;
  ASSERT_EQ(m.take(c, taken), e[0]);
  EXPECT_FALSE(e[0]->counted);  // uncounted when taken: a place is free again
  EXPECT_TRUE(m.try_reserve(*e[2]));
}

TEST(mailbox, a_runtime_post_past_the_bound_does_not_grow_the_capacity) {
  mailbox m({.capacity = 1});
  mailbox_cursor c(m);
  const drain_at_exit drained{m, c};
  (void)m.open();
  envelopes e(3);
  (void)m.push(e[0]);  // a runtime post: never reserved, never counted
  std::uint32_t taken = 0;
  ASSERT_EQ(m.take(c, taken), e[0]);
  ASSERT_TRUE(m.try_reserve(*e[1]));
  EXPECT_FALSE(m.try_reserve(*e[2]));  // still one place, not two
}
