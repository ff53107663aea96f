// Passivation: an idle actor stops by itself after its timeout (post_stop,
// Terminated to watchers, name freed); a busy one does not, and one handling
// a long message is never stopped mid-message.
#include "test_util.hpp"

namespace {

using namespace akt_test;

struct poke {};
struct hold {
  std::shared_ptr<gate> until;
};

class sleepy : public akt::actor {
 public:
  explicit sleepy(std::shared_ptr<std::atomic<int>> stops) : stops_(std::move(stops)) {}
  void receive(akt::context& ctx) override {
    if (auto* h = ctx.message<hold>()) (void)h->until->wait_for(10s);
    if (ctx.message<poke>()) ctx.reply(1);
  }
  void post_stop(akt::context&) override { ++*stops_; }

 private:
  std::shared_ptr<std::atomic<int>> stops_;
};

TEST(passivation, an_idle_actor_stops_after_its_timeout_and_frees_its_name) {
  auto sys = start_system("passivate");
  ASSERT_TRUE(sys);
  auto stops = std::make_shared<std::atomic<int>>(0);
  const auto spawned = clock_type::now();
  auto a = sys->spawn<sleepy>({.name = "idle", .passivate_after = 100ms}, stops);
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->wait_stopped(5s)) << "an idle actor is passivated";
  EXPECT_GE(clock_type::now() - spawned, 100ms) << "not before its timeout";
  EXPECT_EQ(stops->load(), 1) << "post_stop ran";
  EXPECT_FALSE(a->is_running());
  EXPECT_TRUE(sys->spawn<sleepy>("idle", stops)) << "its name is free again";
}

TEST(passivation, an_actor_that_keeps_receiving_stays_alive) {
  auto sys = start_system("busy");
  ASSERT_TRUE(sys);
  auto stops = std::make_shared<std::atomic<int>>(0);
  auto a = sys->spawn<sleepy>({.name = "busy", .passivate_after = 150ms}, stops);
  ASSERT_TRUE(a);
  const auto until = clock_type::now() + 600ms;
  while (clock_type::now() < until) {
    ASSERT_TRUE(a->ask<int>(poke{}, 5s)) << "still alive while used";
    std::this_thread::sleep_for(20ms);  // pacing the traffic, not synchronizing
  }
  EXPECT_TRUE(a->is_running()) << "used every 20 ms, never idle for 150 ms";
  EXPECT_TRUE(a->wait_stopped(5s)) << "then, left alone, it is passivated";
}

TEST(passivation, a_long_message_is_never_interrupted) {
  auto sys = start_system("long");
  ASSERT_TRUE(sys);
  auto stops = std::make_shared<std::atomic<int>>(0);
  auto a = sys->spawn<sleepy>({.name = "long", .passivate_after = 50ms}, stops);
  ASSERT_TRUE(a);
  auto g = std::make_shared<gate>();
  ASSERT_TRUE(a->tell(hold{g}));
  // Well past the timeout, the actor is still inside its handler: not stopped.
  EXPECT_FALSE(a->wait_stopped(300ms)) << "busy with a long message: not passivated";
  EXPECT_EQ(stops->load(), 0);
  g->open();
  EXPECT_TRUE(a->wait_stopped(5s)) << "passivated once idle";
}

TEST(passivation, the_system_default_applies_and_zero_turns_it_off) {
  auto sys = start_system("default", {.passivate_after = 80ms});
  ASSERT_TRUE(sys);
  auto stops = std::make_shared<std::atomic<int>>(0);
  auto by_default = sys->spawn<sleepy>("by-default", stops);
  auto never = sys->spawn<sleepy>({.name = "never", .passivate_after = 0ms}, stops);
  ASSERT_TRUE(by_default && never);
  EXPECT_TRUE(by_default->wait_stopped(5s));
  EXPECT_TRUE(never->is_running()) << "passivate_after = 0 means never";
}

TEST(passivation, a_negative_timeout_is_rejected) {
  auto sys = start_system("negative");
  ASSERT_TRUE(sys);
  auto stops = std::make_shared<std::atomic<int>>(0);
  auto a = sys->spawn<sleepy>({.name = "n", .passivate_after = -1ms}, stops);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.code(), akt::errc::invalid_argument);
}

}  // namespace
