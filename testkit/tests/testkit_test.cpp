// The testkit itself: probes on real and deterministic systems, and the
// manual clock driving request timeouts, timers, backoff and passivation.
#include <akt/testkit/probe.hpp>
#include <akt/testkit/test_system.hpp>

#include <gtest/gtest.h>

#include <optional>

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
  auto silent = t->spawn_fn("silent", [](akt::context& ctx) { ctx.accept(); }).value();
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
  ASSERT_TRUE(cancelled);
  ASSERT_TRUE(t->schedule_once(20s, p.ref(), std::string("kept")));
  EXPECT_TRUE(t->cancel_timer(*cancelled));
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
  ASSERT_TRUE(id);
  t.advance(3500ms);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(p.expect_message<tick>(0s)) << "tick " << i;
  EXPECT_TRUE(p.expect_no_message(0s));
  EXPECT_TRUE(t->cancel_timer(*id));
  t.advance(10s);
  EXPECT_TRUE(p.expect_no_message(0s));
}

}  // namespace

namespace {

struct fail_now {};
struct how_many {};

// An actor that throws on fail_now and answers how_many with its restarts so far.
class fragile : public akt::actor {
 public:
  void receive(akt::context& ctx) override {
    if (ctx.message<fail_now>()) throw std::runtime_error("boom");
  }
};

akt::system_options budgeted(std::chrono::milliseconds backoff) {
  auto strategy = std::make_shared<akt::supervisor_strategy>(akt::supervisor_strategy::one_for_one()
                                                                 .otherwise(akt::directive::restart)
                                                                 .with_retries(3, std::chrono::seconds(1)));
  if (backoff.count() > 0) strategy->with_backoff(backoff, backoff * 8);
  return {.supervisor = strategy};
}

TEST(test_system, the_restart_budget_counts_failures_within_the_window_on_the_manual_clock) {
  akt::testkit::test_system t("det-budget", budgeted(std::chrono::milliseconds(0)));
  akt::testkit::probe p(t.system());
  auto a = t->spawn<fragile>("fragile").value();
  ASSERT_TRUE(p.watch(a));
  // Three failures 400 ms apart: the window (1 s) never holds more than 3.
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(a.tell(fail_now{}));
    t.run();
    t.advance(std::chrono::milliseconds(400));
  }
  EXPECT_TRUE(a.is_running()) << "6 failures, never 4 within 1 s";
  EXPECT_EQ(a.metrics().restarts, 6u);
  // Past the window of the last ones, four in a burst: the fourth stops it.
  t.advance(std::chrono::seconds(2));
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(a.tell(fail_now{}));
    t.run();
  }
  EXPECT_TRUE(p.expect_terminated(a, std::chrono::seconds(0)));
  EXPECT_EQ(a.metrics().restarts, 9u) << "3 more restarts, then the stop";
}

TEST(test_system, backoff_delays_the_restart_and_messages_wait_for_it) {
  akt::testkit::test_system t("det-backoff", budgeted(std::chrono::milliseconds(100)));
  auto a = t->spawn_fn("echo-after-fail", [](akt::context& ctx) {
              if (ctx.message<fail_now>()) throw std::runtime_error("boom");
              if (auto* n = ctx.message<ping>()) (void)ctx.reply(pong{n->n});
            }).value();
  akt::testkit::probe p(t.system());
  ASSERT_TRUE(a.tell(fail_now{}));
  ASSERT_TRUE(p.send(a, ping{5}));
  t.run();
  EXPECT_EQ(a.metrics().restarts, 0u) << "the restart waits for its backoff";
  EXPECT_TRUE(p.expect_no_message(std::chrono::seconds(0))) << "and the message waits with it";
  t.advance(std::chrono::milliseconds(99));
  EXPECT_EQ(a.metrics().restarts, 0u);
  t.advance(std::chrono::milliseconds(2));
  EXPECT_EQ(a.metrics().restarts, 1u);
  auto r = p.expect_message<pong>(std::chrono::seconds(0));
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->n, 5) << "the message queued during the backoff is handled by the new instance";
}

}  // namespace

namespace {

struct start_work {};
struct query {
  int n = 0;
};
struct answer {
  int n = 0;
};

TEST(test_system, a_protocol_is_checked_message_by_message_with_expect_and_step) {
  akt::testkit::test_system t("protocol");
  auto server = t->spawn_fn("server", [](akt::context& ctx) {
                   if (auto* q = ctx.message<query>()) (void)ctx.reply(answer{q->n * 2});
                 }).value();
  auto client = t->spawn_fn("client", [server](akt::context& ctx) {
                   if (ctx.is<start_work>()) {
                     (void)ctx.tell(server, query{21});
                     (void)ctx.tell(server, query{1});
                   }
                   (void)ctx.is<answer>();
                 }).value();
  ASSERT_TRUE(client.tell(start_work{}));
  ASSERT_TRUE(t.expect<start_work>(akt::pid(), client));
  EXPECT_EQ(t.mailbox_size(client), 1u);
  EXPECT_EQ(t.expect<query>(client, server).code(), akt::errc::not_found) << "nothing ran yet";
  ASSERT_TRUE(t.step());  // the client handles start_work
  EXPECT_EQ(t.mailbox_size(client), 0u);
  EXPECT_EQ(t.mailbox_size(server), 2u);
  ASSERT_TRUE(t.expect<query>(client, server));
  auto wrong = t.expect<answer>(client, server);  // the second send is a query too
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.code(), akt::errc::unexpected_reply);
  EXPECT_NE(wrong.error().message().find("query"), std::string::npos) << wrong.error().message();
  ASSERT_TRUE(t.step());  // one message per step: the server answers the first query
  EXPECT_EQ(t.mailbox_size(server), 1u);
  ASSERT_TRUE(t.expect<answer>(server, client));
  t.run();
  ASSERT_TRUE(t.expect<answer>(server, client));
  EXPECT_TRUE(t.expect_nothing_else());
  EXPECT_FALSE(t.step()) << "nothing is ready";
}

}  // namespace

namespace {

struct ask_later {};
struct wake_up {};

// Answers an ask 5 s (of the system's clock) after it came: a timer, then
// a response promise.
struct slow_oracle : akt::actor {
  std::optional<akt::response_promise> waiting;
  void receive(akt::context& ctx) override {
    if (ctx.is<ask_later>()) {
      waiting = ctx.make_response_promise().value();
      (void)ctx.system().schedule_once(std::chrono::seconds(5), ctx.self(), wake_up{});
    } else if (ctx.is<wake_up>() && waiting) {
      (void)waiting->deliver(42);
      waiting.reset();
    }
  }
};

TEST(test_system, a_blocking_ask_runs_on_the_manual_clock) {
  akt::testkit::test_system t("manual-ask");
  auto oracle = t->spawn<slow_oracle>("oracle").value();
  auto answer = oracle.ask<int>(ask_later{}, std::chrono::seconds(10));  // the clock moves 5 s, not the test
  ASSERT_TRUE(answer) << answer.error().to_string();
  EXPECT_EQ(*answer, 42);
  auto silent = t->spawn_fn("silent", [](akt::context& ctx) { ctx.accept(); }).value();
  auto none = silent.ask(ask_later{}, std::chrono::seconds(30));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.code(), akt::errc::request_timeout);
  EXPECT_NE(none.error().message().find("manual clock"), std::string::npos) << none.error().message();
}

}  // namespace

namespace {

TEST(test_system, an_inbox_receives_on_the_manual_clock) {
  akt::testkit::test_system t("manual-inbox");
  auto echo = t->spawn_fn("echo", [](akt::context& ctx) {
                 if (auto* n = ctx.message<int>()) (void)ctx.reply(*n + 1);
               }).value();
  akt::inbox in(t.system());
  ASSERT_TRUE(in.tell(echo, 41));
  auto r = in.receive<int>(std::chrono::seconds(5));  // runs the system: nothing else would
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(*r, 42);
  // A timer 10 s away (manual clock) delivers within a 20 s receive, without waiting.
  ASSERT_TRUE(t->schedule_once(std::chrono::seconds(10), in.self(), 7));
  auto later = in.receive<int>(std::chrono::seconds(20));
  ASSERT_TRUE(later) << later.error().to_string();
  EXPECT_EQ(*later, 7);
  auto none = in.receive(std::chrono::seconds(30));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.code(), akt::errc::timeout);
}

}  // namespace
