// current_actor: what a thread is running now — the actor whose handler
// runs (the sender of the tells it makes), the references to that actor
// bought in bulk for those senders, and the trace context of the message in
// hand. The public face is in pid.hpp and trace.hpp (current_actor,
// stamp_outgoing, current_trace).
//
// Thread safety: everything here is thread-local; a thread sees only its own.
#pragma once

#include <akt/trace.hpp>

#include <cstdint>

#include "actor/actor_cell.hpp"
#include "dispatch/ref_cache.hpp"

namespace akt::detail {

// References to the current actor bought in bulk for the senders of the
// envelopes it sends (see stamp_outgoing); settled when its scope ends.
// The first send of a scope takes a single reference (a handler that sends
// once pays one atomic, as without credits); only a second send buys a batch.
struct sender_credits {
  actor_cell* owner = nullptr;
  std::uint32_t left = 0;
  bool bought_one = false;

  void settle() noexcept {
    // Never the last reference: the owner is running. With none left the
    // owner is not touched at all: a turn that ends idle may have freed it.
    if (owner != nullptr && left > 0) drop_ref(owner, left);
    owner = nullptr;
    left = 0;
    bought_one = false;
  }
};

extern constinit thread_local actor_cell* tls_current;         // NOLINT
extern constinit thread_local sender_credits tls_credits;      // NOLINT
extern constinit thread_local const trace_context* tls_trace;  // NOLINT: see trace.hpp

// Makes `cell` the current actor of this thread for a scope (handlers nest
// when a spawn runs a child's pre_start, or a blocked ask helps).
class current_scope {
 public:
  explicit current_scope(actor_cell* cell) noexcept : prev_(tls_current) { tls_current = cell; }
  ~current_scope() {
    if (tls_credits.owner == tls_current) tls_credits.settle();
    tls_current = prev_;
  }
  current_scope(const current_scope&) = delete;
  current_scope& operator=(const current_scope&) = delete;

 private:
  actor_cell* prev_;
};

// Makes a message's trace context current while its handler runs. It holds
// a reference: the handler may forward or take the message (and with it the
// envelope's reference) while sends still stamp the context.
class trace_turn {
 public:
  explicit trace_turn(trace_ref tc) noexcept : held_(std::move(tc)), prev_(tls_trace) {
    tls_trace = held_.get();
  }
  ~trace_turn() { tls_trace = prev_; }
  trace_turn(const trace_turn&) = delete;
  trace_turn& operator=(const trace_turn&) = delete;

 private:
  trace_ref held_;
  const trace_context* prev_;  // held by the enclosing scope
};

}  // namespace akt::detail
