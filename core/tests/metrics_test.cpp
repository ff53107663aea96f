// Per-actor metrics: received / processed / errors / mailbox_size / restarts,
// and that an exception escaping receive is counted and does not stop the
// actor.
#include "test_util.hpp"

#include <akt/akt.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>

namespace {

using namespace akt_test;
using namespace std::chrono_literals;

struct explode {};
struct hold {};  // blocks in receive until the gate opens

class metered_actor : public akt::actor {
 public:
  explicit metered_actor(std::shared_ptr<gate> release) : release_(std::move(release)) {}
  void receive(akt::context& ctx) override {
    if (ctx.message<hold>()) {
      release_->wait_for(10s);
    } else if (ctx.message<explode>()) {
      throw std::runtime_error("boom");
    } else if (auto* p = ctx.message<ping>()) {
      (void)ctx.reply(pong{p->seq});
    }
  }

 private:
  std::shared_ptr<gate> release_;
};

TEST(metrics, start_at_zero) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto a = sys->spawn<metered_actor>("m", std::make_shared<gate>());
  ASSERT_TRUE(a);
  const auto m = a->metrics();
  EXPECT_EQ(m.mailbox_size, 0u);
  EXPECT_EQ(m.received, 0u);
  EXPECT_EQ(m.processed, 0u);
  EXPECT_EQ(m.errors, 0u);
  EXPECT_EQ(m.restarts, 0u);
}

TEST(metrics, mailbox_size_counts_waiting_messages_while_the_actor_is_busy) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto release = std::make_shared<gate>();
  auto a = sys->spawn<metered_actor>("m", release);
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->tell(hold{}));
  ASSERT_TRUE(wait_until([&] { return a->metrics().received == 1; }));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(a->tell(ping{i}));
  auto m = a->metrics();
  EXPECT_EQ(m.mailbox_size, 5u) << "the held message has left the mailbox; five wait";
  EXPECT_EQ(m.received, 1u);
  EXPECT_EQ(m.processed, 0u) << "the held message has not returned yet";
  release->open();
  ASSERT_TRUE(wait_until([&] { return a->metrics().processed == 6; }));
  m = a->metrics();
  EXPECT_EQ(m.mailbox_size, 0u);
  EXPECT_EQ(m.received, 6u);
  EXPECT_EQ(m.errors, 0u);
}

TEST(metrics, a_throwing_receive_counts_an_error_and_the_actor_carries_on) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto a = sys->spawn<metered_actor>("m", std::make_shared<gate>());
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->tell(ping{1}));
  ASSERT_TRUE(a->tell(explode{}));
  ASSERT_TRUE(a->tell(explode{}));
  auto r = a->ask<pong>(ping{2}, 5s);
  ASSERT_TRUE(r) << "the actor handles the next message after an exception: " << outcome(r);
  EXPECT_EQ(r->seq, 2);
  EXPECT_TRUE(a->is_running());
  ASSERT_TRUE(wait_until([&] { return a->metrics().processed == 2 && a->metrics().errors == 2; }));
  const auto m = a->metrics();
  EXPECT_EQ(m.received, 4u);
  EXPECT_EQ(m.processed, 2u) << "processed counts only receives that returned normally";
  EXPECT_EQ(m.errors, 2u);
  EXPECT_EQ(m.restarts, 2u) << "the default supervisor restarts an actor once per failure";
  EXPECT_EQ(m.mailbox_size, 0u);
}

TEST(metrics, an_ask_whose_receive_throws_gets_no_reply) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto a = sys->spawn<metered_actor>("m", std::make_shared<gate>());
  ASSERT_TRUE(a);
  auto r = a->ask(explode{}, 300ms);
  EXPECT_FALSE(r) << "a receive that threw sent no reply";
  EXPECT_TRUE(wait_until([&] { return a->metrics().errors == 1; }));
  EXPECT_TRUE(a->is_running());
}

TEST(metrics, count_messages_received_from_many_senders_exactly) {
  auto sys = start_system("sys", {.workers = 2});
  ASSERT_TRUE(sys);
  auto a = sys->spawn<metered_actor>("m", std::make_shared<gate>());
  ASSERT_TRUE(a);
  std::vector<std::thread> senders;
  for (int t = 0; t < 4; ++t) {
    senders.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) (void)a->tell(ping{i});
    });
  }
  for (auto& s : senders) s.join();
  ASSERT_TRUE(wait_until([&] { return a->metrics().processed == 20'000; })) << a->metrics().processed;
  EXPECT_EQ(a->metrics().received, 20'000u);
  EXPECT_EQ(a->metrics().mailbox_size, 0u);
}

}  // namespace
