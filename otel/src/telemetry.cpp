#include <akt/otel/telemetry.hpp>

#include <akt/detail/thread_name.hpp>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "actor_stats.hpp"
#include "config.hpp"
#include "otlp/otlp_exporter.hpp"
#include "prometheus/prometheus_endpoint.hpp"
#include "snapshot.hpp"
#include "tracer.hpp"

namespace akt::otel {

using detail::actor_stats;
using detail::metric_snapshot;
using detail::span_data;
using detail::tracer;

namespace {

constexpr metric_info spans_dropped_info{"akt.otel.spans.dropped", "{span}",
                                         "Spans dropped because the export queue was full.",
                                         metric_kind::counter};
constexpr metric_info exports_failed_info{"akt.otel.exports.failed", "{request}",
                                          "OTLP exports given up after their retries.", metric_kind::counter};
constexpr metric_info inst_received{"akt.actor.instance.messages.received", "{message}",
                                    "Messages taken into a handler, for one tracked actor.",
                                    metric_kind::counter};
constexpr metric_info inst_processed{"akt.actor.instance.messages.processed", "{message}",
                                     "Messages handled normally, for one tracked actor.",
                                     metric_kind::counter};
constexpr metric_info inst_errors{"akt.actor.instance.errors", "{error}",
                                  "Failed handlers, for one tracked actor.", metric_kind::counter};
constexpr metric_info inst_restarts{"akt.actor.instance.restarts", "{restart}",
                                    "Restarts of one tracked actor.", metric_kind::counter};
constexpr metric_info inst_mailbox{"akt.actor.instance.mailbox.size", "{message}",
                                   "Messages waiting in one tracked actor's mailbox.", metric_kind::gauge};

std::uint64_t unix_nano_now() {
  return tracer::now_unix_nano();
}

}  // namespace

// ------------------------------------------------------------------ impl

struct telemetry::impl final : actor_observer {
  impl(detail::resolved_options o, std::uint32_t max_hops, std::uint32_t time_every)
      : opts(std::move(o)),
        timing_every(std::max<std::uint32_t>(1, time_every)),
        tracing(!opts.otlp.traces_url.empty() || opts.sample_ratio > 0),
        spans(opts.sample_ratio, opts.otlp.traces_url.empty() ? 0 : opts.max_queued_spans, max_hops),
        started_unix_nano(unix_nano_now()) {}

  detail::resolved_options opts;
  const std::uint32_t timing_every;  // time one turn in this many (options::time_one_turn_in)
  // Spans are made when they have somewhere to go or new traces are
  // sampled here (the context then reaches other nodes, which may export).
  const bool tracing;
  actor_system* system = nullptr;
  actor_stats stats;
  tracer spans;
  const std::uint64_t started_unix_nano;

  // Tracked actors: per-actor series.
  mutable std::mutex tracked_mu;
  std::unordered_map<const akt::detail::actor_ref*, pid> tracked;  // guarded by tracked_mu
  std::atomic<bool> any_tracked{false};

  // Export.
  std::unique_ptr<detail::otlp_exporter> exporter;
  std::unique_ptr<detail::prometheus_endpoint> prometheus;
  std::thread export_thread;
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;          // guarded by mu
  bool exited = false;            // guarded by mu: the export thread's last round is over
  std::uint64_t flush_asked = 0;  // guarded by mu
  std::uint64_t flush_done = 0;   // guarded by mu
  status last_flush;              // guarded by mu
  export_stats counters;          // guarded by mu
  std::mutex collect_mu;          // one collection at a time

  // ---------------------------------------------------------------- observer
  trace_ref on_send(const trace_context& current, const send_view& s) noexcept override {
    return tracing ? spans.on_send(current, s) : trace_ref{};
  }
  // Counting comes from the actors' own counters at collection (see
  // actor_stats.hpp): the message path hears only traced and entry turns
  // (for spans) and one turn in `timing_every` (for the histogram).
  interest observer_interest() const noexcept override {
    return {.every_enqueue = false,
            .every_turn = false,
            .entry_turns = tracing && opts.sample_ratio > 0,
            .timing_every = timing_every};
  }
  void on_turn_begin(const actor_view& self, const message_view& m) noexcept override {
    if (tracing) spans.turn_begin(self, m);
  }
  void on_turn_end(const actor_view& self, std::chrono::nanoseconds took) noexcept override {
    if (took.count() >= 0) actor_stats::count_time(stats.of(self.kind()), took, timing_every);
    if (tracing) spans.turn_end(self);
  }
  void on_failure(const actor_view& self, const failure_info& why) noexcept override {
    if (tracing) spans.turn_failed(self, why.what);
  }
  void on_unhandled(const actor_view& self, const message_view&) noexcept override {
    stats.of(self.kind()).unhandled.add();
  }

  // ---------------------------------------------------------------- metrics
  metric_snapshot collect() {
    std::lock_guard g(collect_mu);
    metric_snapshot s;
    s.start_unix_nano = started_unix_nano;
    s.time_unix_nano = unix_nano_now();
    system->report_metrics(s);  // the core's, then every extension's (ours: report below)
    return s;
  }

  void report(metric_sink& sink) {
    // The live actors' own counters, per kind, read on this (the collecting)
    // thread; nothing is kept per actor between collections.
    stats.report(sink, system->name(), [this] {
      actor_stats::live_by_kind live;
      system->for_each_actor([&](const actor_view& a) {
        const actor_metrics m = a.metrics();
        actor_stats::live_counts& c = live[a.kind()];
        ++c.alive;
        c.received += m.received;
        c.processed += m.processed;
        c.errors += m.errors;
        c.restarts += m.restarts;
        c.mailbox += m.mailbox_size;
      });
      return live;
    });

    if (any_tracked.load(std::memory_order_relaxed)) {
      std::vector<std::pair<std::string, pid>> list;
      {
        std::lock_guard g(tracked_mu);
        for (const auto& [ref, p] : tracked) list.emplace_back(p.path(), p);
      }
      for (const auto& [path, p] : list) {
        const actor_metrics m = p.metrics();
        const std::string kind(p.ref()->kind());
        const metric_attribute attrs[] = {
            {"akt.system", system->name()}, {"akt.actor.kind", kind}, {"akt.actor.path", path}};
        sink.record(inst_received, attrs, static_cast<std::int64_t>(m.received));
        sink.record(inst_processed, attrs, static_cast<std::int64_t>(m.processed));
        sink.record(inst_errors, attrs, static_cast<std::int64_t>(m.errors));
        sink.record(inst_restarts, attrs, static_cast<std::int64_t>(m.restarts));
        sink.record(inst_mailbox, attrs, static_cast<std::int64_t>(m.mailbox_size));
      }
    }
    const metric_attribute sys[] = {{"akt.system", system->name()}};
    sink.record(spans_dropped_info, sys, static_cast<std::int64_t>(spans.dropped()));
    std::uint64_t failed = 0;
    {
      std::lock_guard g(mu);
      failed = counters.failed_exports;
    }
    sink.record(exports_failed_info, sys, static_cast<std::int64_t>(failed));
  }

  // ---------------------------------------------------------------- export
  // One round: spans (in batches) and, when due, metrics. Returns the first
  // error met.
  status export_round(bool metrics_due) {
    status result;
    if (exporter && exporter->exports_spans()) {
      for (;;) {
        std::vector<span_data> batch = spans.take(opts.max_export_batch);
        if (batch.empty()) break;
        status st = exporter->export_spans(batch, opts.resource);
        note(st, false);
        if (!st) {
          if (result) result = st;
          break;  // the collector is in trouble: the rest waits for the next round
        }
      }
    } else {
      (void)spans.take(opts.max_queued_spans);  // nowhere to go: keep no memory
    }
    if (metrics_due && exporter && exporter->exports_metrics() && opts.metrics) {
      status st = exporter->export_metrics(collect(), opts.resource);
      note(st, true);
      if (!st && result) result = st;
    }
    return result;
  }

  void note(const status& st, bool metrics) {
    std::lock_guard g(mu);
    if (st) {
      ++(metrics ? counters.metric_exports : counters.span_exports);
    } else {
      ++counters.failed_exports;
      counters.last_error = st.error().message();
      if (system != nullptr) system->logger().warn("otel: " + counters.last_error);
    }
  }

  void run_exports() {
    using clock = std::chrono::steady_clock;
    auto next_metrics = clock::now() + opts.export_interval;
    auto next_spans = clock::now() + opts.span_export_interval;
    std::unique_lock lk(mu);
    for (;;) {
      cv.wait_until(lk, std::min(next_metrics, next_spans),
                    [&] { return stopping || flush_asked > flush_done; });
      const bool final_round = stopping;
      const std::uint64_t ticket = flush_asked;
      const bool flush = ticket > flush_done;
      const auto now = clock::now();
      const bool metrics_due = flush || final_round || now >= next_metrics;
      if (!flush && !final_round && now < next_spans && !metrics_due) continue;
      lk.unlock();
      status st = export_round(metrics_due);
      lk.lock();
      if (metrics_due) next_metrics = clock::now() + opts.export_interval;
      next_spans = clock::now() + opts.span_export_interval;
      if (flush) {
        flush_done = ticket;
        last_flush = st;
        cv.notify_all();
      }
      if (final_round) {
        exited = true;
        cv.notify_all();
        return;
      }
    }
  }
};

// ------------------------------------------------------------------ telemetry

telemetry::telemetry(std::unique_ptr<impl> i) : impl_(std::move(i)) {}

telemetry::~telemetry() {
  stop();
}

result<telemetry*> telemetry::enable(actor_system& system, options o) {
  auto resolved = detail::resolve_options(o, system.name(), [](const char* name) -> const char* {
    return std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read at enable only
  });
  if (!resolved) return std::move(resolved).error();
  auto ext = std::unique_ptr<telemetry>(new telemetry(
      std::make_unique<impl>(std::move(resolved).value(), o.max_trace_hops, o.time_one_turn_in)));
  return system.add_extension(std::move(ext));
}

status telemetry::start(actor_system& system) {
  impl& t = *impl_;
  t.system = &system;
  if (!t.opts.prometheus.empty()) {
    auto ep =
        detail::prometheus_endpoint::start(t.opts.prometheus, t.opts.resource, [&t] { return t.collect(); });
    if (!ep) return std::move(ep).error();
    t.prometheus = std::move(ep).value();
  }
  if (!t.opts.otlp.metrics_url.empty() || !t.opts.otlp.traces_url.empty()) {
    t.exporter = std::make_unique<detail::otlp_exporter>(t.opts.otlp);
    t.export_thread = std::thread([&t] {
      akt::detail::name_this_thread("akt-otel-export");
      t.run_exports();
    });
  }
  return {};
}

void telemetry::stop() {
  impl& t = *impl_;
  t.prometheus.reset();  // no scrape runs past here
  if (t.export_thread.joinable()) {
    {
      std::lock_guard g(t.mu);
      t.stopping = true;
    }
    t.cv.notify_all();
    // The last round exports what is left; a collector that does not answer
    // gets two seconds, then the round is cancelled.
    std::unique_lock lk(t.mu);
    const bool done_in_time = t.cv.wait_for(lk, std::chrono::seconds(2), [&] { return t.exited; });
    lk.unlock();
    if (!done_in_time) t.exporter->cancel();
    t.export_thread.join();
  }
}

void telemetry::after_start(const actor_view& actor) noexcept {
  impl_->stats.of(actor.kind()).started.add();
}

void telemetry::after_terminate(const actor_view& actor, bool) noexcept {
  impl_->stats.retire(actor.kind(), actor.metrics());
  if (impl_->any_tracked.load(std::memory_order_relaxed)) {
    std::lock_guard g(impl_->tracked_mu);
    impl_->tracked.erase(&actor.ref());
    impl_->any_tracked.store(!impl_->tracked.empty(), std::memory_order_relaxed);
  }
}

actor_observer* telemetry::observer() noexcept {
  return impl_.get();
}

void telemetry::report_metrics(metric_sink& sink) const {
  impl_->report(sink);
}

status telemetry::track(const pid& actor) {
  if (!actor) return error(errc::invalid_argument, "track: the pid is null");
  if (actor.ref()->is_remote()) {
    return error(errc::invalid_argument, "track: " + actor.path() + " is on another node; track it there");
  }
  std::lock_guard g(impl_->tracked_mu);
  impl_->tracked.emplace(actor.ref().get(), actor);
  impl_->any_tracked.store(true, std::memory_order_relaxed);
  // Checked after inserting: a termination that raced past after_terminate's
  // erase is caught here, so no stopped actor stays tracked.
  if (!actor.ref()->is_running()) {
    impl_->tracked.erase(actor.ref().get());
    impl_->any_tracked.store(!impl_->tracked.empty(), std::memory_order_relaxed);
    return error(errc::dead_actor, "track: " + actor.path() + " is not running");
  }
  return {};
}

span telemetry::start_span(std::string_view name, span_kind kind, const trace_context* parent) {
  const bool sampled =
      impl_->tracing && (parent != nullptr ? parent->is_sampled() : impl_->spans.sample_new_trace());
  return span(*this, name, kind, trace_ref::share(parent), sampled);
}

status telemetry::flush(std::chrono::milliseconds timeout) {
  impl& t = *impl_;
  if (!t.export_thread.joinable()) return {};
  std::unique_lock lk(t.mu);
  if (t.stopping) return error(errc::not_running, "telemetry is stopped");
  const std::uint64_t ticket = ++t.flush_asked;
  t.cv.notify_all();
  if (!t.cv.wait_for(lk, timeout, [&] { return t.flush_done >= ticket || t.stopping; })) {
    return error(errc::request_timeout,
                 "flush: the export did not finish within " + std::to_string(timeout.count()) + " ms");
  }
  return t.last_flush;
}

std::uint16_t telemetry::prometheus_port() const noexcept {
  return impl_->prometheus ? impl_->prometheus->port() : 0;
}

telemetry::export_stats telemetry::stats() const {
  std::lock_guard g(impl_->mu);
  export_stats s = impl_->counters;
  s.spans_dropped = impl_->spans.dropped();
  s.spans_recorded = impl_->spans.recorded();
  return s;
}

// ------------------------------------------------------------------ span

struct span::state {
  tracer* owner;
  span_data data;
  trace_ref context;
  const trace_context* previous_current;
  tracer* previous_active;
};

span::span(std::string_view name, span_kind kind) {
  tracer* t = tracer::active();
  const trace_context* parent = akt::detail::current_trace();
  if (t == nullptr || parent == nullptr || !parent->is_sampled()) return;
  state_ = new state{t, {}, {}, parent, t};
  state_->data.trace = parent->trace();
  state_->data.parent = parent->span();
  state_->data.tracestate = parent->tracestate();
  state_->data.span = tracer::new_span_id();
  state_->data.name = std::string(name);
  state_->data.kind = kind;
  state_->context = trace_context::make(state_->data.trace, state_->data.span, 1, state_->data.tracestate);
  akt::detail::set_current_trace(state_->context.get());
  state_->data.start_unix_nano = tracer::now_unix_nano();
}

span::span(telemetry& t, std::string_view name, span_kind kind, trace_ref parent, bool sampled) {
  if (!sampled) return;
  tracer* owner = &t.impl_->spans;
  state_ = new state{owner, {}, {}, akt::detail::current_trace(), tracer::active()};
  span_data& d = state_->data;
  if (parent) {
    d.trace = parent->trace();
    d.parent = parent->span();
    d.tracestate = parent->tracestate();
  } else {
    d.trace = tracer::new_trace_id();
  }
  d.span = tracer::new_span_id();
  d.name = std::string(name);
  d.kind = kind;
  state_->context = trace_context::make(d.trace, d.span, 1, d.tracestate);
  akt::detail::set_current_trace(state_->context.get());
  tracer::set_active(owner);
  d.start_unix_nano = tracer::now_unix_nano();
}

span::span(span&& o) noexcept : state_(std::exchange(o.state_, nullptr)) {}

void span::set_attribute(std::string_view key, std::string_view value) {
  if (state_ != nullptr) state_->data.attributes.push_back({std::string(key), std::string(value)});
}
void span::set_attribute(std::string_view key, std::int64_t value) {
  if (state_ != nullptr) state_->data.attributes.push_back({std::string(key), value});
}
void span::set_attribute(std::string_view key, double value) {
  if (state_ != nullptr) state_->data.attributes.push_back({std::string(key), value});
}
void span::set_attribute(std::string_view key, bool value) {
  if (state_ != nullptr) state_->data.attributes.push_back({std::string(key), value});
}
void span::set_error(std::string_view message) {
  if (state_ == nullptr) return;
  state_->data.is_error = true;
  state_->data.status_message.assign(message.substr(0, 512));
}

const trace_context* span::context() const noexcept {
  return state_ != nullptr ? state_->context.get() : nullptr;
}

void span::end() noexcept {
  if (state_ == nullptr) return;
  state* s = std::exchange(state_, nullptr);
  s->data.end_unix_nano = tracer::now_unix_nano();
  akt::detail::set_current_trace(s->previous_current);
  tracer::set_active(s->previous_active);
  s->owner->finish(std::move(s->data));
  delete s;
}

}  // namespace akt::otel
