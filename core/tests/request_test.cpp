// Non-blocking requests (context::request) and the promise that actors asking
// each other — by request or by blocking ask — cannot deadlock the pool.
#include "test_util.hpp"

#include <akt/akt.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace akt_test;
using namespace std::chrono_literals;

struct request_to {
  akt::pid to;
  std::chrono::milliseconds timeout{5000};
};

// What a continuation saw.
struct outcome_log {
  std::atomic<int> calls{0};
  guarded<akt::pid> self;
  guarded<akt::pid> reply_sender;
  guarded<akt::errc> code;  // errc{0} when a pong came back
  guarded<int> seq;
  guarded<clock_type::time_point> when;
};

// On request_to: requests ping{7} from the target and records the outcome.
class requester : public akt::actor {
 public:
  explicit requester(std::shared_ptr<outcome_log> log) : log_(std::move(log)) {}
  void receive(akt::context& ctx) override {
    if (auto* m = ctx.message<request_to>()) {
      auto log = log_;
      auto s = ctx.request(m->to, ping{7}, m->timeout, [log](akt::context& c, akt::result<akt::message> r) {
        log->self.set(c.self());
        log->when.set(clock_type::now());
        if (!r) {
          log->code.set(r.code());
        } else {
          log->code.set(akt::errc{0});
          log->reply_sender.set(r->sender());
          if (auto* p = r->get<pong>()) log->seq.set(p->seq);
        }
        ++log->calls;
      });
      if (!s) {  // refused at once: record it like a continuation would
        log_->code.set(s.code());
        ++log_->calls;
      }
      (void)ctx.reply(true);  // lets the test see that the handler returned
    } else if (ctx.message<get_count>()) {
      (void)ctx.reply(log_->calls.load());
    }
  }

 private:
  std::shared_ptr<outcome_log> log_;
};

TEST(request, delivers_the_reply_to_the_continuation_in_the_asking_actor) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto log = std::make_shared<outcome_log>();
  auto echo = sys->spawn<echo_actor>("echo");
  auto a = sys->spawn<requester>("a", log);
  ASSERT_TRUE(echo && a);
  ASSERT_TRUE(a->tell(request_to{*echo}));
  ASSERT_TRUE(wait_until([&] { return log->calls.load() == 1; }));
  EXPECT_EQ(log->code.get(), akt::errc{0});
  EXPECT_EQ(log->seq.get(), 7);
  EXPECT_EQ(log->self.get(), *a) << "the continuation runs in the asking actor";
  EXPECT_EQ(log->reply_sender.get(), *echo);
}

TEST(request, returns_at_once_without_waiting_for_the_reply) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto release = std::make_shared<gate>();
  auto slow = sys->spawn_fn("slow", [release](akt::context& ctx) {
    if (auto* p = ctx.message<ping>()) {
      release->wait_for(5s);
      (void)ctx.reply(pong{p->seq});
    }
  });
  auto log = std::make_shared<outcome_log>();
  auto a = sys->spawn<requester>("a", log);
  ASSERT_TRUE(slow && a);
  // The ask is answered when requester's handler returns, while the target is
  // still held: the request did not block.
  auto handler_returned = a->ask<bool>(request_to{*slow}, 3s);
  EXPECT_TRUE(handler_returned) << outcome(handler_returned);
  EXPECT_EQ(log->calls.load(), 0);
  release->open();
  ASSERT_TRUE(wait_until([&] { return log->calls.load() == 1; }));
  EXPECT_EQ(log->code.get(), akt::errc{0});
  EXPECT_EQ(log->seq.get(), 7);
}

TEST(request, to_an_actor_that_never_replies_gives_request_timeout) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto log = std::make_shared<outcome_log>();
  auto silent = sys->spawn<silent_actor>("silent");
  auto a = sys->spawn<requester>("a", log);
  ASSERT_TRUE(silent && a);
  const auto t0 = clock_type::now();
  ASSERT_TRUE(a->tell(request_to{*silent, 200ms}));
  ASSERT_TRUE(wait_until([&] { return log->calls.load() == 1; }));
  EXPECT_EQ(log->code.get(), akt::errc::request_timeout);
  EXPECT_GE(log->when.get() - t0, 200ms);
  EXPECT_EQ(log->self.get(), *a);
}

TEST(request, to_a_stopped_actor_gives_dead_actor) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto log = std::make_shared<outcome_log>();
  auto gone = sys->spawn<echo_actor>("gone");
  auto a = sys->spawn<requester>("a", log);
  ASSERT_TRUE(gone && a);
  ASSERT_TRUE(gone->stop());
  ASSERT_TRUE(gone->wait_stopped(5s));
  ASSERT_TRUE(a->tell(request_to{*gone, 10s}));
  ASSERT_TRUE(wait_until([&] { return log->calls.load() == 1; }, 5s))
      << "a request to a dead actor fails at once (as its status or its continuation)";
  EXPECT_EQ(log->code.get(), akt::errc::dead_actor);
}

TEST(request, an_unanswered_request_fails_with_not_running_when_the_target_system_stops) {
  auto asking = start_system("asking", {.deterministic = true});
  auto target = start_system("target", {.deterministic = true});
  ASSERT_TRUE(asking && target);
  auto log = std::make_shared<outcome_log>();
  auto silent = target->spawn<silent_actor>("silent");
  auto a = asking->spawn<requester>("a", log);
  ASSERT_TRUE(silent && a);
  ASSERT_TRUE(a->tell(request_to{*silent, 30s}));
  asking->run_ready();
  target->run_ready();
  ASSERT_EQ(silent->metrics().processed, 1u) << "the request was taken";

  ASSERT_TRUE(target->stop());
  asking->run_ready();

  ASSERT_EQ(log->calls.load(), 1) << "the request still waits for its 30 s timeout";
  EXPECT_EQ(log->code.get(), akt::errc::not_running);
  EXPECT_EQ(log->self.get(), *a);
}

TEST(request, late_reply_runs_no_continuation_and_is_a_dead_letter) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto release = std::make_shared<gate>();
  auto replied = std::make_shared<std::atomic<bool>>(false);
  auto slow = sys->spawn_fn("slow", [release, replied](akt::context& ctx) {
    if (auto* p = ctx.message<ping>()) {
      release->wait_for(5s);
      (void)ctx.reply(pong{p->seq});
      *replied = true;
    }
  });
  auto log = std::make_shared<outcome_log>();
  auto a = sys->spawn<requester>("a", log);
  ASSERT_TRUE(slow && a);
  const auto dead_before = sys->dead_letters();
  ASSERT_TRUE(a->tell(request_to{*slow, 100ms}));
  ASSERT_TRUE(wait_until([&] { return log->calls.load() == 1; }));
  EXPECT_EQ(log->code.get(), akt::errc::request_timeout);

  release->open();
  ASSERT_TRUE(wait_until([&] { return replied->load(); }));
  EXPECT_TRUE(wait_until([&] { return sys->dead_letters() >= dead_before + 1; }));
  EXPECT_EQ(sys->dead_letters(), dead_before + 1);
  // A round-trip through the requester's mailbox after the late reply.
  auto calls = a->ask<int>(get_count{}, 5s);
  ASSERT_TRUE(calls) << outcome(calls);
  EXPECT_EQ(*calls, 1) << "a continuation runs once";
  EXPECT_EQ(log->calls.load(), 1);
}

// Receive and continuations of one actor never run at the same time.
struct fire {
  akt::pid to;
  int n;
};

class overlap_checker : public akt::actor {
 public:
  struct state {
    std::atomic<int> inside{0};
    std::atomic<int> overlaps{0};
    std::atomic<int> replies{0};
    std::atomic<int> pings{0};
  };
  explicit overlap_checker(std::shared_ptr<state> st) : st_(std::move(st)) {}

  void receive(akt::context& ctx) override {
    enter();
    if (auto* f = ctx.message<fire>()) {
      for (int i = 0; i < f->n; ++i) {
        auto st = st_;
        auto self_check = this;
        (void)ctx.request(f->to, ping{i}, 10s, [st, self_check](akt::context&, akt::result<akt::message> r) {
          self_check->enter();
          if (r && r->is<pong>()) ++st->replies;
          self_check->leave();
        });
      }
    } else if (ctx.message<ping>()) {
      ++st_->pings;
    }
    leave();
  }

  void enter() {
    if (st_->inside.fetch_add(1) != 0) ++st_->overlaps;
    std::this_thread::yield();  // widen the window an overlap would need
  }
  void leave() { st_->inside.fetch_sub(1); }

 private:
  std::shared_ptr<state> st_;
};

TEST(request, continuations_run_one_at_a_time_with_receive) {
  auto sys = start_system("sys", {.workers = 2});
  ASSERT_TRUE(sys);
  auto st = std::make_shared<overlap_checker::state>();
  auto echo = sys->spawn<echo_actor>("echo");
  auto a = sys->spawn<overlap_checker>("checker", st);
  ASSERT_TRUE(echo && a);
  constexpr int requests = 300;
  constexpr int pings = 2000;
  ASSERT_TRUE(a->tell(fire{*echo, requests}));
  for (int i = 0; i < pings; ++i) ASSERT_TRUE(a->tell(ping{i}));
  ASSERT_TRUE(wait_until([&] { return st->replies.load() == requests && st->pings.load() == pings; }))
      << st->replies.load() << " replies, " << st->pings.load() << " pings";
  EXPECT_EQ(st->overlaps.load(), 0);
}

// --- no deadlock when actors ask each other -----------------------------

struct question {
  int from;
};
struct answer {
  int to;
};
struct ask_next {
  akt::pid next;
};

struct ring_result {
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  recorder failures;
};

// On ask_next: asks `next` a question (by request, or by blocking ask);
// answers every question it gets.
class asking_actor : public akt::actor {
 public:
  asking_actor(int index, bool blocking, std::shared_ptr<ring_result> out)
      : index_(index), blocking_(blocking), out_(std::move(out)) {}

  void receive(akt::context& ctx) override {
    if (auto* q = ctx.message<question>()) {
      (void)ctx.reply(answer{q->from});
    } else if (auto* m = ctx.message<ask_next>()) {
      if (blocking_) {
        record(m->next.ask<answer>(question{index_}, 3s));
      } else {
        auto out = out_;
        const int index = index_;
        auto s = ctx.request(m->next, question{index_}, 3s,
                             [out, index](akt::context&, akt::result<akt::message> r) {
                               if (!r) {
                                 ++out->failed;
                                 out->failures.add(std::to_string(index) + ": " + outcome(r));
                               } else if (auto* a = r->get<answer>(); a && a->to == index) {
                                 ++out->ok;
                               } else {
                                 ++out->failed;
                                 out->failures.add(std::to_string(index) + ": wrong reply " + r->type_name());
                               }
                             });
        if (!s) record(akt::result<answer>(std::move(s).error()));
      }
    }
  }

 private:
  void record(const akt::result<answer>& r) {
    if (r && r->to == index_) {
      ++out_->ok;
    } else {
      ++out_->failed;
      out_->failures.add(std::to_string(index_) + ": " + (r ? std::string("wrong answer") : outcome(r)));
    }
  }

  int index_;
  bool blocking_;
  std::shared_ptr<ring_result> out_;
};

constexpr int ring_size = 16;

TEST(no_deadlock, sixteen_actors_requesting_each_other_in_a_ring_on_two_workers_all_complete) {
  auto sys = start_system("ring", {.workers = 2, .shutdown_timeout = 5s});
  ASSERT_TRUE(sys);
  auto out = std::make_shared<ring_result>();
  std::vector<akt::pid> actors;
  for (int i = 0; i < ring_size; ++i) {
    auto a = sys->spawn<asking_actor>("r" + std::to_string(i), i, false, out);
    ASSERT_TRUE(a) << outcome(a);
    actors.push_back(*a);
  }
  for (int i = 0; i < ring_size; ++i) ASSERT_TRUE(actors[i].tell(ask_next{actors[(i + 1) % ring_size]}));
  ASSERT_TRUE(wait_until([&] { return out->ok.load() + out->failed.load() == ring_size; }, 30s))
      << out->ok.load() << " ok, " << out->failed.load() << " failed";
  EXPECT_EQ(out->ok.load(), ring_size);
  EXPECT_TRUE(out->failures.items().empty()) << ::testing::PrintToString(out->failures.items());
}

TEST(no_deadlock, sixteen_actors_blocking_asking_the_next_on_two_workers_never_hang) {
  // A chain of blocking asks (c0 asks c1, ..., c15 asks an answerer; each
  // answers its own question only after its ask): 16 handlers blocked at
  // once on a pool of 2 workers. A blocked worker helps by running other
  // ready actors on its stack, and it may pick one that depends on an actor
  // below it on that stack (c0 helped above c5 while c4 waits for c5): that
  // ask can only time out. So the guarantee tested is the pool's: every ask
  // ends, with its reply or request_timeout, none hangs, the links whose
  // helpers nested in order succeed, and the system answers afterwards.
  // (The deadlock-free form of this pattern is context::request: see the
  // ring test above, where every request must succeed.)
  auto sys = start_system("chain", {.workers = 2, .shutdown_timeout = 5s});
  ASSERT_TRUE(sys);
  auto out = std::make_shared<ring_result>();
  std::vector<akt::pid> actors;
  for (int i = 0; i < ring_size; ++i) {
    auto a = sys->spawn<asking_actor>("c" + std::to_string(i), i, true, out);
    ASSERT_TRUE(a) << outcome(a);
    actors.push_back(*a);
  }
  auto last = sys->spawn<asking_actor>("answerer", ring_size, true, out);
  ASSERT_TRUE(last);
  actors.push_back(*last);
  for (int i = 0; i < ring_size; ++i) ASSERT_TRUE(actors[i].tell(ask_next{actors[i + 1]}));
  ASSERT_TRUE(wait_until([&] { return out->ok.load() + out->failed.load() == ring_size; }, 60s))
      << out->ok.load() << " ok, " << out->failed.load() << " failed";
  EXPECT_GE(out->ok.load(), 1) << "not even the last link succeeded";
  for (const auto& f : out->failures.items()) {
    EXPECT_NE(f.find("request_timeout"), std::string::npos)
        << "an ask ended otherwise than by reply or timeout: " << f;
  }
  // Still responsive: every actor answers a fresh question at once.
  for (auto& a : actors) {
    auto r = a.ask<answer>(question{99}, 5s);
    EXPECT_TRUE(r) << outcome(r);
  }
}

TEST(no_deadlock, sixteen_actors_blocking_asking_others_at_once_on_two_workers_all_complete) {
  // Each asker waits on its own answerer: no actor-level dependency at all,
  // only 16 blocked handlers against 2 worker threads.
  auto sys = start_system("fan", {.workers = 2, .shutdown_timeout = 5s});
  ASSERT_TRUE(sys);
  auto out = std::make_shared<ring_result>();
  std::vector<akt::pid> askers, answerers;
  for (int i = 0; i < ring_size; ++i) {
    auto a = sys->spawn<asking_actor>("asker" + std::to_string(i), i, true, out);
    auto b = sys->spawn<asking_actor>("answerer" + std::to_string(i), 1000 + i, true, out);
    ASSERT_TRUE(a && b);
    askers.push_back(*a);
    answerers.push_back(*b);
  }
  for (int i = 0; i < ring_size; ++i) ASSERT_TRUE(askers[i].tell(ask_next{answerers[i]}));
  ASSERT_TRUE(wait_until([&] { return out->ok.load() + out->failed.load() == ring_size; }, 60s))
      << out->ok.load() << " ok, " << out->failed.load() << " failed";
  EXPECT_EQ(out->ok.load(), ring_size);
  EXPECT_TRUE(out->failures.items().empty()) << ::testing::PrintToString(out->failures.items());
}

}  // namespace
