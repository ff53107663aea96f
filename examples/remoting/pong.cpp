// The pong process: an actor system with remoting on, and an actor named
// "pong" that answers every demo.Ping with a demo.Pong. It prints the port
// it listens on and serves until killed or until stdin closes.
//
//   ./example_remoting_pong            # prints "PORT 41234"
//   ./example_remoting_ping 41234      # in another terminal
#include <akt/remote/remoting.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "messages.pb.h"

int main(int argc, char** argv) {
  auto sys = akt::actor_system::launch("pong-node").value();  // created and started
  sys->registry().register_message<demo::Ping>();             // what this node decodes
  sys->registry().register_message<demo::Pong>();
  const auto port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 0);
  // Nodes prove a shared secret to each other (HMAC over fresh nonces; the
  // secret never crosses the wire). Take it from the environment in real use.
  const char* secret = std::getenv("AKT_REMOTE_SECRET");
  auto node = akt::remote::remoting::enable(
      *sys, {.host = "127.0.0.1", .port = port, .secret = secret ? secret : "demo-secret-change-me"});
  if (!node) {
    std::fprintf(stderr, "remoting: %s\n", node.error().to_string().c_str());
    return 1;
  }
  auto pong = sys->spawn_fn("pong", [](akt::context& ctx) {
    if (auto* ping = ctx.message<demo::Ping>()) {
      std::fprintf(stderr, "pong <- Ping(%lld) from %s\n", static_cast<long long>(ping->seq()),
                   ctx.sender() ? ctx.sender().path().c_str() : "outside any actor");
      demo::Pong reply;
      reply.set_seq(ping->seq());
      (void)ctx.reply(std::move(reply));
    }
  });
  if (!pong) return 1;
  std::printf("PORT %u\n", static_cast<unsigned>((*node)->port()));
  std::fflush(stdout);
  char c;
  while (read(STDIN_FILENO, &c, 1) > 0) {
  }
  return 0;
}
