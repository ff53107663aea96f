// Remoting against a hostile or careless network (issue 9), in one process
// over real TCP on 127.0.0.1: raw clients that speak the wire protocol by
// hand (raw_peer.hpp) attack a node, and nodes misuse each other. Each test
// reproduces one finding of issue 9 and checks what users get now; the
// second-process findings (descriptor exhaustion, a frozen peer) are in
// failure_test.cpp.
#include <akt/remote/remoting.hpp>
#include <akt/testkit/probe.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "messages.pb.h"
#include "raw_peer.hpp"

namespace {

using namespace std::chrono_literals;
using akt_test::owned_frame;
using akt_test::raw_listener;
using akt_test::raw_peer;
using akt_test::wait_until;
namespace wire = akt::remote::detail;

constexpr const char* shared_secret = "correct horse battery staple";  // 28 bytes

class hostile : public ::testing::Test {
 protected:
  struct node {
    akt::actor_system* sys = nullptr;
    akt::remote::remoting* net = nullptr;
    std::string path(const std::string& actor) const {
      return "akt://" + sys->name() + "@" + net->address() + "/" + actor;
    }
  };

  // A started system with remoting: "calc" answers Add with Sum, "echo"
  // answers Ping with Pong of the same seq (to whoever sent it).
  node make(const char* name, akt::remote::remoting_options options = {}, std::size_t workers = 0) {
    auto sys =
        akt::actor_system::create(name, {.workers = workers, .logger = akt::make_discard_logger()}).value();
    EXPECT_TRUE(sys->start());
    auto& types = sys->registry();
    types.register_message<demo::Ping>();
    types.register_message<demo::Pong>();
    types.register_message<demo::Add>();
    types.register_message<demo::Sum>();
    types.register_message<demo::Greet>();
    auto net = akt::remote::remoting::enable(*sys, std::move(options));
    EXPECT_TRUE(net) << net.error().to_string();
    EXPECT_TRUE(sys->spawn_fn("calc", [](akt::context& ctx) {
      if (auto* add = ctx.message<demo::Add>()) {
        demo::Sum s;
        s.set_value(add->a() + add->b());
        (void)ctx.reply(std::move(s));
      }
    }));
    EXPECT_TRUE(sys->spawn_fn("echo", [](akt::context& ctx) {
      if (auto* p = ctx.message<demo::Ping>()) {
        demo::Pong r;
        r.set_seq(p->seq());
        (void)ctx.reply(std::move(r));
      }
    }));
    systems_.push_back(std::move(sys));
    return {systems_.back().get(), net ? *net : nullptr};
  }

  void TearDown() override {
    for (auto it = systems_.rbegin(); it != systems_.rend(); ++it) (void)(*it)->stop();
    systems_.clear();
  }

  static akt::status add_once(const akt::pid& calc, int a, int b) {
    demo::Add add;
    add.set_a(a);
    add.set_b(b);
    auto sum = calc.ask<demo::Sum>(add, 5s);
    if (!sum) return std::move(sum).error();
    if (sum->value() != a + b) return akt::error(akt::errc::unexpected_reply, "a wrong sum");
    return {};
  }

  static std::size_t count_envelopes(const std::vector<owned_frame>& frames) {
    std::size_t n = 0;
    for (const auto& f : frames) n += f.kind == wire::frame_kind::envelope ? 1 : 0;
    return n;
  }

  std::vector<std::unique_ptr<akt::actor_system>> systems_;
};

// ------------------------------------------------------------ finding 2: spoofed Hello

TEST_F(hostile, a_client_claiming_another_nodes_address_gets_none_of_its_replies) {
  auto alpha = make("alpha");
  auto beta = make("beta");
  auto got = std::make_shared<std::atomic<long long>>(-1);
  ASSERT_TRUE(alpha.sys->spawn_fn("home", [got](akt::context& ctx) {
    if (auto* p = ctx.message<demo::Pong>()) got->store(p->seq());
  }));
  // beta's "relay" tells alpha's "home" by its full path: beta dials alpha's address.
  auto home_on_alpha = beta.net->resolve(alpha.path("home")).value();
  ASSERT_TRUE(beta.sys->spawn_fn("relay", [home_on_alpha](akt::context& ctx) {
    if (auto* p = ctx.message<demo::Ping>()) {
      demo::Pong r;
      r.set_seq(p->seq());
      (void)ctx.tell(home_on_alpha, std::move(r));
    }
  }));

  // The impostor connects first and claims alpha's real address.
  raw_peer impostor(beta.net->port());
  ASSERT_TRUE(impostor.connected());
  std::string why;
  ASSERT_TRUE(impostor.handshake("alpha", alpha.net->address(), {}, &why)) << why;
  ASSERT_TRUE(impostor.send_heartbeat());

  // alpha's own lookups and asks to beta are answered to alpha.
  auto calc = alpha.net->lookup("127.0.0.1", beta.net->port(), "calc", 5s);
  ASSERT_TRUE(calc) << calc.error().to_string();
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(add_once(*calc, i, 1)) << "ask " << i;
    if (i % 5 == 0) ASSERT_TRUE(impostor.send_heartbeat());  // keeps itself alive
  }
  // A message beta sends to alpha's address reaches alpha, not the impostor.
  auto relay = alpha.net->lookup("127.0.0.1", beta.net->port(), "relay", 5s).value();
  demo::Ping ping;
  ping.set_seq(42);
  ASSERT_TRUE(relay.tell(ping));
  EXPECT_TRUE(wait_until([&] { return got->load() == 42; })) << "alpha's home got the relay's Pong";

  ASSERT_TRUE(impostor.send_heartbeat());
  const auto frames = impostor.read_for(300ms);
  EXPECT_FALSE(impostor.closed_by_node()) << "the impostor kept its connection alive";
  EXPECT_EQ(count_envelopes(frames), 0u) << "no REPLY, no TELL meant for alpha reached the impostor";
}

TEST_F(hostile, with_a_secret_a_client_without_it_is_refused_and_learns_nothing) {
  const std::string secret = shared_secret;
  auto beta = make("beta", {.secret = secret});
  const auto refused_before = beta.net->handshakes_refused();
  wire::envelope_view lookup;
  lookup.kind = wire::envelope_kind::lookup;
  lookup.receiver = "calc";
  lookup.correlation_id = 5;

  {  // No secret at all: a Hello without the secret flag, then a lookup.
    raw_peer raw(beta.net->port());
    ASSERT_TRUE(raw.connected());
    ASSERT_TRUE(raw.send_hello("raw", "127.0.0.1:1", /*secret=*/false));
    (void)raw.send_envelope(lookup);
    std::vector<owned_frame> seen;
    EXPECT_TRUE(raw.wait_closed(5s, &seen)) << "the node closes the connection";
    EXPECT_EQ(count_envelopes(seen), 0u) << "no answer to the lookup";
  }
  EXPECT_TRUE(wait_until([&] { return beta.net->handshakes_refused() >= refused_before + 1; }));

  {  // Claims the secret, proves a wrong one.
    raw_peer raw(beta.net->port());
    ASSERT_TRUE(raw.connected());
    ASSERT_TRUE(raw.send_hello("raw", "127.0.0.1:1", /*secret=*/true));
    ASSERT_TRUE(raw.read_node_hello());
    ASSERT_TRUE(raw.send_proof(raw.my_proof("not the shared secret!", "raw", "127.0.0.1:1")));
    (void)raw.send_envelope(lookup);
    std::vector<owned_frame> seen;
    EXPECT_TRUE(raw.wait_closed(5s, &seen)) << "the node closes the connection";
    EXPECT_EQ(count_envelopes(seen), 0u) << "no answer to the lookup";
  }
  EXPECT_TRUE(wait_until([&] { return beta.net->handshakes_refused() >= refused_before + 2; }));

  {  // Skips the Proof: a lookup right after the Hello.
    raw_peer raw(beta.net->port());
    ASSERT_TRUE(raw.connected());
    ASSERT_TRUE(raw.send_hello("raw", "127.0.0.1:1", /*secret=*/true));
    (void)raw.send_envelope(lookup);
    std::vector<owned_frame> seen;
    EXPECT_TRUE(raw.wait_closed(5s, &seen));
    EXPECT_EQ(count_envelopes(seen), 0u);
  }
  EXPECT_TRUE(wait_until([&] { return beta.net->handshakes_refused() >= refused_before + 3; }));

  {  // Control: the same client with the secret is answered (the refusals above are real).
    raw_peer raw(beta.net->port());
    ASSERT_TRUE(raw.connected());
    std::string why;
    ASSERT_TRUE(raw.handshake("raw", "127.0.0.1:1", secret, &why)) << why;
    ASSERT_TRUE(raw.send_envelope(lookup));
    auto seen = raw.read_until([](const owned_frame& f) { return f.kind == wire::frame_kind::envelope; }, 5s);
    ASSERT_FALSE(seen.empty());
    EXPECT_TRUE(seen.back().is(wire::envelope_kind::reply)) << seen.back().error_message;
    EXPECT_EQ(seen.back().correlation, 5u);
    EXPECT_EQ(seen.back().receiver, beta.path("calc"));
  }
}

// ------------------------------------------------------------ finding 4: authorization

TEST_F(hostile, remote_stop_is_refused_by_default_and_the_sender_counts_it) {
  auto alpha = make("alpha");
  auto beta = make("beta");  // default permissions
  auto victim = beta.sys->spawn_fn("victim", [](akt::context&) {}).value();
  auto remote = alpha.net->resolve(victim.path()).value();
  const auto dead_before = alpha.sys->dead_letters();
  EXPECT_TRUE(remote.stop()) << "sent; the refusal comes back as a FAILURE";
  ASSERT_TRUE(wait_until([&] { return alpha.sys->dead_letters() >= dead_before + 1; }))
      << "the refused stop is a dead letter at the sender";
  // beta answered after handling the STOP: the actor still runs.
  EXPECT_TRUE(victim.is_running());
  auto again = alpha.net->lookup("127.0.0.1", beta.net->port(), "victim", 5s);
  EXPECT_TRUE(again) << again.error().to_string();
}

TEST_F(hostile, a_remote_spawn_of_a_kind_not_listed_is_not_permitted) {
  struct times : akt::actor {
    void receive(akt::context& ctx) override { ctx.accept(); }
  };
  auto alpha = make("alpha");
  auto beta = make("beta");  // default: no kind is remotely spawnable
  beta.sys->registry().register_kind<times>("multiplier");
  auto m = alpha.net->spawn("127.0.0.1", beta.net->port(), "multiplier", "m1", 5s);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.code(), akt::errc::not_permitted) << m.error().to_string();
  EXPECT_NE(m.error().message().find("spawnable_kinds"), std::string::npos) << m.error().message();
  EXPECT_FALSE(beta.sys->lookup("m1")) << "nothing was spawned";

  // Listed, the same spawn works (the refusal above is the permission's).
  auto gamma = make("gamma", {.permissions = {.spawnable_kinds = {"multiplier"}}});
  gamma.sys->registry().register_kind<times>("multiplier");
  auto ok = alpha.net->spawn("127.0.0.1", gamma.net->port(), "multiplier", "m1", 5s);
  EXPECT_TRUE(ok) << ok.error().to_string();
}

TEST_F(hostile, watches_beyond_max_watches_per_peer_are_refused) {
  auto beta = make("beta", {.permissions = {.max_watches_per_peer = 3}});
  std::vector<akt::pid> targets;
  for (int i = 0; i < 5; ++i)
    targets.push_back(beta.sys->spawn_fn("t" + std::to_string(i), [](akt::context&) {}).value());
  raw_peer raw(beta.net->port());
  ASSERT_TRUE(raw.connected());
  std::string why;
  ASSERT_TRUE(raw.handshake("raw", "127.0.0.1:1", {}, &why)) << why;
  std::vector<std::string> watchers;
  for (int i = 0; i < 5; ++i) {
    watchers.push_back("akt://raw@127.0.0.1:1/w" + std::to_string(i));
    const std::string target = targets[i].path();
    wire::envelope_view w;
    w.kind = wire::envelope_kind::watch;
    w.receiver = target;
    w.sender = watchers.back();
    ASSERT_TRUE(raw.send_envelope(w));
  }
  std::vector<owned_frame> failures;
  auto seen = raw.read_until(
      [&](const owned_frame& f) {
        if (f.is(wire::envelope_kind::failure)) failures.push_back(f);
        return failures.size() == 2;
      },
      5s);
  ASSERT_EQ(failures.size(), 2u) << "the 4th and 5th watch are refused";
  for (const auto& f : failures) {
    EXPECT_EQ(f.error_code, static_cast<std::uint32_t>(akt::errc::not_permitted)) << f.error_message;
    EXPECT_NE(f.error_message.find("max_watches_per_peer"), std::string::npos) << f.error_message;
  }
  // The three watches it holds work: stopping every target tells exactly those three.
  ASSERT_TRUE(raw.send_heartbeat());
  for (auto& t : targets) ASSERT_TRUE(t.stop());
  std::vector<std::string> told;
  (void)raw.read_until(
      [&](const owned_frame& f) {
        if (f.is(wire::envelope_kind::terminated)) told.push_back(f.receiver);
        return false;
      },
      1s);
  std::sort(told.begin(), told.end());
  EXPECT_EQ(told, (std::vector<std::string>{watchers[0], watchers[1], watchers[2]}));
}

TEST_F(hostile, a_node_never_dials_an_address_an_unauthenticated_client_names) {
  auto beta = make("beta");
  raw_listener named;    // the "sender's node": nobody may connect here
  raw_listener claimed;  // the address the client's Hello claims
  ASSERT_NE(named.port(), 0);
  ASSERT_NE(claimed.port(), 0);
  const std::string victim = "akt://evil@" + named.address() + "/victim";
  // "keeper" remembers its first sender and tells it later, on the test's word.
  auto kept = std::make_shared<akt::pid>();
  auto kept_mu = std::make_shared<std::mutex>();
  auto keeper = beta.sys->spawn_fn("keeper", [kept, kept_mu](akt::context& ctx) {
    if (ctx.message<demo::Ping>()) {
      std::lock_guard g(*kept_mu);
      *kept = ctx.sender();
      demo::Pong r;
      r.set_seq(1);
      (void)ctx.tell(*kept, std::move(r));
    } else if (ctx.message<demo::Greet>()) {
      std::lock_guard g(*kept_mu);
      demo::Pong r;
      r.set_seq(2);
      (void)ctx.tell(*kept, std::move(r));
    }
  });
  ASSERT_TRUE(keeper);

  {
    raw_peer raw(beta.net->port());
    ASSERT_TRUE(raw.connected());
    std::string why;
    ASSERT_TRUE(raw.handshake("evil", claimed.address(), {}, &why)) << why;
    std::string payload;
    demo::Ping p;
    p.set_seq(7);
    p.SerializeToString(&payload);
    const std::string echo = beta.path("echo"), keeper_path = beta.path("keeper");
    wire::envelope_view ask;  // echo replies to the ask
    ask.kind = wire::envelope_kind::ask;
    ask.receiver = echo;
    ask.sender = victim;
    ask.type = "demo.Ping";
    ask.payload = payload;
    ask.correlation_id = 9;
    ASSERT_TRUE(raw.send_envelope(ask));
    wire::envelope_view tell = ask;  // echo replies to the sender of a tell
    tell.kind = wire::envelope_kind::tell;
    tell.correlation_id = 0;
    ASSERT_TRUE(raw.send_envelope(tell));
    wire::envelope_view keep = tell;
    keep.receiver = keeper_path;
    ASSERT_TRUE(raw.send_envelope(keep));
    // Every answer comes back over this connection.
    bool reply = false;
    int tells = 0;
    (void)raw.read_until(
        [&](const owned_frame& f) {
          reply |= f.is(wire::envelope_kind::reply) && f.correlation == 9;
          if (f.is(wire::envelope_kind::tell) && f.receiver == victim) ++tells;
          return reply && tells == 2;
        },
        5s);
    EXPECT_TRUE(reply) << "the ask's REPLY came back on the connection";
    EXPECT_EQ(tells, 2) << "echo's and keeper's Pongs to the named sender came back on the connection";
  }  // the client goes away

  // keeper now tells the sender it kept: its connection is gone and its
  // address unproved, so the tell is a dead letter, not a dial.
  ASSERT_TRUE(wait_until([&] {
    std::lock_guard g(*kept_mu);
    return static_cast<bool>(*kept);
  }));
  const auto dead_before = beta.sys->dead_letters();
  // The close is seen asynchronously: repeat the word until a tell is refused.
  EXPECT_TRUE(wait_until([&] {
    demo::Greet fire;
    (void)keeper->tell(fire);
    std::this_thread::sleep_for(5ms);  // pacing
    return beta.sys->dead_letters() > dead_before;
  })) << "keeper's tell to the vanished client is a dead letter";
  EXPECT_FALSE(named.connection_within(500ms)) << "beta dialled the address a sender path named";
  EXPECT_FALSE(claimed.connection_within(10ms)) << "beta dialled the address a Hello claimed";
  EXPECT_EQ(beta.net->connections_opened(), 1u) << "only the client's inbound connection";
}

// ------------------------------------------------------------ finding 5: handshake limits

TEST_F(hostile, a_connection_that_never_sends_a_hello_is_closed_at_the_handshake_deadline) {
  auto beta = make("beta", {.handshake_timeout = 300ms});
  const auto refused_before = beta.net->handshakes_refused();
  raw_peer raw(beta.net->port());
  ASSERT_TRUE(raw.connected());
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<owned_frame> seen;
  ASSERT_TRUE(raw.wait_closed(8s, &seen)) << "closed by the node";
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, 250ms) << "closed by the deadline, not at once";
  EXPECT_LT(took, 5s) << "handshake_timeout is 300 ms";
  EXPECT_TRUE(wait_until([&] { return beta.net->handshakes_refused() >= refused_before + 1; }));
}

TEST_F(hostile, a_frame_over_4_kib_before_the_handshake_closes_the_connection) {
  auto beta = make("beta");
  const auto rejected_before = beta.net->frames_rejected();
  {
    raw_peer raw(beta.net->port());
    ASSERT_TRUE(raw.connected());
    // A 4097-byte frame announced, 100 bytes of it sent: refused on the prefix, nothing buffered.
    std::string bytes = {0, 0, 0x10, 0x01};
    bytes.append(100, 'x');
    ASSERT_TRUE(raw.send_bytes(bytes));
    EXPECT_TRUE(raw.wait_closed(5s)) << "closed without waiting for the other 3997 bytes";
  }
  EXPECT_TRUE(wait_until([&] { return beta.net->frames_rejected() >= rejected_before + 1; }));
  {
    // The 4 KiB limit ends with the handshake: a 64 KiB TELL after the Hello is delivered.
    auto got = std::make_shared<std::atomic<std::size_t>>(0);
    ASSERT_TRUE(beta.sys->spawn_fn("big", [got](akt::context& ctx) {
      if (auto* g = ctx.message<demo::Greet>()) got->store(g->name().size());
    }));
    raw_peer raw(beta.net->port());
    ASSERT_TRUE(raw.connected());
    std::string why;
    ASSERT_TRUE(raw.handshake("raw", "127.0.0.1:1", {}, &why)) << why;
    demo::Greet g;
    g.set_name(std::string(65536, 'g'));
    std::string payload;
    g.SerializeToString(&payload);
    const std::string big = beta.path("big");
    wire::envelope_view tell;
    tell.receiver = big;
    tell.type = "demo.Greet";
    tell.payload = payload;
    ASSERT_TRUE(raw.send_envelope(tell));
    EXPECT_TRUE(wait_until([&] { return got->load() == 65536; })) << "after the handshake, big frames pass";
  }
}

TEST_F(hostile, an_oversized_or_unprintable_tracestate_is_dropped_and_the_message_and_connection_kept) {
  auto beta = make("beta");
  struct seen_trace {
    long long seq;
    std::string traceparent, tracestate;
  };
  auto mu = std::make_shared<std::mutex>();
  auto seen = std::make_shared<std::vector<seen_trace>>();
  ASSERT_TRUE(beta.sys->spawn_fn("traced", [mu, seen](akt::context& ctx) {
    if (auto* p = ctx.message<demo::Ping>()) {
      const akt::trace_context* tc = ctx.trace();
      std::lock_guard g(*mu);
      seen->push_back({p->seq(), tc ? tc->traceparent() : "", tc ? tc->tracestate() : ""});
    }
  }));
  raw_peer raw(beta.net->port());
  ASSERT_TRUE(raw.connected());
  std::string why;
  ASSERT_TRUE(raw.handshake("raw", "127.0.0.1:1", {}, &why)) << why;
  const std::string traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const std::string states[] = {std::string(513, 'a'),          // one byte over the bound
                                "ok=1,\r\nX-Injected: header",  // not printable ASCII
                                std::string(512, 'b')};         // at the bound: kept
  const std::string path = beta.path("traced");
  for (int i = 0; i < 3; ++i) {
    demo::Ping ping;
    ping.set_seq(i);
    std::string payload;
    ping.SerializeToString(&payload);
    wire::envelope_view tell;
    tell.receiver = path;
    tell.type = "demo.Ping";
    tell.payload = payload;
    tell.traceparent = traceparent;
    tell.tracestate = states[i];
    ASSERT_TRUE(raw.send_envelope(tell));
  }
  ASSERT_TRUE(wait_until([&] {
    std::lock_guard g(*mu);
    return seen->size() == 3;
  })) << "every message arrived";
  std::lock_guard g(*mu);
  for (const auto& s : *seen) {
    EXPECT_EQ(s.traceparent, traceparent) << "the traceparent is kept, seq " << s.seq;
    EXPECT_EQ(s.tracestate, s.seq == 2 ? states[2] : std::string()) << "seq " << s.seq;
  }
  EXPECT_EQ(beta.net->frames_rejected(), 0u);
  ASSERT_TRUE(raw.send_heartbeat());
  (void)raw.read_for(100ms);
  EXPECT_FALSE(raw.closed_by_node()) << "the connection keeps serving";
}

TEST_F(hostile, max_connections_is_enforced_and_a_healthy_peer_keeps_being_served) {
  auto alpha = make("alpha");
  auto beta = make("beta", {.max_connections = 3});
  auto calc = alpha.net->lookup("127.0.0.1", beta.net->port(), "calc", 5s);  // inbound connection 1
  ASSERT_TRUE(calc) << calc.error().to_string();
  std::vector<std::unique_ptr<raw_peer>> idle;
  for (int i = 0; i < 2; ++i) {  // inbound connections 2 and 3: accepted (beta says Hello), then silent
    idle.push_back(std::make_unique<raw_peer>(beta.net->port()));
    ASSERT_TRUE(idle.back()->connected());
    ASSERT_TRUE(idle.back()->read_node_hello()) << "connection " << i + 2 << " is accepted";
  }
  const auto refused_before = beta.net->handshakes_refused();
  {
    raw_peer fourth(beta.net->port());  // TCP connects (the kernel accepts), then beta closes it
    ASSERT_TRUE(fourth.connected());
    std::vector<owned_frame> seen;
    EXPECT_TRUE(fourth.wait_closed(5s, &seen)) << "the 4th connection is refused";
    EXPECT_TRUE(seen.empty()) << "without a Hello";
  }
  EXPECT_TRUE(wait_until([&] { return beta.net->handshakes_refused() >= refused_before + 1; }));
  // The healthy peer's connection keeps working meanwhile.
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(add_once(*calc, i, i)) << "ask " << i;
  // Once the idle ones go, new connections are accepted again.
  idle.clear();
  EXPECT_TRUE(wait_until([&] {
    raw_peer again(beta.net->port());
    return again.connected() && again.read_node_hello(200ms);
  })) << "beta accepts again below the limit";
}

// ------------------------------------------------------------ finding 6: flow control

TEST_F(hostile, a_flooded_slow_actor_pushes_back_and_its_neighbour_keeps_answering) {
  constexpr std::size_t window = 256 * 1024;  // the smallest window allowed
  constexpr std::size_t payload_bytes = 1000;
  // Messages in flight are at most window / frame size (+1 admitted at the
  // edge); a frame is larger than its payload, so this bounds the mailbox.
  constexpr std::size_t mailbox_bound = window / payload_bytes;
  auto alpha = make("alpha", {.flow_window_bytes = window});
  auto beta = make("beta", {}, /*workers=*/4);
  auto release = std::make_shared<std::atomic<bool>>(false);
  auto taken = std::make_shared<std::atomic<std::size_t>>(0);
  auto slow = beta.sys->spawn_fn("slow", [release, taken](akt::context& ctx) {
    if (ctx.message<demo::Greet>()) {
      taken->fetch_add(1);
      const auto until = std::chrono::steady_clock::now() + 20s;  // bounded: never hangs the suite
      while (!release->load() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
    }
  });
  ASSERT_TRUE(slow);
  auto remote_slow = alpha.net->lookup("127.0.0.1", beta.net->port(), "slow", 5s).value();
  auto calc = alpha.net->lookup("127.0.0.1", beta.net->port(), "calc", 5s).value();

  demo::Greet g;
  g.set_name(std::string(payload_bytes, 'f'));
  std::size_t ok = 0;
  akt::status last;
  for (int i = 0; i < 100'000 && last; ++i) {
    last = remote_slow.tell(g);
    if (last) ++ok;
  }
  ASSERT_FALSE(last) << "100,000 KB of tells to a blocked actor all returned ok";
  EXPECT_EQ(last.code(), akt::errc::backpressure) << last.error().to_string();
  EXPECT_GE(alpha.net->backpressure_events(), 1u);
  EXPECT_LE(ok, mailbox_bound + 1) << "tells admitted beyond the window";

  // The admitted ones all arrive; the mailbox holds them, within the bound.
  std::size_t most = 0;
  EXPECT_TRUE(wait_until([&] {
    const auto in_box = slow->metrics().mailbox_size;
    most = std::max<std::size_t>(most, in_box);
    return taken->load() == 1 && in_box + 1 == ok;
  })) << "mailbox "
      << slow->metrics().mailbox_size << ", admitted " << ok;
  EXPECT_LE(most, mailbox_bound) << "the slow actor's mailbox stays within flow_window_bytes / message size";

  // Meanwhile: tells to the slow actor keep being refused, and calc on the
  // same connection answers promptly.
  std::size_t more_ok = 0;
  for (int round = 0; round < 10; ++round) {
    for (int i = 0; i < 100; ++i) more_ok += remote_slow.tell(g) ? 1 : 0;
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(add_once(calc, round, 2)) << "round " << round;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s) << "calc's ask waited behind the slow actor";
    most = std::max<std::size_t>(most, slow->metrics().mailbox_size);
  }
  EXPECT_EQ(more_ok, 0u) << "no credit while the slow actor takes nothing";
  EXPECT_LE(most, mailbox_bound);

  // Released, the actor drains and the window opens again.
  release->store(true);
  EXPECT_TRUE(wait_until([&] { return remote_slow.tell(g).has_value(); })) << "credit came back";
  EXPECT_TRUE(wait_until([&] { return taken->load() == ok + 1; }));
}

// ------------------------------------------------------------ interned strings

TEST_F(hostile, replies_to_a_peer_that_reads_slowly_wait_in_their_own_bound_not_the_tell_queues) {
  // A peer asks twelve times for 2 MiB and reads nothing until every reply
  // was made: 24 MiB, more than the kernel's socket buffers hold, so most
  // of it waits in the node's queue — far over the tell queue's bound
  // (max_outbound_bytes, 2 MiB). Replies have their own bound (two frames
  // of max_frame_bytes): none is dropped, all arrive once the peer reads.
  // (Heartbeats every 10 s: the peer says nothing while it is slow, and a
  // sanitizer build may take longer than 3 default intervals to make and
  // read 24 MiB.)
  auto beta = make("beta", {.heartbeat_interval = 10s});
  constexpr int asks = 12;
  constexpr std::size_t reply_bytes = 2 * 1024 * 1024;
  auto answered = std::make_shared<std::atomic<int>>(0);
  ASSERT_TRUE(beta.sys->spawn_fn("big", [answered](akt::context& ctx) {
    if (ctx.message<demo::Greet>()) {
      demo::Greet r;
      r.set_name(std::string(reply_bytes, 'r'));
      (void)ctx.reply(std::move(r));  // queued (or refused) before reply returns
      answered->fetch_add(1);
    }
  }));
  raw_peer raw(beta.net->port());
  std::string why;
  ASSERT_TRUE(raw.handshake("raw", "127.0.0.1:1", {}, &why)) << why;
  const std::string big = beta.path("big");
  std::string payload;
  demo::Greet().SerializeToString(&payload);
  for (int i = 1; i <= asks; ++i) {
    wire::envelope_view ask;
    ask.kind = wire::envelope_kind::ask;
    ask.receiver = big;
    ask.type = "demo.Greet";
    ask.payload = payload;
    ask.correlation_id = static_cast<std::uint64_t>(i);
    ASSERT_TRUE(raw.send_envelope(ask));
  }
  ASSERT_TRUE(wait_until([&] { return answered->load() == asks; })) << "the actor answered every ask";
  const auto dead = beta.sys->dead_letters();
  std::set<std::uint64_t> replied;
  (void)raw.read_until(
      [&](const owned_frame& f) {
        if (f.is(wire::envelope_kind::reply) && f.payload.size() > reply_bytes) replied.insert(f.correlation);
        return replied.size() == asks;
      },
      20s);
  EXPECT_EQ(replied.size(), static_cast<std::size_t>(asks)) << "replies refused while the peer was slow";
  EXPECT_EQ(dead, 0u) << "a reply was dropped as a dead letter";
}

TEST_F(hostile, a_version_2_peer_without_interned_ids_is_refused_at_the_hello) {
  auto beta = make("beta");
  const auto refused_before = beta.net->handshakes_refused();
  raw_peer raw(beta.net->port());
  ASSERT_TRUE(raw.connected());
  const std::string nonce = wire::fresh_nonce();
  std::string hello;
  wire::append_hello_frame(
      hello,
      wire::hello_view{.protocol_version = 2, .system = "old", .address = "127.0.0.1:1", .nonce = nonce});
  ASSERT_TRUE(raw.send_bytes(hello));
  EXPECT_TRUE(raw.wait_closed(5s)) << "a version 2 peer would not understand ids";
  EXPECT_TRUE(wait_until([&] { return beta.net->handshakes_refused() == refused_before + 1; }));
}

TEST_F(hostile, interned_receiver_sender_and_type_ids_are_served_both_ways) {
  auto beta = make("beta");
  raw_peer raw(beta.net->port());
  ASSERT_TRUE(raw.connected());
  std::string why;
  ASSERT_TRUE(raw.handshake("raw", "127.0.0.1:1", {}, &why)) << why;
  const std::string echo = beta.path("echo");
  const std::string me = "akt://raw@127.0.0.1:1/me";
  auto ping = [&](int seq, bool define) {
    demo::Ping p;
    p.set_seq(seq);
    std::string payload;
    p.SerializeToString(&payload);
    wire::envelope_view tell;
    tell.receiver = define ? std::string_view(echo) : std::string_view();
    tell.receiver_id = 1;
    tell.sender = define ? std::string_view(me) : std::string_view();
    tell.sender_id = 1;
    tell.type = define ? "demo.Ping" : "";
    tell.type_id = 1;
    tell.payload = payload;
    return raw.send_envelope(tell);
  };
  auto pong = [&] {
    auto frames = raw.read_until([](const owned_frame& f) { return f.is(wire::envelope_kind::tell); }, 5s);
    return frames.empty() || !frames.back().is(wire::envelope_kind::tell) ? owned_frame{} : frames.back();
  };
  ASSERT_TRUE(ping(1, /*define=*/true));
  const owned_frame first = pong();
  ASSERT_TRUE(first.is(wire::envelope_kind::tell)) << "echo answered the sender whose path was defined";
  EXPECT_EQ(first.sent_receiver, me) << "the node's first frame to a receiver defines it";
  EXPECT_EQ(first.receiver_id, 1u);
  EXPECT_EQ(first.sent_type, "demo.Pong");
  EXPECT_EQ(first.type_id, 1u);
  EXPECT_EQ(first.sent_sender, echo);
  EXPECT_EQ(first.sender_id, 1u);
  ASSERT_TRUE(ping(2, /*define=*/false));
  const owned_frame second = pong();
  ASSERT_TRUE(second.is(wire::envelope_kind::tell)) << "ids alone reach the same actor";
  EXPECT_TRUE(second.sent_receiver.empty()) << "later frames carry the ids alone";
  EXPECT_EQ(second.receiver_id, 1u);
  EXPECT_EQ(second.receiver, me);
  EXPECT_TRUE(second.sent_type.empty());
  EXPECT_EQ(second.type_id, 1u);
  EXPECT_EQ(second.type, "demo.Pong");
  EXPECT_TRUE(second.sent_sender.empty());
  EXPECT_EQ(second.sender_id, 1u);
  EXPECT_EQ(second.sender, echo);
  demo::Pong got;
  ASSERT_TRUE(got.ParseFromString(second.payload));
  EXPECT_EQ(got.seq(), 2);
  EXPECT_TRUE(raw.interning_error().empty()) << raw.interning_error();

  // An ask by ids alone; its REPLY names the type by the id the node defined.
  demo::Ping p;
  p.set_seq(3);
  std::string payload;
  p.SerializeToString(&payload);
  wire::envelope_view ask;
  ask.kind = wire::envelope_kind::ask;
  ask.receiver_id = 1;
  ask.sender_id = 1;
  ask.type_id = 1;
  ask.payload = payload;
  ask.correlation_id = 11;
  ASSERT_TRUE(raw.send_envelope(ask));
  auto frames = raw.read_until([](const owned_frame& f) { return f.is(wire::envelope_kind::reply); }, 5s);
  ASSERT_FALSE(frames.empty());
  const owned_frame& reply = frames.back();
  ASSERT_TRUE(reply.is(wire::envelope_kind::reply)) << raw.interning_error();
  EXPECT_EQ(reply.correlation, 11u);
  EXPECT_EQ(reply.type_id, 1u);
  EXPECT_TRUE(reply.sent_type.empty()) << "the reply's type by id";
  EXPECT_EQ(reply.type, "demo.Pong");
  ASSERT_TRUE(got.ParseFromString(reply.payload));
  EXPECT_EQ(got.seq(), 3);
  EXPECT_EQ(beta.net->frames_rejected(), 0u);
}

TEST_F(hostile, interned_ids_that_break_the_rules_close_that_connection_only) {
  auto alpha = make("alpha");
  auto beta = make("beta");
  auto calc = alpha.net->lookup("127.0.0.1", beta.net->port(), "calc", 5s);
  ASSERT_TRUE(calc) << calc.error().to_string();
  ASSERT_TRUE(add_once(*calc, 1, 2));  // a healthy peer, interning as it goes

  const std::string echo = beta.path("echo");
  const std::string other = beta.path("calc");
  const std::string huge(wire::max_interned_bytes + 1, 'x');
  struct attack {
    const char* what;
    std::vector<wire::envelope_view> frames;  // the last one breaks the rules
  };
  auto tell = [](std::string_view receiver, std::uint32_t receiver_id, std::string_view type,
                 std::uint32_t type_id) {
    wire::envelope_view e;
    e.receiver = receiver;
    e.receiver_id = receiver_id;
    e.type = type;
    e.type_id = type_id;
    return e;
  };
  const attack attacks[] = {
      {"an id used before it was defined", {tell({}, 1, "demo.Ping", 0)}},
      {"a type id used before it was defined", {tell(echo, 1, {}, 3)}},
      {"an id over the bound", {tell(echo, wire::max_interned_ids + 1, "demo.Ping", 0)}},
      {"a definition out of order", {tell(echo, 2, "demo.Ping", 0)}},
      {"an id defined again as another string",
       {tell(echo, 1, "demo.Ping", 0), tell(other, 1, "demo.Ping", 0)}},
      {"a definition over the string bound", {tell(huge, 1, "demo.Ping", 0)}},
  };
  for (const attack& a : attacks) {
    SCOPED_TRACE(a.what);
    const auto rejected_before = beta.net->frames_rejected();
    raw_peer raw(beta.net->port());
    ASSERT_TRUE(raw.connected());
    std::string why;
    ASSERT_TRUE(raw.handshake("raw", "127.0.0.1:1", {}, &why)) << why;
    for (const auto& e : a.frames) ASSERT_TRUE(raw.send_envelope(e));
    EXPECT_TRUE(raw.wait_closed(5s)) << "the node closed the connection";
    EXPECT_TRUE(wait_until([&] { return beta.net->frames_rejected() == rejected_before + 1; }))
        << "counted as a rejected frame";
    EXPECT_TRUE(add_once(*calc, 3, 4)) << "the other connection keeps working";
  }
}

// ------------------------------------------------------------ finding 7: remote dead letters

TEST_F(hostile, a_tell_to_an_unknown_remote_name_is_a_dead_letter_on_both_sides) {
  auto alpha = make("alpha");
  auto beta = make("beta");
  auto ghost = alpha.net->resolve(beta.path("ghost")).value();
  ASSERT_TRUE(alpha.net->lookup("127.0.0.1", beta.net->port(), "calc", 5s));  // connected
  const auto a0 = alpha.sys->dead_letters();
  const auto b0 = beta.sys->dead_letters();
  EXPECT_TRUE(ghost.tell(demo::Ping{})) << "a tell does not wait for the other side";
  EXPECT_TRUE(wait_until([&] { return beta.sys->dead_letters() == b0 + 1; }))
      << "counted where it was refused";
  EXPECT_TRUE(wait_until([&] { return alpha.sys->dead_letters() == a0 + 1; }))
      << "and by the sender, told by a FAILURE";
  EXPECT_EQ(beta.sys->dead_letters(), b0 + 1);
  EXPECT_EQ(alpha.sys->dead_letters(), a0 + 1);
}

TEST_F(hostile, tells_to_a_node_that_is_gone_are_dead_letters_at_the_sender) {
  auto alpha = make("alpha");
  auto beta = make("beta");
  auto sink = alpha.net->lookup("127.0.0.1", beta.net->port(), "echo", 5s).value();
  ASSERT_TRUE(sink.tell(demo::Ping{}));
  akt::inbox events(*alpha.sys);
  ASSERT_TRUE(alpha.sys->subscribe(events.self()));
  const std::string beta_address = beta.net->address();
  ASSERT_TRUE(beta.sys->stop());  // beta is gone
  bool down = false;
  for (int i = 0; i < 1000 && !down; ++i) {
    auto e = events.receive<akt::system_event>(10s);
    ASSERT_TRUE(e) << "no node_down: " << e.error().to_string();
    down = e->kind == akt::event_kind::node_down && e->detail.starts_with(beta_address);
  }
  const auto a0 = alpha.sys->dead_letters();
  constexpr int n = 5;
  int refused = 0;
  for (int i = 0; i < n; ++i) refused += sink.tell(demo::Ping{}) ? 0 : 1;
  // Refused at once (the node is unreachable) or queued on a new connection
  // that fails: either way each one is counted, once.
  EXPECT_TRUE(wait_until([&] { return alpha.sys->dead_letters() >= a0 + n; }))
      << alpha.sys->dead_letters() - a0 << " of " << n << " counted (" << refused << " refused at once)";
  EXPECT_EQ(alpha.sys->dead_letters(), a0 + n);
}

TEST_F(hostile, a_tell_refused_by_a_full_remote_mailbox_is_counted_on_both_sides) {
  auto alpha = make("alpha");
  auto beta = make("beta", {}, /*workers=*/4);
  auto release = std::make_shared<std::atomic<bool>>(false);
  auto busy = std::make_shared<std::atomic<bool>>(false);
  auto tiny = beta.sys->spawn_fn(akt::spawn_options{.name = "tiny", .mailbox = {.capacity = 1}},
                                 [release, busy](akt::context& ctx) {
                                   if (!ctx.message<demo::Ping>()) return;
                                   busy->store(true);
                                   const auto until = std::chrono::steady_clock::now() + 20s;
                                   while (!release->load() && std::chrono::steady_clock::now() < until)
                                     std::this_thread::sleep_for(1ms);
                                 });
  ASSERT_TRUE(tiny);
  auto remote = alpha.net->lookup("127.0.0.1", beta.net->port(), "tiny", 5s).value();
  ASSERT_TRUE(remote.tell(demo::Ping{}));
  ASSERT_TRUE(wait_until([&] { return busy->load(); })) << "tiny holds the first message";
  const auto a0 = alpha.sys->dead_letters();
  const auto b0 = beta.sys->dead_letters();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(remote.tell(demo::Ping{}));  // one fits, three do not
  EXPECT_TRUE(wait_until([&] { return beta.sys->dead_letters() >= b0 + 3; }))
      << beta.sys->dead_letters() - b0 << " counted at beta";
  EXPECT_TRUE(wait_until([&] { return alpha.sys->dead_letters() >= a0 + 3; }))
      << alpha.sys->dead_letters() - a0 << " counted at alpha";
  EXPECT_EQ(beta.sys->dead_letters(), b0 + 3);
  EXPECT_EQ(alpha.sys->dead_letters(), a0 + 3);
  // An ask refused by the full mailbox fails at once, saying so (the asker
  // has the error: counted at beta only).
  const auto t0 = std::chrono::steady_clock::now();
  auto r = remote.ask(demo::Ping{}, 8s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.code(), akt::errc::mailbox_full) << r.error().to_string();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s) << "the asker waited for its timeout";
  EXPECT_TRUE(wait_until([&] { return beta.sys->dead_letters() >= b0 + 4; }));
  release->store(true);
}

// ------------------------------------------------------------ finding 8: stale delivery cache

TEST_F(hostile, a_reused_name_gets_the_first_tell_and_ask_after_its_reuse) {
  auto alpha = make("alpha");
  auto beta = make("beta");
  auto spawn_worker = [&](int generation, std::shared_ptr<std::atomic<long long>> got) {
    return beta.sys->spawn_fn("worker", [generation, got](akt::context& ctx) {
      if (auto* p = ctx.message<demo::Ping>()) {
        got->store(p->seq());
        demo::Pong r;
        r.set_seq(generation);
        (void)ctx.reply(std::move(r));
      }
    });
  };
  auto got1 = std::make_shared<std::atomic<long long>>(-1);
  auto first = spawn_worker(1, got1);
  ASSERT_TRUE(first);
  auto worker = alpha.net->resolve(beta.path("worker")).value();
  demo::Ping p;
  p.set_seq(10);
  ASSERT_TRUE(worker.tell(p));  // warms beta's delivery cache for this path
  ASSERT_TRUE(wait_until([&] { return got1->load() == 10; }));
  auto r1 = worker.ask<demo::Pong>(p, 5s);
  ASSERT_TRUE(r1) << r1.error().to_string();
  EXPECT_EQ(r1->seq(), 1);

  ASSERT_TRUE(first->stop());
  ASSERT_TRUE(first->wait_stopped(5s));
  auto got2 = std::make_shared<std::atomic<long long>>(-1);
  ASSERT_TRUE(spawn_worker(2, got2)) << "the name is reused";
  p.set_seq(20);
  ASSERT_TRUE(worker.tell(p));
  EXPECT_TRUE(wait_until([&] { return got2->load() == 20; }))
      << "the first tell after reuse reached the new actor";
  auto r2 = worker.ask<demo::Pong>(p, 5s);
  ASSERT_TRUE(r2) << "the first ask after reuse: " << r2.error().to_string();
  EXPECT_EQ(r2->seq(), 2);

  // And when the first message after reuse is an ask.
  auto current = beta.sys->lookup("worker").value();
  ASSERT_TRUE(current.stop());
  ASSERT_TRUE(current.wait_stopped(5s));
  auto got3 = std::make_shared<std::atomic<long long>>(-1);
  ASSERT_TRUE(spawn_worker(3, got3));
  auto r3 = worker.ask<demo::Pong>(p, 5s);
  ASSERT_TRUE(r3) << r3.error().to_string();
  EXPECT_EQ(r3->seq(), 3);
}

// ------------------------------------------------------------ finding 9: malformed addresses

TEST_F(hostile, a_malformed_address_is_refused_where_it_is_given_saying_what_is_wrong) {
  auto alpha = make("alpha");
  struct bad {
    std::string path;
    std::string says;
  };
  const std::vector<bad> paths = {
      {"akt://sys@127.0.0.1:port/name", "'port' is not a number"},
      {"akt://sys@127.0.0.1:99999/name", "outside 1..65535"},
      {"akt://sys@127.0.0.1:0/name", "outside 1..65535"},
      {"akt://sys@localhost:4000/name", "not an IP address"},
      {"akt://sys@127.0.0.1/name", "no ':port'"},
      {"akt://sys@127.0.0.1:4000/", "empty actor name"},
  };
  for (const auto& b : paths) {
    auto r = alpha.net->resolve(b.path);
    ASSERT_FALSE(r) << b.path << " was accepted";
    EXPECT_EQ(r.code(), akt::errc::invalid_argument) << b.path;
    EXPECT_NE(r.error().message().find(b.says), std::string::npos) << b.path << ": " << r.error().message();
    auto through_system = alpha.sys->lookup(b.path);  // the system's lookup asks remoting
    ASSERT_FALSE(through_system) << b.path;
    EXPECT_EQ(through_system.code(), akt::errc::invalid_argument) << through_system.error().to_string();
  }
  auto zero = alpha.net->lookup("127.0.0.1", 0, "calc", 1s);
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.code(), akt::errc::invalid_argument);
  EXPECT_NE(zero.error().message().find("outside 1..65535"), std::string::npos) << zero.error().message();
  auto named = alpha.net->lookup("localhost", 4000, "calc", 1s);
  ASSERT_FALSE(named);
  EXPECT_EQ(named.code(), akt::errc::invalid_argument);
  EXPECT_NE(named.error().message().find("not an IP address"), std::string::npos) << named.error().message();
  auto spawned = alpha.net->spawn("127.0.0.1", 0, "kind", "x", 1s);
  ASSERT_FALSE(spawned);
  EXPECT_EQ(spawned.code(), akt::errc::invalid_argument);
  EXPECT_EQ(alpha.net->connections_opened(), 0u) << "nothing was dialled";
}

// ------------------------------------------------------------ binding without authentication

TEST_F(hostile, without_authentication_a_node_binds_only_loopback_unless_insecure_is_named) {
  auto sys = akt::actor_system::create("exposed", {.logger = akt::make_discard_logger()}).value();
  ASSERT_TRUE(sys->start());
  auto open = akt::remote::remoting::enable(*sys, {.host = "0.0.0.0"});
  ASSERT_FALSE(open) << "bound 0.0.0.0 with no authentication";
  EXPECT_EQ(open.code(), akt::errc::invalid_argument);
  EXPECT_NE(open.error().message().find("needs authentication"), std::string::npos) << open.error().message();
  EXPECT_NE(open.error().message().find("insecure_no_authentication"), std::string::npos)
      << open.error().message();

  auto short_secret = akt::remote::remoting::enable(*sys, {.host = "0.0.0.0", .secret = "fifteen bytes!!"});
  ASSERT_FALSE(short_secret) << "a 15-byte secret was accepted";
  EXPECT_EQ(short_secret.code(), akt::errc::invalid_argument);
  EXPECT_NE(short_secret.error().message().find("at least 16"), std::string::npos)
      << short_secret.error().message();
  auto short_on_loopback = akt::remote::remoting::enable(*sys, {.secret = "short"});
  ASSERT_FALSE(short_on_loopback) << "a short secret is refused on loopback too";

  auto insecure =
      akt::remote::remoting::enable(*sys, {.host = "0.0.0.0", .insecure_no_authentication = true});
  ASSERT_TRUE(insecure) << "the named insecure mode binds: " << insecure.error().to_string();
  ASSERT_TRUE(sys->stop());

  auto secured_sys = akt::actor_system::create("secured", {.logger = akt::make_discard_logger()}).value();
  ASSERT_TRUE(secured_sys->start());
  auto secured =
      akt::remote::remoting::enable(*secured_sys, {.host = "0.0.0.0", .secret = "sixteen bytes!!!"});
  EXPECT_TRUE(secured) << "16 bytes of secret are enough: " << secured.error().to_string();
  ASSERT_TRUE(secured_sys->stop());
}

// ------------------------------------------------------------ shared secret between nodes

TEST_F(hostile, nodes_sharing_a_secret_tell_ask_lookup_and_watch) {
  auto alpha = make("alpha", {.secret = shared_secret});
  auto beta = make("beta", {.secret = shared_secret});
  auto got = std::make_shared<std::atomic<long long>>(-1);
  auto sink = beta.sys->spawn_fn("sink", [got](akt::context& ctx) {
    if (auto* p = ctx.message<demo::Ping>()) got->store(p->seq());
  });
  ASSERT_TRUE(sink);
  auto calc = alpha.net->lookup("127.0.0.1", beta.net->port(), "calc", 5s);
  ASSERT_TRUE(calc) << calc.error().to_string();
  ASSERT_TRUE(add_once(*calc, 20, 22));
  auto remote_sink = alpha.net->resolve(sink->path()).value();
  demo::Ping p;
  p.set_seq(5);
  ASSERT_TRUE(remote_sink.tell(p));
  EXPECT_TRUE(wait_until([&] { return got->load() == 5; }));
  akt::testkit::probe watcher(*alpha.sys);
  ASSERT_TRUE(watcher.watch(remote_sink));
  ASSERT_TRUE(add_once(*calc, 1, 1));  // the WATCH went out before this ask on the same connection
  ASSERT_TRUE(sink->stop());
  EXPECT_TRUE(watcher.expect_terminated(remote_sink, 5s));
  // Authenticated both ways: beta may dial alpha back by its proved address.
  auto home = std::make_shared<std::atomic<long long>>(-1);
  ASSERT_TRUE(alpha.sys->spawn_fn("home", [home](akt::context& ctx) {
    if (auto* q = ctx.message<demo::Ping>()) home->store(q->seq());
  }));
  auto back = beta.net->resolve(alpha.path("home")).value();
  p.set_seq(6);
  ASSERT_TRUE(back.tell(p));
  EXPECT_TRUE(wait_until([&] { return home->load() == 6; }));
  EXPECT_EQ(alpha.net->handshakes_refused(), 0u);
  EXPECT_EQ(beta.net->handshakes_refused(), 0u);
}

TEST_F(hostile, nodes_with_different_secrets_or_one_without_cannot_talk) {
  auto alpha = make("alpha", {.secret = shared_secret});
  auto beta = make("beta", {.secret = std::string("another secret of enough bytes")});
  auto plain = make("plain");
  const auto t0 = std::chrono::steady_clock::now();
  auto calc = alpha.net->lookup("127.0.0.1", beta.net->port(), "calc", 5s);
  ASSERT_FALSE(calc) << "a lookup across different secrets succeeded";
  EXPECT_EQ(calc.code(), akt::errc::dead_actor) << calc.error().to_string();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s) << "refused at the handshake, not at the timeout";
  EXPECT_TRUE(
      wait_until([&] { return alpha.net->handshakes_refused() + beta.net->handshakes_refused() >= 1; }));

  auto from_plain = plain.net->lookup("127.0.0.1", alpha.net->port(), "calc", 5s);
  ASSERT_FALSE(from_plain) << "a node without the secret looked up an actor";
  EXPECT_EQ(from_plain.code(), akt::errc::dead_actor) << from_plain.error().to_string();
  auto to_plain = alpha.net->lookup("127.0.0.1", plain.net->port(), "calc", 5s);
  ASSERT_FALSE(to_plain) << "a node with a secret accepted a peer without one";
  EXPECT_EQ(to_plain.code(), akt::errc::dead_actor) << to_plain.error().to_string();
}

}  // namespace
