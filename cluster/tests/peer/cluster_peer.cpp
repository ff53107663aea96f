// A cluster node in a process of its own, for the multi-process tests:
//   akt_cluster_test_peer <etcd endpoint> <cluster> <lease seconds> [name...]
// joins the cluster (kind "echo" registered and spawnable), spawns an echo
// actor under each name, prints "READY <address>", then answers one line
// per command read from stdin until "quit" or end of input:
//   mark                      forget the events recorded so far -> OK
//   events                    the membership events since -> OK e1;e2;...
//   members                   -> OK <count> <leader address>
//   singleton <name> <kind>   spawn_singleton -> OK <path> | ERR <error>
//   ask <name> <text>         cluster ask by name (5 s) -> OK <answer> | ERR <error>
//   local <name>              is a local actor alive under it -> OK <path> | ERR <error>
// An echo actor answers a StringValue with "<its path>:<text>".
#include <akt/cluster/cluster.hpp>
#include <akt/remote/remoting.hpp>

#include <google/protobuf/wrappers.pb.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

namespace {

using google::protobuf::StringValue;

class echo final : public akt::actor {
 public:
  void receive(akt::context& ctx) override {
    if (auto* s = ctx.message<StringValue>()) {
      StringValue answer;
      answer.set_value(ctx.self().path() + ":" + s->value());
      (void)ctx.reply(answer);
    }
  }
};

struct event_log {
  std::mutex mu;
  std::vector<std::string> seen;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) return 2;
  auto sys = akt::actor_system::launch("peer", {.logger = akt::make_discard_logger()}).value();
  sys->registry().register_message<StringValue>();
  sys->registry().register_kind<echo>("echo");
  auto log = std::make_shared<event_log>();
  auto recorder = sys->spawn_fn(akt::spawn_options{}, [log](akt::context& ctx) {
    if (auto* e = ctx.message<akt::system_event>()) {
      if (e->kind == akt::event_kind::member_joined || e->kind == akt::event_kind::member_left ||
          e->kind == akt::event_kind::leader_changed) {
        std::lock_guard g(log->mu);
        log->seen.push_back(std::string(akt::to_string(e->kind)) + " " +
                            e->detail.substr(0, e->detail.find(": ")));
      }
    }
  });
  if (!recorder || !sys->subscribe(*recorder)) return 1;
  auto* remoting = akt::remote::remoting::enable(*sys, {.secret = "cluster-test-secret-0123",
                                                        .permissions = {.spawnable_kinds = {"echo"}}})
                       .value();
  akt::cluster::cluster_options options{.etcd = {.endpoints = {argv[1]}},
                                        .name = argv[2],
                                        .lease_ttl = std::chrono::seconds(std::atoi(argv[3]))};
  // Managed mode (etcd endpoint "managed"): AKT_PEER_NODES lists the nodes
  // as "id,clients-port,peers-port;..." on 127.0.0.1, AKT_PEER_ID is this
  // one's, AKT_PEER_DATA its member's data directory.
  if (std::string(argv[1]) == "managed") {
    std::vector<akt::discovery::node> nodes;
    std::istringstream all(std::getenv("AKT_PEER_NODES"));
    std::string one;
    std::uint16_t clients = 0, peers = 0;
    while (std::getline(all, one, ';')) {
      std::istringstream f(one);
      std::string id, c, p;
      std::getline(f, id, ',');
      std::getline(f, c, ',');
      std::getline(f, p, ',');
      const auto cp = static_cast<std::uint16_t>(std::stoi(c)), pp = static_cast<std::uint16_t>(std::stoi(p));
      nodes.push_back({.id = id, .host = "127.0.0.1", .ports = {{"clients-port", cp}, {"peers-port", pp}}});
      if (id == std::getenv("AKT_PEER_ID")) clients = cp, peers = pp;
    }
    options.managed_etcd = akt::cluster::managed_etcd_options{
        .discovery = std::shared_ptr<akt::discovery::provider>(akt::discovery::static_nodes(nodes).value()),
        .data_dir = std::getenv("AKT_PEER_DATA"),
        .id = std::getenv("AKT_PEER_ID"),
        .clients_port = clients,
        .peers_port = peers,
        .join_timeout = std::chrono::seconds(40)};
  }
  auto c = akt::cluster::cluster::enable(*sys, options);
  if (!c) {
    std::fprintf(stderr, "%s\n", c.error().to_string().c_str());
    return 1;
  }
  akt::cluster::cluster& cluster = **c;
  for (int i = 4; i < argc; ++i) {
    if (!sys->spawn<echo>(argv[i])) return 1;
  }
  std::cout << "READY " << remoting->address() << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string command;
    in >> command;
    if (command == "quit") break;
    if (command == "mark") {
      std::lock_guard g(log->mu);
      log->seen.clear();
      std::cout << "OK" << std::endl;
    } else if (command == "events") {
      std::string all;
      std::lock_guard g(log->mu);
      for (const auto& e : log->seen) all += (all.empty() ? "" : ";") + e;
      std::cout << "OK " << all << std::endl;
    } else if (command == "members") {
      auto leader = cluster.leader();
      std::cout << "OK " << cluster.members().size() << " " << (leader ? leader->address : "-") << std::endl;
    } else if (command == "singleton") {
      std::string name, kind;
      in >> name >> kind;
      auto p = cluster.spawn_singleton(name, kind);
      std::cout << (p ? "OK " + p->path() : "ERR " + p.error().to_string()) << std::endl;
    } else if (command == "ask") {
      std::string name, text;
      in >> name >> text;
      StringValue q;
      q.set_value(text);
      auto r = cluster.ask<StringValue>(name, q, std::chrono::seconds(5));
      std::cout << (r ? "OK " + r->value() : "ERR " + r.error().to_string()) << std::endl;
    } else if (command == "local") {
      std::string name;
      in >> name;
      auto p = sys->lookup_local(name);
      std::cout << (p ? "OK " + p->path() : "ERR " + p.error().to_string()) << std::endl;
    } else {
      std::cout << "ERR unknown command '" << command << "'" << std::endl;
    }
  }
  sys->stop();
  return 0;
}
