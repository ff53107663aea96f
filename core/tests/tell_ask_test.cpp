// tell and ask: delivery, dispatch by type, local delivery without copies,
// ask timeouts, late replies, typed asks, and the dead letters they cause.
#include "test_util.hpp"

#include <akt/akt.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace akt_test;
using namespace std::chrono_literals;

TEST(tell, delivers_messages_of_one_sender_in_order) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto seen = std::make_shared<std::vector<int>>();  // touched only by the actor, read after sync
  auto a = sys->spawn_fn("orderly", [seen](akt::context& ctx) {
    if (auto* p = ctx.message<ping>())
      seen->push_back(p->seq);
    else if (ctx.message<get_count>())
      (void)ctx.reply(static_cast<int>(seen->size()));
  });
  ASSERT_TRUE(a);
  constexpr int n = 10'000;
  for (int i = 0; i < n; ++i) ASSERT_TRUE(a->tell(ping{i}));
  auto count = a->ask<int>(get_count{}, 10s);
  ASSERT_TRUE(count) << outcome(count);
  ASSERT_EQ(*count, n) << "an ask is handled after the tells queued before it";
  for (int i = 0; i < n; ++i) ASSERT_EQ((*seen)[i], i) << "at index " << i;
}

struct text {
  std::string body;
};

TEST(tell, dispatches_by_type) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto log = std::make_shared<recorder>();
  auto a = sys->spawn_fn("sorter", [log](akt::context& ctx) {
    if (auto* i = ctx.message<int>()) {
      log->add("int " + std::to_string(*i));
    } else if (auto* t = ctx.message<text>()) {
      log->add("text " + t->body);
    } else if (auto* s = ctx.message<std::string>()) {
      log->add("string " + *s);
    } else if (ctx.is<ping>()) {
      EXPECT_EQ(ctx.message<pong>(), nullptr) << "a ping is not a pong";
      log->add("ping");
    } else {
      log->add("other");
    }
  });
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->tell(7));
  ASSERT_TRUE(a->tell(text{"hi"}));
  ASSERT_TRUE(a->tell(std::string("yo")));
  ASSERT_TRUE(a->tell(ping{}));
  ASSERT_TRUE(a->tell(3.5));
  ASSERT_TRUE(wait_until([&] { return log->size() == 5; }));
  EXPECT_EQ(log->items(), (std::vector<std::string>{"int 7", "text hi", "string yo", "ping", "other"}));
}

// Holds a move-only member: delivering it proves no copy is made.
struct boxed {
  std::unique_ptr<int> value;
};

TEST(tell, delivers_move_only_values_without_copying) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  guarded<const int*> arrived;
  auto a = sys->spawn_fn("box", [&arrived](akt::context& ctx) {
    if (auto* b = ctx.message<boxed>()) arrived.set(b->value.get());
  });
  ASSERT_TRUE(a);
  auto value = std::make_unique<int>(42);
  const int* address = value.get();
  ASSERT_TRUE(a->tell(boxed{std::move(value)}));
  ASSERT_TRUE(wait_until([&] { return arrived.has(); }));
  EXPECT_EQ(arrived.get(), address) << "the very object sent arrives: no copy, no serialization";
}

// Counts its copies (moves are free).
struct copy_counter {
  static inline std::atomic<int> copies{0};
  int id = 0;
  copy_counter() = default;
  explicit copy_counter(int i) : id(i) {}
  copy_counter(const copy_counter& o) : id(o.id) { ++copies; }
  copy_counter(copy_counter&&) noexcept = default;
  copy_counter& operator=(const copy_counter& o) {
    id = o.id;
    ++copies;
    return *this;
  }
  copy_counter& operator=(copy_counter&&) noexcept = default;
};

TEST(tell, moved_message_is_never_copied_on_the_way_to_receive) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  copy_counter::copies = 0;
  auto got = std::make_shared<std::atomic<int>>(0);
  auto a = sys->spawn_fn("counter", [got](akt::context& ctx) {
    if (auto* c = ctx.message<copy_counter>()) *got = c->id;
  });
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->tell(copy_counter{5}));
  ASSERT_TRUE(wait_until([&] { return got->load() == 5; }));
  EXPECT_EQ(copy_counter::copies.load(), 0);
}

TEST(ask, move_only_reply_arrives_without_copying) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  guarded<const int*> sent;
  auto a = sys->spawn_fn("boxer", [&sent](akt::context& ctx) {
    if (ctx.message<ping>()) {
      auto v = std::make_unique<int>(9);
      sent.set(v.get());
      (void)ctx.reply(boxed{std::move(v)});
    }
  });
  ASSERT_TRUE(a);
  auto r = a->ask<boxed>(ping{}, 5s);
  ASSERT_TRUE(r) << outcome(r);
  ASSERT_TRUE(r->value);
  EXPECT_EQ(*r->value, 9);
  EXPECT_EQ(r->value.get(), sent.get());
}

TEST(ask, from_plain_code_returns_the_reply_and_its_sender) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto echo = sys->spawn<echo_actor>("echo");
  ASSERT_TRUE(echo);
  auto r = echo->ask(ping{4}, 5s);
  ASSERT_TRUE(r) << outcome(r);
  ASSERT_TRUE(r->is<pong>());
  ASSERT_NE(r->get<pong>(), nullptr);
  EXPECT_EQ(r->get<pong>()->seq, 4);
  EXPECT_EQ(r->get<ping>(), nullptr);
  EXPECT_EQ(r->sender(), *echo);
}

TEST(ask, times_out_with_request_timeout_when_the_actor_never_replies) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto silent = sys->spawn<silent_actor>("silent");
  ASSERT_TRUE(silent);
  const auto t0 = clock_type::now();
  auto r = silent->ask(ping{}, 200ms);
  const auto elapsed = clock_type::now() - t0;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.code(), akt::errc::request_timeout);
  EXPECT_GE(elapsed, 200ms) << "an ask waits its whole timeout";
  EXPECT_LT(elapsed, 5s) << "and not much longer";
  auto typed = silent->ask<pong>(ping{}, 50ms);
  ASSERT_FALSE(typed);
  EXPECT_EQ(typed.code(), akt::errc::request_timeout);
}

TEST(ask, an_unanswered_ask_fails_with_not_running_when_the_system_stops) {
  auto sys = start_system("sys", {.workers = 2});
  ASSERT_TRUE(sys);
  auto silent = sys->spawn<silent_actor>("silent");
  ASSERT_TRUE(silent) << outcome(silent);
  auto asked = std::async(std::launch::async, [target = *silent] { return target.ask(ping{}, 30s); });
  ASSERT_TRUE(wait_until([&] { return silent->metrics().processed == 1; })) << "the ask was taken";

  ASSERT_TRUE(sys->stop());

  ASSERT_EQ(asked.wait_for(10s), std::future_status::ready) << "the ask still waits for its 30 s timeout";
  auto r = asked.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.code(), akt::errc::not_running);
  EXPECT_NE(r.error().message().find("actor system sys stopped before the reply"), std::string::npos)
      << r.error().message();
}

// Answers ping #n with pong #n; ping #1 only after the test opens the gate.
class late_replier : public akt::actor {
 public:
  explicit late_replier(std::shared_ptr<gate> release) : release_(std::move(release)) {}
  void receive(akt::context& ctx) override {
    if (auto* p = ctx.message<ping>()) {
      if (p->seq == 1) release_->wait_for(5s);
      (void)ctx.reply(pong{p->seq});
    }
  }

 private:
  std::shared_ptr<gate> release_;
};

TEST(ask, late_reply_never_reaches_a_later_ask_and_is_a_dead_letter) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto release = std::make_shared<gate>();
  auto a = sys->spawn<late_replier>("late", release);
  ASSERT_TRUE(a);
  const auto dead_before = sys->dead_letters();

  auto first = a->ask<pong>(ping{1}, 100ms);
  ASSERT_FALSE(first);
  EXPECT_EQ(first.code(), akt::errc::request_timeout);

  release->open();  // pong #1 is sent now, to an asker that gave up
  auto second = a->ask<pong>(ping{2}, 5s);
  ASSERT_TRUE(second) << outcome(second);
  EXPECT_EQ(second->seq, 2) << "ask #2 got the reply meant for ask #1";

  EXPECT_TRUE(wait_until([&] { return sys->dead_letters() >= dead_before + 1; }));
  EXPECT_EQ(sys->dead_letters(), dead_before + 1) << "the late pong #1 is one dead letter";
}

TEST(ask, typed_ask_with_another_reply_type_fails_with_unexpected_reply) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto echo = sys->spawn<echo_actor>("echo");
  ASSERT_TRUE(echo);
  auto r = echo->ask<std::string>(ping{1}, 5s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.code(), akt::errc::unexpected_reply);
  EXPECT_FALSE(r.error().message().empty());
}

TEST(ask, concurrent_asks_from_many_threads_each_get_their_own_reply) {
  auto sys = start_system("sys", {.workers = 2});
  ASSERT_TRUE(sys);
  auto echo = sys->spawn<echo_actor>("echo");
  ASSERT_TRUE(echo);
  constexpr int threads = 8;
  constexpr int per_thread = 200;
  std::atomic<int> right{0};
  std::atomic<int> wrong{0};
  std::vector<std::thread> askers;
  for (int t = 0; t < threads; ++t) {
    askers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const int seq = t * per_thread + i;
        auto r = echo->ask<pong>(ping{seq}, 10s);
        (r && r->seq == seq ? right : wrong)++;
      }
    });
  }
  for (auto& th : askers) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(right.load(), threads * per_thread);
}

TEST(ask, blocking_ask_from_inside_an_actor_gets_the_reply) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto echo = sys->spawn<echo_actor>("echo");
  ASSERT_TRUE(echo);
  auto target = *echo;
  auto middle = sys->spawn_fn("middle", [target](akt::context& ctx) {
    if (auto* p = ctx.message<ping>()) {
      auto r = target.ask<pong>(ping{p->seq + 1}, 5s);
      (void)ctx.reply(r ? r->seq : -1);
    }
  });
  ASSERT_TRUE(middle);
  auto r = middle->ask<int>(ping{1}, 10s);
  ASSERT_TRUE(r) << outcome(r);
  EXPECT_EQ(*r, 2);
}

}  // namespace
