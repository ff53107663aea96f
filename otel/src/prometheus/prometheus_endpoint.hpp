// prometheus_endpoint.hpp — GET /metrics in Prometheus's text format, served
// by prometheus-cpp's exposer (civetweb) on a port of the operator's choice.
// Every scrape makes a fresh collection (collect()) and maps it:
//   - the name: OpenTelemetry's with '.' and every other character
//     Prometheus forbids → '_', the unit as a suffix unless the name already
//     ends with it (s → _seconds, ms → _milliseconds, By → _bytes, By/s →
//     _bytes_per_second, "{message}" and other annotations → none, 1 →
//     _ratio on gauges), and _total for counters (OpenTelemetry's Prometheus
//     compatibility rules);
//   - counter → counter, up_down and gauge → gauge, histogram → histogram
//     (cumulative buckets with le up to +Inf, _sum, _count);
//   - attributes → labels: names sanitized the same way (a leading digit
//     gets key_), attributes that then collide are joined with ';' in the
//     order of their original keys; values that are not UTF-8 get U+FFFD
//     (Prometheus rejects a whole scrape for one such value);
//   - HELP from the description. Two metrics that map to one name: the
//     first reported wins, a later one of the same kind adds its series,
//     one of another kind is left out (Prometheus would reject the scrape);
//   - the resource once, as a `target_info` gauge of 1 whose labels are its
//     attributes (service_name among them); series carry their own
//     attributes only (Prometheus adds job and instance itself).
//
// Facing the network: civetweb serves each connection on one of
// `worker_threads` threads and gives a client `request_timeout` to send its
// request (and to take the response), so a client that connects and stays
// silent holds one thread for that long at most, and a scrape meanwhile goes
// to another; garbage gets 400 and its connection closed. A flood of silent
// connections larger than the pool delays scrapes (by about
// request_timeout per worker_threads of them) but never stops them. Nothing
// but /metrics is served (no document root). prometheus-cpp adds its own
// exposer_* series (scrapes served, bytes, latency) to every scrape.
//
// Stopping: the destructor turns new requests away (503), waits for the
// scrapes in progress (bounded: civetweb's request_timeout bounds each),
// then stops civetweb, joining its threads: at once, or within 2 s when a
// silent client holds a worker (civetweb looks at its stop flag that
// often). prometheus-cpp's Exposer alone frees its handler before it stops
// the server: a scrape in progress would use freed memory.
//
// Thread safety: collect() is called on the exposer's threads, one scrape
// at a time or concurrently: it must be safe for that.
#pragma once

#include <akt/error.hpp>

#include <chrono>
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
  // Serves http://<address>/metrics ("127.0.0.1:9464", "0.0.0.0:9464",
  // "localhost:9464" (resolved here, IPv4 first); port 0 picks a free one;
  // "[::1]:9464" only where civetweb was built with IPv6, which Debian's
  // is not). Errors: invalid_argument (not host:port, a bad port, a host
  // that does not resolve, IPv6 without civetweb's support: naming the
  // address), unavailable (cannot bind: the port is in use, naming the
  // address, with civetweb's reason).
  static result<std::unique_ptr<prometheus_endpoint>> start(std::string_view address, resource_info resource,
                                                            std::function<metric_snapshot()> collect);
  ~prometheus_endpoint();  // stops serving; a scrape in progress finishes first
  std::uint16_t port() const noexcept;

  // civetweb's limits (see above): scrapes served at once, and how long a
  // client has to send its request and to take the response.
  static constexpr int worker_threads = 4;
  static constexpr std::chrono::milliseconds request_timeout{5000};

  struct impl;

 private:
  explicit prometheus_endpoint(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
};

}  // namespace akt::otel::detail
