// The event stream: a subscriber gets akt::system_event messages naming the
// actor for every start, stop and restart, and a dead_letter event for a tell
// to a stopped actor; after unsubscribe it gets none.
#include "test_util.hpp"

#include <akt/akt.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace akt_test;
using namespace std::chrono_literals;

struct boom {};

// The events a subscriber got, in arrival order.
class event_log {
 public:
  void add(akt::system_event e) {
    std::lock_guard lock(mu_);
    events_.push_back(std::move(e));
  }
  // Index of the first event of `kind` naming `actor`, or -1.
  long index_of(akt::event_kind kind, const akt::pid& actor) const {
    std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < events_.size(); ++i) {
      if (events_[i].kind == kind && events_[i].actor == actor) return static_cast<long>(i);
    }
    return -1;
  }
  bool has(akt::event_kind kind, const akt::pid& actor) const { return index_of(kind, actor) >= 0; }
  std::size_t count(akt::event_kind kind, const akt::pid& actor) const {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (const auto& e : events_) n += (e.kind == kind && e.actor == actor) ? 1 : 0;
    return n;
  }
  std::vector<akt::system_event> about(const akt::pid& actor) const {
    std::lock_guard lock(mu_);
    std::vector<akt::system_event> out;
    for (const auto& e : events_) {
      if (e.actor == actor) out.push_back(e);
    }
    return out;
  }
  // "kind(path) ..." for failure messages.
  std::string describe() const {
    std::lock_guard lock(mu_);
    std::ostringstream out;
    for (const auto& e : events_) out << akt::to_string(e.kind) << "(" << e.actor.path() << ") ";
    return out.str();
  }

 private:
  mutable std::mutex mu_;
  std::vector<akt::system_event> events_;
};

// Records every system_event; answers ping (to flush its mailbox).
class subscriber : public akt::actor {
 public:
  explicit subscriber(std::shared_ptr<event_log> log) : log_(std::move(log)) {}
  void receive(akt::context& ctx) override {
    if (auto* e = ctx.message<akt::system_event>()) {
      log_->add(*e);
    } else if (auto* p = ctx.message<ping>()) {
      (void)ctx.reply(pong{p->seq});
    }
  }

 private:
  std::shared_ptr<event_log> log_;
};

class fragile : public akt::actor {
 public:
  void receive(akt::context& ctx) override {
    if (ctx.message<boom>()) throw std::runtime_error("boom");
  }
};

// A started system with one subscribed subscriber.
struct stream_fixture {
  std::unique_ptr<akt::actor_system> sys = start_system("sys");
  std::shared_ptr<event_log> log = std::make_shared<event_log>();
  akt::pid sub = subscribe_new("subscriber", log);

  akt::pid subscribe_new(const std::string& name, const std::shared_ptr<event_log>& into) {
    if (!sys) return {};
    auto r = sys->spawn<subscriber>(name, into);
    if (!r) {
      ADD_FAILURE() << "spawn " << name << ": " << outcome(r);
      return {};
    }
    if (auto s = sys->subscribe(*r); !s) {
      ADD_FAILURE() << "subscribe " << name << ": " << outcome(s);
      return {};
    }
    return *r;
  }
  bool saw(akt::event_kind kind, const akt::pid& actor) const {
    return wait_until([&] { return log->has(kind, actor); });
  }
};

TEST(event_stream, a_subscriber_sees_actor_started_for_a_spawned_actor) {
  stream_fixture f;
  ASSERT_TRUE(f.sub);

  auto x = f.sys->spawn<silent_actor>("x");
  ASSERT_TRUE(x);

  EXPECT_TRUE(f.saw(akt::event_kind::actor_started, *x)) << f.log->describe();
}

TEST(event_stream, a_subscriber_sees_actor_stopped_after_actor_started_when_an_actor_stops) {
  stream_fixture f;
  ASSERT_TRUE(f.sub);
  auto x = f.sys->spawn<silent_actor>("x");
  ASSERT_TRUE(x);

  ASSERT_TRUE(x->stop());

  ASSERT_TRUE(f.saw(akt::event_kind::actor_stopped, *x)) << f.log->describe();
  EXPECT_LT(f.log->index_of(akt::event_kind::actor_started, *x),
            f.log->index_of(akt::event_kind::actor_stopped, *x))
      << f.log->describe();
  EXPECT_GE(f.log->index_of(akt::event_kind::actor_started, *x), 0) << f.log->describe();
  EXPECT_EQ(f.log->count(akt::event_kind::actor_stopped, *x), 1u) << f.log->describe();
}

TEST(event_stream, a_subscriber_sees_actor_restarted_when_a_failing_actor_restarts) {
  stream_fixture f;  // default strategy: restart
  ASSERT_TRUE(f.sub);
  auto x = f.sys->spawn<fragile>("x");
  ASSERT_TRUE(x);

  ASSERT_TRUE(x->tell(boom{}));

  EXPECT_TRUE(f.saw(akt::event_kind::actor_restarted, *x)) << f.log->describe();
  EXPECT_TRUE(x->is_running());
}

TEST(event_stream, a_subscriber_sees_actor_restarted_for_a_restart_by_hand) {
  stream_fixture f;
  ASSERT_TRUE(f.sub);
  auto x = f.sys->spawn<silent_actor>("x");
  ASSERT_TRUE(x);

  ASSERT_TRUE(x->restart());

  EXPECT_TRUE(f.saw(akt::event_kind::actor_restarted, *x)) << f.log->describe();
}

TEST(event_stream, a_tell_to_a_stopped_actor_produces_a_dead_letter_event_naming_the_recipient) {
  stream_fixture f;
  ASSERT_TRUE(f.sub);
  auto x = f.sys->spawn<silent_actor>("x");
  ASSERT_TRUE(x);
  ASSERT_TRUE(x->stop());
  ASSERT_TRUE(x->wait_stopped(5s));

  EXPECT_EQ(code_of(x->tell(ping{1})), akt::errc::dead_actor);

  ASSERT_TRUE(f.saw(akt::event_kind::dead_letter, *x)) << f.log->describe();
  for (const auto& e : f.log->about(*x)) {
    if (e.kind == akt::event_kind::dead_letter) {
      EXPECT_FALSE(e.detail.empty()) << "a dead letter says what and why";
    }
  }
}

TEST(event_stream, subscribe_before_start_and_unsubscribe_after_stop_fail_with_not_running) {
  auto other = start_system("other", {.deterministic = true});
  ASSERT_TRUE(other);
  auto listener = other->spawn<silent_actor>("listener");
  ASSERT_TRUE(listener) << outcome(listener);

  auto created =
      akt::actor_system::create("sys", {.logger = akt::make_discard_logger(), .deterministic = true});
  ASSERT_TRUE(created) << outcome(created);
  auto& sys = **created;
  EXPECT_EQ(code_of(sys.subscribe(*listener)), akt::errc::not_running) << "before start";

  ASSERT_TRUE(sys.start());
  ASSERT_TRUE(sys.subscribe(*listener));
  ASSERT_TRUE(sys.stop());
  EXPECT_EQ(code_of(sys.unsubscribe(*listener)), akt::errc::not_running) << "after stop";
  EXPECT_EQ(code_of(sys.subscribe(*listener)), akt::errc::not_running) << "after stop";
}

TEST(event_stream, unsubscribe_stops_delivery) {
  stream_fixture f;
  ASSERT_TRUE(f.sub);
  auto control_log = std::make_shared<event_log>();
  auto control = f.subscribe_new("control", control_log);
  ASSERT_TRUE(control);
  auto before = f.sys->spawn<silent_actor>("before");
  ASSERT_TRUE(before);
  ASSERT_TRUE(f.saw(akt::event_kind::actor_started, *before)) << f.log->describe();

  ASSERT_TRUE(f.sys->unsubscribe(f.sub));
  auto after = f.sys->spawn<silent_actor>("after");
  ASSERT_TRUE(after);

  // The control subscriber still hears: once it has, an event for the
  // unsubscribed one would have been sent too, ahead of this ping.
  ASSERT_TRUE(wait_until([&] { return control_log->has(akt::event_kind::actor_started, *after); }))
      << control_log->describe();
  auto flushed = f.sub.ask<pong>(ping{1}, 5s);
  ASSERT_TRUE(flushed) << outcome(flushed);
  EXPECT_TRUE(f.log->about(*after).empty()) << f.log->describe();
}

}  // namespace
