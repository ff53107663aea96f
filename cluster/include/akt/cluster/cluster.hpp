// akt/cluster/cluster.hpp — cluster mode on etcd: membership, and a
// cluster-wide registry of names.
//
//   auto* node = akt::remote::remoting::enable(*sys, {.host = "10.0.0.5", .secret = s}).value();
//   auto* cluster = akt::cluster::cluster::enable(*sys, {
//       .etcd = {.endpoints = {"10.0.0.1:2379", "10.0.0.2:2379", "10.0.0.3:2379"}},
//       .roles = {"orders"}}).value();                       // owned by sys, like remoting
//   auto orders = sys->spawn<order_book>("orders");          // claimed cluster-wide first
//   auto same = other_sys->lookup("orders");                 // from any node: a working pid
//   cluster->members();                                      // the local view, oldest first
//
// Membership: each node registers under /akt/<cluster>/members/<address>,
// bound to its own etcd lease (lease_ttl, kept alive every third of it);
// every node keeps a local view by listing the prefix, then watching it
// from the next revision (listing again when the watch is compacted away
// or etcd is lost). Changes reach the event stream and every extension as
// node events — joined, left, leader_changed — in etcd's revision order,
// so every node sees the same changes in the same order. The leader is the
// oldest member: the lowest creation revision of a member key.
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
// A node that loses its lease (a partition longer than lease_ttl) learns it
// at its next keep-alive, registers again with a new lease and claims its
// names again; an actor whose name another node took meanwhile is stopped,
// so that lookups never see two live actors under one name.
//
// Requires remoting (remote::remoting::enable first): the cluster's
// addresses are remoting's. Thread safety: all members from any thread.
#pragma once

#include <akt/akt.hpp>

#include <chrono>
#include <cstdint>
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

struct cluster_options {
  etcd_options etcd{};
  std::string name{};  // the cluster's name: its keys live under /akt/<name>/; empty = the system's name
  std::vector<std::string> roles{};
  std::chrono::seconds lease_ttl{5};  // a dead node is forgotten after this (2..3600 s)
};

struct member {
  std::string address;  // remoting's host:port
  std::string system;
  std::vector<std::string> roles;
  std::int64_t started_at_ms = 0;    // system clock, milliseconds since the epoch
  std::int64_t joined_revision = 0;  // etcd's creation revision of its key: lower is older
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

  // akt::extension
  std::string_view name() const noexcept override { return "cluster"; }
  status start(actor_system& system) override;
  void stopping() override;
  void stop() override;
  std::optional<result<pid>> try_resolve(std::string_view name_or_path) override;
  status before_bind(const bind_request& request) override;
  void after_terminate(const actor_view& actor, bool was_bound) noexcept override;

 private:
  explicit cluster(std::unique_ptr<detail::engine> engine);
  std::unique_ptr<detail::engine> engine_;
};

}  // namespace akt::cluster
