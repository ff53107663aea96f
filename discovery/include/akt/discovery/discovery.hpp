// akt/discovery/discovery.hpp — how cluster nodes find each other before
// they share an etcd: a provider lists the nodes that make up the cluster,
// each with its named ports, and says when that list changes.
//
//   auto peers = akt::discovery::static_nodes({
//       {.host = "10.0.0.1", .ports = {{"clients-port", 2379}, {"peers-port", 2380}, {"remoting-port",
//       4000}}},
//       ...});
//   auto dns = akt::discovery::dns({.name = "akt.shop.svc.cluster.local", .srv = true}).value();
//   auto k8s = akt::discovery::kubernetes({.system = "shop", .application = "orders"}).value();
//   k8s->start();
//   auto nodes = k8s->nodes();                        // a fresh list, or the reason there is none
//   k8s->watch([](const std::vector<node>& now) {}); // every change, from the provider's thread
//
// Three providers: static (a fixed list), DNS (A/AAAA and SRV records,
// polled; see dns_options), Kubernetes (the API server's pods: list, then
// watch). The port names are GoAkt's: clients-port (etcd clients),
// peers-port (etcd members among themselves), remoting-port (Akt's
// remoting).
#pragma once

#include <akt/error.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace akt::discovery {

inline constexpr std::string_view clients_port = "clients-port";
inline constexpr std::string_view peers_port = "peers-port";
inline constexpr std::string_view remoting_port = "remoting-port";

// One node as its provider sees it.
struct node {
  std::string id;    // stable and unique per node: a pod's name, a host:port
  std::string host;  // an IP address (or, for static lists, a name the caller resolves)
  std::map<std::string, std::uint16_t, std::less<>> ports;  // by name

  // The port named `name`, or 0.
  std::uint16_t port(std::string_view name) const {
    auto it = ports.find(name);
    return it == ports.end() ? 0 : it->second;
  }
  friend bool operator==(const node&, const node&) = default;
};

class provider {
 public:
  using on_change_fn = std::function<void(const std::vector<node>&)>;

  virtual ~provider() = default;
  virtual std::string_view name() const noexcept = 0;  // "static", "dns", "kubernetes"

  // Checks the configuration and what it needs from outside (a token, a
  // CA, a resolver); starts nothing that runs on its own yet.
  virtual status start() = 0;
  // The nodes now, asked of the source (not a cache), sorted by id.
  // Errors say what was wrong: unreachable, refused, malformed.
  virtual result<std::vector<node>> nodes() = 0;
  // From now on, `on_change` gets the whole list (sorted by id) whenever it
  // differs from the last one it got, first with the list as it is, from
  // the provider's own thread, until stop(). One watcher per provider.
  virtual status watch(on_change_fn on_change) = 0;
  // Ends the watch (its thread is joined: no call after this returns).
  virtual void stop() = 0;
};

// A fixed list (each node needs an id; empty ids become host:port of the
// first port). Errors: invalid_argument (no nodes, duplicate ids, a port 0).
[[nodiscard]] result<std::unique_ptr<provider>> static_nodes(std::vector<node> nodes);

// DNS: the nodes are what a name server says about `name`, asked afresh on
// every nodes() call and every watch poll (c-ares; no cache of ours).
//
//   A/AAAA (srv = false): every address of `name` is a node, id and host =
//   the address ("10.0.0.7", "fd00::7"), ports = `ports`. For a name whose
//   nodes share their ports (a headless Service of one StatefulSet).
//
//   SRV (srv = true): for each port name P, the SRV records of
//   _P._tcp.<name>, as a Kubernetes headless Service publishes its named
//   ports. Each SRV target is a node: id = the target host name (lower
//   case, no trailing dot), host = its address (the SRV answer's additional
//   section, else an A/AAAA query; IPv4 first, then the smallest), ports =
//   P -> the record's port, merged over every P. A node that lacks a port
//   name is listed with the ports it has (port(P) gives 0): whether it can
//   serve without one is the caller's call. A port name with no records at
//   all is not an error; every port name without records is. A target
//   with no address is left out (while others resolve). Two records for one
//   target and port name: the lowest priority wins, then the lowest port.
//
// `name` is asked as given (no search domains of resolv.conf): give it
// fully qualified. nodes() never succeeds with an empty list: DNS cannot
// tell "no nodes" from "not published yet", so both are errors.
//
// Errors of nodes(): not_found (the name does not exist, NXDOMAIN; no
// records of the type asked for), unavailable (no server answered within
// `timeout`; refused; a server failure; a malformed answer).
//
// watch(): a thread of the provider's asks every `interval` and calls
// on_change when the sorted list differs from the last one it gave (the
// first time: at the first successful poll). A failed poll changes
// nothing: the watch keeps the last list and asks again an interval later;
// it never reports an empty list because a server was briefly away.
// stop() wakes it at once, cancelling a query under way (within ~20 ms).
// stop() from inside on_change ends the watch once on_change returns; the
// thread is then joined by the next stop() or the destructor.
//
// Thread safety: nodes() may be called from any thread, also during a
// watch; watch() and stop() from the owner's thread.
struct dns_options {
  std::string name;  // e.g. the headless Service "akt.shop.svc.cluster.local"
  bool srv = false;  // SRV records of _<port name>._tcp.<name>; else A/AAAA of <name>
  std::map<std::string, std::uint16_t, std::less<>>
      ports{};  // A/AAAA: every node's ports (at least one, none 0)
  std::vector<std::string> port_names{std::string(clients_port), std::string(peers_port),
                                      std::string(remoting_port)};  // SRV: DNS labels (letters, digits, '-')
  // "ip:port", "ip", "[ipv6]:port" or "[ipv6]" (port 53 if left out); no
  // host names. Empty: the system's resolvers (/etc/resolv.conf).
  std::vector<std::string> servers{};
  std::chrono::milliseconds interval{5000};  // how often the watch polls (> 0)
  // Per round of queries (> 0): A and AAAA are asked together; SRV asks its
  // port names together, then (if the additional sections lacked them) the
  // targets' addresses, so one SRV resolution takes at most twice this.
  std::chrono::milliseconds timeout{2000};
};
// Errors: invalid_argument (an empty name, interval or timeout <= 0, A/AAAA
// without ports or with a port 0, SRV without port names or with a name
// that is not a DNS label, a server that is not an IP address and port).
[[nodiscard]] result<std::unique_ptr<provider>> dns(dns_options options);

// Kubernetes: the pods of one application, from the API server the process
// runs under (deploy/kubernetes/ has a StatefulSet, headless Service and
// RBAC that fit). nodes() lists them (GET /api/v1/namespaces/<ns>/pods with
// the label selector below); watch() lists, then follows the API's watch
// stream from the list's resourceVersion: on_change gets the new list after
// each ADDED / MODIFIED / DELETED event that changes it. A stream that ends
// is resumed from the last resourceVersion seen; 410 Gone (that version is
// compacted away) makes it list again; other failures are retried with a
// backoff of 100 ms doubling to 5 s. stop() ends a waiting stream at once.
//
// A pod is a node while it is Running, its Ready condition is "True" and it
// has a status.podIP: id = metadata.name, host = status.podIP, ports = the
// containers' ports whose names are in port_names (containerPort).
//
// A selected, Ready pod that lacks one of port_names is a misconfigured
// member, not a pod to skip quietly (an etcd that bootstraps without it
// would form a cluster of fewer members): nodes() and watch() fail with
// invalid_argument naming the pod, the missing port and the ports it has.
// Inside a running watch, which has no one to tell, such a pod is left out.
//
// Errors: invalid_argument (from kubernetes(): system or application empty
// or not a label value, no port_names; from start(): no API server, token
// file or CA file unreadable, namespace unknown; a CA that does not verify
// the server's certificate; a pod without a named port), not_permitted (401:
// the token is bad or expired; 403: the service account needs a Role with
// get, list and watch on pods), unavailable (unreachable, no answer within
// `timeout`, another status, malformed JSON), not_running (before start()).
//
// Thread safety: start() first; then nodes() from any thread, also while a
// watch runs; stop() from any thread but on_change's own.
struct kubernetes_options {
  // Selected pods carry the labels app.kubernetes.io/part-of=<system>,
  // app.kubernetes.io/component=<application>, app.kubernetes.io/name=<application>.
  // Both are required, and must be valid label values.
  std::string system;
  std::string application;
  std::string namespace_name{};  // empty: the pod's own (from namespace_file)
  // In-cluster configuration; defaults are where Kubernetes mounts them.
  std::string
      api_server{};  // "https://host:port"; empty: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT
  // Read again for every request: the kubelet rotates projected tokens.
  std::string token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";  // verifies the API server
  std::string namespace_file = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
  std::vector<std::string> port_names{std::string(clients_port), std::string(peers_port),
                                      std::string(remoting_port)};  // container ports to read; each required
  // Per list request, and to connect; a watch stream itself has no total
  // timeout (the API server ends it after 5 min and the provider resumes).
  std::chrono::milliseconds timeout{5000};
};
[[nodiscard]] result<std::unique_ptr<provider>> kubernetes(kubernetes_options options);

}  // namespace akt::discovery
