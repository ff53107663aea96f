// Two actors talking: ping sends Ping(n), pong answers Pong(n), ten times;
// then ping tells main it is done through a plain ask.
//
// Shows: an actor created with another's pid, ctx.tell with the sender set
// automatically, ctx.reply answering the sender, and spawn_fn (an actor made
// of one lambda).
#include <akt/akt.hpp>

#include <cstdio>

#include "messages.pb.h"

struct start {
  int rounds;
};
struct finished {};

class pinger : public akt::actor {
 public:
  explicit pinger(akt::pid pong) : pong_(std::move(pong)) {}

  void receive(akt::context& ctx) override {
    if (auto* s = ctx.message<start>()) {
      rounds_ = s->rounds;
      send_ping(ctx);
    } else if (auto* pong = ctx.message<demo::Pong>()) {
      std::printf("ping <- Pong(%lld) from %s\n", static_cast<long long>(pong->seq()),
                  ctx.sender().name().c_str());
      if (pong->seq() + 1 < rounds_) {
        send_ping(ctx);
      }
    } else if (ctx.message<finished>()) {
      ctx.reply(seq_);  // main asks when we are done
    }
  }

 private:
  void send_ping(akt::context& ctx) {
    demo::Ping ping;
    ping.set_seq(seq_++);
    ctx.tell(pong_, std::move(ping));
  }

  akt::pid pong_;
  int rounds_ = 0;
  int seq_ = 0;
};

int main() {
  auto sys = akt::actor_system::create("ping-pong").value();
  if (!sys->start()) return 1;

  auto pong = sys->spawn_fn("pong", [](akt::context& ctx) {
    if (auto* ping = ctx.message<demo::Ping>()) {
      std::printf("pong <- Ping(%lld)\n", static_cast<long long>(ping->seq()));
      demo::Pong reply;
      reply.set_seq(ping->seq());
      ctx.reply(std::move(reply));
    }
  });
  auto ping = sys->spawn<pinger>("ping", *pong);
  if (!pong || !ping) return 1;

  ping->tell(start{10});
  // Poll with asks until ping has seen every pong (each ask waits its turn
  // behind the pongs already queued, so this converges quickly).
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto sent = ping->ask<int>(finished{}, std::chrono::seconds(1));
    if (sent && *sent == 10 && ping->metrics().mailbox_size == 0 && pong->metrics().processed == 10) {
      std::printf("done: %d pings, %llu pongs handled\n", *sent,
                  static_cast<unsigned long long>(pong->metrics().processed));
      return sys->stop() ? 0 : 1;
    }
  }
  std::fprintf(stderr, "ping-pong did not finish\n");
  return 1;
}
