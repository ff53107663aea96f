// engine: what cluster mode does behind akt::cluster::cluster (see
// cluster.hpp for the model). Its threads:
//   - the watch thread (etcd_client::watch_stream) applies etcd's events to
//     the local view and announces membership changes;
//   - the runner keeps the lease alive, re-registers after losing it,
//     lists and watches again when the watch ends, and releases names of
//     stopped actors (so no worker waits on etcd for that).
// Spawns claim names on the spawning thread (one bounded transaction).
#pragma once

#include <akt/cluster/cluster.hpp>

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "etcd/etcd_client.hpp"

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
  void stop();

  std::string self() const { return self_; }
  std::vector<member> members() const;
  std::optional<member> leader() const;
  std::vector<std::pair<std::string, std::string>> names() const;
  // The holder's path of a registered name, or empty.
  std::string path_of(std::string_view name) const;
  result<pid> lookup(std::string_view name) const;

  status claim(std::string_view name, const std::string& path);
  void release(const std::string& name, const std::string& path);

 private:
  struct name_entry {
    std::string address;  // the holder's node
    std::string path;     // the holder's full path
  };
  using member_map = std::map<std::string, member>;  // by address

  std::string member_key(std::string_view address) const {
    return prefix_ + "members/" + std::string(address);
  }
  std::string name_key(std::string_view name) const { return prefix_ + "names/" + std::string(name); }
  std::string member_value() const;
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

  actor_system& system_;
  cluster_options options_;
  etcd_client etcd_;
  remote::remoting* remoting_ = nullptr;
  std::string self_;
  std::string prefix_;  // /akt/<cluster>/
  std::int64_t started_at_ms_ = 0;

  mutable std::mutex view_mu_;
  member_map members_;                                 // guarded by view_mu_
  std::unordered_map<std::string, name_entry> names_;  // guarded by view_mu_
  std::int64_t revision_ = 0;                          // guarded by view_mu_
  std::mutex announce_mu_;                             // announcements one at a time, in view order

  std::mutex claims_mu_;
  std::unordered_map<std::string, std::string> claims_;  // ours: name -> path (guarded by claims_mu_)

  std::mutex mu_;  // the runner's state
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;  // guarded by mu_
  bool relist_ = false;                     // guarded by mu_
  bool stopping_ = false;                   // guarded by mu_
  std::atomic<std::int64_t> lease_{0};
  std::unique_ptr<etcd_client::watch_stream> watch_;  // the runner's (and start's)
  std::thread runner_;
};

}  // namespace akt::cluster::detail
