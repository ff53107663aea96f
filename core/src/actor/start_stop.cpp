// The cell's lifecycle: start, stop and termination, the user's hooks
// (pre_start, post_stop), passivation. The rules (which state may move to
// which) are the lifecycle's (lifecycle.hpp); here is what each move does.
#include <algorithm>
#include <exception>
#include <mutex>

#include "actor/actor_cell.hpp"
#include "actor/cell_extras.hpp"
#include "actor/current_actor.hpp"
#include "dispatch/outbox.hpp"
#include "system/system_core.hpp"
#include "timer/passivation_wheel.hpp"

namespace akt::detail {

status actor_cell::start() {
  status outcome = call_pre_start();
  if (outcome) {
    started_ok_ = true;
    life_.started();
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
    if (mailbox_.open()) schedule();
    return {};
  }

  error failure(errc::pre_start_failed, "pre_start of " + path() + " failed: " + outcome.error().message());
  lifecycle::next step;
  {
    std::lock_guard g(children_);
    step = life_.start_failed(!children_.empty());
  }
  if (step == lifecycle::next::terminate) {
    terminate();  // nothing was started: undo at once, so the name is free on return
  } else {
    post(make_runtime_envelope(envelope_kind::stop));  // stops the children, then itself
  }
  if (mailbox_.open()) schedule();  // drain stragglers
  return failure;
}

status actor_cell::request_stop() noexcept {
  // Stopping a stopped actor, or one on its way, is a no-op.
  if (life_.request_stop()) post(make_runtime_envelope(envelope_kind::stop));
  return {};
}

status actor_cell::request_restart() noexcept {
  if (!life_.accepts_restart()) {
    return error(errc::dead_actor, "actor " + path() + " has stopped; it cannot be restarted");
  }
  post(make_runtime_envelope(envelope_kind::restart));
  return {};
}

void actor_cell::stop_self() noexcept {
  if (!life_.request_stop()) return;
  stop_after_handler_ = true;
  after_work_ = true;
}

void actor_cell::act(lifecycle::next step) noexcept {
  switch (step) {
    case lifecycle::next::none:
      return;
    case lifecycle::next::stop:
      begin_stop();
      return;
    case lifecycle::next::terminate:
      terminate();
      return;
    case lifecycle::next::finish_restart:
      finish_restart();
      return;
  }
}

void actor_cell::begin_stop() noexcept {
  std::vector<ref_ptr<actor_cell>> kids;
  {
    std::lock_guard g(children_);
    if (!life_.begin_stop()) return;  // already on its way
    kids.reserve(children_.size());
    children_.for_each([&](actor_cell* c) { kids.push_back(ref_ptr<actor_cell>::share(c)); });
  }
  if (kids.empty()) {
    terminate();
    return;
  }
  for (auto& k : kids) (void)k->request_stop();  // the last one to go posts children_stopped
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
  // Terminated (above, for watchers) is not yet finished: a waiter woken by
  // it could find the name still taken and the hooks not yet run. seq_cst:
  // ordered before on_terminated's look at the waiters.
  finished_.store(true, std::memory_order_seq_cst);
  system_.on_terminated(*this);
}

// ---------------------------------------------------------------- the user's hooks

status actor_cell::call_pre_start() noexcept {
  current_scope scope(this);
  outbox::scope sends;
  context ctx(this, nullptr);
  try {
    return instance_->pre_start(ctx);
  } catch (...) {
    return error(errc::pre_start_failed, "it threw " + describe_current_exception());
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
      system_.log().error("post_stop of " + path() + " threw: " + describe_current_exception());
    }
  }
  try {
    instance_.reset();
  } catch (...) {
    system_.log().error("the destructor of " + path() + " threw");
  }
  started_ok_ = false;
}

void actor_cell::report_failure(error e) {
  ensure_extras().reported_failure = std::move(e);
  after_work_ = true;
}

cell_extras& actor_cell::ensure_extras() {
  if (cell_extras* x = extras()) return *x;
  std::lock_guard g(children_);
  cell_extras* x = extras_.load(std::memory_order_acquire);
  if (x == nullptr) {
    x = new cell_extras();
    extras_.store(x, std::memory_order_release);
  }
  return *x;
}

// ---------------------------------------------------------------- passivation

void actor_cell::enable_passivation(std::chrono::milliseconds after) noexcept {
  passivate_ms_ = static_cast<std::uint32_t>(std::min<std::int64_t>(after.count(), UINT32_MAX / 2));
  refresh_coarse_clock();  // the spawning thread may not have looked at the clock for a while
  const std::uint32_t now = system_.now_ms();
  last_active_ms_.store(now, std::memory_order_relaxed);
  system_.passivation().arm(this, std::uint64_t{now} + passivate_ms_ + 1);
}

void actor_cell::ask_passivation() noexcept {
  if (state() == cell_state::terminated || life_.is_stop_requested()) return;
  post(make_runtime_envelope(envelope_kind::passivate_check));
}

void actor_cell::check_passivation() noexcept {
  if (!life_.is_handling()) return;
  refresh_coarse_clock();
  const std::uint32_t now = system_.now_ms();
  const std::uint32_t last = last_active_ms_.load(std::memory_order_relaxed);
  const std::uint32_t idle = now - last;  // wraps correctly
  // Strictly more than the timeout in whole milliseconds: the clock truncates,
  // so this guarantees at least the timeout in real time.
  if (idle > passivate_ms_ && mailbox_.is_drained(next_in_mail_)) {
    system_.log().debug("passivating " + path() + " after " + std::to_string(idle) + " ms idle");
    system_.publish(event_kind::actor_passivated, *this, {});
    stop_self();
    return;
  }
  system_.passivation().arm(
      this, std::uint64_t{now} + (idle > passivate_ms_ ? passivate_ms_ : passivate_ms_ - idle) + 1);
}

}  // namespace akt::detail
