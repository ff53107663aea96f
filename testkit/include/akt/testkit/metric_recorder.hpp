// akt/testkit/metric_recorder.hpp — a metric_sink for tests: records one
// collection's series (actor_system::report_metrics), then answers what a
// series' value was for some of its attributes.
//
// Thread safety: one collection at a time, read afterwards by one thread.
#pragma once

#include <akt/metrics.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace akt::testkit {

struct recorded_series {
  std::string name, unit;
  akt::metric_kind kind{};
  std::map<std::string, std::string> attributes;
  double value = 0;         // counters, up_downs, gauges
  std::uint64_t count = 0;  // histograms
  double sum = 0;
  std::vector<double> bounds;
  std::vector<std::uint64_t> buckets;
};

class metric_recorder final : public akt::metric_sink {
 public:
  void record(const akt::metric_info& m, akt::metric_attributes a, std::int64_t value) override {
    add(m, a).value = static_cast<double>(value);
  }
  void record(const akt::metric_info& m, akt::metric_attributes a, double value) override {
    add(m, a).value = value;
  }
  void record(const akt::metric_info& m, akt::metric_attributes a, const akt::histogram_data& h) override {
    auto& s = add(m, a);
    s.count = h.count;
    s.sum = h.sum;
    s.bounds.assign(h.bounds.begin(), h.bounds.end());
    s.buckets.assign(h.counts.begin(), h.counts.end());
  }

  const std::vector<recorded_series>& all() const { return series_; }
  // The series `name` whose attributes include every one of `match`.
  std::vector<const recorded_series*> find(
      const std::string& name, const std::vector<std::pair<std::string, std::string>>& match = {}) const {
    std::vector<const recorded_series*> out;
    for (const auto& s : series_) {
      if (s.name != name) continue;
      bool all_match = true;
      for (const auto& [k, v] : match) {
        auto it = s.attributes.find(k);
        all_match = all_match && it != s.attributes.end() && it->second == v;
      }
      if (all_match) out.push_back(&s);
    }
    return out;
  }
  // The value of the one series `name` matching `match`; nullopt when none or several.
  std::optional<double> value(const std::string& name,
                              const std::vector<std::pair<std::string, std::string>>& match = {}) const {
    auto found = find(name, match);
    if (found.size() != 1) return std::nullopt;
    return found.front()->value;
  }

 private:
  recorded_series& add(const akt::metric_info& m, akt::metric_attributes a) {
    recorded_series s{std::string(m.name), std::string(m.unit), m.kind, {}, 0, 0, 0, {}, {}};
    for (const auto& attr : a) s.attributes.emplace(attr.key, attr.value);
    series_.push_back(std::move(s));
    return series_.back();
  }
  std::vector<recorded_series> series_;
};

}  // namespace akt::testkit
