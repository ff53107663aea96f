// The API additions a user meets on day one: launch, unhandled messages,
// answering later (response_promise), typed requests, the inbox, and trace
// context carried by messages.
#include <akt/akt.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "test_util.hpp"

namespace {

using namespace akt_test;
using namespace std::chrono_literals;

TEST(launch, creates_and_starts_a_system_in_one_call) {
  auto sys = akt::actor_system::launch("launched", {.logger = akt::make_discard_logger()});
  ASSERT_TRUE(sys) << sys.error().to_string();
  EXPECT_TRUE((*sys)->is_running());
  EXPECT_TRUE((*sys)->spawn<echo_actor>("echo"));
  auto bad = akt::actor_system::launch("no spaces");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.code(), akt::errc::invalid_name);
}

TEST(unhandled, a_message_nothing_matched_is_counted_published_and_dead_lettered) {
  auto sys = start_system("unhandled");
  ASSERT_TRUE(sys);
  akt::inbox events(*sys);
  ASSERT_TRUE(sys->subscribe(events.self()));
  auto echo = sys->spawn<echo_actor>("echo").value();  // matches ping only
  ASSERT_TRUE(echo.tell(std::string("hello")));
  auto e = events.receive<akt::system_event>(5s);
  ASSERT_TRUE(e) << e.error().to_string();
  // the dead letter event may come first; look for the unhandled one
  while (e && e->kind != akt::event_kind::unhandled_message) e = events.receive<akt::system_event>(5s);
  ASSERT_TRUE(e) << "no unhandled_message event";
  EXPECT_EQ(e->actor, echo);
  EXPECT_NE(e->detail.find("string"), std::string::npos) << e->detail;
  EXPECT_EQ(sys->unhandled_messages(), 1u);
  EXPECT_GE(sys->dead_letters(), 1u);
}

TEST(unhandled, an_ask_nothing_matched_fails_at_once_with_unhandled) {
  auto sys = start_system("unhandled-ask");
  ASSERT_TRUE(sys);
  auto echo = sys->spawn<echo_actor>("echo").value();
  const auto t0 = std::chrono::steady_clock::now();
  auto r = echo.ask(std::string("hello"), 30s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.code(), akt::errc::unhandled) << r.error().to_string();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s) << "it did not wait for its timeout";
}

TEST(unhandled, receive_can_say_a_matched_message_is_not_for_it) {
  auto sys = start_system("unhandled-explicit");
  ASSERT_TRUE(sys);
  auto picky = sys->spawn_fn("picky",
                             [](akt::context& ctx) {
                               if (auto* n = ctx.message<int>(); n != nullptr && *n < 0) ctx.unhandled();
                             })
                   .value();
  ASSERT_TRUE(picky.tell(1));
  ASSERT_TRUE(picky.tell(-1));
  EXPECT_TRUE(wait_until([&] { return sys->unhandled_messages() == 1; }));
  ASSERT_TRUE(picky.tell(2));
  EXPECT_TRUE(wait_until([&] { return picky.metrics().processed == 3; }));
  EXPECT_EQ(sys->unhandled_messages(), 1u);
}

// Answers a question only when the answer arrives later, from another message.
struct deferred_answer {};
struct oracle : akt::actor {
  std::optional<akt::response_promise> waiting;
  void receive(akt::context& ctx) override {
    if (ctx.is<std::string>()) {
      waiting = ctx.make_response_promise().value();
    } else if (auto* n = ctx.message<int>()) {
      if (waiting) (void)waiting->deliver(*n * 2);
      waiting.reset();
    } else if (ctx.is<deferred_answer>()) {
      waiting.reset();  // gives up: the asker hears no_reply at once
    }
  }
};

TEST(response_promise, an_actor_answers_an_ask_from_a_later_message) {
  auto sys = start_system("promise");
  ASSERT_TRUE(sys);
  auto o = sys->spawn<oracle>("oracle").value();
  std::optional<akt::result<int>> got;
  std::thread asker([&] { got = o.ask<int>(std::string("question"), 10s); });
  ASSERT_TRUE(wait_until([&] { return o.metrics().processed == 1; }));
  ASSERT_TRUE(o.tell(21));
  asker.join();
  ASSERT_TRUE(got && *got) << (got ? got->error().to_string() : "no outcome");
  EXPECT_EQ(**got, 42);
}

TEST(response_promise, a_dropped_promise_fails_the_asker_with_no_reply) {
  auto sys = start_system("promise-drop");
  ASSERT_TRUE(sys);
  auto o = sys->spawn<oracle>("oracle").value();
  std::optional<akt::result<int>> got;
  std::thread asker([&] { got = o.ask<int>(std::string("question"), 30s); });
  ASSERT_TRUE(wait_until([&] { return o.metrics().processed == 1; }));
  ASSERT_TRUE(o.tell(deferred_answer{}));
  asker.join();
  ASSERT_TRUE(got);
  ASSERT_FALSE(*got);
  EXPECT_EQ(got->code(), akt::errc::no_reply);
}

TEST(response_promise, a_promise_answers_once) {
  auto sys = start_system("promise-once");
  ASSERT_TRUE(sys);
  auto seen = std::make_shared<guarded<std::vector<akt::errc>>>();
  auto a = sys->spawn_fn("a",
                         [seen](akt::context& ctx) {
                           if (!ctx.is<std::string>()) return;
                           auto p = ctx.make_response_promise();
                           if (!p) return;
                           auto first = p->deliver(1);
                           auto second = p->deliver(2);
                           seen->with([&](auto& v) {
                             v.push_back(first ? akt::errc{0} : first.code());
                             v.push_back(second ? akt::errc{0} : second.code());
                           });
                           auto again = ctx.make_response_promise();  // the message was already taken over
                           seen->with([&](auto& v) { v.push_back(again ? akt::errc{0} : again.code()); });
                         })
               .value();
  auto r = a.ask<int>(std::string("q"), 5s);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(*r, 1);
  ASSERT_TRUE(wait_until([&] { return seen->get().size() == 3; }));  // the reply left before the third check
  EXPECT_EQ(seen->get(),
            (std::vector<akt::errc>{akt::errc{0}, akt::errc::already_replied, akt::errc::already_replied}));
}

TEST(request, a_typed_request_gives_the_reply_by_value_or_says_what_came_instead) {
  auto sys = start_system("typed-request");
  ASSERT_TRUE(sys);
  auto echo = sys->spawn<echo_actor>("echo").value();
  auto out = std::make_shared<guarded<std::vector<std::string>>>();
  auto asker =
      sys->spawn_fn("asker",
                    [echo, out](akt::context& ctx) {
                      if (ctx.is<std::string>()) {
                        (void)ctx.request<pong>(echo, ping{7}, 5s, [out](akt::context&, akt::result<pong> r) {
                          out->with([&](auto& v) {
                            v.push_back(r ? "pong " + std::to_string(r->seq) : r.error().to_string());
                          });
                        });
                        (void)ctx.request<int>(echo, ping{8}, 5s, [out](akt::context&, akt::result<int> r) {
                          out->with([&](auto& v) {
                            v.push_back(r ? "int" : std::string(akt::to_string(r.code())));
                          });
                        });
                      }
                    })
          .value();
  ASSERT_TRUE(asker.tell(std::string("go")));
  ASSERT_TRUE(wait_until([&] { return out->get().size() == 2; }));
  auto v = out->get();
  EXPECT_NE(std::find(v.begin(), v.end(), "pong 7"), v.end());
  EXPECT_NE(std::find(v.begin(), v.end(), "unexpected_reply"), v.end());
}

TEST(inbox, a_plain_thread_receives_replies_with_a_deadline) {
  auto sys = start_system("inbox");
  ASSERT_TRUE(sys);
  auto echo = sys->spawn<echo_actor>("echo").value();
  akt::inbox in(*sys);
  ASSERT_TRUE(in.tell(echo, ping{3}));
  auto p = in.receive<pong>(5s);
  ASSERT_TRUE(p) << p.error().to_string();
  EXPECT_EQ(p->seq, 3);
  auto none = in.receive(20ms);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.code(), akt::errc::timeout);
  ASSERT_TRUE(in.tell(echo, ping{4}));
  auto wrong = in.receive<int>(5s);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.code(), akt::errc::unexpected_reply);
  EXPECT_NE(wrong.error().message().find("pong"), std::string::npos) << wrong.error().message();
}

TEST(inbox, watches_an_actor_and_hears_it_stop) {
  auto sys = start_system("inbox-watch");
  ASSERT_TRUE(sys);
  auto echo = sys->spawn<echo_actor>("echo").value();
  akt::inbox in(*sys);
  ASSERT_TRUE(in.watch(echo));
  ASSERT_TRUE(echo.stop());
  auto t = in.receive<akt::terminated>(5s);
  ASSERT_TRUE(t) << t.error().to_string();
  EXPECT_EQ(t->actor, echo);
}

TEST(inbox, a_full_inbox_refuses_tells_and_a_closed_one_is_a_dead_end) {
  auto sys = start_system("inbox-full");
  ASSERT_TRUE(sys);
  akt::pid kept;
  {
    akt::inbox in(*sys, 2);
    kept = in.self();
    EXPECT_TRUE(kept.tell(1));
    EXPECT_TRUE(kept.tell(2));
    auto full = kept.tell(3);
    ASSERT_FALSE(full);
    EXPECT_EQ(full.code(), akt::errc::mailbox_full);
    EXPECT_EQ(in.size(), 2u);
  }
  auto closed = kept.tell(4);
  ASSERT_FALSE(closed);
  EXPECT_EQ(closed.code(), akt::errc::dead_actor);
}

// ------------------------------------------------------------ trace context

const char* const parent_tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(trace_context, parses_and_prints_w3c_traceparent_and_rejects_malformed_ones) {
  auto tc = akt::trace_context::parse(parent_tp, "vendor=1");
  ASSERT_TRUE(tc) << tc.error().to_string();
  EXPECT_EQ((*tc)->traceparent(), parent_tp);
  EXPECT_TRUE((*tc)->is_sampled());
  EXPECT_EQ((*tc)->tracestate(), "vendor=1");
  for (const char* bad : {"", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
                          "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                          "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                          "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                          "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}) {
    auto r = akt::trace_context::parse(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.code(), akt::errc::invalid_argument);
  }
}

// Records the traceparent each message arrives with, then passes work on:
// a tell to `next`, an ask answered with a reply.
struct tracing_relay : akt::actor {
  std::shared_ptr<guarded<std::vector<std::string>>> seen;
  akt::pid next;
  tracing_relay(std::shared_ptr<guarded<std::vector<std::string>>> s, akt::pid n)
      : seen(std::move(s)), next(std::move(n)) {}
  void receive(akt::context& ctx) override {
    const std::string tp = ctx.trace() ? ctx.trace()->traceparent() : "none";
    if (auto* n = ctx.message<int>()) {
      seen->with([&](auto& v) { v.push_back("int " + tp); });
      if (next) (void)ctx.tell(next, *n + 1);
    } else if (auto* p = ctx.message<ping>()) {
      seen->with([&](auto& v) { v.push_back("ping " + tp); });
      (void)ctx.reply(pong{p->seq});
    } else if (ctx.is<std::string>()) {
      seen->with([&](auto& v) { v.push_back("forwarded " + tp); });
    }
  }
};

TEST(trace_context, tells_asks_forwards_and_replies_carry_the_senders_trace) {
  auto sys = start_system("traced");
  ASSERT_TRUE(sys);
  auto seen = std::make_shared<guarded<std::vector<std::string>>>();
  auto last = sys->spawn<tracing_relay>("last", seen, akt::pid()).value();
  auto first = sys->spawn<tracing_relay>("first", seen, last).value();
  auto forwarder = sys->spawn_fn("forwarder",
                                 [last](akt::context& ctx) {
                                   if (ctx.is<std::string>()) (void)ctx.forward(last);
                                 })
                       .value();
  const std::string tp = parent_tp;
  {
    akt::trace_scope scope(akt::trace_context::parse(tp).value());
    ASSERT_TRUE(first.tell(1));  // first -> last, both traced
    akt::inbox in(*sys);
    ASSERT_TRUE(in.tell(last, ping{1}));
    auto reply = in.receive(5s);
    ASSERT_TRUE(reply) << reply.error().to_string();
    ASSERT_TRUE(forwarder.tell(std::string("x")));
    ASSERT_TRUE(wait_until([&] { return seen->get().size() == 4; }));
  }
  ASSERT_TRUE(first.tell(10));  // untraced from here
  ASSERT_TRUE(wait_until([&] { return seen->get().size() == 6; }));
  auto v = seen->get();
  auto count = [&](const std::string& s) { return std::count(v.begin(), v.end(), s); };
  EXPECT_EQ(count("int " + tp), 2) << "the tell and the onward tell";
  EXPECT_EQ(count("ping " + tp), 1) << "the inbox's tell";
  EXPECT_EQ(count("forwarded " + tp), 1) << "a forward keeps the trace";
  EXPECT_EQ(count("int none"), 2) << "no trace leaks to later messages";
}

TEST(trace_context, a_reply_carries_the_trace_back_to_the_asker) {
  auto sys = start_system("traced-reply");
  ASSERT_TRUE(sys);
  auto echo = sys->spawn<echo_actor>("echo").value();
  akt::trace_scope scope(akt::trace_context::parse(parent_tp).value());
  akt::inbox in(*sys);
  auto e = akt::detail::make_envelope(ping{5});
  akt::detail::stamp_outgoing(*e);
  e->sender = in.self().ref();
  ASSERT_TRUE(echo.ref()->deliver(std::move(e)));
  auto reply = in.receive(5s);
  ASSERT_TRUE(reply) << reply.error().to_string();
  auto raw = reply->release();
  ASSERT_TRUE(raw->trace);
  EXPECT_EQ(raw->trace->traceparent(), parent_tp);
}

}  // namespace

namespace {

TEST(trace_context, a_handler_that_forwards_its_message_still_sends_with_its_trace) {
  // The envelope (and its reference to the trace) leaves with the forward;
  // the handler's later sends must still carry the trace (and not touch freed memory).
  auto sys = start_system("traced-forward");
  ASSERT_TRUE(sys);
  auto seen = std::make_shared<guarded<std::vector<std::string>>>();
  auto last = sys->spawn<tracing_relay>("last", seen, akt::pid()).value();
  auto relay = sys->spawn_fn("relay",
                             [last](akt::context& ctx) {
                               if (ctx.is<std::string>()) {
                                 (void)ctx.forward(last);
                                 (void)ctx.tell(last, 7);
                               }
                             })
                   .value();
  {
    akt::trace_scope scope(akt::trace_context::parse(parent_tp).value());
    ASSERT_TRUE(relay.tell(std::string("x")));
  }
  ASSERT_TRUE(wait_until([&] { return seen->get().size() == 2; }));
  auto v = seen->get();
  EXPECT_NE(std::find(v.begin(), v.end(), std::string("int ") + parent_tp), v.end());
}

TEST(inbox, no_pid_can_close_an_inbox_only_its_owner) {
  auto sys = start_system("inbox-owner");
  ASSERT_TRUE(sys);
  akt::inbox in(*sys);
  auto s = in.self().stop();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.code(), akt::errc::invalid_argument);
  EXPECT_TRUE(in.self().tell(1));
  EXPECT_TRUE(in.receive<int>(5s));
}

}  // namespace
