// A cluster node in a process of its own, for the tests that kill one:
//   akt_cluster_test_peer <etcd endpoint> <cluster> <lease seconds> [name...]
// joins the cluster, spawns an actor under each name, prints
// "READY <address>" and serves until killed or until stdin closes.
#include <akt/cluster/cluster.hpp>
#include <akt/remote/remoting.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  if (argc < 4) return 2;
  auto sys = akt::actor_system::launch("peer", {.logger = akt::make_discard_logger()}).value();
  auto* remoting = akt::remote::remoting::enable(*sys, {.secret = "cluster-test-secret-0123"}).value();
  auto c = akt::cluster::cluster::enable(*sys, {.etcd = {.endpoints = {argv[1]}},
                                                .name = argv[2],
                                                .lease_ttl = std::chrono::seconds(std::atoi(argv[3]))});
  if (!c) {
    std::fprintf(stderr, "%s\n", c.error().to_string().c_str());
    return 1;
  }
  for (int i = 4; i < argc; ++i) {
    if (!sys->spawn_fn(argv[i], [](akt::context& ctx) { ctx.accept(); })) return 1;
  }
  std::printf("READY %s\n", remoting->address().c_str());
  std::fflush(stdout);
  char ch;
  while (read(STDIN_FILENO, &ch, 1) > 0) {
  }
  return 0;
}
