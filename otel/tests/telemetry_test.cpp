// Metrics an actor system reports through akt::otel: counted per actor kind,
// per tracked actor, and the system's own, read back through
// actor_system::report_metrics as an exporter reads them.
#include <akt/akt.hpp>
#include <akt/otel/telemetry.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <thread>

#include "snapshot.hpp"

namespace akt::otel {
namespace {

using namespace std::chrono_literals;
using detail::metric_snapshot;

struct work {
  int n;
};
struct boom {};
struct stranger {};

class counter_actor : public actor {
 public:
  void receive(context& ctx) override {
    if (auto* w = ctx.message<work>()) {
      sum_ += w->n;
    } else if (ctx.message<boom>()) {
      throw std::runtime_error("boom on purpose");
    } else if (ctx.message<int>()) {
      ctx.reply(sum_);
    } else {
      ctx.unhandled();
    }
  }

 private:
  int sum_ = 0;
};

class other_actor : public actor {
 public:
  void receive(context& ctx) override {
    if (ctx.message<int>()) ctx.reply(1);
  }
};

std::unique_ptr<actor_system> launch(std::string_view name) {
  auto sys = actor_system::launch(name, {.workers = 2});
  EXPECT_TRUE(sys) << sys.error().to_string();
  return std::move(sys).value();
}

options quiet() {
  return options{.read_environment = false, .time_one_turn_in = 1};  // every handling timed: exact counts
}

// The value of `name` for the series whose attributes include every
// (key, value) in `match`; nullopt when there is none.
std::optional<std::int64_t> value_of(const metric_snapshot& s, std::string_view name,
                                     std::vector<std::pair<std::string, std::string>> match = {}) {
  const detail::metric_family* f = s.find(name);
  if (f == nullptr) return std::nullopt;
  for (const detail::metric_point& p : f->points) {
    bool all = true;
    for (const auto& m : match) {
      bool found = false;
      for (const auto& a : p.attributes) found = found || a == m;
      all = all && found;
    }
    if (all) return p.is_double ? static_cast<std::int64_t>(p.as_double) : p.as_int;
  }
  return std::nullopt;
}

metric_snapshot collect(actor_system& sys) {
  metric_snapshot s;
  sys.report_metrics(s);
  return s;
}

std::string kind_of(const pid& p) {
  return std::string(p.ref()->kind());
}

TEST(telemetry, counts_messages_per_actor_kind) {
  auto sys = launch("metrics");
  ASSERT_TRUE(telemetry::enable(*sys, quiet()));
  std::vector<pid> counters;
  for (int i = 0; i < 3; ++i) counters.push_back(sys->spawn_anonymous<counter_actor>().value());
  pid other = sys->spawn_anonymous<other_actor>().value();
  for (int round = 0; round < 100; ++round)
    for (const pid& c : counters) ASSERT_TRUE(c.tell(work{1}));
  for (const pid& c : counters) ASSERT_EQ(c.ask<int>(0, 5s).value(), 100);  // every work handled
  ASSERT_EQ(other.ask<int>(0, 5s).value(), 1);

  // A handling is counted when the handler returns, which may be just after
  // the asker woke on its reply: collect until the last four are in (bounded).
  auto observations = [](const metric_snapshot& snap) {
    std::uint64_t n = 0;
    if (const detail::metric_family* h = snap.find("akt.actor.processing.duration")) {
      for (const auto& p : h->points) n += p.count;
    }
    return n;
  };
  metric_snapshot s = collect(*sys);
  const auto until = std::chrono::steady_clock::now() + 5s;
  while ((value_of(s, "akt.system.messages.processed") != 304 || observations(s) != 304) &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(1ms);
    s = collect(*sys);
  }
  const std::string k = kind_of(counters[0]);
  EXPECT_EQ(value_of(s, "akt.actor.messages.processed", {{"akt.actor.kind", k}}), 303);  // 300 works, 3 asks
  EXPECT_EQ(value_of(s, "akt.actor.messages.received", {{"akt.actor.kind", k}}), 303);
  EXPECT_EQ(value_of(s, "akt.actor.alive", {{"akt.actor.kind", k}}), 3);
  EXPECT_EQ(value_of(s, "akt.actor.alive", {{"akt.actor.kind", kind_of(other)}}), 1);
  EXPECT_EQ(value_of(s, "akt.actor.messages.processed", {{"akt.actor.kind", kind_of(other)}}), 1);
  EXPECT_EQ(value_of(s, "akt.system.actors.alive"), static_cast<std::int64_t>(sys->actor_count()));
  EXPECT_EQ(value_of(s, "akt.system.actors.spawned"), 4);
  EXPECT_EQ(value_of(s, "akt.system.messages.processed"), 304);
  EXPECT_EQ(value_of(s, "akt.system.workers"), 2);

  // Processing time: one observation per handled message.
  ASSERT_NE(s.find("akt.actor.processing.duration"), nullptr);
  EXPECT_EQ(observations(s), 304u);
}

TEST(telemetry, counts_failures_restarts_unhandled_and_stops) {
  auto sys = launch("failures");
  ASSERT_TRUE(telemetry::enable(*sys, quiet()));
  pid c = sys->spawn_anonymous<counter_actor>().value();
  const std::string k = kind_of(c);
  ASSERT_TRUE(c.tell(work{1}));
  ASSERT_TRUE(c.tell(boom{}));              // fails; the default supervisor restarts it
  ASSERT_TRUE(c.tell(stranger{}));          // unhandled
  ASSERT_EQ(c.ask<int>(0, 5s).value(), 0);  // the restart reset its state
  ASSERT_TRUE(c.stop());
  ASSERT_TRUE(c.wait_stopped(5s));

  const metric_snapshot s = collect(*sys);
  EXPECT_EQ(value_of(s, "akt.actor.errors", {{"akt.actor.kind", k}}), 1);
  EXPECT_EQ(value_of(s, "akt.actor.restarts", {{"akt.actor.kind", k}}), 1);
  EXPECT_EQ(value_of(s, "akt.actor.messages.unhandled", {{"akt.actor.kind", k}}), 1);
  EXPECT_EQ(value_of(s, "akt.actor.messages.received", {{"akt.actor.kind", k}}), 4);
  EXPECT_EQ(value_of(s, "akt.actor.messages.processed", {{"akt.actor.kind", k}}), 3);  // all but boom
  EXPECT_EQ(value_of(s, "akt.actor.alive", {{"akt.actor.kind", k}}), 0);
  EXPECT_EQ(value_of(s, "akt.system.actors.stopped"), 1);
  EXPECT_EQ(value_of(s, "akt.system.actors.restarted"), 1);
  EXPECT_GE(value_of(s, "akt.system.unhandled_messages").value_or(0), 1);
}

// A blocker holds its worker until released, so messages queue behind it.
struct hold {
  std::shared_ptr<std::atomic<bool>> release;
};
class blocker : public actor {
 public:
  void receive(context& ctx) override {
    if (auto* h = ctx.message<hold>()) {
      while (!h->release->load()) std::this_thread::yield();
    }
  }
};

TEST(telemetry, reports_mailbox_backlog_per_kind_and_for_tracked_actors) {
  auto sys = launch("backlog");
  auto* t = telemetry::enable(*sys, quiet()).value();
  pid b = sys->spawn<blocker>("blocker").value();
  ASSERT_TRUE(t->track(b));
  auto release = std::make_shared<std::atomic<bool>>(false);
  ASSERT_TRUE(b.tell(hold{release}));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(b.tell(work{i}));
  // The first message is being handled (or about to be): 10 or 11 wait.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  metric_snapshot s = collect(*sys);
  while (value_of(s, "akt.actor.mailbox.size", {{"akt.actor.kind", kind_of(b)}}) != 10 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
    s = collect(*sys);
  }
  EXPECT_EQ(value_of(s, "akt.actor.mailbox.size", {{"akt.actor.kind", kind_of(b)}}), 10);
  EXPECT_EQ(value_of(s, "akt.system.mailbox.backlog"), 10);
  EXPECT_EQ(value_of(s, "akt.actor.instance.mailbox.size", {{"akt.actor.path", b.path()}}), 10);
  release->store(true);
  ASSERT_TRUE(b.stop());
  ASSERT_TRUE(b.wait_stopped(5s));
  // A stopped actor's series go with it.
  EXPECT_EQ(collect(*sys).find("akt.actor.instance.mailbox.size"), nullptr);
  EXPECT_FALSE(t->track(b));
}

TEST(telemetry, ten_thousand_actors_of_one_kind_are_one_series) {
  auto sys = launch("many");
  ASSERT_TRUE(telemetry::enable(*sys, quiet()));
  std::vector<pid> all;
  for (int i = 0; i < 10'000; ++i) all.push_back(sys->spawn_anonymous<other_actor>().value());
  const metric_snapshot s = collect(*sys);
  const detail::metric_family* alive = s.find("akt.actor.alive");
  ASSERT_NE(alive, nullptr);
  EXPECT_EQ(alive->points.size(), 1u);
  EXPECT_EQ(value_of(s, "akt.actor.alive", {{"akt.actor.kind", kind_of(all[0])}}), 10'000);
}

TEST(telemetry, refuses_bad_options_clearly) {
  auto sys = launch("bad");
  auto r = telemetry::enable(*sys, {.read_environment = false, .sample_ratio = 1.5});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument);
  EXPECT_NE(r.error().message().find("1.5"), std::string::npos) << r.error().message();
  auto u = telemetry::enable(*sys, {.read_environment = false, .otlp = {.endpoint = "localhost:4318"}});
  ASSERT_FALSE(u);
  EXPECT_NE(u.error().message().find("localhost:4318"), std::string::npos) << u.error().message();
  // Nothing was half-added: a good one still goes in.
  EXPECT_TRUE(telemetry::enable(*sys, quiet()));
}

}  // namespace
}  // namespace akt::otel
