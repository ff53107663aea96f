// akt/trace.hpp — W3C trace context carried by messages.
//
// A message sent while a trace context is current carries it: a tell, ask,
// forward or reply made inside a handler carries the context of the message
// being handled (or the one the handler made current), and the receiver's
// handler runs with it current in turn. Remoting writes it on the wire as
// `traceparent` and `tracestate` and restores both on the other node (a
// tracestate over 512 bytes is not sent, and one from the network that is
// longer or not printable ASCII is dropped, the traceparent kept: see
// docs/wire-protocol.md). Akt only
// carries the context; a telemetry extension (akt::otel) makes spans of it
// (extension.hpp: actor_observer::on_send and on_turn_begin).
//
//   auto tc = akt::trace_context::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
//   akt::trace_scope scope(tc.value());     // sends from this thread carry it
//   orders.tell(Submit{});                  // the order book's handler sees it as ctx.trace()
//
// Thread safety: a trace_context is immutable once made and shared by
// reference count; trace_scope is per thread.
#pragma once

#include <akt/detail/ref_ptr.hpp>
#include <akt/error.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace akt {

class trace_context final : public detail::ref_counted {
 public:
  using trace_id = std::array<std::uint8_t, 16>;
  using span_id = std::array<std::uint8_t, 8>;

  // Parses a W3C `traceparent` ("00-<32 hex>-<16 hex>-<2 hex>") and keeps
  // `tracestate` as given (at most 512 bytes). Errors: invalid_argument,
  // saying which part is malformed (all-zero ids are invalid too).
  [[nodiscard]] static result<detail::ref_ptr<const trace_context>> parse(std::string_view traceparent,
                                                                          std::string_view tracestate = {});
  // A context with the given ids (a new span of a trace, made by a tracer).
  // `hops`: how many handlings this context is from where its trace entered
  // this node (a tracer bounds endless causal chains with it; it never
  // crosses the wire: a context parsed from one has 0).
  static detail::ref_ptr<const trace_context> make(const trace_id& trace, const span_id& span,
                                                   std::uint8_t flags, std::string tracestate = {},
                                                   std::uint32_t hops = 0);

  const trace_id& trace() const noexcept { return trace_; }
  const span_id& span() const noexcept { return span_; }
  std::uint8_t flags() const noexcept { return flags_; }
  bool is_sampled() const noexcept { return (flags_ & 1) != 0; }
  const std::string& tracestate() const noexcept { return state_; }
  std::uint32_t hops() const noexcept { return hops_; }
  // "00-<trace>-<span>-<flags>", lower-case hex.
  std::string traceparent() const;

 private:
  trace_context(const trace_id& t, const span_id& s, std::uint8_t f, std::string state, std::uint32_t hops)
      : trace_(t), span_(s), flags_(f), hops_(hops), state_(std::move(state)) {}
  trace_id trace_;
  span_id span_;
  std::uint8_t flags_;
  std::uint32_t hops_;
  std::string state_;
};

using trace_ref = detail::ref_ptr<const trace_context>;

namespace detail {
// The trace context of this thread's sends (null: untraced).
const trace_context* current_trace() noexcept;
void set_current_trace(const trace_context* tc) noexcept;
}  // namespace detail

// For tracers, in actor_observer::on_turn_begin: makes `tc` (the handling
// span's context) current for the rest of the turn, so the handler's sends
// carry it. The system restores the context it replaced after on_turn_end;
// the caller keeps `tc` alive until then.
inline void set_turn_trace(const trace_context* tc) noexcept {
  detail::set_current_trace(tc);
}

// Makes `tc` the current trace context of this thread for a scope (sends
// carry it), restoring the previous one at its end.
class trace_scope {
 public:
  explicit trace_scope(trace_ref tc) noexcept
      : held_(std::move(tc)), prev_(trace_ref::share(detail::current_trace())) {
    detail::set_current_trace(held_.get());
  }
  ~trace_scope() { detail::set_current_trace(prev_.get()); }
  trace_scope(const trace_scope&) = delete;
  trace_scope& operator=(const trace_scope&) = delete;

 private:
  trace_ref held_;
  trace_ref prev_;
};

}  // namespace akt
