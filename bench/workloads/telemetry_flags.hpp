// Telemetry for a workload, from its flags (issue 12's overhead figures):
//   --metrics      akt::otel metrics on (no endpoint: counting only, as
//                  between two scrapes)
//   --trace-1pct   metrics, and 1 % of new traces sampled
//   --trace-all    metrics, and every trace sampled
// Spans are made and counted but not exported (no collector in a benchmark).
#pragma once

#include <akt/otel/telemetry.hpp>

#include "common.hpp"

namespace bench {

// 0 off, 1 metrics, 2 traces at 1 %, 3 traces at 100 %: the BENCH line's `telemetry`.
inline long long telemetry_mode(const arguments& args) {
  if (args.has("--trace-all")) return 3;
  if (args.has("--trace-1pct")) return 2;
  if (args.has("--metrics")) return 1;
  return 0;
}

inline void enable_telemetry(akt::actor_system& sys, const arguments& args) {
  const long long mode = telemetry_mode(args);
  if (mode == 0) return;
  akt::otel::options o{.read_environment = false};
  o.sample_ratio = mode == 3 ? 1.0 : mode == 2 ? 0.01 : 0.0;
  value_or_fail(akt::otel::telemetry::enable(sys, std::move(o)), "enable telemetry");
}

}  // namespace bench
