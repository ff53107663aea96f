// prometheus_endpoint.hpp — GET /metrics in Prometheus's text format, served
// by prometheus-cpp's exposer (civetweb) on a port of the operator's choice.
// Every scrape makes a fresh collection (collect()) and maps it:
//   - the name: OpenTelemetry's with '.' → '_', the unit as a suffix
//     (s → _seconds, By → _bytes, "{message}" and other annotations → none,
//     1 → _ratio), and _total for counters (OpenTelemetry's Prometheus
//     compatibility rules);
//   - counter → counter, up_down and gauge → gauge, histogram → histogram
//     (cumulative buckets with le, _sum, _count);
//   - the resource once, as a `target_info` gauge of 1 whose labels are its
//     attributes (service_name among them); series carry their own
//     attributes only (Prometheus adds job and instance itself).
//
// Thread safety: collect() is called on the exposer's threads, one scrape
// at a time or concurrently: it must be safe for that.
#pragma once

#include <akt/error.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "snapshot.hpp"
#include "span_data.hpp"

namespace akt::otel::detail {

// The Prometheus name of an OpenTelemetry metric (see above).
std::string prometheus_name(const metric_family& f);

class prometheus_endpoint {
 public:
  // Serves http://<address>/metrics ("127.0.0.1:9464"; port 0 picks a free
  // one). Errors: invalid_argument (not host:port), unavailable (cannot
  // bind: the port is in use, naming it).
  static result<std::unique_ptr<prometheus_endpoint>> start(std::string_view address, resource_info resource,
                                                            std::function<metric_snapshot()> collect);
  ~prometheus_endpoint();  // stops serving; a scrape in progress finishes first
  std::uint16_t port() const noexcept;

  struct impl;

 private:
  explicit prometheus_endpoint(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
};

}  // namespace akt::otel::detail
