// akt/metrics.hpp — metrics in a neutral form, pulled by an exporter.
//
// The runtime and its extensions (remoting, the cluster, a user's own) keep
// their counters where they do the work. An exporter (akt::otel) pulls them
// when it collects — at a scrape or a periodic export — by calling
// actor_system::report_metrics with a metric_sink; the system reports its
// own figures and then asks every extension (extension::report_metrics).
// Nothing is pushed on the hot path and nothing is kept per actor.
//
//   struct printer final : akt::metric_sink {
//     void record(const akt::metric_info& m, akt::metric_attributes a, std::int64_t v) override {
//       std::cout << m.name << " = " << v << "\n";
//     }
//     ...
//   };
//   printer p;
//   sys->report_metrics(p);
//
// Names and units follow OpenTelemetry's semantic conventions: dotted
// lower-case names ("akt.remote.messages.sent"), UCUM units ("By", "s",
// "{message}"), no "_total" (a Prometheus exposition adds it to counters).
// Every series of one name must be reported with the same kind, unit and
// attribute keys.
//
// Thread safety: report_metrics runs on the exporter's thread, concurrently
// with the work it counts; reporters read their counters with relaxed atomic
// loads, so figures of one collection may be a few messages apart. A sink is
// used by one collection at a time and only during it (the attribute and
// name views are valid during the call only).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace akt {

// What a series means over time.
enum class metric_kind : std::uint8_t {
  counter,    // a monotonic sum since the reporter started (messages sent)
  up_down,    // a sum that goes up and down (connections open, actors alive)
  gauge,      // a value sampled now (workers busy, is leader, uptime)
  histogram,  // a distribution since start (processing time, etcd latency)
};

struct metric_info {
  std::string_view name;         // "akt.remote.messages.sent"
  std::string_view unit;         // "{message}", "By", "s", "1"
  std::string_view description;  // one sentence, for humans
  metric_kind kind;
};

// One attribute of a series: {"peer", "10.0.0.2:7000"}.
struct metric_attribute {
  std::string_view key;
  std::string_view value;
};
using metric_attributes = std::span<const metric_attribute>;

// A cumulative explicit-bucket histogram: counts[i] counts the values in
// (bounds[i-1], bounds[i]]; counts.size() == bounds.size() + 1 (the last
// bucket is everything above the last bound).
struct histogram_data {
  std::span<const double> bounds;
  std::span<const std::uint64_t> counts;
  std::uint64_t count = 0;
  double sum = 0;
};

class metric_sink {
 public:
  virtual ~metric_sink() = default;
  // A counter, up_down or gauge.
  virtual void record(const metric_info& m, metric_attributes a, std::int64_t value) = 0;
  virtual void record(const metric_info& m, metric_attributes a, double value) = 0;
  // A histogram.
  virtual void record(const metric_info& m, metric_attributes a, const histogram_data& h) = 0;
};

}  // namespace akt
