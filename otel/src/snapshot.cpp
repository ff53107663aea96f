#include "snapshot.hpp"

namespace akt::otel::detail {

metric_point& metric_snapshot::add(const metric_info& m, metric_attributes a) {
  auto [it, inserted] = index_.try_emplace(std::string(m.name), families.size());
  if (inserted) {
    families.push_back(
        metric_family{std::string(m.name), std::string(m.unit), std::string(m.description), m.kind, {}});
  }
  metric_point& p = families[it->second].points.emplace_back();
  p.attributes.reserve(a.size());
  for (const metric_attribute& kv : a) p.attributes.emplace_back(std::string(kv.key), std::string(kv.value));
  return p;
}

void metric_snapshot::record(const metric_info& m, metric_attributes a, std::int64_t value) {
  add(m, a).as_int = value;
}

void metric_snapshot::record(const metric_info& m, metric_attributes a, double value) {
  metric_point& p = add(m, a);
  p.is_double = true;
  p.as_double = value;
}

void metric_snapshot::record(const metric_info& m, metric_attributes a, const histogram_data& h) {
  metric_point& p = add(m, a);
  p.bounds.assign(h.bounds.begin(), h.bounds.end());
  p.counts.assign(h.counts.begin(), h.counts.end());
  p.count = h.count;
  p.sum = h.sum;
}

const metric_family* metric_snapshot::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &families[it->second];
}

}  // namespace akt::otel::detail
