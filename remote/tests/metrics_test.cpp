// Remoting's metrics and trace propagation, between two systems in one
// process over real TCP on 127.0.0.1: what each side reports per peer
// (remoting::report_metrics, through actor_system::report_metrics), and
// what a traced send carries to the remote handler.
#include <akt/remote/remoting.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <akt/testkit/metric_recorder.hpp>
#include "messages.pb.h"
#include "raw_peer.hpp"

namespace {

using namespace std::chrono_literals;
using akt::testkit::metric_recorder;
using akt_test::wait_until;

std::unique_ptr<akt::actor_system> start(const char* name) {
  auto sys = akt::actor_system::create(name, {.logger = akt::make_discard_logger()}).value();
  EXPECT_TRUE(sys->start());
  auto& types = sys->registry();
  types.register_message<demo::Ping>();
  types.register_message<demo::Add>();
  types.register_message<demo::Sum>();
  return sys;
}

metric_recorder collect(const akt::actor_system& sys) {
  metric_recorder r;
  sys.report_metrics(r);
  return r;
}

// The value of a per-peer series of `sys` for `peer` (-1 when absent).
double peer_value(const akt::actor_system& sys, const std::string& name, const std::string& peer,
                  const std::string& reason = {}) {
  std::vector<std::pair<std::string, std::string>> match = {{"akt.peer", peer}};
  if (!reason.empty()) match.emplace_back("akt.reason", reason);
  return collect(sys).value(name, match).value_or(-1);
}

// Counts the Pings it gets; answers Add with Sum.
akt::result<akt::pid> spawn_counter(akt::actor_system& sys, std::shared_ptr<std::atomic<int>> got) {
  return sys.spawn_fn("counter", [got](akt::context& ctx) {
    if (ctx.message<demo::Ping>() != nullptr) got->fetch_add(1);
    if (auto* add = ctx.message<demo::Add>()) {
      demo::Sum s;
      s.set_value(add->a() + add->b());
      (void)ctx.reply(std::move(s));
    }
  });
}

class remote_metrics : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = start("alpha");
    b_ = start("beta");
    na_ = akt::remote::remoting::enable(*a_).value();
    nb_ = akt::remote::remoting::enable(*b_).value();
  }
  std::unique_ptr<akt::actor_system> a_, b_;
  akt::remote::remoting* na_ = nullptr;
  akt::remote::remoting* nb_ = nullptr;
};

TEST_F(remote_metrics, messages_and_bytes_are_counted_per_peer_on_both_sides) {
  auto got = std::make_shared<std::atomic<int>>(0);
  auto counter = spawn_counter(*b_, got);
  ASSERT_TRUE(counter);
  auto remote = na_->resolve(counter->path()).value();
  constexpr int n = 1000;
  for (int i = 0; i < n; ++i) {
    demo::Ping p;
    p.set_seq(i);
    ASSERT_TRUE(remote.tell(std::move(p)));
  }
  demo::Add add;
  add.set_a(40);
  add.set_b(2);
  auto sum = remote.ask<demo::Sum>(add, 5s);  // an ask out and its reply back
  ASSERT_TRUE(sum) << sum.error().to_string();
  ASSERT_TRUE(wait_until([&] { return got->load() == n; }));

  const std::string beta = nb_->address(), alpha = na_->address();
  EXPECT_EQ(peer_value(*a_, "akt.remote.messages.sent", beta), n + 1);
  EXPECT_EQ(peer_value(*a_, "akt.remote.messages.received", beta), 1) << "the reply";
  EXPECT_EQ(peer_value(*b_, "akt.remote.messages.received", alpha), n + 1);
  EXPECT_EQ(peer_value(*b_, "akt.remote.messages.sent", alpha), 1) << "the reply";
  EXPECT_GT(peer_value(*a_, "akt.remote.bytes.sent", beta), n * 10);
  EXPECT_TRUE(wait_until([&] {  // written bytes are counted once their write completes
    return peer_value(*b_, "akt.remote.bytes.received", alpha) ==
           peer_value(*a_, "akt.remote.bytes.sent", beta);
  })) << "what alpha wrote is what beta read (handshake and heartbeats included)";
  EXPECT_EQ(peer_value(*a_, "akt.remote.connection.up", beta), 1);
  EXPECT_EQ(peer_value(*a_, "akt.remote.failures", beta, "lost"), 0);
  EXPECT_EQ(peer_value(*a_, "akt.remote.backpressure.waits", beta), 0) << "reported, and nothing waited";

  // Every series has its kind and unit, and the node-wide ones are there.
  auto report = collect(*a_);
  auto sent = report.find("akt.remote.messages.sent");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0]->kind, akt::metric_kind::counter);
  EXPECT_EQ(sent[0]->unit, "{message}");
  EXPECT_EQ(sent[0]->attributes.at("akt.system"), "alpha");
  EXPECT_EQ(report.find("akt.remote.bytes.sent")[0]->unit, "By");
  EXPECT_EQ(report.value("akt.remote.connections.opened"), 1);
  EXPECT_EQ(report.value("akt.remote.frames.rejected"), 0);
  EXPECT_EQ(report.find("akt.remote.failures", {{"akt.peer", beta}}).size(), 3u) << "connect, lost, send";
}

TEST_F(remote_metrics, a_peer_that_stops_is_down_and_one_that_returns_counts_a_reconnect) {
  auto got = std::make_shared<std::atomic<int>>(0);
  auto counter = spawn_counter(*b_, got);
  ASSERT_TRUE(counter);
  auto remote = na_->resolve(counter->path()).value();
  ASSERT_TRUE(remote.tell(demo::Ping()));
  ASSERT_TRUE(wait_until([&] { return got->load() == 1; }));
  const std::string beta = nb_->address();
  const std::uint16_t port = nb_->port();
  EXPECT_EQ(peer_value(*a_, "akt.remote.connection.up", beta), 1);
  EXPECT_EQ(peer_value(*a_, "akt.remote.reconnects", beta), 0);

  ASSERT_TRUE(b_->stop());
  b_.reset();
  ASSERT_TRUE(wait_until([&] { return peer_value(*a_, "akt.remote.connection.up", beta) == 0; }));
  EXPECT_EQ(peer_value(*a_, "akt.remote.failures", beta, "lost"), 1);
  EXPECT_EQ(peer_value(*a_, "akt.remote.messages.sent", beta), 1) << "a departed peer keeps its figures";

  // beta again, on the same port: the next tell dials it, and it is up again.
  b_ = start("beta");
  auto back = akt::remote::remoting::enable(*b_, {.port = port});
  ASSERT_TRUE(back) << back.error().to_string();
  auto got_again = std::make_shared<std::atomic<int>>(0);
  ASSERT_TRUE(spawn_counter(*b_, got_again));
  ASSERT_TRUE(remote.tell(demo::Ping()));
  ASSERT_TRUE(wait_until([&] { return got_again->load() == 1; }));
  EXPECT_TRUE(wait_until([&] { return peer_value(*a_, "akt.remote.connection.up", beta) == 1; }));
  EXPECT_EQ(peer_value(*a_, "akt.remote.reconnects", beta), 1);
  EXPECT_EQ(peer_value(*a_, "akt.remote.messages.sent", beta), 2) << "cumulative across connections";
}

TEST_F(remote_metrics, sends_to_an_unreachable_peer_count_connect_and_send_failures) {
  std::uint16_t port = 0;
  {
    akt_test::raw_listener closed;  // a port nobody listens on once it is closed
    port = closed.port();
  }
  const std::string nowhere = "127.0.0.1:" + std::to_string(port);
  auto remote = na_->resolve("akt://ghost@" + nowhere + "/nobody").value();
  (void)remote.tell(demo::Ping());  // dials, and fails to connect
  ASSERT_TRUE(wait_until([&] { return peer_value(*a_, "akt.remote.failures", nowhere, "connect") == 1; }));
  EXPECT_FALSE(remote.tell(demo::Ping())) << "within the backoff: refused at once";
  EXPECT_GE(peer_value(*a_, "akt.remote.failures", nowhere, "send"), 1);
  EXPECT_EQ(peer_value(*a_, "akt.remote.connection.up", nowhere), 0);
}

// ------------------------------------------------------------ traces

// A tracer that opens a send span for each traced send: a child context
// (same trace, a new span id, the same tracestate) the message carries.
class child_span_tracer final : public akt::extension, public akt::actor_observer {
 public:
  struct send {
    std::string to_path, type;
    bool is_ask = false, to_local = false;
    akt::trace_ref child;
  };
  std::string_view name() const noexcept override { return "test-tracer"; }
  akt::actor_observer* observer() noexcept override { return this; }
  akt::trace_ref on_send(const akt::trace_context& current, const akt::send_view& s) noexcept override {
    akt::trace_context::span_id span{0xab, 0xcd};
    std::lock_guard g(mu_);
    span[7] = static_cast<std::uint8_t>(sends_.size() + 1);
    auto child = akt::trace_context::make(current.trace(), span, current.flags(), current.tracestate());
    sends_.push_back({std::string(s.to_path), std::string(s.type_name), s.is_ask, s.to != nullptr, child});
    return child;
  }
  std::vector<send> sends() {
    std::lock_guard g(mu_);
    return sends_;
  }

 private:
  std::mutex mu_;
  std::vector<send> sends_;
};

// What a handler saw as its trace context, per message type.
struct trace_log {
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> seen;  // traceparent, tracestate
  void add(const akt::trace_context* tc) {
    std::lock_guard g(mu);
    seen.emplace_back(tc ? tc->traceparent() : std::string(), tc ? tc->tracestate() : std::string());
  }
  std::vector<std::pair<std::string, std::string>> snapshot() {
    std::lock_guard g(mu);
    return seen;
  }
};

akt::result<akt::pid> spawn_traced(akt::actor_system& sys, std::shared_ptr<trace_log> log) {
  return sys.spawn_fn("traced", [log](akt::context& ctx) {
    if (ctx.message<demo::Ping>() != nullptr) log->add(ctx.trace());
    if (auto* add = ctx.message<demo::Add>()) {
      log->add(ctx.trace());
      demo::Sum s;
      s.set_value(add->a() + add->b());
      (void)ctx.reply(std::move(s));
    }
  });
}

TEST_F(remote_metrics, a_traced_send_carries_the_tracers_send_span_and_the_tracestate) {
  auto* tracer = a_->add_extension(std::make_unique<child_span_tracer>()).value();
  auto log = std::make_shared<trace_log>();
  auto traced = spawn_traced(*b_, log);
  ASSERT_TRUE(traced);
  auto remote = na_->resolve(traced->path()).value();
  auto tc = akt::trace_context::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                                      "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
                .value();
  {
    akt::trace_scope scope(tc);
    ASSERT_TRUE(remote.tell(demo::Ping()));  // a tell serialized from the value (send_wire)
    demo::Add add;
    add.set_a(1);
    add.set_b(2);
    auto sum = remote.ask<demo::Sum>(add, 5s);  // an ask in an envelope
    ASSERT_TRUE(sum) << sum.error().to_string();
  }
  ASSERT_TRUE(wait_until([&] { return log->snapshot().size() == 2; }));
  const auto sends = tracer->sends();
  ASSERT_EQ(sends.size(), 2u);
  EXPECT_EQ(sends[0].to_path, traced->path());
  EXPECT_EQ(sends[0].type, "demo.Ping");
  EXPECT_FALSE(sends[0].is_ask);
  EXPECT_FALSE(sends[0].to_local) << "a receiver on another node has no actor_view";
  EXPECT_EQ(sends[1].type, "demo.Add");
  EXPECT_TRUE(sends[1].is_ask);
  const auto seen = log->snapshot();
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(seen[i].first, sends[i].child->traceparent()) << "the send span's context, not the caller's";
    EXPECT_EQ(seen[i].first.substr(0, 35), tc->traceparent().substr(0, 35)) << "the same trace id";
    EXPECT_NE(seen[i].first, tc->traceparent());
    EXPECT_EQ(seen[i].second, tc->tracestate());
  }
}

TEST_F(remote_metrics, an_unsampled_context_travels_as_it_is_without_a_send_span) {
  auto* tracer = a_->add_extension(std::make_unique<child_span_tracer>()).value();
  auto log = std::make_shared<trace_log>();
  auto traced = spawn_traced(*b_, log);
  ASSERT_TRUE(traced);
  auto remote = na_->resolve(traced->path()).value();
  auto tc =
      akt::trace_context::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", "k=v").value();
  {
    akt::trace_scope scope(tc);
    ASSERT_TRUE(remote.tell(demo::Ping()));
  }
  ASSERT_TRUE(wait_until([&] { return log->snapshot().size() == 1; }));
  EXPECT_TRUE(tracer->sends().empty());
  EXPECT_EQ(log->snapshot()[0].first, tc->traceparent());
  EXPECT_EQ(log->snapshot()[0].second, "k=v");
}

}  // namespace
