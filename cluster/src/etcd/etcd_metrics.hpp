// etcd_metrics: how long the cluster's etcd calls take and how many fail,
// by operation, for an exporter (akt/metrics.hpp).
//
// Every call of etcd_client (failover and retries included: what the
// caller waited) lands in one explicit-bucket histogram per operation;
// the buckets are fixed atomics, so recording allocates nothing and takes
// no lock. Watches are streams, not requests: not timed.
//
// Thread safety: record from any thread (relaxed atomic adds); report
// concurrently with them (a collection may be a call or two apart between
// a histogram's buckets and its sum).
#pragma once

#include <akt/metrics.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>

namespace akt::cluster::detail {

// Low cardinality on purpose: the attribute akt.etcd.operation.
enum class etcd_operation : std::uint8_t {
  range,         // reads: one key or a prefix's page
  put,           // writes
  txn,           // claims and conditional releases
  delete_range,  // deletes
  lease_grant,
  lease_revoke,
  lease_keepalive,
  status,  // version and status checks
  member_list,
  member_add,
  member_remove,
  member_promote,
};
constexpr std::size_t etcd_operations = 12;
std::string_view to_string(etcd_operation op) noexcept;

class etcd_metrics {
 public:
  // Seconds: half a millisecond (a local etcd) to 10 s (beyond any
  // request_timeout worth having).
  static constexpr std::array<double, 14> bounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                    0.1,    0.25,  0.5,    1,     2.5,  5,     10};

  void record(etcd_operation op, std::chrono::nanoseconds took, bool failed) noexcept;
  // akt.cluster.etcd.duration and akt.cluster.etcd.errors for each
  // operation used so far, with `base` (the system) and the operation.
  void report(metric_sink& sink, metric_attribute base) const;

 private:
  struct per_operation {
    std::array<std::atomic<std::uint64_t>, bounds.size() + 1> buckets{};
    std::atomic<std::uint64_t> sum_ns{0};
    std::atomic<std::uint64_t> errors{0};
  };
  std::array<per_operation, etcd_operations> ops_{};
};

}  // namespace akt::cluster::detail
