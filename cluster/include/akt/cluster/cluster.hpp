// akt/cluster/cluster.hpp — cluster mode on etcd: membership, a cluster-wide
// registry of names, placement of kinds, singletons, sends by name.
//
//   auto* node = akt::remote::remoting::enable(*sys, {.host = "10.0.0.5", .secret = s,
//       .permissions = {.spawnable_kinds = {"cart"}}}).value();
//   auto* cluster = akt::cluster::cluster::enable(*sys, {
//       .etcd = {.endpoints = {"10.0.0.1:2379", "10.0.0.2:2379", "10.0.0.3:2379"}},
//       .roles = {"orders"}}).value();                       // owned by sys, like remoting
//   auto orders = sys->spawn<order_book>("orders");          // claimed cluster-wide first
//   auto same = other_sys->lookup("orders");                 // from any node: a working pid
//   auto cart = cluster->spawn_on("cart", "cart-42", akt::cluster::placement::least_loaded());
//   auto ledger = cluster->spawn_singleton("ledger", "ledger"); // one in the cluster, on the leader
//   cluster->tell("ledger", Entry{...}, 2s);                 // by name, across a handoff
//   cluster->members();                                      // the local view, oldest first
//
// Membership: each node registers under /akt/<cluster>/members/<address>,
// bound to its own etcd lease (lease_ttl, kept alive every third of it);
// every node keeps a local view by listing the prefix, then watching it
// from the next revision (listing again when the watch is compacted away
// or etcd is lost). Changes reach the event stream and every extension as
// node events — joined, left, leader_changed — in etcd's revision order,
// so every node sees the same changes in the same order. The leader is the
// oldest member: the lowest creation revision of a member key. A member
// also advertises its load (live actors) and the kinds it can spawn.
//
// Names: spawning a named top-level actor claims /akt/<cluster>/names/<name>
// in one create-only transaction bound to the node's lease, before the
// actor starts (the extension surface's before_bind): a second claim
// anywhere fails with errc::name_taken naming the holder; etcd unreachable
// fails the spawn with errc::unavailable. The claim is released when the
// actor stops (or passivates); a dead node's claims vanish with its lease.
// Lookups by name answer from the local view, with no round trip, and
// give a local pid or a remote one (through remoting). Children and
// anonymous actors are not registered.
//
// Singletons: spawn_singleton records the singleton (name, kind, role) in
// /akt/<cluster>/singletons/<name>, outside any lease, and the oldest
// member with the role hosts it under its name. When that actor's name
// vanishes (its node died or left, or it stopped), the oldest member with
// the role that is still alive spawns it again; the name's create-only
// claim keeps it to one. stop_singleton removes the record, then the actor.
//
// A node that loses its lease (a partition longer than lease_ttl) learns it
// at its next keep-alive, registers again with a new lease and claims its
// names again; an actor whose name another node took meanwhile is stopped,
// so that lookups never see two live actors under one name.
//
// Requires remoting (remote::remoting::enable first): the cluster's
// addresses are remoting's. Placing a kind on another node is a remote
// spawn: that node must list the kind in remoting's
// permissions.spawnable_kinds. Thread safety: all members from any thread.
#pragma once

#include <akt/akt.hpp>
#include <akt/discovery/discovery.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace akt::cluster {

struct etcd_tls {
  std::string ca_file{};           // PEM: the authority that signed etcd's certificate
  std::string certificate_file{};  // PEM, optional: this client's certificate (etcd --client-cert-auth)
  std::string private_key_file{};
};

struct etcd_options {
  std::vector<std::string> endpoints{"127.0.0.1:2379"};  // host:port each; tried in turn when one fails
  std::string username{};                                // etcd authentication, when enabled there
  std::string password{};
  std::optional<etcd_tls> tls{};
  std::chrono::milliseconds request_timeout{3000};  // every etcd call
};

// Managed mode: the node runs its own etcd member beside itself (GoAkt's
// clients-port and peers-port), found by the others through discovery;
// etcd.endpoints are then this member's and the discovered ones. See
// docs/ARCHITECTURE.md, "Managed etcd", for bootstrap, join and leave.
struct managed_etcd_options {
  std::shared_ptr<akt::discovery::provider> discovery{};  // required: the nodes and their named ports
  std::string data_dir{};  // required: this member's data, kept across restarts
  std::string host{};      // where members and clients reach it; empty: remoting's host
  // This node's id among the discovered ones (a pod's name, a host:port):
  // the member's name, and what "the lowest id creates the cluster"
  // compares. Empty: the discovered node with this host and peers_port.
  std::string id{};
  std::uint16_t clients_port = 2379;
  std::uint16_t peers_port = 2380;
  std::string binary = "/usr/bin/etcd";   // Debian's etcd-server
  std::chrono::seconds join_timeout{60};  // to bootstrap, join or restart
  // Mutual TLS among the members and between nodes and members (beyond one
  // machine, use it): every node's certificate, signed by ca_file, must name
  // its host (an IP subjectAltName) and serve as server and client alike.
  // Unset: plain gRPC, for loopback or a private network only.
  std::optional<etcd_tls> tls{};
};

struct cluster_options {
  etcd_options etcd{};
  std::optional<managed_etcd_options> managed_etcd{};
  std::string name{};  // the cluster's name: its keys live under /akt/<name>/; empty = the system's name
  std::vector<std::string> roles{};
  std::chrono::seconds lease_ttl{5};  // a dead node is forgotten after this (2..3600 s)
  // Probes (Kubernetes readiness and liveness): GET /healthz answers 200
  // while the system runs, GET /readyz 200 once this node is registered
  // (503 with the reason before). Unset: no endpoint; 0: a free port.
  std::optional<std::uint16_t> health_port{};
  std::string health_host{};  // empty: remoting's host
};

struct member {
  std::string address;  // remoting's host:port
  std::string system;
  std::vector<std::string> roles;
  std::int64_t started_at_ms = 0;    // system clock, milliseconds since the epoch
  std::int64_t joined_revision = 0;  // etcd's creation revision of its key: lower is older
  std::uint64_t load = 0;            // its live actors, as it last advertised them
  std::vector<std::string> kinds;    // the kinds it can spawn (registry().register_kind)

  bool has_role(std::string_view role) const;
};

// Where spawn_on puts an actor: among the members that advertise the kind
// (and have `role`, when set), this node included.
struct placement {
  enum class strategy {
    round_robin,   // each call the next member, oldest first
    random,        // uniformly
    least_loaded,  // fewest live actors (advertised, plus what this node placed there since)
    local,         // this node (it must have the role and the kind)
  };
  strategy how = strategy::round_robin;
  std::string role{};  // empty: any member

  static placement round_robin(std::string role = {}) { return {strategy::round_robin, std::move(role)}; }
  static placement random(std::string role = {}) { return {strategy::random, std::move(role)}; }
  static placement least_loaded(std::string role = {}) { return {strategy::least_loaded, std::move(role)}; }
  static placement local() { return {strategy::local, {}}; }
};

struct singleton_options {
  std::string role{};  // hosted by the oldest member with this role; empty: by the leader
  std::chrono::milliseconds timeout{5000};  // for placing it and for its name to be seen here
};

namespace detail {
class engine;
}  // namespace detail

class cluster final : public akt::extension {
 public:
  // Adds cluster mode to `system` (which owns it from then on). Starting it
  // registers this node in etcd. Errors: invalid_argument (remoting is not
  // enabled, options inconsistent, already enabled), unavailable (etcd did
  // not answer: says which endpoints and why).
  [[nodiscard]] static result<cluster*> enable(actor_system& system, cluster_options options = {});
  ~cluster() override;
  cluster(const cluster&) = delete;
  cluster& operator=(const cluster&) = delete;

  // This node's address (remoting's host:port).
  std::string self() const;
  // The health endpoint's port (cluster_options::health_port); 0 when none.
  std::uint16_t health_port() const;
  // The members in the local view, oldest first (this node included).
  std::vector<member> members() const;
  // The oldest member; nullopt before the first view.
  std::optional<member> leader() const;
  bool is_leader() const;

  // The cluster-wide registry, from the local view: name -> the full path
  // of the actor that holds it.
  std::vector<std::pair<std::string, std::string>> names() const;
  // A pid for a registered name, local or remote (no network round trip).
  // Errors: not_found.
  [[nodiscard]] result<pid> lookup(std::string_view name) const;
  // Waits up to `timeout` for `name` to have a holder that is not `stale`
  // (a pid that failed the caller): a lookup that rides out a handoff.
  // Errors: not_found (none by the deadline), invalid_argument.
  [[nodiscard]] result<pid> await(std::string_view name, std::chrono::nanoseconds timeout,
                                  const pid* stale = nullptr) const;

  // Spawns an actor of a registered kind on a member chosen by `where`,
  // under `name` (claimed cluster-wide; empty = anonymous). Alone, or with
  // placement::local(), it spawns here. Errors: not_found (no member has
  // the role or offers the kind — says which), name_taken, invalid_name,
  // not_permitted (the chosen node does not let peers spawn the kind),
  // request_timeout, dead_actor (the chosen node is unreachable).
  [[nodiscard]] result<pid> spawn_on(std::string_view kind, std::string_view name, placement where = {},
                                     std::chrono::nanoseconds timeout = std::chrono::seconds(5));

  // The one actor of `kind` named `name` in the cluster, spawned on the
  // leader (or the oldest member with options.role) when there is none yet.
  // Idempotent: from any node, a later call returns the same actor.
  // Re-created on a surviving member when its node is lost. Errors:
  // invalid_argument (the name is a singleton of another kind, or an
  // ordinary actor's), not_found (no member with the role; the kind is not
  // registered there), unavailable (etcd), request_timeout.
  [[nodiscard]] result<pid> spawn_singleton(std::string_view name, std::string_view kind,
                                            singleton_options options = {});
  // Forgets the singleton `name` (it is not re-created again) and stops
  // its actor. Errors: not_found, unavailable.
  status stop_singleton(std::string_view name);
  // The singletons on record: name -> kind.
  std::vector<std::pair<std::string, std::string>> singletons() const;

  // Sends to the actor holding `name`, wherever it is. When no holder is
  // known yet, or the holder's node is found dead, it waits for the name
  // to reappear (a singleton moving) and sends again, up to `timeout`.
  // At most once: a message a dying node took may be lost, and so may one
  // that reaches the holder's node in the instant between the name's claim
  // (visible as soon as etcd has it) and its actor's start. Errors: as
  // await, and tell's.
  template <class T>
  status tell(std::string_view name, T&& msg,
              std::chrono::nanoseconds timeout = std::chrono::seconds(2)) const {
    return by_name(name, timeout, [&](const pid& to) -> status { return to.tell(msg); });
  }
  // Asks the actor holding `name` and waits for its answer; like tell, it
  // retries on a new holder when the one asked died before answering (the
  // request may then have been handled twice: keep such requests
  // idempotent), and again on the same holder while its node answers that
  // it has not started yet. Errors: request_timeout, and as tell.
  template <class R, class T>
  [[nodiscard]] result<R> ask(std::string_view name, T&& msg, std::chrono::nanoseconds timeout) const {
    std::optional<result<R>> answer;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto s = by_name(name, timeout, [&](const pid& to) -> status {
      const auto left = deadline - std::chrono::steady_clock::now();
      auto r = to.ask<R>(msg, std::max(left, std::chrono::steady_clock::duration(1)));
      if (!r) return std::move(r).error();
      answer.emplace(std::move(r));
      return {};
    });
    if (!s) return std::move(s).error();
    return std::move(*answer);
  }

  // akt::extension
  std::string_view name() const noexcept override { return "cluster"; }
  status start(actor_system& system) override;
  void stopping() override;
  void stop() override;
  std::optional<result<pid>> try_resolve(std::string_view name_or_path) override;
  status before_bind(const bind_request& request) override;
  void after_terminate(const actor_view& actor, bool was_bound) noexcept override;
  // akt.cluster.members, .leader (0/1), .names, .singletons (this node's
  // view), and per etcd operation (akt.etcd.operation) the histogram
  // akt.cluster.etcd.duration (s) and the counter akt.cluster.etcd.errors;
  // every series carries akt.system. See docs/ARCHITECTURE.md, "Cluster".
  void report_metrics(metric_sink& sink) const override;

 private:
  explicit cluster(std::unique_ptr<detail::engine> engine);
  // Runs `send` against the holder of `name`; again on the next holder
  // while it fails with dead_actor (the holder is gone), until `timeout`.
  status by_name(std::string_view name, std::chrono::nanoseconds timeout,
                 const std::function<status(const pid&)>& send) const;
  std::unique_ptr<detail::engine> engine_;
};

}  // namespace akt::cluster
