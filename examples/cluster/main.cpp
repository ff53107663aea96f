// Three cluster nodes in three processes on one machine, on one etcd:
//
//   example_cluster                 starts etcd (or uses $AKT_ETCD, host:port),
//                                   runs node alpha here and beta and gamma as
//                                   processes of their own
//   example_cluster --managed       the same, each node bringing its own etcd
//                                   member (clients-port, peers-port), found
//                                   through static discovery: no etcd to start
//   example_cluster node <name> <etcd> [role]   one node (what alpha starts)
//
// alpha (the oldest member: the leader) places a "greeter" on the member
// with the role "greeters" (beta) and starts the singleton "ledger" (on
// itself, the leader). gamma asks both by name. Then alpha leaves: the
// ledger moves to beta, the next oldest, and gamma's next ask by name
// rides out the move.
#include <akt/cluster/cluster.hpp>
#include <akt/remote/remoting.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

#include "messages.pb.h"

using namespace std::chrono_literals;
namespace cl = akt::cluster;

// ---------------------------------------------------------------- the actors

// Answers a Greet with a Greet that says where it runs.
class greeter final : public akt::actor {
 public:
  void receive(akt::context& ctx) override {
    if (auto* g = ctx.message<demo::Greet>()) {
      demo::Greet answer;
      answer.set_name("hello " + g->name() + ", from " + ctx.self().path());
      (void)ctx.reply(answer);
    }
  }
};

// The cluster's one ledger: adds what it is told, answers the total so far
// (its state starts afresh where it moves: a real one would persist it).
class ledger final : public akt::actor {
 public:
  void receive(akt::context& ctx) override {
    if (auto* a = ctx.message<demo::Add>()) {
      total_ += a->a() + a->b();
      demo::Sum s;
      s.set_value(total_);
      (void)ctx.reply(s);
    }
  }

 private:
  std::int64_t total_ = 0;
};

// ---------------------------------------------------------------- a node

struct node {
  std::unique_ptr<akt::actor_system> sys;
  cl::cluster* cluster = nullptr;
};

static node start_node(const std::string& name, const std::string& etcd, std::vector<std::string> roles) {
  node n;
  n.sys = akt::actor_system::launch(name, {.logger = akt::make_discard_logger()}).value();
  n.sys->registry().register_message<demo::Greet>();
  n.sys->registry().register_message<demo::Add>();
  n.sys->registry().register_message<demo::Sum>();
  n.sys->registry().register_kind<greeter>("greeter");
  n.sys->registry().register_kind<ledger>("ledger");
  const char* secret = std::getenv("AKT_REMOTE_SECRET");  // the same on every node
  (void)akt::remote::remoting::enable(*n.sys, {.secret = secret ? secret : "demo-secret-change-me",
                                               .permissions = {.spawnable_kinds = {"greeter"}}})
      .value();
  cl::cluster_options options{
      .etcd = {.endpoints = {etcd}}, .name = "demo", .roles = std::move(roles), .lease_ttl = 2s};
  if (etcd.starts_with("managed:")) {
    // "managed:<dir>:<ports>" (alpha's, beta's, gamma's clients-port and
    // peers-port): every node knows all three; each runs its own member.
    std::istringstream spec(etcd.substr(8));
    std::string dir, part;
    std::getline(spec, dir, ':');
    std::vector<akt::discovery::node> all;
    for (const char* id : {"alpha", "beta", "gamma"}) {
      std::uint16_t ports[2];
      for (auto& p : ports) {
        std::getline(spec, part, ':');
        p = static_cast<std::uint16_t>(std::stoi(part));
      }
      all.push_back(
          {.id = id, .host = "127.0.0.1", .ports = {{"clients-port", ports[0]}, {"peers-port", ports[1]}}});
    }
    const auto& me = *std::find_if(all.begin(), all.end(), [&](const auto& x) { return x.id == name; });
    options.managed_etcd = cl::managed_etcd_options{.discovery = akt::discovery::static_nodes(all).value(),
                                                    .data_dir = dir + "/" + name,
                                                    .id = name,
                                                    .clients_port = me.port("clients-port"),
                                                    .peers_port = me.port("peers-port")};
  }
  auto c = cl::cluster::enable(*n.sys, options);
  if (!c) {
    std::cerr << name << ": " << c.error().to_string() << "\n";
    return n;  // no cluster: the caller gives up (or tries again)
  }
  n.cluster = *c;
  return n;
}

static void say(const std::string& who, const std::string& what) {
  std::cout << "[" << who << "] " << what << std::endl;
}

// beta and gamma: join, do their part, leave when told (stdin closes).
static int run_node(const std::string& name, const std::string& etcd, const std::string& role) {
  node n = start_node(name, etcd, role.empty() ? std::vector<std::string>{} : std::vector<std::string>{role});
  if (!n.cluster) return 1;
  say(name, "joined as " + n.cluster->self());
  if (name == "gamma") {
    // Both names were placed from alpha: ask them by name, from here.
    demo::Greet hi;
    hi.set_name("gamma");
    auto greeting = n.cluster->ask<demo::Greet>("greeter", hi, 10s);
    say(name, greeting ? greeting->name() : greeting.error().to_string());
    demo::Add add;
    add.set_a(40);
    add.set_b(2);
    auto total = n.cluster->ask<demo::Sum>("ledger", add, 10s);
    say(name, "ledger total " + (total ? std::to_string(total->value()) : total.error().to_string()) +
                  " at " + n.cluster->lookup("ledger")->path());
    // Until alpha leaves: then the ledger is re-created on beta, and this
    // ask waits out the move (within its deadline).
    const std::string first_home = n.cluster->lookup("ledger")->path();
    for (const auto until = std::chrono::steady_clock::now() + 20s;
         std::chrono::steady_clock::now() < until;) {
      auto home = n.cluster->await("ledger", 10s);
      if (home && home->path() != first_home) break;
      std::this_thread::sleep_for(20ms);  // polling a demo's view; a real client just sends by name
    }
    auto moved = n.cluster->ask<demo::Sum>("ledger", add, 10s);
    say(name, "after alpha left: ledger total " +
                  (moved ? std::to_string(moved->value()) : moved.error().to_string()) + " at " +
                  n.cluster->lookup("ledger")->path());
    return moved ? 0 : 1;
  }
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  return 0;
}

// ---------------------------------------------------------------- alpha, and the processes

static pid_t spawn_self(const char* self, std::vector<std::string> args, int* stdin_pipe) {
  int in[2];
  if (pipe(in) != 0) return -1;
  const pid_t child = fork();
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(in[0], STDIN_FILENO);
    close(in[1]);
    std::vector<char*> argv{const_cast<char*>(self)};
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(self, argv.data());
    _exit(127);
  }
  close(in[0]);
  *stdin_pipe = in[1];
  return child;
}

static std::uint16_t free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// An etcd of our own, on free loopback ports, its data in a temporary directory.
static pid_t start_etcd(std::string& endpoint, std::filesystem::path& dir) {
  const std::string client = "http://127.0.0.1:" + std::to_string(free_port());
  const std::string peer = "http://127.0.0.1:" + std::to_string(free_port());
  dir = std::filesystem::temp_directory_path() / ("akt-example-etcd-" + std::to_string(getpid()));
  endpoint = client.substr(7);
  const pid_t child = fork();
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    freopen("/dev/null", "w", stdout);
    freopen("/dev/null", "w", stderr);
    execl("/usr/bin/etcd", "etcd", "--name=demo", ("--data-dir=" + dir.string()).c_str(),
          ("--listen-client-urls=" + client).c_str(), ("--advertise-client-urls=" + client).c_str(),
          ("--listen-peer-urls=" + peer).c_str(), ("--initial-advertise-peer-urls=" + peer).c_str(),
          ("--initial-cluster=demo=" + peer).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Listening within a few seconds (bounded): then enable's own deadline covers the rest.
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(endpoint.substr(endpoint.find(':') + 1))));
  for (const auto until = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < until;) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    const bool up = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    if (up) break;
    std::this_thread::sleep_for(20ms);
  }
  return child;
}

int main(int argc, char** argv) {
  if (argc >= 4 && std::string(argv[1]) == "node") return run_node(argv[2], argv[3], argc > 4 ? argv[4] : "");

  std::string etcd = std::getenv("AKT_ETCD") ? std::getenv("AKT_ETCD") : "";
  std::filesystem::path etcd_dir;
  pid_t etcd_pid = -1;
  if (argc > 1 && std::string(argv[1]) == "--managed") {
    // Each node its own etcd member: only their ports and data to choose.
    etcd_dir = std::filesystem::temp_directory_path() / ("akt-example-managed-" + std::to_string(getpid()));
    etcd = "managed:" + etcd_dir.string();
    for (int i = 0; i < 6; ++i) etcd += ":" + std::to_string(free_port());
  } else if (etcd.empty()) {
    etcd_pid = start_etcd(etcd, etcd_dir);
  }

  // alpha first: the oldest member leads.
  node alpha = start_node("alpha", etcd, {});
  if (!alpha.cluster) return 1;
  say("alpha", "joined as " + alpha.cluster->self() +
                   (etcd.starts_with("managed:") ? ", with its own etcd member" : ", etcd at " + etcd));
  int beta_in = -1, gamma_in = -1;
  const pid_t beta = spawn_self(argv[0], {"node", "beta", etcd, "greeters"}, &beta_in);
  for (const auto until = std::chrono::steady_clock::now() + 20s;
       alpha.cluster->members().size() < 2 && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(10ms);  // polling the local view, bounded
  }
  // A greeter on the member with the role "greeters" (beta), the ledger on the leader (here).
  auto g = alpha.cluster->spawn_on("greeter", "greeter", cl::placement::round_robin("greeters"));
  say("alpha", "greeter placed: " + (g ? g->path() : g.error().to_string()));
  auto l = alpha.cluster->spawn_singleton("ledger", "ledger");
  say("alpha", "singleton ledger: " + (l ? l->path() : l.error().to_string()));
  for (const auto& m : alpha.cluster->members()) say("alpha", "member " + m.address + " (" + m.system + ")");

  const pid_t gamma = spawn_self(argv[0], {"node", "gamma", etcd}, &gamma_in);
  // Once gamma has asked the ledger here, alpha leaves: the ledger moves.
  for (const auto until = std::chrono::steady_clock::now() + 20s;
       l && l->metrics().processed == 0 && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(10ms);
  }
  say("alpha", "leaving the cluster");
  (void)alpha.sys->stop();
  alpha.sys.reset();

  int gamma_status = 1;
  waitpid(gamma, &gamma_status, 0);
  close(beta_in);  // beta leaves too
  close(gamma_in);
  waitpid(beta, nullptr, 0);
  if (etcd_pid > 0) {
    kill(etcd_pid, SIGTERM);
    waitpid(etcd_pid, nullptr, 0);
  }
  if (!etcd_dir.empty()) std::filesystem::remove_all(etcd_dir);
  const bool ok = g && l && WIFEXITED(gamma_status) && WEXITSTATUS(gamma_status) == 0;
  std::cout << (ok ? "cluster example finished" : "cluster example FAILED") << std::endl;
  return ok ? 0 : 1;
}
