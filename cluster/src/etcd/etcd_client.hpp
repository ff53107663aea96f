// etcd_client: the calls Akt's cluster makes to etcd's v3 API over gRPC
// (our own cluster/proto/etcd.proto). Every call has a deadline; a call
// that finds its endpoint unavailable moves on to the next endpoint; with a
// user name, the client authenticates and sends the token with each call,
// authenticating again when etcd says the token expired.
//
// Errors: errc::unavailable (no endpoint answered in time: says which and
// why), errc::invalid_argument (etcd refused the request), errc::timeout.
//
// Thread safety: every member from any thread; a watch_stream's callbacks
// run on its own thread, one at a time.
#pragma once

#include <akt/error.hpp>

#include "etcd/etcd_metrics.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace grpc {
class Channel;
class ClientContext;
}  // namespace grpc

namespace akt::cluster::detail {

struct etcd_config {
  std::vector<std::string> endpoints;  // host:port
  std::string username, password;
  std::string ca_file, certificate_file, private_key_file;  // TLS when ca_file is set
  std::chrono::milliseconds request_timeout{3000};
  etcd_metrics* metrics = nullptr;  // when set, every call is timed there; it outlives the client
};

struct etcd_kv {
  std::string key, value;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
  std::int64_t lease = 0;
};

struct etcd_member {
  std::uint64_t id = 0;
  std::string name;  // empty while an added member has not started
  std::vector<std::string> peer_urls;
  std::vector<std::string> client_urls;
  bool learner = false;
};

struct etcd_status {
  std::uint64_t cluster_id = 0;
  std::uint64_t member_id = 0;  // of the member that answered
  std::uint64_t leader = 0;     // 0: no leader (no quorum)
  std::string version;
};

struct etcd_event {
  bool deleted = false;
  etcd_kv kv;
};

struct etcd_range {
  std::vector<etcd_kv> kvs;
  std::int64_t revision = 0;  // the store's revision the range was read at
};

// The end of a key prefix's range: the prefix with its last byte + 1.
std::string prefix_end(std::string_view prefix);

class etcd_client {
 public:
  explicit etcd_client(etcd_config config);
  ~etcd_client();
  etcd_client(const etcd_client&) = delete;
  etcd_client& operator=(const etcd_client&) = delete;

  const etcd_config& config() const noexcept { return config_; }

  result<etcd_range> get_prefix(const std::string& prefix);
  result<std::optional<etcd_kv>> get(const std::string& key);
  status put(const std::string& key, const std::string& value, std::int64_t lease = 0);
  // Creates `key` if no key of that name exists, nor `also_absent` when
  // given (one transaction). Returns nullopt when created, else the key in
  // the way (`key` first).
  result<std::optional<etcd_kv>> create(const std::string& key, const std::string& value, std::int64_t lease,
                                        const std::string& also_absent = {});
  // Deletes `key` if its value is `value` (one transaction); true if deleted.
  result<bool> erase_if(const std::string& key, const std::string& value);
  status erase(const std::string& key);

  result<std::int64_t> grant_lease(std::chrono::seconds ttl);
  status revoke_lease(std::int64_t lease);
  // One keep-alive; the lease's remaining TTL in seconds (<= 0: it is gone).
  result<std::int64_t> keep_alive(std::int64_t lease);
  // The version of the etcd answering; for readiness checks.
  result<std::string> server_version();
  result<etcd_status> status_of();

  // Cluster membership (etcd's Cluster service).
  result<std::vector<etcd_member>> member_list();
  // Adds a member (a learner when asked: it votes only once promoted).
  // Gives the new member and every member after the change.
  result<std::pair<etcd_member, std::vector<etcd_member>>> member_add(const std::string& peer_url,
                                                                      bool learner);
  status member_remove(std::uint64_t id);
  // Errors while the learner is not yet in sync with the leader.
  status member_promote(std::uint64_t id);

  // Watches a prefix from `from_revision` on. `on_events` gets each batch
  // with the revision it brings the view to; `on_end` once, when the stream
  // ends: compacted (errc::not_found: list again), etcd lost
  // (errc::unavailable), or stopped (ok).
  class watch_stream {
   public:
    ~watch_stream();  // stops and joins
    void stop();

   private:
    friend class etcd_client;
    watch_stream() = default;
    std::mutex mu_;
    std::shared_ptr<grpc::ClientContext> context_;
    std::atomic<bool> stopped_{false};
    std::thread thread_;
  };
  using on_events_fn = std::function<void(const std::vector<etcd_event>&, std::int64_t revision)>;
  using on_end_fn = std::function<void(status)>;
  result<std::unique_ptr<watch_stream>> watch(const std::string& prefix, std::int64_t from_revision,
                                              on_events_fn on_events, on_end_fn on_end);

 private:
  struct endpoint;  // a channel and its stubs, made once per endpoint
  // Calls `call(channel, context)` on the current endpoint, then the next
  // ones while they are unavailable, with the token when authenticating.
  template <class Call>
  status with_failover(const char* what, etcd_operation op, Call&& call);  // timed (etcd_metrics)
  template <class Call>
  status failover(const char* what, Call&& call);
  std::shared_ptr<endpoint> endpoint_at(std::size_t i);
  void prepare(grpc::ClientContext& context, std::chrono::steady_clock::time_point deadline);
  status authenticate(std::size_t endpoint_index, std::chrono::steady_clock::time_point deadline);

  etcd_config config_;
  std::mutex mu_;
  std::vector<std::shared_ptr<endpoint>> endpoints_;  // guarded by mu_, made on first use
  std::size_t current_ = 0;                           // guarded by mu_
  std::string token_;                                 // guarded by mu_
};

}  // namespace akt::cluster::detail
