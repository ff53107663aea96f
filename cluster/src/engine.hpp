// engine: what cluster mode does behind akt::cluster::cluster (see
// cluster.hpp for the model). Its threads:
//   - the watch thread (etcd_client::watch_stream) applies etcd's events to
//     the local view and announces membership changes;
//   - the runner keeps the lease alive, re-registers after losing it,
//     advertises this node's load and kinds, lists and watches again when
//     the watch ends, releases names of stopped actors (so no worker waits
//     on etcd for that) and re-creates singletons this node should host.
// Spawns claim names on the spawning thread (one bounded transaction).
// engine.cpp: membership, the view, the runner; names.cpp: claims,
// lookups, sends by name; placement.cpp: spawn_on; singletons.cpp.
#pragma once

#include <akt/cluster/cluster.hpp>

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>

#include "etcd/etcd_client.hpp"
#include "health.hpp"
#include "managed/managed_member.hpp"

namespace akt::remote {
class remoting;
}

namespace akt::cluster::detail {

class engine {
 public:
  engine(actor_system& system, cluster_options options);
  ~engine();

  status validate() const;
  status start(remote::remoting& remoting);
  void leave() { leaving_.store(true); }
  void stop();

  std::string self() const { return self_; }
  std::uint16_t health_port() const { return health_ ? health_->port() : 0; }
  std::vector<member> members() const;
  std::optional<member> leader() const;
  // The view's figures and etcd's latency and errors (cluster::report_metrics).
  void report_metrics(metric_sink& sink) const;
  std::vector<std::pair<std::string, std::string>> names() const;
  // The holder's path of a registered name, or empty.
  std::string path_of(std::string_view name) const;
  // A pid for a registered name; nullopt when the view has no such name.
  std::optional<result<pid>> find(std::string_view name) const;
  result<pid> lookup(std::string_view name) const;
  // Waits until `name` has a holder whose claim is newer than
  // `after_revision` (0: any holder). Gives the pid and the claim's revision.
  result<std::pair<pid, std::int64_t>> await(std::string_view name,
                                             std::chrono::steady_clock::time_point deadline,
                                             std::int64_t after_revision) const;
  result<pid> await_other(std::string_view name, std::chrono::steady_clock::time_point deadline,
                          const pid* stale) const;
  status by_name(std::string_view name, std::chrono::nanoseconds timeout,
                 const std::function<status(const pid&)>& send) const;

  status claim(std::string_view name, const std::string& path);
  void release(const std::string& name, const std::string& path);

  // placement.cpp
  result<pid> spawn_on(std::string_view kind, std::string_view name, const placement& where,
                       std::chrono::nanoseconds timeout);

  // singletons.cpp
  result<pid> spawn_singleton(std::string_view name, std::string_view kind, const singleton_options& options);
  status stop_singleton(std::string_view name);
  std::vector<std::pair<std::string, std::string>> singletons() const;

 private:
  // The node (and system) holding names: one per holder, shared by all
  // its entries, so an entry costs a pointer rather than two strings.
  struct holder {
    std::string prefix;   // "akt://<system>@<host:port>": a name's path is prefix + "/" + name
    std::string address;  // "<host:port>"
    bool local = false;   // this node
    bool exact = false;   // an unusual path: `prefix` is the whole path
  };
  struct name_entry {
    std::shared_ptr<const holder> by;
    std::int64_t revision = 0;  // the claim's creation revision: a new claim, a new holder
    mutable pid cached{};       // a remote holder's pid, made at the first lookup
    std::string path(std::string_view name) const {
      return by->exact ? by->prefix : by->prefix + "/" + std::string(name);
    }
  };
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  using name_map = std::unordered_map<std::string, name_entry, string_hash, std::equal_to<>>;
  struct singleton_entry {
    std::string kind;
    std::string role;  // empty: the leader hosts it
  };
  using member_map = std::map<std::string, member>;  // by address

  std::string member_key(std::string_view address) const {
    return prefix_ + "members/" + std::string(address);
  }
  std::string name_key(std::string_view name) const { return prefix_ + "names/" + std::string(name); }
  std::string singleton_key(std::string_view name) const {
    return prefix_ + "singletons/" + std::string(name);
  }
  std::string member_value(std::uint64_t load, const std::vector<std::string>& kinds) const;
  // Applies one key of the cluster's state to the view (view_mu_ held).
  void apply(const etcd_kv& kv, bool deleted);
  // The shared holder of a claim's value "<address>\t<path>" (view_mu_ held).
  std::shared_ptr<const holder> holder_of(std::string_view value, std::string_view name);
  // The oldest member with `role` (any when empty); nullopt when none.
  std::optional<member> oldest_with(std::string_view role) const;
  // Spawns `kind` under `name` on `address` (this node or a remote one).
  result<pid> spawn_at(const member& where, std::string_view kind, std::string_view name,
                       std::chrono::nanoseconds timeout);
  // Advertises this node's load and kinds when they changed enough (runner).
  void advertise();
  // Spawns the singletons this node should host and nobody holds (runner).
  void reconcile_singletons();
  status register_self();
  // Lists the prefix, replaces the view (announcing the differences) and
  // watches from the next revision.
  status list_and_watch();
  void on_events(const std::vector<etcd_event>& events, std::int64_t revision);
  void on_watch_end(status why);
  // With announce_mu_ held: announces what changed between two views.
  void announce_changes(const member_map& before, const member_map& after, const std::string& why_left);
  void runner();
  void keep_alive_once();
  void reclaim_names();
  void post(std::function<void()> job);
  void post_release(std::string key, std::string value, std::string name, std::int64_t lease);
  void retry_releases();
  void request_reconcile();
  // Why this node is not ready (the health endpoint's /readyz), or empty.
  std::string readiness() const;

  actor_system& system_;
  cluster_options options_;
  etcd_metrics etcd_metrics_;               // every call of etcd_ (declared first: it outlives etcd_)
  std::unique_ptr<etcd_client> etcd_;       // made at start (a managed member's endpoints are known then)
  std::unique_ptr<managed_member> member_;  // managed mode: this node's etcd member
  std::unique_ptr<health_server> health_;   // cluster_options::health_port
  remote::remoting* remoting_ = nullptr;
  std::string self_;
  std::string prefix_;  // /akt/<cluster>/
  std::int64_t started_at_ms_ = 0;

  mutable std::mutex view_mu_;
  member_map members_;                                                    // guarded by view_mu_
  name_map names_;                                                        // guarded by view_mu_
  std::unordered_map<std::string, std::weak_ptr<const holder>> holders_;  // interned by prefix (view_mu_)
  std::map<std::string, singleton_entry> singletons_;                     // guarded by view_mu_
  std::int64_t revision_ = 0;                                             // guarded by view_mu_
  mutable std::condition_variable view_changed_;  // with view_mu_: names or members changed
  std::mutex announce_mu_;                        // announcements one at a time, in view order

  std::mutex claims_mu_;
  std::unordered_map<std::string, std::string> claims_;  // ours: name -> path (guarded by claims_mu_)

  std::mutex mu_;  // the runner's state
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;  // guarded by mu_
  struct release_job {
    std::string key, value, name;
    std::int64_t lease;
  };
  std::vector<release_job> failed_releases_;  // posted again each beat (guarded by mu_)
  bool relist_ = false;                       // guarded by mu_
  bool reconcile_ = false;                    // guarded by mu_
  bool stopping_ = false;                     // guarded by mu_
  std::atomic<std::int64_t> lease_{0};
  std::atomic<std::int64_t> last_renewed_{0};  // steady clock ticks of the last registration or keep-alive
  std::uint64_t advertised_load_ = 0;          // the runner's
  std::vector<std::string> advertised_kinds_;  // the runner's (and start's)

  std::atomic<bool> leaving_{false};  // the system is stopping: host no singleton any more
  std::mutex hosted_mu_;
  std::set<std::string> hosted_;  // singletons spawned here (guarded by hosted_mu_)

  std::atomic<std::uint64_t> round_robin_{0};
  std::mutex placed_mu_;
  std::unordered_map<std::string, std::uint64_t> placed_;  // address -> spawned there since it advertised
  std::unique_ptr<etcd_client::watch_stream> watch_;       // the runner's (and start's)
  std::thread runner_;
};

}  // namespace akt::cluster::detail
