#include "actor/current_actor.hpp"

#include "dispatch/ref_cache.hpp"

namespace akt::detail {

constinit thread_local actor_cell* tls_current = nullptr;         // NOLINT
constinit thread_local sender_credits tls_credits{};              // NOLINT
constinit thread_local const trace_context* tls_trace = nullptr;  // NOLINT

namespace {
constexpr std::uint32_t credit_batch = 64;

// An envelope's sender: inlined into stamp_outgoing (every tell).
[[gnu::always_inline]] inline actor_ref* take_sender_reference() noexcept {
  actor_cell* cur = tls_current;
  if (cur == nullptr) return nullptr;
  sender_credits& c = tls_credits;
  if (c.owner != cur) {
    c.settle();
    c.owner = cur;
  }
  if (c.left > 0) {
    --c.left;
  } else if (!c.bought_one) {
    if (!reuse_ref(cur)) cur->add_ref();
    c.bought_one = true;
  } else {
    cur->add_refs(credit_batch);
    c.left = credit_batch - 1;
  }
  return cur;
}
}  // namespace

actor_ref* current_actor() noexcept {
  return tls_current;
}

actor_cell* current_cell() noexcept {
  return tls_current;
}

const trace_context* current_trace() noexcept {
  return tls_trace;
}
void set_current_trace(const trace_context* tc) noexcept {
  tls_trace = tc;
}

void stamp_outgoing(envelope& e) noexcept {
  e.sender.reset_adopt(take_sender_reference());
  if (const trace_context* tc = tls_trace) [[unlikely]]
    e.trace = trace_ref::share(tc);
}

}  // namespace akt::detail
