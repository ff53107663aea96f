// otlp_exporter.hpp — OTLP/HTTP with protobuf bodies: encodes a metric
// snapshot or a batch of spans as ExportMetricsServiceRequest /
// ExportTraceServiceRequest (our own .proto in otel/proto, written from the
// OTLP specification's field numbers) and POSTs it with libcurl.
//
// Retries: no connection, a timeout, 429, 502, 503 and 504 are retried with
// exponential backoff (100 ms doubling, jittered, honouring Retry-After up to
// 5 s) at most config.max_retries times; anything else is a permanent
// failure. Every error names the URL and what happened.
//
// Thread safety: one exporter is used by one thread (the telemetry's export
// thread); cancel() may be called from any thread and ends a backoff wait
// (and an attempt in flight) promptly.
#pragma once

#include <akt/error.hpp>

#include <atomic>
#include <span>
#include <string>

#include "config.hpp"
#include "snapshot.hpp"
#include "span_data.hpp"

namespace akt::otel::detail {

// The instrumentation scope every export names.
inline constexpr std::string_view scope_name = "akt";
inline constexpr std::string_view scope_version = "0.1.0";

// The request bodies, exposed for tests.
std::string encode_metrics(const metric_snapshot& s, const resource_info& r);
std::string encode_spans(std::span<const span_data> spans, const resource_info& r);

class otlp_exporter {
 public:
  explicit otlp_exporter(otlp_config c);
  ~otlp_exporter();
  otlp_exporter(const otlp_exporter&) = delete;
  otlp_exporter& operator=(const otlp_exporter&) = delete;

  bool exports_metrics() const noexcept { return !config_.metrics_url.empty(); }
  bool exports_spans() const noexcept { return !config_.traces_url.empty(); }

  // Errors: unavailable (the collector could not be reached, or answered
  // a retryable status, after every retry), invalid_argument (a permanent
  // refusal: 400 and such, with the collector's message), cancelled.
  status export_metrics(const metric_snapshot& s, const resource_info& r);
  status export_spans(std::span<const span_data> spans, const resource_info& r);

  void cancel() noexcept;

 private:
  status post(const std::string& url, const std::string& body);
  otlp_config config_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace akt::otel::detail
