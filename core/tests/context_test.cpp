// context: what an actor sees and does inside its handlers — sender, reply
// (and its errors), forward, self/parent/children, spawning and stopping
// children, stop_self.
#include "test_util.hpp"

#include <akt/akt.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace akt_test;
using namespace std::chrono_literals;

struct send_ping_to {
  akt::pid to;
};

struct observed {
  guarded<akt::pid> sender;
  guarded<akt::errc> code;
  std::atomic<int> calls{0};
};

TEST(context, sender_is_the_telling_actor) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto seen = std::make_shared<observed>();
  auto b = sys->spawn_fn("b", [seen](akt::context& ctx) {
    if (ctx.message<ping>()) {
      seen->sender.set(ctx.sender());
      ++seen->calls;
    }
  });
  auto a = sys->spawn_fn("a", [](akt::context& ctx) {
    if (auto* m = ctx.message<send_ping_to>()) (void)ctx.tell(m->to, ping{});
  });
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->tell(send_ping_to{*b}));
  ASSERT_TRUE(wait_until([&] { return seen->calls.load() == 1; }));
  EXPECT_EQ(seen->sender.get(), *a);
}

TEST(context, plain_pid_tell_from_inside_an_actor_also_carries_the_sender) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto seen = std::make_shared<observed>();
  auto b = sys->spawn_fn("b", [seen](akt::context& ctx) {
    if (ctx.message<ping>()) {
      seen->sender.set(ctx.sender());
      ++seen->calls;
    }
  });
  auto a = sys->spawn_fn("a", [](akt::context& ctx) {
    if (auto* m = ctx.message<send_ping_to>()) (void)m->to.tell(ping{});
  });
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->tell(send_ping_to{*b}));
  ASSERT_TRUE(wait_until([&] { return seen->calls.load() == 1; }));
  EXPECT_EQ(seen->sender.get(), *a);
}

TEST(context, sender_is_null_for_a_tell_from_plain_code) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto seen = std::make_shared<observed>();
  seen->sender.set(akt::pid());
  auto b = sys->spawn_fn("b", [seen](akt::context& ctx) {
    if (ctx.message<ping>()) {
      seen->sender.set(ctx.sender());
      ++seen->calls;
    }
  });
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->tell(ping{}));
  ASSERT_TRUE(wait_until([&] { return seen->calls.load() == 1; }));
  EXPECT_TRUE(seen->sender.get().is_null());
}

TEST(context, reply_to_a_tell_goes_back_to_the_sending_actor) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto seen = std::make_shared<observed>();
  auto echo = sys->spawn<echo_actor>("echo");
  auto a = sys->spawn_fn("a", [seen](akt::context& ctx) {
    if (auto* m = ctx.message<send_ping_to>()) {
      (void)ctx.tell(m->to, ping{8});
    } else if (auto* p = ctx.message<pong>()) {
      seen->sender.set(ctx.sender());
      seen->calls = p->seq;
    }
  });
  ASSERT_TRUE(a && echo);
  ASSERT_TRUE(a->tell(send_ping_to{*echo}));
  ASSERT_TRUE(wait_until([&] { return seen->calls.load() == 8; }));
  EXPECT_EQ(seen->sender.get(), *echo);
}

TEST(context, second_reply_fails_with_already_replied) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto seen = std::make_shared<observed>();
  auto a = sys->spawn_fn("twice", [seen](akt::context& ctx) {
    if (ctx.message<ping>()) {
      auto first = ctx.reply(pong{1});
      auto second = ctx.reply(pong{2});
      seen->code.set(first ? code_of(second) : akt::errc::invalid_argument);
      ++seen->calls;
    }
  });
  ASSERT_TRUE(a);
  auto r = a->ask<pong>(ping{}, 5s);
  ASSERT_TRUE(r) << outcome(r);
  EXPECT_EQ(r->seq, 1) << "the asker gets the first reply";
  ASSERT_TRUE(wait_until([&] { return seen->calls.load() == 1; }));
  EXPECT_EQ(seen->code.get(), akt::errc::already_replied);
}

TEST(context, reply_without_sender_or_asker_fails_with_no_sender) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto seen = std::make_shared<observed>();
  auto a = sys->spawn_fn("a", [seen](akt::context& ctx) {
    if (ctx.message<ping>()) {
      seen->code.set(code_of(ctx.reply(pong{})));
      ++seen->calls;
    }
  });
  ASSERT_TRUE(a);
  const auto dead_before = sys->dead_letters();
  ASSERT_TRUE(a->tell(ping{}));
  ASSERT_TRUE(wait_until([&] { return seen->calls.load() == 1; }));
  EXPECT_EQ(seen->code.get(), akt::errc::no_sender);
  EXPECT_TRUE(a->is_running());
  EXPECT_EQ(sys->dead_letters(), dead_before);
}

// Records what reply and message<T>() do outside receive.
class hook_prober : public akt::actor {
 public:
  explicit hook_prober(std::shared_ptr<recorder> log) : log_(std::move(log)) {}
  akt::status pre_start(akt::context& ctx) override {
    log_->add(std::string("pre_start reply: ") + std::string(akt::to_string(code_of(ctx.reply(pong{})))));
    log_->add(std::string("pre_start message: ") + (ctx.message<ping>() ? "set" : "null"));
    return {};
  }
  void receive(akt::context&) override {}
  void post_stop(akt::context& ctx) override {
    log_->add(std::string("post_stop reply: ") + std::string(akt::to_string(code_of(ctx.reply(pong{})))));
  }

 private:
  std::shared_ptr<recorder> log_;
};

TEST(context, reply_outside_receive_fails_with_no_message) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto log = std::make_shared<recorder>();
  auto a = sys->spawn<hook_prober>("hooks", log);
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->stop());
  ASSERT_TRUE(a->wait_stopped(5s));
  EXPECT_EQ(log->items(), (std::vector<std::string>{"pre_start reply: no_message", "pre_start message: null",
                                                    "post_stop reply: no_message"}));
}

// B forwards whatever it gets to C, then checks the message is gone.
std::function<void(akt::context&)> forwarder(akt::pid to, std::shared_ptr<observed> seen) {
  return [to = std::move(to), seen](akt::context& ctx) {
    if (ctx.message<ping>()) {
      auto s = ctx.forward(to);
      seen->code.set(code_of(s));
      if (ctx.message<ping>() != nullptr) seen->code.set(akt::errc::invalid_argument);  // must be gone
      ++seen->calls;
    }
  };
}

// C answers with pong{seq + 100} and records the sender it sees.
std::function<void(akt::context&)> answerer(std::shared_ptr<observed> seen) {
  return [seen](akt::context& ctx) {
    if (auto* p = ctx.message<ping>()) {
      seen->sender.set(ctx.sender());
      (void)ctx.reply(pong{p->seq + 100});
    }
  };
}

TEST(context, forward_keeps_the_asker_so_the_final_actor_answers_the_ask) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto at_b = std::make_shared<observed>();
  auto at_c = std::make_shared<observed>();
  auto c = sys->spawn_fn("c", answerer(at_c));
  ASSERT_TRUE(c);
  auto b = sys->spawn_fn("b", forwarder(*c, at_b));
  ASSERT_TRUE(b);

  auto r = b->ask(ping{1}, 5s);
  ASSERT_TRUE(r) << outcome(r);
  ASSERT_TRUE(r->is<pong>());
  EXPECT_EQ(r->get<pong>()->seq, 101);
  EXPECT_EQ(r->sender(), *c) << "the reply comes from C";
  EXPECT_TRUE(at_c->sender.get().is_null()) << "C sees the original sender (plain code), not B";
  ASSERT_TRUE(wait_until([&] { return at_b->calls.load() == 1; }));
  EXPECT_EQ(at_b->code.get(), akt::errc{0}) << "forward succeeded and left no message in hand";
}

TEST(context, forward_keeps_the_sending_actor_so_the_reply_reaches_it) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto at_a = std::make_shared<observed>();
  auto at_b = std::make_shared<observed>();
  auto at_c = std::make_shared<observed>();
  auto c = sys->spawn_fn("c", answerer(at_c));
  ASSERT_TRUE(c);
  auto b = sys->spawn_fn("b", forwarder(*c, at_b));
  ASSERT_TRUE(b);
  auto a = sys->spawn_fn("a", [at_a](akt::context& ctx) {
    if (auto* m = ctx.message<send_ping_to>()) {
      (void)ctx.tell(m->to, ping{2});
    } else if (auto* p = ctx.message<pong>()) {
      at_a->sender.set(ctx.sender());
      at_a->calls = p->seq;
    }
  });
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->tell(send_ping_to{*b}));
  ASSERT_TRUE(wait_until([&] { return at_a->calls.load() == 102; })) << at_a->calls.load();
  EXPECT_EQ(at_c->sender.get(), *a) << "C sees A as the sender, not B";
  EXPECT_EQ(at_a->sender.get(), *c) << "A gets C's reply";
}

TEST(context, forward_keeps_the_asker_of_a_request) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto at_b = std::make_shared<observed>();
  auto at_c = std::make_shared<observed>();
  auto c = sys->spawn_fn("c", answerer(at_c));
  ASSERT_TRUE(c);
  auto b = sys->spawn_fn("b", forwarder(*c, at_b));
  ASSERT_TRUE(b);
  auto got = std::make_shared<std::atomic<int>>(0);
  auto a = sys->spawn_fn("a", [got](akt::context& ctx) {
    if (auto* m = ctx.message<send_ping_to>()) {
      auto s = ctx.request(m->to, ping{3}, 5s, [got](akt::context&, akt::result<akt::message> r) {
        if (!r)
          *got = -static_cast<int>(r.code());
        else if (auto* p = r->get<pong>())
          *got = p->seq;
        else
          *got = -1000;
      });
      if (!s) *got = -2000;
    }
  });
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->tell(send_ping_to{*b}));
  ASSERT_TRUE(wait_until([&] { return got->load() != 0; }));
  EXPECT_EQ(got->load(), 103);
  EXPECT_EQ(at_c->sender.get(), *a);
}

TEST(context, self_parent_system_and_logger_describe_the_running_actor) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  struct seen_t {
    guarded<akt::pid> self, parent;
    guarded<const akt::actor_system*> system;
    guarded<const akt::logger*> logger;
    guarded<std::string> type_name;
    std::atomic<bool> done{false};
  };
  auto seen = std::make_shared<seen_t>();
  auto a = sys->spawn_fn("a", [seen](akt::context& ctx) {
    if (ctx.message<ping>()) {
      seen->self.set(ctx.self());
      seen->parent.set(ctx.parent());
      seen->system.set(&ctx.system());
      seen->logger.set(&ctx.logger());
      seen->type_name.set(ctx.message_type_name());
      seen->done = true;
    }
  });
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->tell(ping{}));
  ASSERT_TRUE(wait_until([&] { return seen->done.load(); }));
  EXPECT_EQ(seen->self.get(), *a);
  EXPECT_TRUE(seen->parent.get().is_null());
  EXPECT_EQ(seen->system.get(), sys.get());
  EXPECT_EQ(seen->logger.get(), &sys->logger());
  EXPECT_NE(seen->type_name.get().find("ping"), std::string::npos) << seen->type_name.get();
}

// A parent that spawns, lists and stops its children on command.
struct spawn_kid {
  std::string name;
};
struct stop_kid {
  akt::pid who;
};
struct list_kids {};

class parent_actor : public akt::actor {
 public:
  explicit parent_actor(std::shared_ptr<recorder> stops) : stops_(std::move(stops)) {}
  void receive(akt::context& ctx) override {
    if (auto* m = ctx.message<spawn_kid>()) {
      (void)ctx.reply(ctx.spawn<tree_node>(m->name, stops_, m->name));
    } else if (auto* m = ctx.message<stop_kid>()) {
      (void)ctx.reply(code_of(ctx.stop(m->who)));
    } else if (ctx.message<list_kids>()) {
      (void)ctx.reply(ctx.children());
    }
  }

 private:
  std::shared_ptr<recorder> stops_;
};

TEST(context, spawn_makes_a_child_of_the_running_actor) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto parent = sys->spawn<parent_actor>("parent", nullptr);
  ASSERT_TRUE(parent);
  auto kid = parent->ask<akt::result<akt::pid>>(spawn_kid{"kid"}, 5s);
  ASSERT_TRUE(kid) << outcome(kid);
  ASSERT_TRUE(*kid) << outcome(*kid);
  const akt::pid child = **kid;
  EXPECT_EQ(child.path(), "akt://sys/parent/kid");
  EXPECT_EQ(child.parent(), *parent);
  EXPECT_TRUE(child.is_running());
  auto listed = parent->ask<std::vector<akt::pid>>(list_kids{}, 5s);
  ASSERT_TRUE(listed) << outcome(listed);
  EXPECT_EQ(*listed, std::vector<akt::pid>{child});
  auto r = child.ask<pong>(ping{6}, 5s);
  ASSERT_TRUE(r) << outcome(r);
  EXPECT_EQ(r->seq, 6);
}

TEST(context, stop_of_a_child_stops_it) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto stops = std::make_shared<recorder>();
  auto parent = sys->spawn<parent_actor>("parent", stops);
  ASSERT_TRUE(parent);
  auto kid = parent->ask<akt::result<akt::pid>>(spawn_kid{"kid"}, 5s);
  ASSERT_TRUE(kid && *kid);
  const akt::pid child = **kid;

  auto stopped = parent->ask<akt::errc>(stop_kid{child}, 5s);
  ASSERT_TRUE(stopped) << outcome(stopped);
  EXPECT_EQ(*stopped, akt::errc{0});
  ASSERT_TRUE(child.wait_stopped(5s));
  EXPECT_FALSE(child.is_running());
  EXPECT_EQ(stops->items(), std::vector<std::string>{"kid"});
  EXPECT_TRUE(parent->is_running());
  EXPECT_TRUE(wait_until([&] {
    auto listed = parent->ask<std::vector<akt::pid>>(list_kids{}, 5s);
    return listed && listed->empty();
  }));
}

TEST(context, stop_of_a_stopped_child_fails_with_dead_actor) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto parent = sys->spawn<parent_actor>("parent", nullptr);
  ASSERT_TRUE(parent);
  auto kid = parent->ask<akt::result<akt::pid>>(spawn_kid{"kid"}, 5s);
  ASSERT_TRUE(kid && *kid);
  const akt::pid child = **kid;
  ASSERT_TRUE(child.stop());
  ASSERT_TRUE(child.wait_stopped(5s));
  auto again = parent->ask<akt::errc>(stop_kid{child}, 5s);
  ASSERT_TRUE(again) << outcome(again);
  EXPECT_EQ(*again, akt::errc::dead_actor) << "as context.hpp says (pid::stop of it is a no-op)";
}

TEST(context, stop_of_an_actor_that_is_not_a_child_fails_with_not_found) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto parent = sys->spawn<parent_actor>("parent", nullptr);
  auto stranger = sys->spawn<tree_node>("stranger");
  ASSERT_TRUE(parent && stranger);
  auto grandchild_owner = add_child(*stranger, "kid");
  ASSERT_TRUE(grandchild_owner);

  for (const akt::pid& who : {*stranger, grandchild_owner, *parent}) {
    auto r = parent->ask<akt::errc>(stop_kid{who}, 5s);
    ASSERT_TRUE(r) << outcome(r);
    EXPECT_EQ(*r, akt::errc::not_found) << who.path();
  }
  EXPECT_TRUE(stranger->is_running());
  EXPECT_TRUE(grandchild_owner.is_running());
  EXPECT_TRUE(parent->is_running());
}

TEST(context, stop_self_stops_after_the_handler_returns) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto log = std::make_shared<recorder>();
  class quitter : public akt::actor {
   public:
    explicit quitter(std::shared_ptr<recorder> log) : log_(std::move(log)) {}
    void receive(akt::context& ctx) override {
      if (ctx.message<ping>()) {
        ctx.stop_self();
        log_->add("after stop_self");  // the handler runs to its end
        (void)ctx.reply(pong{1});
      }
    }
    void post_stop(akt::context&) override { log_->add("post_stop"); }

   private:
    std::shared_ptr<recorder> log_;
  };
  auto a = sys->spawn<quitter>("quitter", log);
  ASSERT_TRUE(a);
  auto r = a->ask<pong>(ping{}, 5s);
  ASSERT_TRUE(r) << outcome(r);
  ASSERT_TRUE(a->wait_stopped(5s));
  EXPECT_FALSE(a->is_running());
  EXPECT_EQ(log->items(), (std::vector<std::string>{"after stop_self", "post_stop"}));
  EXPECT_EQ(code_of(a->tell(ping{})), akt::errc::dead_actor);
}

}  // namespace
