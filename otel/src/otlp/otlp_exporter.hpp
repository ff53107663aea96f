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
// thread); cancel() may be called from any thread and ends a backoff wait at
// once and an attempt in flight within about a second (libcurl's progress
// callback, which runs at least that often), for good: every later export
// fails at once.
#pragma once

#include <akt/error.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <random>
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

  // Errors: unavailable (the collector could not be reached, timed out,
  // or answered a retryable status, after every retry), invalid_argument (a
  // permanent refusal: 400 and such, with the collector's message),
  // not_running (cancel() was called).
  status export_metrics(const metric_snapshot& s, const resource_info& r);
  status export_spans(std::span<const span_data> spans, const resource_info& r);

  void cancel() noexcept;
  bool is_cancelled() const noexcept { return cancelled_.load(std::memory_order_acquire); }

 private:
  struct attempt;
  status post(const std::string& url, const std::string& body);
  attempt send_once(const std::string& url, const std::string& body);
  // Waits `delay` or until cancel(); false when cancelled.
  bool wait_before_retry(std::chrono::milliseconds delay);

  otlp_config config_;
  void* curl_ = nullptr;  // CURL*, owned; kept between requests to reuse the connection
  std::minstd_rand jitter_;
  std::atomic<bool> cancelled_{false};
  std::mutex mutex_;  // guards nothing but the wait below: cancel() notifies under it
  std::condition_variable wake_;
};

}  // namespace akt::otel::detail
