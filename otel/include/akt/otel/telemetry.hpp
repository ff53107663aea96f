// akt/otel/telemetry.hpp — OpenTelemetry metrics and traces for an actor
// system: a Prometheus endpoint, OTLP/HTTP export, W3C trace context across
// actors and nodes.
//
//   auto* otel = akt::otel::telemetry::enable(*sys, {
//       .prometheus = "127.0.0.1:9464",                          // GET /metrics
//       .sample_ratio = 0.01,                                    // 1 % of new traces
//       .otlp = {.endpoint = "http://127.0.0.1:4318"},           // or OTEL_EXPORTER_OTLP_ENDPOINT
//   }).value();
//   otel->track(orders);                                       // per-actor series for this one
//
//   // inside receive: a child span of the message's handling span
//   akt::otel::span s("price lookup");
//   s.set_attribute("sku", sku);
//
// Metrics (every name, unit and meaning: docs/observability.md) are kept
// per actor *kind* (its C++ type), never per actor unless track() asks: a
// million idle actors add no series and no callbacks. The counters are
// per-thread and summed when collected, so counting a message costs a few
// uncontended stores. Remoting and the cluster report their own metrics
// through the core (akt/metrics.hpp); telemetry exports them too.
//
// Traces: a message that enters with no trace context (sent by a plain
// thread or a timer) starts a trace, sampled at `sample_ratio`; a message
// carrying a context follows its sampled flag (parent-based), so a trace
// started at an entry point (a traceparent from your request, or
// start_span) is followed whole, up to max_trace_hops handlings. A sampled trace gets a
// consumer span (server for an ask) for each handling, and a producer span
// (client for an ask) for each send, across nodes too: remoting carries
// traceparent and tracestate on the wire.
//
// Export never blocks an actor: one exporter thread collects and sends;
// spans wait in a bounded queue (the excess is dropped and counted), a
// collector that is down is retried with backoff and costs no memory
// beyond that queue.
//
// Thread safety: every member may be called from any thread; span is used
// by the thread that made it.
#pragma once

#include <akt/actor_system.hpp>
#include <akt/error.hpp>
#include <akt/extension.hpp>
#include <akt/pid.hpp>
#include <akt/trace.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace akt::otel {

using key_values = std::vector<std::pair<std::string, std::string>>;

// Where and how OTLP/HTTP (protobuf) export goes. Each empty field is taken
// from the standard environment variable named beside it (when
// options::read_environment); with no endpoint at all there is no OTLP export.
struct otlp_options {
  // The collector's base URL: metrics go to <endpoint>/v1/metrics, spans to
  // <endpoint>/v1/traces. OTEL_EXPORTER_OTLP_ENDPOINT.
  std::string endpoint{};
  // Full URLs, used as given. OTEL_EXPORTER_OTLP_{METRICS,TRACES}_ENDPOINT.
  std::string metrics_endpoint{};
  std::string traces_endpoint{};
  // Extra HTTP headers (an API key). OTEL_EXPORTER_OTLP_HEADERS ("k=v,k2=v2").
  key_values headers{};
  // One request's limit. OTEL_EXPORTER_OTLP_TIMEOUT (milliseconds); 10 s.
  std::chrono::milliseconds timeout{0};
  // A failed export (no connection, 429, 502, 503, 504) is retried with
  // exponential backoff from 100 ms, at most this many times, then dropped.
  int max_retries = 5;
};

struct options {
  // The resource: service.name is OTEL_SERVICE_NAME, else this, else the
  // system's name; OTEL_RESOURCE_ATTRIBUTES adds to `resource`.
  std::string service_name{};
  key_values resource{};
  bool read_environment = true;

  // Metrics: exported every interval (OTEL_METRIC_EXPORT_INTERVAL, ms).
  bool metrics = true;
  std::chrono::milliseconds export_interval{0};  // 0: 60 s
  // Processing time is measured on one handling in this many on each
  // worker, and that one counts for all of them (1: measure every one). A
  // clock read costs tens of nanoseconds, a hot actor's handling not many
  // more: measuring each would halve the throughput of a message ping-pong.
  std::uint32_t time_one_turn_in = 32;
  // Serve the Prometheus text format on http://<this>/metrics
  // ("127.0.0.1:9464", port 0 picks one); empty: no endpoint.
  std::string prometheus{};

  // Traces: the share of new traces sampled (0..1; OTEL_TRACES_SAMPLER_ARG
  // with OTEL_TRACES_SAMPLER=parentbased_traceidratio). 0 still follows
  // sampled contexts that arrive.
  double sample_ratio = 0;
  std::size_t max_queued_spans = 2048;                // OTEL_BSP_MAX_QUEUE_SIZE
  std::size_t max_export_batch = 512;                 // OTEL_BSP_MAX_EXPORT_BATCH_SIZE
  std::chrono::milliseconds span_export_interval{0};  // OTEL_BSP_SCHEDULE_DELAY; 0: 5 s
  // A causal chain longer than this many handlings on one node ends its
  // trace (an endless ping-pong would otherwise be one endless trace).
  std::uint32_t max_trace_hops = 256;

  otlp_options otlp{};
};

// The OTLP span kinds.
enum class span_kind : std::uint8_t { internal = 1, server = 2, client = 3, producer = 4, consumer = 5 };

class telemetry;

// A span of user code: a child of this thread's current trace context (the
// message being handled, or an enclosing span), current itself until it
// ends, so sends made meanwhile are its children. Outside a sampled trace it
// records nothing and costs next to nothing.
class span {
 public:
  explicit span(std::string_view name, span_kind kind = span_kind::internal);
  ~span() { end(); }
  span(const span&) = delete;
  span& operator=(const span&) = delete;
  span(span&& o) noexcept;
  span& operator=(span&&) = delete;

  bool is_recording() const noexcept { return state_ != nullptr; }
  void set_attribute(std::string_view key, std::string_view value);
  void set_attribute(std::string_view key, const char* value) { set_attribute(key, std::string_view(value)); }
  void set_attribute(std::string_view key, std::int64_t value);
  void set_attribute(std::string_view key, double value);
  void set_attribute(std::string_view key, bool value);
  void set_error(std::string_view message);
  // Its context (null when not recording): to hand to another thread.
  const trace_context* context() const noexcept;
  // Ends it now (the destructor does otherwise); restores the context it replaced.
  void end() noexcept;

 private:
  friend class telemetry;
  struct state;
  span(telemetry& t, std::string_view name, span_kind kind, trace_ref parent, bool sampled);
  state* state_ = nullptr;
};

class telemetry final : public akt::extension {
 public:
  // Adds telemetry to `system` (which owns it from then on). Errors:
  // invalid_argument (a malformed endpoint URL or environment value,
  // naming it; a ratio outside 0..1), unavailable (the Prometheus address
  // cannot be bound: says why, e.g. the port is in use).
  [[nodiscard]] static result<telemetry*> enable(actor_system& system, options o = {});
  ~telemetry() override;

  // Per-actor series (akt.actor.* with akt.actor.path) for this actor, on
  // top of its kind's; dropped when it terminates.
  status track(const pid& actor);

  // Starts a trace here (a request entering from outside), sampled at
  // sample_ratio, or continues `parent` (e.g. parsed from a traceparent).
  span start_span(std::string_view name, span_kind kind = span_kind::server,
                  const trace_context* parent = nullptr);

  // Collects and exports metrics and queued spans now, waiting at most
  // `timeout` (tests, shutdown). Errors: the export's.
  status flush(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // The Prometheus endpoint's bound port (0: none).
  std::uint16_t prometheus_port() const noexcept;
  // What export went through: for tests and the operator.
  struct export_stats {
    std::uint64_t metric_exports = 0;  // requests the collector accepted
    std::uint64_t span_exports = 0;
    std::uint64_t failed_exports = 0;  // dropped after retries
    std::uint64_t spans_dropped = 0;   // the queue was full
    std::uint64_t spans_recorded = 0;
    std::string last_error{};
  };
  export_stats stats() const;

  // akt::extension
  std::string_view name() const noexcept override { return "otel"; }
  status start(actor_system& system) override;
  void stop() override;
  void after_start(const actor_view& actor) noexcept override;
  void after_terminate(const actor_view& actor, bool was_bound) noexcept override;
  actor_observer* observer() noexcept override;
  void report_metrics(metric_sink& sink) const override;

  struct impl;

 private:
  explicit telemetry(std::unique_ptr<impl> i);
  friend class span;
  std::unique_ptr<impl> impl_;
};

}  // namespace akt::otel
