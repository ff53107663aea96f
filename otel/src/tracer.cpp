#include "tracer.hpp"

#include <chrono>
#include <cmath>
#include <random>
#include <thread>

namespace akt::otel::detail {
namespace {

// A sampled turn in progress on this thread.
struct turn_entry {
  const akt::detail::actor_ref* actor;
  tracer* owner;
  tracer* previous_active;
  trace_ref context;  // current for the turn
  span_data span;
};

thread_local std::vector<turn_entry> tls_turns;       // NOLINT: per thread by design
constinit thread_local tracer* tls_active = nullptr;  // NOLINT

// splitmix64, seeded per thread from the OS: ids need to be unique, not secret.
struct id_source {
  std::uint64_t state;
  id_source() {
    std::random_device rd;
    state = (static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^
            std::hash<std::thread::id>{}(std::this_thread::get_id());
  }
  std::uint64_t next() noexcept {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

id_source& ids() noexcept {
  thread_local id_source s;  // NOLINT: per thread by design
  return s;
}

template <std::size_t N>
void fill(std::array<std::uint8_t, N>& out) noexcept {
  for (std::size_t i = 0; i < N; i += 8) {
    std::uint64_t v = ids().next();
    for (std::size_t j = 0; j < 8 && i + j < N; ++j) out[i + j] = static_cast<std::uint8_t>(v >> (8 * j));
  }
}

template <std::size_t N>
bool all_zero(const std::array<std::uint8_t, N>& a) noexcept {
  for (std::uint8_t b : a)
    if (b != 0) return false;
  return true;
}

std::uint64_t threshold_of(double ratio) noexcept {
  if (!(ratio > 0)) return 0;
  if (ratio >= 1) return ~std::uint64_t{0};
  return static_cast<std::uint64_t>(std::ldexp(ratio, 64));
}

void messaging_attributes(span_data& d, std::string_view operation, std::string_view destination,
                          std::string_view type, std::string_view kind) {
  d.attributes.push_back({"messaging.system", std::string("akt")});
  d.attributes.push_back({"messaging.operation.name", std::string(operation)});
  d.attributes.push_back({"messaging.destination.name", std::string(destination)});
  d.attributes.push_back({"akt.message.type", std::string(type)});
  if (!kind.empty()) d.attributes.push_back({"akt.actor.kind", std::string(kind)});
}

}  // namespace

tracer::tracer(double sample_ratio, std::size_t max_queued, std::uint32_t max_hops)
    : threshold_(threshold_of(sample_ratio)),
      always_(sample_ratio >= 1),
      max_queued_(max_queued),
      max_hops_(max_hops) {}

bool tracer::sample_new_trace() noexcept {
  if (always_) return true;
  return threshold_ != 0 && ids().next() < threshold_;
}

trace_context::span_id tracer::new_span_id() noexcept {
  trace_context::span_id id{};
  do fill(id);
  while (all_zero(id));
  return id;
}

trace_context::trace_id tracer::new_trace_id() noexcept {
  trace_context::trace_id id{};
  do fill(id);
  while (all_zero(id));
  return id;
}

std::uint64_t tracer::now_unix_nano() noexcept {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

tracer* tracer::active() noexcept {
  return tls_active;
}
void tracer::set_active(tracer* t) noexcept {
  tls_active = t;
}

void tracer::turn_begin(const actor_view& self, const message_view& m) noexcept {
  const trace_context* in = m.trace();
  if (in == nullptr) {
    // A trace starts where work enters: a message from a plain thread, a
    // timer or with no sender. One an actor sent untraced belongs to a chain
    // that was not sampled (or ended): it starts nothing.
    if (m.has_sender() || !sample_new_trace()) return;
  } else if (!in->is_sampled()) {
    return;
  } else if (in->hops() >= max_hops_) {
    // An endless chain (ping-pong, a self-tick passed along) ends its trace
    // here: the handler and what it sends go untraced.
    set_turn_trace(nullptr);
    chains_cut_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  try {
    turn_entry& e = tls_turns.emplace_back();
    e.actor = &self.ref();
    e.owner = this;
    e.previous_active = tls_active;
    span_data& d = e.span;
    d.trace = in != nullptr ? in->trace() : new_trace_id();
    d.span = new_span_id();
    if (in != nullptr) {
      d.parent = in->span();
      d.tracestate = in->tracestate();
    }
    d.flags = 1;
    d.kind = m.is_ask() ? span_kind::server : span_kind::consumer;
    const std::string type = m.type_name();
    d.name = "process " + type;
    messaging_attributes(d, "process", self.path(), type, self.kind());
    e.context = trace_context::make(d.trace, d.span, 1, d.tracestate, in != nullptr ? in->hops() + 1 : 1);
    set_turn_trace(e.context.get());  // the system restores the message's after on_turn_end
    tls_active = this;
    d.start_unix_nano = now_unix_nano();
  } catch (...) {
    // Out of memory: this turn goes untraced.
  }
}

void tracer::turn_failed(const actor_view& self, std::string_view why) noexcept {
  if (tls_turns.empty() || tls_turns.back().actor != &self.ref()) return;
  span_data& d = tls_turns.back().span;
  d.is_error = true;
  try {
    d.status_message.assign(why.substr(0, 512));
  } catch (...) {
  }
}

void tracer::turn_end(const actor_view& self) noexcept {
  if (tls_turns.empty() || tls_turns.back().actor != &self.ref()) return;
  turn_entry& e = tls_turns.back();
  e.span.end_unix_nano = now_unix_nano();
  tls_active = e.previous_active;
  e.owner->finish(std::move(e.span));
  tls_turns.pop_back();
}

trace_ref tracer::on_send(const trace_context& current, const send_view& s) noexcept {
  try {
    span_data d;
    d.trace = current.trace();
    d.span = new_span_id();
    d.parent = current.span();
    d.tracestate = current.tracestate();
    d.flags = 1;
    d.kind = s.is_ask ? span_kind::client : span_kind::producer;
    d.name = "send " + std::string(s.type_name);
    if (s.to != nullptr) {
      messaging_attributes(d, "send", s.to->path(), s.type_name, s.to->kind());
    } else {
      messaging_attributes(d, "send", s.to_path, s.type_name, {});
    }
    d.start_unix_nano = d.end_unix_nano = now_unix_nano();
    trace_ref carried = trace_context::make(d.trace, d.span, 1, d.tracestate, current.hops());
    finish(std::move(d));
    return carried;
  } catch (...) {
    return {};
  }
}

void tracer::finish(span_data&& s) noexcept {
  recorded_.fetch_add(1, std::memory_order_relaxed);
  if (max_queued_ == 0) return;  // nowhere to export to: counted, not kept
  std::lock_guard g(mu_);
  if (queue_.size() >= max_queued_) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  try {
    queue_.push_back(std::move(s));
  } catch (...) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
  }
}

std::vector<span_data> tracer::take(std::size_t max) {
  std::lock_guard g(mu_);
  if (queue_.size() <= max) return std::exchange(queue_, {});
  std::vector<span_data> out(std::make_move_iterator(queue_.begin()),
                             std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(max)));
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(max));
  return out;
}

std::size_t tracer::queued() const {
  std::lock_guard g(mu_);
  return queue_.size();
}

}  // namespace akt::otel::detail
