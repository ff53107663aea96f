// tracer.hpp — makes spans of the trace contexts messages carry.
//
//   - turn_begin/turn_end (the observer's on_turn_begin/on_turn_end): a
//     message carrying a sampled context gets a consumer span (server for an
//     ask), a child of the context; one carrying none starts a trace,
//     sampled at the ratio, if it entered here (no sending actor); one
//     carrying an unsampled context gets nothing. A chain of handlings
//     longer than max_hops ends its trace (endless ping-pong stays bounded).
//     The span's context is current for the turn (set_turn_trace), so the
//     handler's sends are its children.
//   - on_send: a producer span (client for an ask) between the sender's
//     current span and the message, whose context the message carries.
//   - user spans (akt::otel::span) nest inside either.
// Finished spans wait in a bounded queue for the export thread; when it is
// full a span is dropped and counted.
//
// Thread safety: every member from any thread. The turn stack is per
// thread: a turn nested in another on one thread (a blocking ask helping)
// pushes its own entry, and an entry is popped only by the turn that
// pushed it (matched by actor).
#pragma once

#include <akt/extension.hpp>
#include <akt/trace.hpp>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <vector>

#include "span_data.hpp"

namespace akt::otel::detail {

class tracer {
 public:
  // max_hops: handlings after which a causal chain's trace ends.
  tracer(double sample_ratio, std::size_t max_queued, std::uint32_t max_hops);

  void turn_begin(const actor_view& self, const message_view& m) noexcept;
  void turn_failed(const actor_view& self, std::string_view why) noexcept;
  void turn_end(const actor_view& self) noexcept;
  trace_ref on_send(const trace_context& current, const send_view& s) noexcept;

  // Decides whether a new trace is sampled (the ratio).
  bool sample_new_trace() noexcept;
  // A new span id (never zero) and trace id (never zero).
  static trace_context::span_id new_span_id() noexcept;
  static trace_context::trace_id new_trace_id() noexcept;
  static std::uint64_t now_unix_nano() noexcept;

  // Queues a finished span (dropped and counted when the queue is full;
  // counted only with max_queued 0: there is no exporter).
  void finish(span_data&& s) noexcept;
  // Takes at most `max` queued spans, oldest first.
  std::vector<span_data> take(std::size_t max);
  std::size_t queued() const;

  std::uint64_t recorded() const noexcept { return recorded_.load(std::memory_order_relaxed); }
  std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }
  std::uint64_t chains_cut() const noexcept { return chains_cut_.load(std::memory_order_relaxed); }

  // The tracer of the innermost recording span or turn on this thread
  // (null: none): what akt::otel::span records to.
  static tracer* active() noexcept;
  static void set_active(tracer* t) noexcept;

 private:
  const std::uint64_t threshold_;  // sampled when a random 64-bit draw is below it
  const bool always_;              // ratio 1
  const std::size_t max_queued_;
  const std::uint32_t max_hops_;
  mutable std::mutex mu_;
  std::vector<span_data> queue_;  // guarded by mu_
  std::atomic<std::uint64_t> recorded_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> chains_cut_{0};
};

}  // namespace akt::otel::detail
