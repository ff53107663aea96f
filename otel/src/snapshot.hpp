// snapshot.hpp — one collection of metrics, owned: what the exporters
// (OTLP, Prometheus) turn into their formats. Filled as a metric_sink by
// actor_system::report_metrics and the telemetry's own actor statistics.
//
// Thread safety: none; one collection is made and read by one thread.
#pragma once

#include <akt/metrics.hpp>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace akt::otel::detail {

struct metric_point {
  std::vector<std::pair<std::string, std::string>> attributes;
  // counter, up_down, gauge: one of these
  bool is_double = false;
  std::int64_t as_int = 0;
  double as_double = 0;
  // histogram
  std::vector<double> bounds;
  std::vector<std::uint64_t> counts;  // bounds.size() + 1
  std::uint64_t count = 0;
  double sum = 0;
};

struct metric_family {
  std::string name;  // OpenTelemetry's: "akt.actor.messages.processed"
  std::string unit;  // UCUM: "{message}", "s", "By"
  std::string description;
  metric_kind kind = metric_kind::counter;
  std::vector<metric_point> points;
};

class metric_snapshot final : public metric_sink {
 public:
  // When the cumulative series started (the telemetry's start) and when
  // this collection was made, in Unix nanoseconds.
  std::uint64_t start_unix_nano = 0;
  std::uint64_t time_unix_nano = 0;
  // In the order first reported.
  std::vector<metric_family> families;

  void record(const metric_info& m, metric_attributes a, std::int64_t value) override;
  void record(const metric_info& m, metric_attributes a, double value) override;
  void record(const metric_info& m, metric_attributes a, const histogram_data& h) override;

  const metric_family* find(std::string_view name) const;

 private:
  metric_point& add(const metric_info& m, metric_attributes a);
  std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace akt::otel::detail
