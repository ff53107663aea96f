// config.hpp — telemetry options resolved against the standard OpenTelemetry
// environment variables, validated once at enable.
//
// Precedence: a field set in options wins; an empty one is taken from the
// environment (when options::read_environment); then the default. The
// signal-specific endpoint variables are used as given, the general one
// gets /v1/metrics or /v1/traces appended (OTLP/HTTP's rules).
//
// Thread safety: pure functions.
#pragma once

#include <akt/error.hpp>
#include <akt/otel/telemetry.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "span_data.hpp"

namespace akt::otel::detail {

struct otlp_config {
  std::string metrics_url;  // empty: no metric export
  std::string traces_url;   // empty: no span export
  key_values headers;
  std::chrono::milliseconds timeout{10000};
  int max_retries = 5;
};

struct resolved_options {
  resource_info resource;
  bool metrics = true;
  std::chrono::milliseconds export_interval{60000};
  std::string prometheus;  // "host:port" or empty
  double sample_ratio = 0;
  std::size_t max_queued_spans = 2048;
  std::size_t max_export_batch = 512;
  std::chrono::milliseconds span_export_interval{5000};
  otlp_config otlp;
};

// Reads an environment variable (null: unset). Tests pass their own.
using env_reader = std::function<const char*(const char*)>;

// Errors: invalid_argument naming the option or variable and what is wrong
// (a URL that is not http(s)://host[:port][/path], a header without '=', a
// ratio outside 0..1, a non-numeric interval).
result<resolved_options> resolve_options(const options& o, std::string_view system_name,
                                         const env_reader& env);

}  // namespace akt::otel::detail
