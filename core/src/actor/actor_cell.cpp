#include "actor/actor_cell.hpp"

#include <algorithm>
#include <charconv>
#include <exception>
#include <mutex>

#include <akt/detail/wire_envelope.hpp>

#include "actor/cell_extras.hpp"
#include "ask/ask.hpp"
#include "dispatch/outbox.hpp"
#include "supervision/supervise.hpp"
#include "system/system_core.hpp"
#include "timer/passivation_wheel.hpp"

namespace akt::detail {

namespace {

thread_local actor_cell* tls_current = nullptr;         // NOLINT
thread_local const trace_context* tls_trace = nullptr;  // NOLINT: see trace.hpp

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
// Set while a cell's destructor releases its parent (see ~actor_cell).
thread_local std::vector<actor_cell*>* tls_parents_to_release = nullptr;  // NOLINT

// References to the current actor bought in bulk for the senders of the
// envelopes it sends (see sender_reference); settled when its scope ends.
// The first send of a scope takes a single reference (a handler that sends
// once pays one atomic, as without credits); only a second send buys a batch.
struct sender_credits {
  actor_cell* owner = nullptr;
  std::uint32_t left = 0;
  bool bought_one = false;

  void settle() noexcept {
    // Never the last reference: the owner is running. With none left the
    // owner is not touched at all: a turn that ends idle may have freed it.
    if (owner != nullptr && left > 0) owner->release_refs(left);
    owner = nullptr;
    left = 0;
    bought_one = false;
  }
};
thread_local sender_credits tls_credits;  // NOLINT
constexpr std::uint32_t credit_batch = 64;

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

// The references to senders held by the envelopes a turn has handled, given
// back in one atomic operation per run of envelopes from the same sender
// (a consumer fed by a few producers does one per batch, not one per
// message: the per-message lock-prefixed decrement on the producer's cell
// cost a quarter of fanin's time).
class sender_releases {
 public:
  sender_releases() = default;
  sender_releases(const sender_releases&) = delete;
  sender_releases& operator=(const sender_releases&) = delete;
  ~sender_releases() { flush(); }

  void take(ref_ptr<actor_ref>& sender) noexcept {
    actor_ref* r = sender.detach();
    if (r == nullptr) return;
    if (r != ref_) {
      flush();
      ref_ = r;
    }
    ++count_;
  }
  void flush() noexcept {
    if (ref_ != nullptr) ref_->release_refs(count_);
    ref_ = nullptr;
    count_ = 0;
  }

 private:
  actor_ref* ref_ = nullptr;
  std::uint32_t count_ = 0;
};

struct runtime_envelope final : envelope {
  explicit runtime_envelope(envelope_kind k) { kind = k; }
  std::string type_name() const override { return "<runtime>"; }
};

std::string describe_exception(std::exception_ptr ep) {
  try {
    std::rethrow_exception(std::move(ep));
  } catch (...) {
    return describe_current_exception();
  }
}

}  // namespace

envelope_ptr make_runtime_envelope(envelope_kind kind) {
  return envelope_ptr(new runtime_envelope(kind));
}

actor_ref* current_actor() noexcept {
  return tls_current;
}

namespace {
// The body of sender_reference, inlined into stamp_outgoing (every tell).
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
    cur->add_ref();
    c.bought_one = true;
  } else {
    cur->add_refs(credit_batch);
    c.left = credit_batch - 1;
  }
  return cur;
}
}  // namespace

ref_ptr<actor_ref> sender_reference() noexcept {
  return ref_ptr<actor_ref>::adopt(take_sender_reference());
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

actor_cell::actor_cell(system_core& system, actor_cell* parent, std::string name, std::uint64_t id,
                       mailbox_options mailbox, ref_ptr<actor_factory> factory,
                       std::unique_ptr<actor> instance, std::shared_ptr<const supervisor_strategy> supervisor)
    : capacity_(static_cast<std::uint32_t>(mailbox.capacity)),
      slow_deliver_(mailbox.capacity != 0),
      overflow_(mailbox.overflow),
      system_(system),
      parent_(ref_ptr<actor_cell>::share(parent)),
      factory_(std::move(factory)),
      kind_(&factory_->kind()),
      name_(name.empty() ? nullptr : std::make_unique<const std::string>(std::move(name))),
      id_(id),
      instance_(std::move(instance)) {
  if (supervisor) {
    auto* x = new cell_extras();
    x->supervisor = std::move(supervisor);
    extras_.store(x, std::memory_order_release);
  }
}

actor_cell::~actor_cell() {
  while (mpsc_node* n = next_in_mail_.pop(mailbox_)) static_cast<envelope*>(n)->dispose();
  delete extras_.load(std::memory_order_acquire);
  if (is_guardian()) {
    system_.release();  // the guardian's reference to its system (see system_core)
    return;
  }
  // Releasing the parent may destroy it, and it its own parent: a chain held
  // only by its deepest pid would nest one destructor per level and overflow
  // the stack. The outermost destructor on this thread releases them one
  // after the other instead; the ones inside it only queue theirs.
  actor_cell* parent = parent_.detach();
  if (tls_parents_to_release != nullptr) {
    tls_parents_to_release->push_back(parent);
    return;
  }
  std::vector<actor_cell*> queued;
  tls_parents_to_release = &queued;
  parent->release();
  while (!queued.empty()) {
    actor_cell* next = queued.back();
    queued.pop_back();
    next->release();
  }
  tls_parents_to_release = nullptr;
}

// ---------------------------------------------------------------- enqueue

status actor_cell::deliver(envelope_ptr e) noexcept {
  if (stop_requested_.load(std::memory_order_acquire)) {
    reject(std::move(e), "stopped");
    return error(errc::dead_actor, "actor " + path() + " is stopped");
  }
  if (slow_deliver_.load(std::memory_order_relaxed)) [[unlikely]] {  // bounded, or observed
    if (capacity_ != 0) {
      std::int64_t q = queued_.load(std::memory_order_relaxed);
      do {
        if (q >= capacity_) {
          if (overflow_ == overflow_policy::drop_to_dead_letters) {
            system_.dead_letter(std::move(e), error(errc::mailbox_full, "mailbox of " + path() + " is full"),
                                this);
            return {};
          }
          return error(errc::mailbox_full,
                       "mailbox of " + path() + " is full (capacity " + std::to_string(capacity_) + ")");
        }
      } while (
          !queued_.compare_exchange_weak(q, q + 1, std::memory_order_acq_rel, std::memory_order_relaxed));
      e->counted = true;
    }
    if (system_.observed()) {
      const actor_view to(*this);
      const message_view m(*e);
      system_.for_each_observer([&](actor_observer& o) { o.on_enqueue(to, m); });
    }
    if (capacity_ != 0) {  // bounded mailboxes count each message: no outbox
      enqueue(std::move(e));
      return {};
    }
  }
  if (outbox::active()) {
    envelope* raw = e.release();
    if (outbox::try_add(this, raw)) return {};  // handed over when the running handler returns
    e.reset(raw);
  }
  enqueue(std::move(e));
  return {};
}

void actor_cell::set_observed() noexcept {
  observed_.store(true, std::memory_order_relaxed);
  slow_deliver_.store(true, std::memory_order_relaxed);
}

std::int64_t actor_cell::enqueue_chain(envelope* first, envelope* last, std::uint32_t count) noexcept {
  const std::int64_t before = pending_.fetch_add(count, std::memory_order_acq_rel);
  mailbox_.push_chain(first, last);
  if (before == 0) schedule();
  return before + count;
}

void actor_cell::post(envelope_ptr e) noexcept {
  if (state() == cell_state::terminated) {
    system_.dead_letter(std::move(e), error(errc::dead_actor, "actor " + path() + " has stopped"), this);
    return;
  }
  enqueue(std::move(e));
}

std::int64_t actor_cell::enqueue(envelope_ptr e) noexcept {
  const std::int64_t before = pending_.fetch_add(1, std::memory_order_acq_rel);
  mailbox_.push(e.release());
  if (before == 0) schedule();
  return before;
}

void actor_cell::schedule() noexcept {
  add_ref();  // held while scheduled; dropped when a turn leaves the actor idle
  system_.dispatcher().schedule(this);
}

void actor_cell::reject(envelope_ptr e, std::string_view why) noexcept {
  e->reply_to.reset();  // the caller gets the error directly
  system_.dead_letter(std::move(e), error(errc::dead_actor, std::string(why)), this);
}

// ---------------------------------------------------------------- turns

bool actor_cell::run(std::uint32_t budget) noexcept {
  current_scope scope(this);
  sender_releases releases;
  std::uint32_t taken = 0;  // from the mailbox (replayed messages were counted when first taken)
  for (std::uint32_t handled = 0; handled < budget; ++handled) {
    envelope_ptr e = next_envelope(taken);
    if (!e) break;
    {
      outbox::scope sends;  // what the handler tells goes out when it returns
      handle(e);
    }
    if (e) {
      // An ask let go of without a reply can only time out: the system fails it when it stops.
      if (e->reply_to && e->reply_to->is_waiting()) [[unlikely]] {
        if (e->reply_to->held_until_stop()) {
          system_.keep_unanswered(std::move(e->reply_to));
        } else {  // a transport's asker: answered now, never held (a peer could grow the list)
          e->reply_to->fail(error(errc::no_reply, "actor " + path() + " let the ask go unanswered"));
        }
      }
      releases.take(e->sender);
    }
    e.reset();
    if (after_work_) after_handler();
  }
  releases.flush();
  in_hand_.store(0, std::memory_order_relaxed);
  // While replayed messages wait, pending_ keeps one extra count so that the
  // actor stays scheduled (and no sender schedules it a second time).
  const cell_extras* x = extras();
  const bool hold = x != nullptr && !x->replay.empty() && state() == cell_state::running;
  std::int64_t settle = taken;
  if (hold != holding_) {
    settle += holding_ ? 1 : -1;
    holding_ = hold;
  }
  const std::int64_t left = pending_.fetch_sub(settle, std::memory_order_acq_rel) - settle;
  if (left > 0) return true;
  release();  // idle: drop the schedule reference (may destroy this cell)
  return false;
}

envelope_ptr actor_cell::next_envelope(std::uint32_t& taken) noexcept {
  if (cell_extras* x = extras(); x != nullptr && !x->replay.empty() && state() == cell_state::running) {
    envelope_ptr e = std::move(x->replay.front());
    x->replay.pop_front();
    return e;
  }
  mpsc_node* node = next_in_mail_.pop(mailbox_);
  if (node == nullptr) return {};
  in_hand_.store(++taken, std::memory_order_relaxed);
  envelope_ptr e(static_cast<envelope*>(node));
  // Only what deliver counted is uncounted: runtime posts (Terminated,
  // events) reach a bounded mailbox past its bound and were never counted.
  if (e->counted) {
    e->counted = false;
    queued_.fetch_sub(1, std::memory_order_acq_rel);
  }
  return e;
}

void actor_cell::after_handler() noexcept {
  after_work_ = false;
  if (cell_extras* x = extras()) {
    x->unstash_at = 0;
    if (!x->behavior_ops.empty()) {
      for (auto& [op, b] : x->behavior_ops) {
        switch (op) {
          case cell_extras::behavior_op::become:
            if (x->behaviors.empty()) {
              x->behaviors.push_back(std::move(b));
            } else {
              x->behaviors.back() = std::move(b);
            }
            break;
          case cell_extras::behavior_op::push:
            x->behaviors.push_back(std::move(b));
            break;
          case cell_extras::behavior_op::reset:
            x->behaviors.clear();
            break;
          case cell_extras::behavior_op::pop:
            if (!x->behaviors.empty()) x->behaviors.pop_back();
            break;
        }
      }
      x->behavior_ops.clear();
    }
    if (x->reported_failure) {
      error e = std::move(*x->reported_failure);
      x->reported_failure.reset();
      errors_.store(errors_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      on_failure(failure_info{e.message(), e.code(), nullptr, path()});
    }
  }
  if (stop_after_handler_) {
    stop_after_handler_ = false;
    begin_stop();
  }
}

void actor_cell::handle(envelope_ptr& e) noexcept {
  if (e->kind == envelope_kind::user) [[likely]] {
    handle_user(e);
    return;
  }
  switch (e->kind) {
    case envelope_kind::user:
      handle_user(e);
      return;
    case envelope_kind::stop:
      begin_stop();
      return;
    case envelope_kind::children_stopped: {
      bool done;
      {
        std::lock_guard g(children_lock_);
        done = child_count_ == 0;
      }
      if (!done) return;
      if (state() == cell_state::stopping) {
        terminate();
      } else if (state() == cell_state::restarting) {
        if (cell_extras* x = extras()) x->restart_waits_for_children = false;
        finish_restart_if_ready();
      }
      return;
    }
    case envelope_kind::restart:
      if (state() == cell_state::running && !stop_requested_.load(std::memory_order_relaxed)) {
        begin_restart(std::chrono::milliseconds(0));
      }
      return;
    case envelope_kind::restart_now:
      if (state() == cell_state::restarting) {
        if (cell_extras* x = extras()) x->restart_waits_for_delay = false;
        finish_restart_if_ready();
      }
      return;
    case envelope_kind::passivate_check:
      check_passivation();
      return;
    case envelope_kind::wire: {  // from another node: decoded here, on the worker
      envelope_ptr decoded = static_cast<wire_envelope&>(*e).decode();
      if (!decoded) {
        error why(errc::invalid_argument, "the payload is not a valid " + e->type_name());
        system_.log().warn("actor " + path() + " refused a message from another node: " + why.message());
        system_.dead_letter(std::move(e), std::move(why), this);  // an asker gets the error
        return;
      }
      e = std::move(decoded);
      handle_user(e);
      return;
    }
    case envelope_kind::escalated: {
      auto& f = static_cast<escalated_envelope&>(*e);
      errors_.store(errors_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      on_failure(std::move(f.info));
      return;
    }
    case envelope_kind::continuation: {
      if (state() != cell_state::running || stop_requested_.load(std::memory_order_relaxed)) {
        system_.dead_letter(std::move(e), error(errc::dead_actor, "the asker " + path() + " is stopping"));
        return;
      }
      auto& c = static_cast<continuation_envelope&>(*e);
      context ctx(this, nullptr);
      try {
        c.handler(ctx, std::move(c.outcome));
      } catch (...) {
        errors_.store(errors_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        failure_info f{describe_exception(std::current_exception()), std::nullopt, std::current_exception(),
                       path()};
        system_.log().error("actor " + path() + " failed in a request's reply handler: " + f.what);
        on_failure(std::move(f));
      }
      return;
    }
  }
}

[[gnu::always_inline]] inline void actor_cell::call_receive(envelope_ptr& e) noexcept {
  received_.store(received_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  context ctx(this, &e);
  try {
    cell_extras* x = extras();
    if (x != nullptr && !x->behaviors.empty()) {
      x->behaviors.back()(ctx);  // changes to the stack wait until after_handler
    } else {
      instance_->receive(ctx);
    }
    if (x = extras(); x != nullptr && x->reported_failure) {  // context::fail
      error reported = std::move(*x->reported_failure);
      x->reported_failure.reset();
      errors_.store(errors_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      system_.log().warn("actor " + path() + " reported a failure: " + reported.to_string());
      if (e) system_.dead_letter(std::move(e), error(errc::dead_actor, "its handler failed"), this);
      on_failure(failure_info{reported.message(), reported.code(), nullptr, path()});
      return;
    }
    if (ctx.match_ != context::matched && e) [[unlikely]] {
      system_.unhandled(std::move(e), *this);  // no handler took it: said so, or nothing matched
    }
    processed_.store(processed_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (passivate_ms_ != 0) last_active_ms_.store(system_.now_ms(), std::memory_order_relaxed);
  } catch (...) {
    errors_.store(errors_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    const std::string type = e ? e->type_name() : std::string("a forwarded message");
    failure_info f{describe_exception(std::current_exception()), std::nullopt, std::current_exception(),
                   path()};
    system_.log().error("actor " + path() + " failed on " + type + ": " + f.what);
    if (e) system_.dead_letter(std::move(e), error(errc::dead_actor, "its handler failed"), this);
    on_failure(std::move(f));
  }
}

void actor_cell::handle_user(envelope_ptr& e) noexcept {
  const cell_state s = state();
  if (s == cell_state::restarting && !stop_requested_.load(std::memory_order_relaxed)) {
    ensure_extras().replay.push_back(std::move(e));  // handled by the new instance
    return;
  }
  // A stopping actor still hears about its watched actors (its children stop
  // first): the instance lives until post_stop.
  const bool last_words =
      e->type == type_id_of<terminated>() && (s == cell_state::running || s == cell_state::stopping);
  if (!last_words && (s != cell_state::running || stop_requested_.load(std::memory_order_relaxed))) {
    system_.dead_letter(std::move(e), error(errc::dead_actor, "actor " + path() + " is stopping"), this);
    return;
  }
  if (e->type == type_id_of<terminated>() && !accept_terminated(*e)) return;  // unwatched meanwhile
  if (e->type == type_id_of<poison_pill>()) {  // stop_gracefully: everything before it was handled
    stop_self();
    return;
  }
  if (e->trace || observed_.load(std::memory_order_relaxed)) [[unlikely]] {
    handle_observed(e);
    return;
  }
  call_receive(e);
}

void actor_cell::handle_observed(envelope_ptr& e) noexcept {
  trace_turn traced(e->trace);
  if (!system_.observed()) {
    call_receive(e);
    return;
  }
  const actor_view self(*this);
  {
    const message_view m(*e);
    system_.for_each_observer([&](actor_observer& o) { o.on_turn_begin(self, m); });
  }
  const auto began = std::chrono::steady_clock::now();
  call_receive(e);
  const std::chrono::nanoseconds took = std::chrono::steady_clock::now() - began;
  system_.for_each_observer([&](actor_observer& o) { o.on_turn_end(self, took); });
}

// ---------------------------------------------------------------- lifecycle

status actor_cell::start() {
  status outcome = call_pre_start();
  if (outcome) {
    started_ok_ = true;
    state_.store(cell_state::running, std::memory_order_release);
    // Before the start hold is released: no message (a stop included) is
    // handled before the extensions hear of the actor, so after_terminate
    // never comes first.
    if (system_.has_extensions() && !is_guardian()) {
      hooked_ = true;
      system_.after_start(*this);
    }
    if (stop_after_handler_) {  // stop_self() in pre_start: stop as soon as it runs
      stop_after_handler_ = false;
      post(make_runtime_envelope(envelope_kind::stop));
    }
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) - 1 > 0) schedule();
    return {};
  }

  error failure(errc::pre_start_failed, "pre_start of " + path() + " failed: " + outcome.error().message());
  stop_requested_.store(true, std::memory_order_release);
  bool has_children;
  {
    std::lock_guard g(children_lock_);
    has_children = child_count_ > 0;
    if (!has_children) state_.store(cell_state::stopping, std::memory_order_release);
  }
  if (has_children) {
    post(make_runtime_envelope(envelope_kind::stop));  // stops them, then itself
  } else {
    terminate();  // nothing was started: undo at once, so the name is free on return
  }
  if (pending_.fetch_sub(1, std::memory_order_acq_rel) - 1 > 0) schedule();  // drain stragglers
  return failure;
}

status actor_cell::request_stop() noexcept {
  if (state() == cell_state::terminated) return {};  // stopping a stopped actor is a no-op
  if (stop_requested_.exchange(true, std::memory_order_acq_rel)) return {};  // already on its way
  post(make_runtime_envelope(envelope_kind::stop));
  return {};
}

status actor_cell::request_restart() noexcept {
  if (state() == cell_state::terminated || stop_requested_.load(std::memory_order_acquire)) {
    return error(errc::dead_actor, "actor " + path() + " has stopped; it cannot be restarted");
  }
  post(make_runtime_envelope(envelope_kind::restart));
  return {};
}

void actor_cell::report_failure(error e) {
  ensure_extras().reported_failure = std::move(e);
  after_work_ = true;
}

cell_extras& actor_cell::ensure_extras() {
  if (cell_extras* x = extras()) return *x;
  std::lock_guard g(children_lock_);
  cell_extras* x = extras_.load(std::memory_order_acquire);
  if (x == nullptr) {
    x = new cell_extras();
    extras_.store(x, std::memory_order_release);
  }
  return *x;
}

void actor_cell::enable_passivation(std::chrono::milliseconds after) noexcept {
  passivate_ms_ = static_cast<std::uint32_t>(std::min<std::int64_t>(after.count(), UINT32_MAX / 2));
  refresh_coarse_clock();  // the spawning thread may not have looked at the clock for a while
  const std::uint32_t now = system_.now_ms();
  last_active_ms_.store(now, std::memory_order_relaxed);
  system_.passivation().arm(this, std::uint64_t{now} + passivate_ms_ + 1);
}

void actor_cell::ask_passivation() noexcept {
  if (state() == cell_state::terminated || stop_requested_.load(std::memory_order_relaxed)) return;
  post(make_runtime_envelope(envelope_kind::passivate_check));
}

void actor_cell::check_passivation() noexcept {
  if (state() != cell_state::running || stop_requested_.load(std::memory_order_relaxed)) return;
  refresh_coarse_clock();
  const std::uint32_t now = system_.now_ms();
  const std::uint32_t last = last_active_ms_.load(std::memory_order_relaxed);
  const std::uint32_t idle = now - last;  // wraps correctly
  const bool nothing_waiting =
      pending_.load(std::memory_order_acquire) - in_hand_.load(std::memory_order_relaxed) <= 0;
  // Strictly more than the timeout in whole milliseconds: the clock truncates,
  // so this guarantees at least the timeout in real time.
  if (idle > passivate_ms_ && nothing_waiting) {
    system_.log().debug("passivating " + path() + " after " + std::to_string(idle) + " ms idle");
    system_.publish(event_kind::actor_passivated, *this, {});
    stop_self();
    return;
  }
  system_.passivation().arm(
      this, std::uint64_t{now} + (idle > passivate_ms_ ? passivate_ms_ : passivate_ms_ - idle) + 1);
}

void actor_cell::stop_self() noexcept {
  if (stop_requested_.exchange(true, std::memory_order_acq_rel)) return;
  stop_after_handler_ = true;
  after_work_ = true;
}

void actor_cell::begin_stop() noexcept {
  std::vector<ref_ptr<actor_cell>> kids;
  {
    std::lock_guard g(children_lock_);
    const cell_state s = state();
    if (s == cell_state::stopping || s == cell_state::terminated) return;
    state_.store(cell_state::stopping, std::memory_order_release);
    kids.reserve(child_count_);
    for (actor_cell* c = first_child_; c != nullptr; c = c->next_sibling_) {
      kids.push_back(ref_ptr<actor_cell>::share(c));
    }
  }
  if (kids.empty()) {
    terminate();
    return;
  }
  for (auto& k : kids) (void)k->request_stop();  // the last one to go posts children_stopped
}

status actor_cell::call_pre_start() noexcept {
  current_scope scope(this);
  outbox::scope sends;
  context ctx(this, nullptr);
  try {
    return instance_->pre_start(ctx);
  } catch (...) {
    return error(errc::pre_start_failed, "it threw " + describe_exception(std::current_exception()));
  }
}

void actor_cell::call_post_stop_and_destroy() noexcept {
  if (started_ok_ && instance_) {
    current_scope scope(this);
    outbox::scope sends;
    context ctx(this, nullptr);
    try {
      instance_->post_stop(ctx);
    } catch (...) {
      system_.log().error("post_stop of " + path() +
                          " threw: " + describe_exception(std::current_exception()));
    }
  }
  try {
    instance_.reset();
  } catch (...) {
    system_.log().error("the destructor of " + path() + " threw");
  }
  started_ok_ = false;
}

void actor_cell::terminate() noexcept {
  call_post_stop_and_destroy();
  // The user's state goes with the instance: the spawn's arguments (kept
  // for restarts) and the behaviors may hold this actor's own pid, a cycle
  // that would keep the cell, its parents and the system alive for good.
  factory_.reset();
  // Watchers first: a parent watching this child gets Terminated before the
  // children_stopped that lets it finish stopping.
  notify_watchers();                         // marks terminated under the lock watchers register under
  if (parent_) parent_->unlink_child(this);  // frees the name; we stay alive through our caller's reference
  if (cell_extras* x = extras()) {
    for (auto& w : x->stash)
      system_.dead_letter(std::move(w), error(errc::dead_actor, "stashed by a stopped actor"));
    for (auto& w : x->replay)
      system_.dead_letter(std::move(w), error(errc::dead_actor, "actor " + path() + " stopped"));
    x->stash.clear();
    x->replay.clear();
    x->behaviors.clear();
    x->behavior_ops.clear();
  }
  if (observed_.load(std::memory_order_relaxed) && !is_guardian()) [[unlikely]] {
    const actor_view self(*this);
    system_.for_each_observer([&](actor_observer& o) { o.on_stop(self); });
  }
  if (hooked_ || bound_) system_.after_terminate(*this, bound_);  // pairs with after_start / before_bind
  system_.on_terminated(*this);
}

// ---------------------------------------------------------------- the tree

status actor_cell::adopt_child(actor_cell* child) {
  std::lock_guard g(children_lock_);
  const cell_state s = state();
  if (s == cell_state::stopping || s == cell_state::terminated || stop_requested_.load()) {
    if (is_guardian()) return error(errc::not_running, "actor system " + system_.name() + " is stopping");
    return error(errc::dead_actor, "cannot spawn under " + path() + ": it is stopping");
  }
  if (child->name_) {
    if (!named_children_)
      named_children_ = std::make_unique<std::unordered_map<std::string_view, actor_cell*>>();
    if (!named_children_->emplace(*child->name_, child).second) {
      return error(errc::name_taken, "the name '" + *child->name_ + "' is already used by a live actor " +
                                         (is_guardian() ? "in system " + system_.name() : "under " + path()));
    }
  }
  child->next_sibling_ = first_child_;
  if (first_child_ != nullptr) first_child_->prev_sibling_ = child;
  first_child_ = child;
  ++child_count_;
  child->add_ref();  // the tree keeps a running actor alive
  return {};
}

void actor_cell::unlink_child(actor_cell* child) noexcept {
  bool last_of_stopping;
  {
    std::lock_guard g(children_lock_);
    if (child->prev_sibling_ != nullptr) child->prev_sibling_->next_sibling_ = child->next_sibling_;
    if (child->next_sibling_ != nullptr) child->next_sibling_->prev_sibling_ = child->prev_sibling_;
    if (first_child_ == child) first_child_ = child->next_sibling_;
    child->prev_sibling_ = child->next_sibling_ = nullptr;
    if (child->name_ && named_children_) named_children_->erase(*child->name_);
    --child_count_;
    // A stopping actor finishes, a restarting one restarts, once its last child is gone.
    last_of_stopping =
        child_count_ == 0 && (state() == cell_state::stopping || state() == cell_state::restarting);
  }
  child->release();
  if (last_of_stopping) post(make_runtime_envelope(envelope_kind::children_stopped));
}

ref_ptr<actor_cell> actor_cell::find_child(std::string_view name) const {
  std::lock_guard g(children_lock_);
  if (!named_children_) return {};
  auto it = named_children_->find(name);
  if (it == named_children_->end() || !it->second->is_running()) return {};  // starting, or on its way out
  return ref_ptr<actor_cell>::share(it->second);
}

std::vector<ref_ptr<actor_ref>> actor_cell::children() const {
  std::vector<ref_ptr<actor_ref>> out;
  std::lock_guard g(children_lock_);
  out.reserve(child_count_);
  for (actor_cell* c = first_child_; c != nullptr; c = c->next_sibling_) {
    if (c->state() != cell_state::starting) out.push_back(ref_ptr<actor_ref>::share(c));
  }
  return out;
}

bool actor_cell::has_child(const actor_cell* child) const {
  return child->parent_.get() == this;
}

void actor_cell::collect_live(std::vector<ref_ptr<actor_cell>>& out) const {
  // Depth first with a stack of our own (a tree may be deeper than the
  // thread's); reversed, the order lists every actor after its subtree.
  const std::size_t first = out.size();
  std::vector<ref_ptr<actor_cell>> to_visit{ref_ptr<actor_cell>::share(const_cast<actor_cell*>(this))};
  while (!to_visit.empty()) {
    ref_ptr<actor_cell> at = std::move(to_visit.back());
    to_visit.pop_back();
    {
      std::lock_guard g(at->children_lock_);
      for (actor_cell* c = at->first_child_; c != nullptr; c = c->next_sibling_) {
        to_visit.push_back(ref_ptr<actor_cell>::share(c));
      }
    }
    if (!at->is_guardian()) out.push_back(std::move(at));
  }
  std::reverse(out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
}

// ---------------------------------------------------------------- inspection

status actor_cell::wait_stopped(std::chrono::nanoseconds timeout) const {
  return system_.wait_terminated(*this, timeout);
}

bool actor_cell::is_running() const noexcept {
  const cell_state s = state();
  return (s == cell_state::running || s == cell_state::restarting) &&
         !stop_requested_.load(std::memory_order_relaxed);
}

std::string actor_cell::name() const {
  return name_ ? *name_ : "$" + std::to_string(id_);
}

std::string actor_cell::path() const {
  // Written leaf to root into a string sized first, without recursing: a
  // tree may be deeper than the thread's stack.
  char anonymous[24];
  auto name_of = [&anonymous](const actor_cell* c) -> std::string_view {
    if (c->name_) return *c->name_;
    anonymous[0] = '$';
    const char* end = std::to_chars(anonymous + 1, anonymous + sizeof anonymous, c->id_).ptr;
    return {anonymous, static_cast<std::size_t>(end - anonymous)};
  };
  std::string out = system_.root_path();
  std::size_t at = out.size();
  for (const actor_cell* c = this; !c->is_guardian(); c = c->parent_.get()) at += 1 + name_of(c).size();
  out.resize(at);
  for (const actor_cell* c = this; !c->is_guardian(); c = c->parent_.get()) {
    const std::string_view n = name_of(c);
    at -= n.size();
    n.copy(out.data() + at, n.size());
    out[--at] = '/';
  }
  return out;
}

std::string_view actor_cell::kind() const noexcept {
  return *kind_;
}

ref_ptr<actor_ref> actor_cell::parent() const {
  if (!parent_ || parent_->is_guardian()) return {};
  return ref_ptr<actor_ref>::share(parent_.get());
}

actor_metrics actor_cell::metrics() const noexcept {
  std::int64_t waiting = pending_.load(std::memory_order_relaxed) - in_hand_.load(std::memory_order_relaxed);
  if (state() == cell_state::starting) --waiting;  // the start hold
  return actor_metrics{
      .mailbox_size = waiting > 0 ? static_cast<std::uint64_t>(waiting) : 0,
      .received = received_.load(std::memory_order_relaxed),
      .processed = processed_.load(std::memory_order_relaxed),
      .errors = errors_.load(std::memory_order_relaxed),
      .restarts = restarts_.load(std::memory_order_acquire),
  };
}

}  // namespace akt::detail
