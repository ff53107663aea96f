#include "etcd/etcd_metrics.hpp"

#include <algorithm>

namespace akt::cluster::detail {

std::string_view to_string(etcd_operation op) noexcept {
  static constexpr std::string_view names[etcd_operations] = {
      "range",           "put",    "txn",         "delete",     "lease_grant",   "lease_revoke",
      "lease_keepalive", "status", "member_list", "member_add", "member_remove", "member_promote"};
  return names[static_cast<std::size_t>(op)];
}

void etcd_metrics::record(etcd_operation op, std::chrono::nanoseconds took, bool failed) noexcept {
  per_operation& o = ops_[static_cast<std::size_t>(op)];
  const double seconds = std::chrono::duration<double>(took).count();
  // The first bound at or above the value: buckets are (bounds[i-1], bounds[i]].
  const auto at =
      static_cast<std::size_t>(std::lower_bound(bounds.begin(), bounds.end(), seconds) - bounds.begin());
  o.buckets[at].fetch_add(1, std::memory_order_relaxed);
  o.sum_ns.fetch_add(static_cast<std::uint64_t>(std::max<std::int64_t>(took.count(), 0)),
                     std::memory_order_relaxed);
  if (failed) o.errors.fetch_add(1, std::memory_order_relaxed);
}

void etcd_metrics::report(metric_sink& sink, metric_attribute base) const {
  static constexpr metric_info duration{"akt.cluster.etcd.duration", "s",
                                        "Time the cluster's etcd calls took, failover and retries included.",
                                        metric_kind::histogram};
  static constexpr metric_info errors{"akt.cluster.etcd.errors", "{error}",
                                      "etcd calls that failed (unavailable, refused or timed out).",
                                      metric_kind::counter};
  for (std::size_t i = 0; i < etcd_operations; ++i) {
    const per_operation& o = ops_[i];
    std::array<std::uint64_t, bounds.size() + 1> counts{};
    std::uint64_t count = 0;
    for (std::size_t b = 0; b < counts.size(); ++b) {
      counts[b] = o.buckets[b].load(std::memory_order_relaxed);
      count += counts[b];
    }
    if (count == 0) continue;  // an operation this node never made: no series
    const metric_attribute attrs[] = {base,
                                      {"akt.etcd.operation", to_string(static_cast<etcd_operation>(i))}};
    const histogram_data h{.bounds = bounds,
                           .counts = counts,
                           .count = count,
                           .sum = static_cast<double>(o.sum_ns.load(std::memory_order_relaxed)) / 1e9};
    sink.record(duration, attrs, h);
    sink.record(errors, attrs, static_cast<std::int64_t>(o.errors.load(std::memory_order_relaxed)));
  }
}

}  // namespace akt::cluster::detail
