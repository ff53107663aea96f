// Remoting between actor systems in one process, over real TCP on 127.0.0.1.
#include <akt/remote/remoting.hpp>
#include <akt/testkit/proc.hpp>

#include <gtest/gtest.h>

#include <google/protobuf/duration.pb.h>
#include <asio.hpp>

#include <sched.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "codec.hpp"
#include "messages.pb.h"
#include "raw_peer.hpp"

namespace {

using namespace std::chrono_literals;

struct not_protobuf {
  int n;
};

std::unique_ptr<akt::actor_system> start(const char* name) {
  auto sys = akt::actor_system::create(name, {.logger = akt::make_discard_logger()}).value();
  EXPECT_TRUE(sys->start());
  auto& types = sys->registry();  // per system: each registers what it decodes
  types.register_message<demo::Ping>();
  types.register_message<demo::Pong>();
  types.register_message<demo::Add>();
  types.register_message<demo::Sum>();
  types.register_message<demo::Greet>();
  return sys;
}

using akt_test::wait_until;

class remote_test : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = start("alpha");
    b_ = start("beta");
    na_ = akt::remote::remoting::enable(*a_).value();
    // beta lets its peers stop its actors and spawn the kinds these tests use.
    nb_ = akt::remote::remoting::enable(
              *b_, {.permissions = {.stop = true, .spawnable_kinds = {"multiplier", "slow", "no-such-kind"}}})
              .value();
    // beta runs a calculator (tests add echoes of their own: echo_on_beta).
    (void)b_->spawn_fn("calc", [](akt::context& ctx) {
      if (auto* add = ctx.message<demo::Add>()) {
        demo::Sum s;
        s.set_value(add->a() + add->b());
        (void)ctx.reply(std::move(s));
      }
    });
  }
  // An actor on beta answering each Ping with a Pong of its seq, as alpha sees it.
  akt::pid echo_on_beta(const std::string& name) {
    auto pong = b_->spawn_fn(name, [](akt::context& ctx) {
      if (auto* p = ctx.message<demo::Ping>()) {
        demo::Pong r;
        r.set_seq(p->seq());
        (void)ctx.reply(std::move(r));
      }
    });
    EXPECT_TRUE(pong);
    if (!pong) return {};
    auto resolved = na_->resolve(pong->path());
    EXPECT_TRUE(resolved) << resolved.error().to_string();
    return resolved ? *resolved : akt::pid();
  }

  std::unique_ptr<akt::actor_system> a_, b_;
  akt::remote::remoting* na_ = nullptr;  // owned by a_
  akt::remote::remoting* nb_ = nullptr;  // owned by b_
};

TEST_F(remote_test, port_zero_picks_a_free_port_and_paths_carry_the_address) {
  EXPECT_NE(nb_->port(), 0);
  auto calc = b_->lookup("calc").value();
  EXPECT_EQ(calc.path(), "akt://beta@127.0.0.1:" + std::to_string(nb_->port()) + "/calc");
}

TEST(remote_options, enable_refuses_limits_that_cannot_work_and_names_the_option) {
  struct bad_case {
    akt::remote::remoting_options options;
    std::string names;  // what the error must mention
  };
  const std::vector<bad_case> cases = {
      {{.max_frame_bytes = 1000}, "max_frame_bytes"},
      {{.flow_window_bytes = 4096}, "flow_window_bytes"},
      {{.max_outbound_bytes = 4096}, "max_outbound_bytes"},
      {{.flow_window_bytes = 32 << 20, .max_inbound_pending_bytes = 16 << 20}, "max_inbound_pending_bytes"},
      {{.max_connections = 0}, "max_connections"},
  };
  for (const auto& c : cases) {
    auto sys = start("options");
    auto net = akt::remote::remoting::enable(*sys, c.options);
    ASSERT_FALSE(net) << c.names << " was accepted";
    EXPECT_EQ(net.code(), akt::errc::invalid_argument);
    EXPECT_NE(net.error().message().find(c.names), std::string::npos) << net.error().to_string();
    EXPECT_TRUE(sys->stop());  // nothing half-enabled keeps it from stopping
  }
  // The smallest queue allowed works, and a frame far over it gets through.
  auto a = start("small-queue");
  auto b = start("peer");
  auto na = akt::remote::remoting::enable(*a, {.max_outbound_bytes = 64 * 1024});
  ASSERT_TRUE(na) << na.error().to_string();
  auto nb = akt::remote::remoting::enable(*b).value();
  auto got = std::make_shared<std::atomic<std::size_t>>(0);
  ASSERT_TRUE(b->spawn_fn("sink", [got](akt::context& ctx) {
    if (auto* g = ctx.message<demo::Greet>()) got->store(g->name().size());
  }));
  auto sink = (*na)->lookup("127.0.0.1", nb->port(), "sink", 5s);
  ASSERT_TRUE(sink) << sink.error().to_string();
  demo::Greet big;
  big.set_name(std::string(1 << 20, 'q'));
  ASSERT_TRUE(sink->tell(big));
  EXPECT_TRUE(wait_until([&] { return got->load() == (1u << 20); }));
}

// Threads of this process under SCHED_BATCH now, and how many of them are
// named akt-remote-io (the I/O thread names itself).
struct batch_count {
  int all = 0;
  int io = 0;
};
batch_count batch_threads() {
  batch_count n;
  for (const auto& t : akt::testkit::threads_of_this_process()) {
    if (sched_getscheduler(t.tid) != SCHED_BATCH) continue;  // -1 when gone meanwhile
    ++n.all;
    if (t.name == "akt-remote-io") ++n.io;
  }
  return n;
}

TEST(remote_options, the_io_thread_runs_under_sched_batch_unless_told_not_to) {
  const batch_count before = batch_threads();
  ASSERT_FALSE(akt::testkit::threads_of_this_process().empty()) << "/proc/self/task cannot be read";
  auto a = start("batch");
  auto b = start("default-policy");
  auto na = akt::remote::remoting::enable(*a).value();  // batch_io_thread: on by default
  auto nb = akt::remote::remoting::enable(*b, {.batch_io_thread = false}).value();
  ASSERT_TRUE(a->spawn_fn("here", [](akt::context&) {}));
  // A lookup crosses both I/O threads (b dials, a accepts and answers):
  // each has chosen its policy by the time it returns.
  auto here = nb->lookup("127.0.0.1", na->port(), "here", 5s);
  ASSERT_TRUE(here) << here.error().to_string();
  EXPECT_EQ(batch_threads().all, before.all + 1);  // a's I/O thread, and no other
  EXPECT_EQ(batch_threads().io, before.io + 1);    // named as such
  EXPECT_TRUE(a->stop());
  // Joined with its system (a joined thread may still be listed for a moment).
  EXPECT_TRUE(wait_until([&] { return batch_threads().all == before.all; }));
}

TEST_F(remote_test, lookup_then_ask_from_plain_code_gets_the_protobuf_reply) {
  auto calc = na_->lookup("127.0.0.1", nb_->port(), "calc", 5s);
  ASSERT_TRUE(calc) << calc.error().to_string();
  demo::Add add;
  add.set_a(40);
  add.set_b(2);
  auto sum = calc->ask<demo::Sum>(add, 5s);
  ASSERT_TRUE(sum) << sum.error().to_string();
  EXPECT_EQ(sum->value(), 42);
}

TEST_F(remote_test, lookup_of_an_unknown_name_is_not_found) {
  auto nobody = na_->lookup("127.0.0.1", nb_->port(), "nobody", 5s);
  ASSERT_FALSE(nobody);
  EXPECT_EQ(nobody.code(), akt::errc::not_found);
}

TEST_F(remote_test, a_remote_sender_gets_the_reply_in_its_own_actor) {
  auto got = std::make_shared<std::atomic<long long>>(-1);
  const akt::pid remote_pong = echo_on_beta("pong");  // replies to the remote sender
  ASSERT_TRUE(remote_pong);
  auto ping = a_->spawn_fn("ping", [got, remote_pong](akt::context& ctx) {
    if (auto* start = ctx.message<demo::Ping>()) {
      (void)ctx.tell(remote_pong, *start);
    } else if (auto* p = ctx.message<demo::Pong>()) {
      got->store(p->seq());
    }
  });
  ASSERT_TRUE(ping);
  demo::Ping start;
  start.set_seq(7);
  ASSERT_TRUE(ping->tell(start));
  EXPECT_TRUE(wait_until([&] { return got->load() == 7; }));
}

TEST_F(remote_test, many_tells_arrive_in_order) {
  auto last = std::make_shared<std::atomic<long long>>(-1);
  auto ordered = std::make_shared<std::atomic<bool>>(true);
  auto sink = b_->spawn_fn("sink", [last, ordered](akt::context& ctx) {
    if (auto* p = ctx.message<demo::Ping>()) {
      if (p->seq() != last->load() + 1) ordered->store(false);
      last->store(p->seq());
    }
  });
  ASSERT_TRUE(sink);
  auto remote_sink = na_->resolve(sink->path()).value();
  for (int i = 0; i < 20'000; ++i) {
    demo::Ping p;
    p.set_seq(i);
    ASSERT_TRUE(remote_sink.tell(std::move(p)));
  }
  EXPECT_TRUE(wait_until([&] { return last->load() == 19'999; })) << last->load();
  EXPECT_TRUE(ordered->load());
  EXPECT_EQ(na_->connections_opened(), 1u) << "one connection, reused";
}

// A tell that finds the window full misses the fast path and waits for
// credit on the long way with the frame it already built (its small
// payload serialized once, before any lock; its sender interned there):
// what arrives is still every message, whole, in order, once, and named
// as sent. The sink is slower than the senders, so the smallest window
// fills again and again; first a plain thread tells, then an actor.
TEST_F(remote_test, small_tells_that_wait_for_credit_arrive_whole_in_order_and_once) {
  auto delta = start("delta");
  auto nd = akt::remote::remoting::enable(
                *delta, {.flow_window_bytes = 256 * 1024, .backpressure_wait = std::chrono::seconds(10)})
                .value();
  constexpr int n = 10'000;  // from each of the two senders: ~2.4 MB in all, the window ten times over
  auto body_of = [](int i) {
    std::string s = std::to_string(i) + ':';
    s.resize(100, static_cast<char>('a' + i % 26));  // small: staged before the locks
    return s;
  };
  struct seen {
    std::atomic<int> next{0};
    std::atomic<int> wrong{0};     // out of order or altered
    std::atomic<int> misnamed{0};  // a sender other than the one that sent it
    std::string teller;            // set before the sink is spawned
  };
  auto state = std::make_shared<seen>();
  // The teller is spawned first: its path is known before the sink exists.
  auto target = std::make_shared<akt::pid>();  // set before the teller hears of it
  auto refused = std::make_shared<std::atomic<int>>(0);
  auto teller = delta->spawn_fn("teller", [target, body_of, refused](akt::context& ctx) {
    if (ctx.message<demo::Ping>()) {
      for (int i = n; i < 2 * n; ++i) {
        demo::Greet g;
        g.set_name(body_of(i));
        if (!ctx.tell(*target, g)) refused->fetch_add(1);
      }
    }
  });
  ASSERT_TRUE(teller);
  state->teller = teller->path();
  auto sink = b_->spawn_fn("slow-sink", [state, body_of](akt::context& ctx) {
    if (auto* g = ctx.message<demo::Greet>()) {
      const int i = state->next.fetch_add(1);
      if (g->name() != body_of(i)) state->wrong.fetch_add(1);
      const std::string from = ctx.sender() ? ctx.sender().path() : std::string();
      if (from != (i < n ? std::string() : state->teller)) state->misnamed.fetch_add(1);
      if (i % 100 == 99) std::this_thread::sleep_for(1ms);  // a slow consumer, ~0.2 s in all
    }
  });
  ASSERT_TRUE(sink);
  auto remote_sink = nd->resolve(sink->path()).value();
  for (int i = 0; i < n; ++i) {
    demo::Greet g;
    g.set_name(body_of(i));
    auto s = remote_sink.tell(g);
    ASSERT_TRUE(s) << "tell " << i << ": " << s.error().to_string();
  }
  *target = remote_sink;
  ASSERT_TRUE(teller->tell(demo::Ping{}));
  EXPECT_TRUE(wait_until([&] { return state->next.load() == 2 * n; }))
      << state->next.load() << " of " << 2 * n;
  EXPECT_EQ(state->wrong.load(), 0) << "messages that arrived out of order or altered";
  EXPECT_EQ(state->misnamed.load(), 0) << "messages named with the wrong sender";
  EXPECT_EQ(refused->load(), 0);
  EXPECT_GT(nd->backpressure_waits(), 0u) << "no tell met a full window: the long way was not taken";
  EXPECT_EQ(nd->backpressure_events(), 0u) << "every tell waited for credit rather than failing";
  EXPECT_EQ(delta->dead_letters(), 0u);
  EXPECT_EQ(b_->dead_letters(), 0u);
  EXPECT_EQ(nd->connections_opened(), 1u);
}

// A stream of tells from one actor: after the first, each frame carries
// ids alone and takes the reader's fast lane, whose sender pids are handed
// out from a stock bought 256 at a time. Every message still names its
// sender: each is answered, in order, to the actor that sent it.
TEST_F(remote_test, a_stream_from_one_actor_names_its_sender_on_every_message) {
  constexpr int n = 2'000;  // several refills of the sender's stock
  const akt::pid remote_pong = echo_on_beta("stream-pong");
  auto answered = std::make_shared<std::atomic<int>>(0);
  auto ordered = std::make_shared<std::atomic<bool>>(true);
  auto ping = a_->spawn_fn("stream-ping", [answered, ordered, remote_pong](akt::context& ctx) {
    if (ctx.message<demo::Greet>()) {
      for (int i = 0; i < n; ++i) {
        demo::Ping p;
        p.set_seq(i);
        (void)ctx.tell(remote_pong, std::move(p));
      }
    } else if (auto* r = ctx.message<demo::Pong>()) {
      if (r->seq() != answered->load()) ordered->store(false);
      answered->fetch_add(1);
    }
  });
  ASSERT_TRUE(ping);
  ASSERT_TRUE(ping->tell(demo::Greet{}));
  EXPECT_TRUE(wait_until([&] { return answered->load() == n; })) << answered->load() << " of " << n;
  EXPECT_TRUE(ordered->load());
  EXPECT_EQ(a_->dead_letters(), 0u);
  EXPECT_EQ(b_->dead_letters(), 0u);
}

// The sending side recognises a stream's sender by its reference (the flow
// slot's last sender) rather than by its path: senders that take turns,
// and actors spawned after others stopped (possibly at the same address),
// must each still be named, and answered, as themselves.
TEST_F(remote_test, senders_taking_turns_and_new_actors_are_each_named_as_themselves) {
  const akt::pid remote_pong = echo_on_beta("turns-pong");
  // Each pinger sends its own number as the seq; a reply with another
  // number went to the wrong actor.
  struct tally {
    std::atomic<int> right{0}, wrong{0};
  };
  auto spawn_pinger = [&](int number, std::shared_ptr<tally> t) {
    return a_
        ->spawn_fn("pinger-" + std::to_string(number),
                   [number, t, remote_pong](akt::context& ctx) {
                     if (ctx.message<demo::Greet>()) {
                       demo::Ping p;
                       p.set_seq(number);
                       (void)ctx.tell(remote_pong, p);
                     } else if (auto* r = ctx.message<demo::Pong>()) {
                       (r->seq() == number ? t->right : t->wrong).fetch_add(1);
                     }
                   })
        .value();
  };
  for (int generation = 0; generation < 3; ++generation) {
    std::vector<std::shared_ptr<tally>> tallies;
    std::vector<akt::pid> pingers;
    for (int i = 0; i < 4; ++i) {
      tallies.push_back(std::make_shared<tally>());
      pingers.push_back(spawn_pinger(generation * 10 + i, tallies.back()));
    }
    for (int round = 0; round < 50; ++round) {
      for (auto& p : pingers) ASSERT_TRUE(p.tell(demo::Greet{}));  // the senders take turns
    }
    for (std::size_t i = 0; i < pingers.size(); ++i) {
      EXPECT_TRUE(wait_until([&] { return tallies[i]->right.load() == 50; }))
          << "generation " << generation << ", pinger " << i << ": " << tallies[i]->right.load() << " of 50";
      EXPECT_EQ(tallies[i]->wrong.load(), 0);
    }
    for (auto& p : pingers) {
      ASSERT_TRUE(p.stop());
      ASSERT_TRUE(p.wait_stopped(5s));
    }
  }
  EXPECT_EQ(b_->dead_letters(), 0u);
}

TEST_F(remote_test, messages_larger_than_a_read_arrive_whole_and_in_order_among_small_ones) {
  // Sizes around and far above the transport's 256 KiB reads, so frames
  // span reads and the read buffer grows and compacts; 3 MiB is over the
  // outbound queue's bound (2 MiB by default), which admits one frame of
  // any size while it is under the bound.
  const std::vector<std::size_t> sizes = {3, 70'000, 1, 1 << 20, 262'144, 10, 3 << 20, 0, 300'000, 7};
  struct received {
    std::mutex mu;
    std::vector<std::string> bodies;  // guarded by mu
  };
  auto state = std::make_shared<received>();  // outlives this body if the actor does
  auto& mu = state->mu;
  auto& got = state->bodies;
  auto sink = b_->spawn_fn("big-sink", [state](akt::context& ctx) {
    if (auto* g = ctx.message<demo::Greet>()) {
      std::lock_guard lock(state->mu);
      state->bodies.push_back(std::move(*g->mutable_name()));
    }
  });
  ASSERT_TRUE(sink);
  auto remote_sink = na_->resolve(sink->path()).value();
  std::vector<std::string> sent;
  for (int round = 0; round < 3; ++round) {
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      std::string body(sizes[i], static_cast<char>('a' + (round * 10 + i) % 26));
      if (!body.empty()) body.back() = '!';  // the last byte of each frame is checked too
      demo::Greet g;
      g.set_name(body);
      // 13 MB in all: more than the sink's window (4 MiB), so the sender
      // meets back-pressure and tries again once the sink caught up.
      akt::status s;
      ASSERT_TRUE(wait_until([&] {
        s = remote_sink.tell(g);
        return s || s.code() != akt::errc::backpressure;
      }));
      ASSERT_TRUE(s) << s.error().to_string();
      sent.push_back(std::move(body));
    }
  }
  EXPECT_TRUE(wait_until([&] {
    std::lock_guard lock(mu);
    return got.size() == sent.size();
  }));
  std::lock_guard lock(mu);
  ASSERT_EQ(got.size(), sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    EXPECT_TRUE(got[i] == sent[i]) << "message " << i << ": " << got[i].size() << " bytes, expected "
                                   << sent[i].size();
  }
}

TEST_F(remote_test, plain_threads_asking_at_once_each_get_their_own_replies) {
  // Waiting askers read replies off the shared connection themselves
  // (connection::poll_read) while the I/O thread reads too: every reply
  // must reach its own asker, whoever read it. Also run under TSan.
  auto calc = na_->lookup("127.0.0.1", nb_->port(), "calc", 5s).value();
  constexpr int threads = 4;
  constexpr int asks = 300;
  std::atomic<int> wrong{0}, failed{0};
  std::vector<std::thread> askers;
  for (int t = 0; t < threads; ++t) {
    askers.emplace_back([&, t] {
      for (int i = 0; i < asks; ++i) {
        demo::Add add;
        add.set_a(t * 1'000'000);
        add.set_b(i);
        auto sum = calc.ask<demo::Sum>(add, 5s);
        if (!sum) {
          failed.fetch_add(1);
        } else if (sum->value() != t * 1'000'000 + i) {
          wrong.fetch_add(1);
        }
      }
    });
  }
  for (auto& a : askers) a.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
}

TEST_F(remote_test, tells_through_a_kept_pid_reach_a_node_that_came_back) {
  // The pid remembers its connection; when that connection is gone (the
  // peer's remoting stopped), the next tells open a new one.
  auto gamma = start("gamma");
  auto ng = akt::remote::remoting::enable(*gamma).value();
  const std::uint16_t port = ng->port();
  auto got = std::make_shared<std::atomic<long long>>(-1);
  auto sink = gamma->spawn_fn("sink", [got](akt::context& ctx) {
    if (auto* p = ctx.message<demo::Ping>()) got->store(p->seq());
  });
  ASSERT_TRUE(sink);
  auto remote_sink = na_->lookup("127.0.0.1", port, "sink", 5s).value();
  demo::Ping p;
  p.set_seq(1);
  ASSERT_TRUE(remote_sink.tell(p));
  ASSERT_TRUE(wait_until([&] { return got->load() == 1; }));

  ASSERT_TRUE(gamma->stop());  // gamma goes away: alpha's connection closes
  gamma = start("gamma");      // and comes back on the same address
  ng = akt::remote::remoting::enable(*gamma, {.host = "127.0.0.1", .port = port}).value();
  ASSERT_TRUE(gamma->spawn_fn("sink", [got](akt::context& ctx) {
    if (auto* p = ctx.message<demo::Ping>()) got->store(p->seq());
  }));
  p.set_seq(2);
  // Tells may fail or be lost while alpha notices the closed connection;
  // within a bounded time one goes through a new connection.
  EXPECT_TRUE(wait_until([&] {
    (void)remote_sink.tell(p);
    return got->load() == 2;
  }));
  EXPECT_GE(na_->connections_opened(), 2u);
}

TEST_F(remote_test, a_non_protobuf_message_is_refused_at_the_sender) {
  auto calc = na_->lookup("127.0.0.1", nb_->port(), "calc", 5s).value();
  auto s = calc.tell(not_protobuf{1});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.code(), akt::errc::invalid_argument);
}

TEST_F(remote_test, an_ask_to_a_missing_actor_fails_with_not_found) {
  auto ghost = na_->resolve("akt://beta@127.0.0.1:" + std::to_string(nb_->port()) + "/ghost").value();
  auto r = ghost.ask(demo::Ping{}, 5s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.code(), akt::errc::not_found);
}

TEST_F(remote_test, an_unregistered_type_gets_a_clear_error) {
  auto calc = na_->lookup("127.0.0.1", nb_->port(), "calc", 5s).value();
  google::protobuf::Duration d;  // a protobuf type no test registers
  d.set_seconds(1);
  auto r = calc.ask(d, 5s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.code(), akt::errc::invalid_argument);
  EXPECT_NE(r.error().message().find("google.protobuf.Duration"), std::string::npos) << r.error().message();
}

TEST_F(remote_test, remote_stop_stops_the_actor) {
  auto victim = b_->spawn_fn("victim", [](akt::context&) {}).value();
  auto remote = na_->resolve(victim.path()).value();
  ASSERT_TRUE(remote.stop());
  EXPECT_TRUE(victim.wait_stopped(5s));
}

TEST_F(remote_test, an_unreachable_node_fails_fast_and_asks_do_not_hang) {
  std::uint16_t dead_port;
  {
    asio::io_context io;
    asio::ip::tcp::acceptor probe(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    dead_port = probe.local_endpoint().port();
  }  // closed: nobody listens there now
  auto ghost = na_->resolve("akt://gamma@127.0.0.1:" + std::to_string(dead_port) + "/x").value();
  const auto t0 = std::chrono::steady_clock::now();
  auto r = ghost.ask(demo::Ping{}, 10s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.code(), akt::errc::dead_actor) << r.error().to_string();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s)
      << "fails when the connection fails, not at the timeout";
}

TEST_F(remote_test, a_malformed_frame_closes_that_connection_only) {
  asio::io_context io;
  asio::ip::tcp::socket raw(io);
  raw.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), nb_->port()));
  const char garbage[] = {0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'};
  asio::write(raw, asio::buffer(garbage));
  // The node closes the connection: our read ends.
  char buf[4096];
  asio::error_code ec;
  for (int i = 0; i < 100 && !ec; ++i) raw.read_some(asio::buffer(buf), ec);
  EXPECT_TRUE(ec) << "the connection was closed";
  EXPECT_TRUE(wait_until([&] { return nb_->frames_rejected() >= 1; }));
  // Everyone else is still served.
  auto calc = na_->lookup("127.0.0.1", nb_->port(), "calc", 5s);
  ASSERT_TRUE(calc);
  demo::Add add;
  add.set_a(1);
  add.set_b(2);
  auto sum = calc->ask<demo::Sum>(add, 5s);
  ASSERT_TRUE(sum);
  EXPECT_EQ(sum->value(), 3);
}

TEST_F(remote_test, an_undecodable_payload_fails_the_ask_and_dead_letters_the_tell) {
  // A raw peer sends well-formed frames whose payload is not a valid
  // demo.Add (field 1 with the invalid wire type 7).
  namespace wire = akt::remote::detail;
  asio::io_context io;
  asio::ip::tcp::socket raw(io);
  raw.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), nb_->port()));
  std::string out;
  const std::string nonce(32, 'r');
  wire::append_hello_frame(out, wire::hello_view{.protocol_version = wire::protocol_version,
                                                 .system = "raw",
                                                 .address = "127.0.0.1:1",
                                                 .nonce = nonce});
  const auto receiver = "akt://beta@127.0.0.1:" + std::to_string(nb_->port()) + "/calc";
  wire::envelope_view tell;
  tell.kind = wire::envelope_kind::tell;
  tell.receiver = receiver;
  tell.type = "demo.Add";
  tell.payload = "\x0f\x01";
  wire::append_envelope_frame(out, tell);
  wire::envelope_view ask = tell;
  ask.kind = wire::envelope_kind::ask;
  ask.correlation_id = 77;
  wire::append_envelope_frame(out, ask);
  const auto dead_before = b_->dead_letters();
  asio::write(raw, asio::buffer(out));

  // The ask is answered with a FAILURE naming the type; the connection stays up.
  std::string in;
  wire::frame_view frame;
  bool answered = false;
  raw.non_blocking(false);
  for (int reads = 0; reads < 100 && !answered; ++reads) {
    char buf[4096];
    asio::error_code ec;
    const std::size_t n = raw.read_some(asio::buffer(buf), ec);
    ASSERT_FALSE(ec) << "the node closed the connection: " << ec.message();
    in.append(buf, n);
    std::size_t used = 0;
    while (wire::decode_frame(in, 1 << 20, frame, used) == wire::decode_status::frame) {
      if (frame.kind == wire::frame_kind::envelope && frame.envelope.kind == wire::envelope_kind::failure &&
          frame.envelope.correlation_id == 77) {
        answered = true;
        EXPECT_EQ(frame.envelope.error_code, static_cast<std::uint32_t>(akt::errc::invalid_argument));
        EXPECT_NE(frame.envelope.error_message.find("not a valid demo.Add"), std::string_view::npos)
            << frame.envelope.error_message;
        break;
      }
      in.erase(0, used);
    }
  }
  EXPECT_TRUE(answered);
  // Both messages were dead-lettered on the receiving node, and calc still works.
  EXPECT_TRUE(wait_until([&] { return b_->dead_letters() >= dead_before + 2; }));
  auto calc = na_->lookup("127.0.0.1", nb_->port(), "calc", 5s).value();
  demo::Add add;
  add.set_a(2);
  add.set_b(3);
  auto sum = calc.ask<demo::Sum>(add, 5s);
  ASSERT_TRUE(sum) << sum.error().to_string();
  EXPECT_EQ(sum->value(), 5);
}

TEST_F(remote_test, an_oversized_frame_closes_that_connection) {
  asio::io_context io;
  asio::ip::tcp::socket raw(io);
  raw.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), nb_->port()));
  const unsigned char huge[] = {0x7f, 0xff, 0xff, 0xff};
  asio::write(raw, asio::buffer(huge));
  char buf[4096];
  asio::error_code ec;
  for (int i = 0; i < 100 && !ec; ++i) raw.read_some(asio::buffer(buf), ec);
  EXPECT_TRUE(ec);
  EXPECT_TRUE(wait_until([&] { return nb_->frames_rejected() >= 1; }));
}

TEST_F(remote_test, losing_the_peer_fails_waiting_asks_promptly) {
  auto kept = std::make_shared<std::vector<akt::response_promise>>();
  auto slow = b_->spawn_fn("slow",
                           [kept](akt::context& ctx) {  // takes the ask, never answers
                             if (ctx.is<demo::Ping>()) kept->push_back(ctx.make_response_promise().value());
                           })
                  .value();
  auto remote = na_->resolve(slow.path()).value();
  std::atomic<bool> done{false};
  akt::result<akt::message> outcome = akt::error(akt::errc::timeout, "not yet");
  std::thread asker([&] {
    outcome = remote.ask(demo::Ping{}, 20s);
    done = true;
  });
  ASSERT_TRUE(wait_until([&] { return na_->connections_opened() >= 1; }));
  std::this_thread::sleep_for(50ms);  // let the ask reach beta (pacing, not synchronization)
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(b_->stop());  // beta goes away: the connection drops
  asker.join();
  ASSERT_FALSE(outcome);
  // dead_actor when the connection's loss is seen first; no_reply when
  // beta's stop drops the promise it held and says so over the wire first.
  EXPECT_TRUE(outcome.code() == akt::errc::dead_actor || outcome.code() == akt::errc::no_reply)
      << outcome.error().to_string();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
}

}  // namespace

#include <akt/testkit/probe.hpp>

namespace {

TEST_F(remote_test, a_watcher_gets_terminated_when_the_remote_actor_stops) {
  auto victim = b_->spawn_fn("victim", [](akt::context&) {}).value();
  auto remote = na_->resolve(victim.path()).value();
  akt::testkit::probe p(*a_);
  ASSERT_TRUE(p.watch(remote));
  ASSERT_TRUE(p.expect_no_message(100ms)) << "nothing while it lives";
  ASSERT_TRUE(victim.stop());
  auto t = p.expect_message<akt::terminated>(5s);
  ASSERT_TRUE(t) << t.error().to_string();
  EXPECT_EQ(t->actor.path(), victim.path());
  EXPECT_TRUE(p.expect_no_message(100ms)) << "exactly once";
}

TEST_F(remote_test, a_watcher_gets_terminated_when_the_node_becomes_unreachable) {
  auto target = b_->spawn_fn("target", [](akt::context&) {}).value();
  const std::string target_path = target.path();  // with beta's address, before it goes away
  auto remote = na_->resolve(target_path).value();
  akt::testkit::probe p(*a_);
  ASSERT_TRUE(p.watch(remote));
  // Make sure the watch reached beta before it goes away.
  ASSERT_TRUE(na_->lookup("127.0.0.1", nb_->port(), "target", 5s));
  ASSERT_TRUE(b_->stop());  // beta goes away
  auto t = p.expect_message<akt::terminated>(5s);
  ASSERT_TRUE(t) << t.error().to_string();
  EXPECT_EQ(t->actor.path(), target_path);
}

TEST_F(remote_test, watching_a_missing_remote_actor_gives_terminated_at_once) {
  auto ghost = na_->resolve("akt://beta@127.0.0.1:" + std::to_string(nb_->port()) + "/ghost").value();
  akt::testkit::probe p(*a_);
  ASSERT_TRUE(p.watch(ghost));
  EXPECT_TRUE(p.expect_terminated(ghost, 5s));
}

TEST_F(remote_test, three_systems_forward_along_a_chain_and_the_reply_comes_home) {
  auto c = start("gamma");
  auto nc = akt::remote::remoting::enable(*c).value();
  (void)c->spawn_fn("end", [](akt::context& ctx) {
    if (auto* p = ctx.message<demo::Ping>()) {
      demo::Pong r;
      r.set_seq(p->seq() * 10);
      (void)ctx.reply(std::move(r));
    }
  });
  auto end_on_c = nb_->lookup("127.0.0.1", nc->port(), "end", 5s).value();
  (void)b_->spawn_fn("middle", [end_on_c](akt::context& ctx) {
    if (ctx.message<demo::Ping>()) (void)ctx.forward(end_on_c);  // keeps alpha's ask
  });
  auto middle = na_->lookup("127.0.0.1", nb_->port(), "middle", 5s).value();
  demo::Ping ping;
  ping.set_seq(4);
  auto r = middle.ask<demo::Pong>(ping, 5s);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->seq(), 40);
}

}  // namespace

namespace {

class remote_calc : public akt::actor {
 public:
  void receive(akt::context& ctx) override {
    if (auto* add = ctx.message<demo::Add>()) {
      demo::Sum s;
      s.set_value(add->a() * add->b());
      (void)ctx.reply(std::move(s));
    }
  }
};

TEST_F(remote_test, spawn_a_registered_kind_on_another_node) {
  b_->registry().register_kind<remote_calc>("multiplier");
  auto m = na_->spawn("127.0.0.1", nb_->port(), "multiplier", "times", 5s);
  ASSERT_TRUE(m) << m.error().to_string();
  EXPECT_TRUE(b_->lookup("times")) << "it lives on beta";
  demo::Add add;
  add.set_a(6);
  add.set_b(7);
  auto r = m->ask<demo::Sum>(add, 5s);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->value(), 42);
  auto again = na_->spawn("127.0.0.1", nb_->port(), "multiplier", "times", 5s);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.code(), akt::errc::name_taken);
  auto unknown = na_->spawn("127.0.0.1", nb_->port(), "no-such-kind", "x", 5s);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.code(), akt::errc::not_found);
}

}  // namespace

namespace {

TEST_F(remote_test, the_systems_own_lookup_resolves_a_full_path_on_another_node) {
  auto calc_path = "akt://beta@" + nb_->address() + "/calc";
  auto calc = a_->lookup(calc_path);
  ASSERT_TRUE(calc) << calc.error().to_string();
  demo::Add add;
  add.set_a(2);
  add.set_b(3);
  auto r = calc->ask<demo::Sum>(add, 5s);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->value(), 5);
  auto mine = b_->lookup(calc_path);  // beta's own path: its local tree answers
  ASSERT_TRUE(mine);
  EXPECT_NE(mine->ref()->as_local(), nullptr);
}

TEST_F(remote_test, node_up_and_node_down_reach_the_event_stream) {
  akt::inbox events(*a_);
  ASSERT_TRUE(a_->subscribe(events.self()));
  ASSERT_TRUE(na_->lookup("127.0.0.1", nb_->port(), "calc", 5s));
  auto next_node_event = [&]() -> akt::result<akt::system_event> {
    for (;;) {
      auto e = events.receive<akt::system_event>(10s);
      if (!e || e->kind == akt::event_kind::node_up || e->kind == akt::event_kind::node_down) return e;
    }
  };
  auto up = next_node_event();
  ASSERT_TRUE(up) << up.error().to_string();
  EXPECT_EQ(up->kind, akt::event_kind::node_up);
  EXPECT_EQ(up->detail, nb_->address());
  const std::string beta = nb_->address();
  ASSERT_TRUE(b_->stop());
  auto down = next_node_event();
  ASSERT_TRUE(down) << down.error().to_string();
  EXPECT_EQ(down->kind, akt::event_kind::node_down);
  EXPECT_TRUE(down->detail.starts_with(beta + ": ")) << down->detail;
}

TEST_F(remote_test, a_trace_context_crosses_the_wire_with_the_ask_and_comes_back_with_the_reply) {
  auto seen = std::make_shared<std::string>();
  auto seen_mu = std::make_shared<std::mutex>();
  (void)b_->spawn_fn("traced", [seen, seen_mu](akt::context& ctx) {
    if (auto* p = ctx.message<demo::Ping>()) {
      {
        std::lock_guard g(*seen_mu);
        *seen = ctx.trace() ? ctx.trace()->traceparent() : "none";
      }
      demo::Pong r;
      r.set_seq(p->seq());
      (void)ctx.reply(std::move(r));
    }
  });
  auto traced = na_->lookup("127.0.0.1", nb_->port(), "traced", 5s).value();
  const std::string tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  akt::trace_scope scope(akt::trace_context::parse(tp).value());
  akt::inbox in(*a_);
  demo::Ping ping;
  ping.set_seq(9);
  ASSERT_TRUE(in.tell(traced, ping));  // a tell through the envelope path
  auto reply = in.receive(5s);
  ASSERT_TRUE(reply) << reply.error().to_string();
  {
    std::lock_guard g(*seen_mu);
    EXPECT_EQ(*seen, tp) << "the receiving actor runs with the sender's trace";
  }
  auto raw = reply->release();
  ASSERT_TRUE(raw->trace) << "the reply came back traced";
  EXPECT_EQ(raw->trace->traceparent(), tp);
  {
    std::lock_guard g(*seen_mu);
    seen->clear();
  }
  ASSERT_TRUE(traced.tell(ping));  // a plain-thread tell: the direct wire path
  EXPECT_TRUE(wait_until([&] {
    std::lock_guard g(*seen_mu);
    return *seen == tp;
  }));
}

}  // namespace

namespace {

// pre_start waits (bounded) for the test's word: a slow user pre_start.
struct slow_starter : akt::actor {
  static inline std::atomic<bool> release{false};
  static inline std::atomic<bool> started{false};
  akt::status pre_start(akt::context&) override {
    started = true;
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (!release.load() && std::chrono::steady_clock::now() < until) std::this_thread::yield();
    return {};
  }
  void receive(akt::context& ctx) override { ctx.accept(); }
};

TEST_F(remote_test, a_remote_spawn_runs_pre_start_on_a_worker_and_the_node_keeps_serving_meanwhile) {
  b_->registry().register_kind<slow_starter>("slow");
  slow_starter::release = false;
  slow_starter::started = false;
  std::optional<akt::result<akt::pid>> spawned;
  std::thread spawner([&] { spawned = na_->spawn("127.0.0.1", nb_->port(), "slow", "slowpoke", 20s); });
  ASSERT_TRUE(wait_until([&] { return slow_starter::started.load(); }));
  // While that pre_start runs, beta's reader still answers.
  auto calc = na_->lookup("127.0.0.1", nb_->port(), "calc", 5s);
  EXPECT_TRUE(calc) << calc.error().to_string();
  slow_starter::release = true;
  spawner.join();
  ASSERT_TRUE(spawned && *spawned) << (spawned ? spawned->error().to_string() : "no outcome");
  EXPECT_TRUE(b_->lookup("slowpoke"));
}

}  // namespace

namespace {

TEST_F(remote_test, a_remote_ask_the_actor_lets_go_unanswered_fails_at_once_with_no_reply) {
  // Held until stop for a local asker; a peer's asks are answered at once,
  // so that no peer can make this node hold an unbounded list of them.
  (void)b_->spawn_fn("mute", [](akt::context& ctx) { (void)ctx.is<demo::Ping>(); });
  auto mute = na_->lookup("127.0.0.1", nb_->port(), "mute", 5s).value();
  auto r = mute.ask(demo::Ping{}, 30s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.code(), akt::errc::no_reply) << r.error().to_string();
}

}  // namespace
