// Spawns an actor and asks it once: the installed headers and library work.
// Builds a DNS discovery provider: akt::discovery links, c-ares with it.
#include <akt/akt.hpp>
#include <akt/discovery/discovery.hpp>

#include <chrono>
#include <cstdio>

int main() {
  if (akt::discovery::dns({}) ||
      !akt::discovery::dns({.name = "akt.test", .ports = {{"remoting-port", 4000}}})) {
    std::fprintf(stderr, "consumer: dns discovery options not checked as documented\n");
    return 1;
  }
  auto sys = akt::actor_system::create("consumer", {.logger = akt::make_discard_logger()});
  if (!sys || !(*sys)->start()) return 1;
  auto echo = (*sys)->spawn_fn("echo", [](akt::context& ctx) {
    if (auto* n = ctx.message<int>()) ctx.reply(*n + 1);
  });
  if (!echo) return 1;
  auto r = echo->ask<int>(41, std::chrono::seconds(5));
  if (!r || *r != 42) {
    std::fprintf(stderr, "consumer: unexpected answer\n");
    return 1;
  }
  std::printf("consumer: installed akt answered %d\n", *r);
  // akt::discovery is a static library with private dependencies (libcurl):
  // linking its Kubernetes provider proves the package brings them along.
  if (!akt::discovery::kubernetes({.system = "consumer", .application = "echo"})) return 1;
  return (*sys)->stop() ? 0 : 1;
}
