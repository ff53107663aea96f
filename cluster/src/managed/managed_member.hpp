// managed_member: the etcd process a node runs beside itself in managed mode
// (cluster_options::managed_etcd), on its clients-port and peers-port.
//
// Start: a data directory that holds a member restarts it. Otherwise the
// node asks discovery for the others and tries each one's clients-port:
// an etcd that answers means a cluster exists, and this node joins it —
// MemberAdd as a learner (one join at a time: etcd refuses a second
// learner, so a refused add is retried with backoff), starts its etcd with
// the members etcd returned, and is promoted once it caught up. When no
// etcd answers, only the node with the lowest discovery id creates a new
// cluster; every other one waits for it. With every node seeing the same
// list (static discovery, a StatefulSet's ordered pods), one start gives
// one cluster, never two.
//
// While running: a member process that dies is started again (backoff up
// to 30 s); one that finds itself removed from the cluster starts over
// with an empty data directory and joins again.
//
// Leave (stop): MemberRemove of itself, then the process ends and its data
// directory goes; the last member (or one whose removal etcd refuses, as
// when it would break quorum) keeps its data and says why.
#pragma once

#include <akt/akt.hpp>
#include <akt/cluster/cluster.hpp>

#include "etcd/etcd_client.hpp"

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace akt::cluster::detail {

class managed_member {
 public:
  managed_member(managed_etcd_options options, std::string cluster_name, akt::logger& log);
  ~managed_member();  // stops the process (without leaving the cluster)
  managed_member(const managed_member&) = delete;
  managed_member& operator=(const managed_member&) = delete;

  // Checks the options and the machine (binary, ports, data directory).
  status validate(const std::string& default_host);
  // Brings the member up: restarted, joined or bootstrapped (see above),
  // within options.join_timeout. Gives the client endpoints to use, this
  // member's first.
  result<std::vector<std::string>> start();
  // Leaves the etcd cluster (MemberRemove), then stops the process.
  void leave();
  // What an operator should know when etcd calls fail: quorum lost, or
  // this member down; empty when the member looks fine.
  std::string diagnose() const;

  std::string client_endpoint() const { return host_ + ":" + std::to_string(options_.clients_port); }
  std::string peer_url() const { return scheme() + host_ + ":" + std::to_string(options_.peers_port); }

 private:
  std::string scheme() const { return options_.tls ? "https://" : "http://"; }
  std::string client_url() const { return scheme() + client_endpoint(); }
  std::unique_ptr<etcd_client> client_for(std::vector<std::string> endpoints,
                                          std::chrono::milliseconds timeout) const;
  bool has_data() const;
  // Launches etcd; `initial_cluster` empty = restart from the data directory.
  status wait_ready(std::chrono::steady_clock::time_point deadline);
  // Finds the cluster (or founds it) and prepares the launch; no process yet.
  status find_or_found(std::chrono::steady_clock::time_point deadline);
  status add_self(const std::vector<std::string>& endpoints, std::chrono::steady_clock::time_point deadline);
  status promote_self(std::chrono::steady_clock::time_point deadline);
  pid_t spawn_process();
  bool log_says_removed() const;
  void supervise();
  void kill_process();
  std::vector<std::string> peer_endpoints() const;  // the others' client endpoints, as last discovered

  managed_etcd_options options_;
  std::string cluster_name_;
  akt::logger& log_;
  std::string host_;
  std::string name_;  // the member's name: this node's discovery id

  mutable std::mutex mu_;
  std::condition_variable changed_;
  pid_t pid_ = -1;                  // guarded by mu_
  bool stopping_ = false;           // guarded by mu_
  std::vector<std::string> peers_;  // others' client endpoints (guarded by mu_)
  std::string initial_cluster_;     // the next launch's; empty: restart from the data (guarded by mu_)
  bool new_cluster_ = false;        // guarded by mu_
  std::uint64_t member_id_ = 0;     // guarded by mu_
  std::thread supervisor_;
  std::thread promoter_;  // after a re-join, the supervisor's
};

}  // namespace akt::cluster::detail
