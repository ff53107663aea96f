// Behaviors: become replaces the current behavior, become_stacked pushes,
// unbecome_stacked pops, unbecome goes back to receive with the stack
// emptied; the message in hand finishes with the old behavior; a restart
// starts over with receive. Pure protocol: the tests run on the
// deterministic test_system.
#include "test_util.hpp"

#include <akt/akt.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace akt_test;
using namespace std::chrono_literals;

struct tag {  // recorded as "<behavior>:<id>"
  std::string id;
};
struct push {  // become_stacked(<name>)
  std::string name;
};
struct replace {  // become(<name>)
  std::string name;
};
struct pop {};             // unbecome_stacked()
struct reset {};           // unbecome()
struct replace_then_tag {  // become(<name>), then record <id> in the same handler
  std::string name;
  std::string id;
};
struct boom {};
struct which {};  // replies with the name of the behavior that handles it

// Every behavior is the same handler under another name, so that the log
// says which one handled each message.
class shifter : public akt::actor {
 public:
  explicit shifter(std::shared_ptr<recorder> log) : log_(std::move(log)) {}
  void receive(akt::context& ctx) override { handle(ctx, "receive"); }

 private:
  akt::behavior named(const std::string& name) {
    return [this, name](akt::context& ctx) { handle(ctx, name); };
  }
  void handle(akt::context& ctx, const std::string& current) {
    if (auto* t = ctx.message<tag>()) {
      log_->add(current + ":" + t->id);
    } else if (auto* p = ctx.message<push>()) {
      ctx.become_stacked(named(p->name));
    } else if (auto* r = ctx.message<replace>()) {
      ctx.become(named(r->name));
    } else if (ctx.message<pop>()) {
      ctx.unbecome_stacked();
    } else if (ctx.message<reset>()) {
      ctx.unbecome();
    } else if (auto* rt = ctx.message<replace_then_tag>()) {
      ctx.become(named(rt->name));
      log_->add(current + ":" + rt->id);
    } else if (ctx.message<boom>()) {
      throw std::runtime_error("boom in " + current);
    } else if (ctx.message<which>()) {
      (void)ctx.reply(current);
    }
  }

  std::shared_ptr<recorder> log_;
};

// The behavior that handles the next message; every message sent before has
// been handled when it returns.
std::string current_behavior(const akt::pid& a) {
  auto r = a.ask<std::string>(which{}, 5s);
  return r ? *r : "<ask failed: " + outcome(r) + ">";
}

struct behavior_fixture {
  akt::testkit::test_system sys{"sys"};
  std::shared_ptr<recorder> log = std::make_shared<recorder>();
  akt::pid actor = spawn();

  akt::pid spawn() {
    auto r = sys->spawn<shifter>("shifter", log);
    if (!r) {
      ADD_FAILURE() << "spawn: " << outcome(r);
      return {};
    }
    return *r;
  }
  template <class... M>
  void send(M... msgs) {
    const bool all_sent = (actor.tell(std::move(msgs)).has_value() && ...);
    ASSERT_TRUE(all_sent);
  }
};

TEST(behavior, become_replaces_the_behavior_from_the_next_message) {
  behavior_fixture f;
  ASSERT_TRUE(f.actor);

  f.send(tag{"1"}, replace{"A"}, tag{"2"});

  EXPECT_EQ(current_behavior(f.actor), "A");
  EXPECT_EQ(f.log->items(), (std::vector<std::string>{"receive:1", "A:2"}));
}

TEST(behavior, the_message_that_calls_become_finishes_with_the_old_behavior) {
  behavior_fixture f;
  ASSERT_TRUE(f.actor);

  f.send(replace_then_tag{"A", "x"}, tag{"y"});

  EXPECT_EQ(current_behavior(f.actor), "A");
  EXPECT_EQ(f.log->items(), (std::vector<std::string>{"receive:x", "A:y"}))
      << "the new behavior does not see the message that installed it";
}

TEST(behavior, become_stacked_pushes_and_unbecome_stacked_pops_back_to_the_previous_behavior) {
  behavior_fixture f;
  ASSERT_TRUE(f.actor);

  f.send(push{"A"}, tag{"1"}, push{"B"}, tag{"2"}, pop{}, tag{"3"}, pop{}, tag{"4"});

  EXPECT_EQ(current_behavior(f.actor), "receive");
  EXPECT_EQ(f.log->items(), (std::vector<std::string>{"A:1", "B:2", "A:3", "receive:4"}));
}

TEST(behavior,
     a_stack_pushed_three_times_and_popped_twice_handles_the_next_message_with_the_first_pushed_behavior) {
  behavior_fixture f;
  ASSERT_TRUE(f.actor);

  f.send(push{"A"}, push{"B"}, push{"C"}, pop{}, pop{}, tag{"next"});

  EXPECT_EQ(current_behavior(f.actor), "A");
  EXPECT_EQ(f.log->items(), std::vector<std::string>{"A:next"});
}

TEST(behavior, become_replaces_the_top_of_the_stack_instead_of_pushing) {
  behavior_fixture f;
  ASSERT_TRUE(f.actor);

  f.send(push{"A"}, replace{"B"}, tag{"1"}, pop{}, tag{"2"});

  EXPECT_EQ(current_behavior(f.actor), "receive");
  EXPECT_EQ(f.log->items(), (std::vector<std::string>{"B:1", "receive:2"})) << "A was replaced, not buried";
}

TEST(behavior, unbecome_returns_to_receive_and_empties_the_stack) {
  behavior_fixture f;
  ASSERT_TRUE(f.actor);

  f.send(push{"A"}, push{"B"}, reset{}, tag{"1"});
  EXPECT_EQ(current_behavior(f.actor), "receive");
  // Had A or B stayed on the stack, popping C would uncover them.
  f.send(push{"C"}, tag{"2"}, pop{}, tag{"3"});

  EXPECT_EQ(current_behavior(f.actor), "receive");
  EXPECT_EQ(f.log->items(), (std::vector<std::string>{"receive:1", "C:2", "receive:3"}));
}

TEST(behavior, a_restart_resets_the_behavior_to_receive) {
  behavior_fixture f;  // default strategy: restart
  ASSERT_TRUE(f.actor);
  f.send(push{"A"}, push{"B"}, tag{"1"});
  ASSERT_EQ(current_behavior(f.actor), "B");

  f.send(boom{}, tag{"2"});

  EXPECT_EQ(current_behavior(f.actor), "receive");
  EXPECT_EQ(f.log->items(), (std::vector<std::string>{"B:1", "receive:2"}));
  EXPECT_TRUE(after_run(f.sys, [&] { return f.actor.metrics().restarts == 1; }))
      << f.actor.metrics().restarts;
}

}  // namespace
