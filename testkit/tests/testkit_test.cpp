// The testkit itself: probes on real and deterministic systems, and the
// manual clock driving request timeouts, timers, backoff and passivation.
#include <akt/testkit/probe.hpp>
#include <akt/testkit/test_system.hpp>

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;

struct ping {
  int n;
};
struct pong {
  int n;
};
struct tick {};

class echo : public akt::actor {
 public:
  void receive(akt::context& ctx) override {
    if (auto* p = ctx.message<ping>()) (void)ctx.reply(pong{p->n});
  }
};

TEST(probe, expect_message_gets_the_reply_and_the_probe_is_the_sender) {
  auto sys = akt::actor_system::create("probe-real", {.logger = akt::make_discard_logger()}).value();
  ASSERT_TRUE(sys->start());
  akt::testkit::probe p(*sys);
  auto e = sys->spawn<echo>("echo").value();
  ASSERT_TRUE(p.send(e, ping{7}));
  auto r = p.expect_message<pong>(3s);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->n, 7);
  EXPECT_EQ(p.last_sender(), e);
  EXPECT_TRUE(p.expect_no_message(50ms));
}

TEST(probe, expect_message_of_the_wrong_type_names_what_came) {
  auto sys = akt::actor_system::create("probe-wrong", {.logger = akt::make_discard_logger()}).value();
  ASSERT_TRUE(sys->start());
  akt::testkit::probe p(*sys);
  auto e = sys->spawn<echo>("echo").value();
  ASSERT_TRUE(p.send(e, ping{1}));
  auto r = p.expect_message<ping>(3s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.code(), akt::errc::unexpected_reply);
  EXPECT_NE(r.error().message().find("pong"), std::string::npos) << r.error().message();
}

TEST(probe, expect_terminated_after_a_stop) {
  auto sys = akt::actor_system::create("probe-term", {.logger = akt::make_discard_logger()}).value();
  ASSERT_TRUE(sys->start());
  akt::testkit::probe p(*sys);
  auto e = sys->spawn<echo>("echo").value();
  ASSERT_TRUE(p.watch(e));
  ASSERT_TRUE(e.stop());
  EXPECT_TRUE(p.expect_terminated(e, 3s));
}

TEST(test_system, nothing_runs_until_the_test_says_so) {
  akt::testkit::test_system t("det");
  akt::testkit::probe p(t.system());
  auto e = t->spawn<echo>("echo").value();
  ASSERT_TRUE(e.tell(ping{1}));
  EXPECT_EQ(e.metrics().mailbox_size, 1u) << "no worker thread took it";
  EXPECT_GT(t.run(), 0u);
  EXPECT_EQ(e.metrics().processed, 1u);
}

TEST(test_system, a_request_times_out_on_the_manual_clock_and_not_before) {
  akt::testkit::test_system t("det-timeout");
  akt::testkit::probe p(t.system());
  auto silent = t->spawn_fn("silent", [](akt::context&) {}).value();
  auto asker =
      t->spawn_fn("asker", [probe = p.ref(), silent](akt::context& ctx) {
         if (ctx.message<tick>()) {
           (void)ctx.request(silent, ping{1}, 30s, [probe](akt::context&, akt::result<akt::message> r) {
             (void)probe.tell(r ? std::string("reply") : std::string(akt::to_string(r.code())));
           });
         }
       }).value();
  ASSERT_TRUE(asker.tell(tick{}));
  t.run();
  t.advance(29s);
  EXPECT_TRUE(p.expect_no_message(0s)) << "29 s of 30: not yet";
  t.advance(2s);
  auto r = p.expect_message<std::string>(0s);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(*r, "request_timeout");
}

TEST(test_system, passivation_fires_after_the_timeout_and_not_before) {
  akt::testkit::test_system t("det-passivate");
  akt::testkit::probe p(t.system());
  auto a = t->spawn<echo>({.name = "lazy", .passivate_after = 60s}).value();
  ASSERT_TRUE(p.watch(a));
  t.advance(59s);
  EXPECT_TRUE(a.is_running()) << "59 s idle of 60";
  EXPECT_TRUE(p.expect_no_message(0s));
  t.advance(2s);
  EXPECT_TRUE(p.expect_terminated(a, 0s));
  EXPECT_FALSE(a.is_running());
}

TEST(test_system, a_timer_cancelled_before_it_fires_never_delivers) {
  akt::testkit::test_system t("det-timer");
  akt::testkit::probe p(t.system());
  const auto cancelled = t->schedule_once(10s, p.ref(), std::string("cancelled"));
  t->schedule_once(20s, p.ref(), std::string("kept"));
  EXPECT_TRUE(t->cancel_timer(cancelled));
  t.advance(30s);
  auto r = p.expect_message<std::string>(0s);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, "kept");
  EXPECT_TRUE(p.expect_no_message(0s));
}

TEST(test_system, a_repeating_timer_follows_the_manual_clock) {
  akt::testkit::test_system t("det-repeat");
  akt::testkit::probe p(t.system());
  const auto id = t->schedule_repeatedly(1s, 1s, p.ref(), tick{});
  t.advance(3500ms);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(p.expect_message<tick>(0s)) << "tick " << i;
  EXPECT_TRUE(p.expect_no_message(0s));
  EXPECT_TRUE(t->cancel_timer(id));
  t.advance(10s);
  EXPECT_TRUE(p.expect_no_message(0s));
}

}  // namespace
