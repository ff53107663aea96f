// The cell's hot path: a message enqueued (deliver, post), and the turn that
// takes it (run, handle). Starting and stopping are in start_stop.cpp, the
// children in children.cpp, failures in supervision/supervise.cpp.
#include "actor/actor_cell.hpp"

#include <charconv>
#include <exception>
#include <mutex>
#include <thread>

#include <akt/detail/wire_envelope.hpp>

#include "actor/cell_extras.hpp"
#include "actor/current_actor.hpp"
#include "ask/ask.hpp"
#include "dispatch/outbox.hpp"
#include "dispatch/ref_cache.hpp"
#include "supervision/supervise.hpp"
#include "system/system_core.hpp"
#include "timer/passivation_wheel.hpp"

namespace akt::detail {

// A million idle actors is a normal day: a larger cell costs every one.
static_assert(sizeof(actor_cell) <= 224, "actor_cell grew: see the layout note in actor_cell.hpp");

namespace {

// Set while a cell's destructor releases its parent (see ~actor_cell).
thread_local std::vector<actor_cell*>* tls_parents_to_release = nullptr;  // NOLINT

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
    if (ref_ != nullptr) drop_ref(ref_, count_);
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

}  // namespace

envelope_ptr make_runtime_envelope(envelope_kind kind) {
  return envelope_ptr(new runtime_envelope(kind));
}

actor_cell::actor_cell(system_core& system, actor_cell* parent, std::string name, std::uint64_t id,
                       mailbox_options mailbox, ref_ptr<actor_factory> factory,
                       std::unique_ptr<actor> instance, std::shared_ptr<const supervisor_strategy> supervisor)
    : slow_deliver_(mailbox.capacity != 0),
      mailbox_(mailbox),
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
  while (envelope* e = mailbox_.drain(next_in_mail_)) e->dispose();
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

namespace {
// Observed turns left on this thread before the next one is timed
// (actor_observer::interest::timing_every).
constinit thread_local std::uint32_t tls_turns_until_timed = 0;  // NOLINT: per thread by design
}  // namespace

// ---------------------------------------------------------------- enqueue

status actor_cell::deliver(envelope_ptr e) noexcept {
  if (life_.is_stop_requested()) {
    reject(std::move(e), "stopped");
    return error(errc::dead_actor, "actor " + path() + " is stopped");
  }
  if (e->trace) [[unlikely]]
    observe_send(*e);
  if (slow_deliver_.load(std::memory_order_relaxed)) [[unlikely]] {  // bounded, or enqueues observed
    if (mailbox_.is_bounded() && !mailbox_.try_reserve(*e)) return refuse_full(std::move(e));
    if (system_.observed() && system_.observes_every_enqueue()) {
      const actor_view to(*this);
      const message_view m(*e);
      system_.for_each_observer([&](actor_observer& o) { o.on_enqueue(to, m); });
    }
    if (mailbox_.is_bounded()) {  // bounded mailboxes count each message: no outbox
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

status actor_cell::refuse_full(envelope_ptr e) noexcept {
  if (mailbox_.overflow() == overflow_policy::drop_to_dead_letters) {
    system_.dead_letter(std::move(e), error(errc::mailbox_full, "mailbox of " + path() + " is full"), this);
    return {};
  }
  return error(errc::mailbox_full,
               "mailbox of " + path() + " is full (capacity " + std::to_string(mailbox_.capacity()) + ")");
}

void actor_cell::set_observed() noexcept {
  const std::uint8_t mode = system_.observes_every_turn()    ? every_turn
                            : system_.observes_entry_turns() ? sparse_with_entries
                                                             : sparse;
  observed_.store(mode, std::memory_order_relaxed);
  if (system_.observes_every_enqueue()) slow_deliver_.store(true, std::memory_order_relaxed);
}

// Sent under this thread's sampled context (not forwarded, replied or
// arrived from the network): a tracer may open its send span and give the
// message that span's context.
void actor_cell::observe_send(envelope& e) noexcept {
  if (e.trace.get() != tls_trace || !e.trace->is_sampled() || !system_.observed()) return;
  try {
    const actor_view to(*this);
    const std::string type = e.type_name();
    const send_view s{&to, {}, type, static_cast<bool>(e.reply_to)};
    e.trace = system_.observe_send(*e.trace, s);
  } catch (...) {
    // Out of memory for the type's name: the message goes with the context it has.
  }
}

std::int64_t actor_cell::enqueue_chain(envelope* first, std::uint32_t count) noexcept {
  const std::int64_t before = mailbox_.push_chain(first, count);
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

void actor_cell::enqueue(envelope_ptr e) noexcept {
  if (mailbox_.push(e.release()) == 0) schedule();
}

void actor_cell::schedule() noexcept {
  if (!reuse_ref(this)) add_ref();  // held while scheduled; dropped when a turn leaves the actor idle
  system_.dispatcher().schedule(this);
}

void actor_cell::reject(envelope_ptr e, std::string_view why) noexcept {
  e->reply_to.reset();  // the caller gets the error directly
  system_.dead_letter(std::move(e), error(errc::dead_actor, std::string(why)), this);
}

// ---------------------------------------------------------------- turns

inline bool actor_cell::holds_replay() const noexcept {
  const cell_extras* x = extras();
  return x != nullptr && !x->replay.empty() && state() == cell_state::running;
}

bool actor_cell::run(std::uint32_t budget) noexcept {
  current_scope scope(this);
  sender_releases releases;
  std::uint32_t taken = 0;  // from the mailbox (replayed messages were counted when first taken)
  std::uint32_t handled = 0;
  for (; handled < budget; ++handled) {
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
  // While replayed messages wait, the count keeps one extra so that the
  // actor stays scheduled (and no sender schedules it a second time).
  if (mailbox_.end_turn(next_in_mail_, taken, holds_replay()) > 0) {
    // Counted but not there even after the queue's wait: its sender was
    // taken off its core between counting and storing the message. Give
    // the core up once, so that it can finish, rather than run again for
    // nothing (on two cores shared by the workers and a plain thread that
    // sends, this was 100 k empty turns per 10 M messages).
    if (handled == 0) std::this_thread::yield();
    return true;
  }
  drop_ref(this);  // idle: drop the schedule reference (may destroy this cell, now or later)
  return false;
}

envelope_ptr actor_cell::next_envelope(std::uint32_t& taken) noexcept {
  if (cell_extras* x = extras(); x != nullptr && !x->replay.empty() && state() == cell_state::running) {
    envelope_ptr e = std::move(x->replay.front());
    x->replay.pop_front();
    return e;
  }
  return envelope_ptr(mailbox_.take(next_in_mail_, taken));
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
      count_error();
      on_failure(failure_info{e.message(), e.code(), nullptr, path()});
    }
  }
  if (stop_after_handler_) {
    stop_after_handler_ = false;
    begin_stop();
  }
}

void actor_cell::count_error() noexcept {
  ensure_extras().errors.fetch_add(1, std::memory_order_relaxed);
}

void actor_cell::handle(envelope_ptr& e) noexcept {
  if (e->kind == envelope_kind::user) [[likely]] {
    handle_user(e);
    return;
  }
  handle_runtime(e);
}

void actor_cell::handle_runtime(envelope_ptr& e) noexcept {
  switch (e->kind) {
    case envelope_kind::user:
      handle_user(e);
      return;
    case envelope_kind::stop:
      begin_stop();
      return;
    case envelope_kind::children_stopped: {
      bool none_left;
      {
        std::lock_guard g(children_);
        none_left = children_.empty();
      }
      if (none_left) act(life_.children_stopped());
      return;
    }
    case envelope_kind::restart:
      if (life_.is_handling()) begin_restart(std::chrono::milliseconds(0));
      return;
    case envelope_kind::restart_now:
      act(life_.delay_elapsed());
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
      count_error();
      on_failure(std::move(f.info));
      return;
    }
    case envelope_kind::continuation:
      call_continuation(e);
      return;
  }
}

void actor_cell::call_continuation(envelope_ptr& e) noexcept {
  if (!life_.is_handling()) {
    system_.dead_letter(std::move(e), error(errc::dead_actor, "the asker " + path() + " is stopping"));
    return;
  }
  auto& c = static_cast<continuation_envelope&>(*e);
  context ctx(this, nullptr);
  try {
    c.handler(ctx, std::move(c.outcome));
  } catch (...) {
    count_error();
    failure_info f{describe_current_exception(), std::nullopt, std::current_exception(), path()};
    system_.log().error("actor " + path() + " failed in a request's reply handler: " + f.what);
    on_failure(std::move(f));
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
      count_error();
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
    count_error();
    const std::string type = e ? e->type_name() : std::string("a forwarded message");
    failure_info f{describe_current_exception(), std::nullopt, std::current_exception(), path()};
    system_.log().error("actor " + path() + " failed on " + type + ": " + f.what);
    if (e) system_.dead_letter(std::move(e), error(errc::dead_actor, "its handler failed"), this);
    on_failure(std::move(f));
  }
}

void actor_cell::handle_user(envelope_ptr& e) noexcept {
  if (!life_.is_handling()) [[unlikely]] {
    if (life_.is_holding_for_restart()) {
      ensure_extras().replay.push_back(std::move(e));  // handled by the new instance
      return;
    }
    // A stopping actor still hears about its watched actors (its children
    // stop first): the instance lives until post_stop.
    if (e->type != type_id_of<terminated>() || !life_.hears_terminated()) {
      system_.dead_letter(std::move(e), error(errc::dead_actor, "actor " + path() + " is stopping"), this);
      return;
    }
  }
  if (e->type == type_id_of<terminated>() && !accept_terminated(*e)) return;  // unwatched meanwhile
  if (e->type == type_id_of<poison_pill>()) {  // stop_gracefully: everything before it was handled
    stop_self();
    return;
  }
  // Unobserved and untraced, or observed sparsely (actor_observer::interest)
  // and this turn is not one the observers hear of: straight to receive.
  const std::uint8_t mode = observed_.load(std::memory_order_relaxed);
  const bool plain =
      !e->trace && (mode == unobserved || (mode != every_turn && (mode == sparse || e->sender) &&
                                           tls_turns_until_timed != 0 && (--tls_turns_until_timed, true)));
  if (!plain) [[unlikely]] {
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
  // Which hooks this turn gets (actor_observer::interest): every turn, or
  // only traced and entry turns; and whether it is the one in `every` on
  // this thread that is timed.
  const bool hooked =
      system_.observes_every_turn() || e->trace || (!e->sender && system_.observes_entry_turns());
  const std::uint32_t every = system_.turn_timing_every();
  const bool timed = every <= 1 || tls_turns_until_timed == 0;
  tls_turns_until_timed = timed ? every - 1 : tls_turns_until_timed - 1;
  if (!hooked && !timed) {
    call_receive(e);
    return;
  }
  const actor_view self(*this);
  if (hooked) {
    const message_view m(*e);
    system_.for_each_observer([&](actor_observer& o) { o.on_turn_begin(self, m); });
  }
  if (!timed) {
    call_receive(e);
    system_.for_each_observer([&](actor_observer& o) { o.on_turn_end(self, std::chrono::nanoseconds(-1)); });
    return;
  }
  const auto began = std::chrono::steady_clock::now();
  call_receive(e);
  const std::chrono::nanoseconds took = std::chrono::steady_clock::now() - began;
  system_.for_each_observer([&](actor_observer& o) { o.on_turn_end(self, took); });
}

// ---------------------------------------------------------------- inspection

status actor_cell::wait_stopped(std::chrono::nanoseconds timeout) const {
  return system_.wait_terminated(*this, timeout);
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
  const cell_extras* x = extras();
  return actor_metrics{
      .mailbox_size = mailbox_.size(next_in_mail_),
      .received = received_.load(std::memory_order_relaxed),
      .processed = processed_.load(std::memory_order_relaxed),
      .errors = x != nullptr ? x->errors.load(std::memory_order_relaxed) : 0,
      .restarts = x != nullptr ? x->restarts.load(std::memory_order_acquire) : 0,
  };
}

}  // namespace akt::detail
