// Supervision: what a cell does when its handler fails, and restarts.
// Everything here runs in the failing actor's own turn (or, for a one_for_all
// sibling, in that sibling's turn after a restart message).
#include "supervision/supervise.hpp"

#include <algorithm>
#include <mutex>

#include "actor/actor_cell.hpp"
#include "actor/cell_extras.hpp"
#include "system/system_core.hpp"

namespace akt {

std::string_view to_string(directive d) noexcept {
  switch (d) {
    case directive::resume:
      return "resume";
    case directive::restart:
      return "restart";
    case directive::stop:
      return "stop";
    case directive::escalate:
      return "escalate";
  }
  return "unknown";
}

namespace detail {

const supervisor_strategy& default_strategy() noexcept {
  static const supervisor_strategy s = supervisor_strategy::one_for_one().otherwise(directive::restart);
  return s;
}

const supervisor_strategy& actor_cell::child_strategy() const noexcept {
  if (const cell_extras* x = extras(); x != nullptr && x->supervisor) return *x->supervisor;
  return system_.default_supervisor();
}

void actor_cell::on_failure(failure_info f) noexcept {
  if (observed_.load(std::memory_order_relaxed)) {
    const actor_view self(*this);
    system_.for_each_observer([&](actor_observer& o) { o.on_failure(self, f); });
  }
  const supervisor_strategy& strategy = parent_->child_strategy();
  const directive d = strategy.decide(f);
  const bool all = strategy.applies_to() == supervisor_strategy::scope::one_for_all;
  system_.log().warn("supervisor of " + path() + " decides " + std::string(to_string(d)) +
                     (all ? " (one_for_all)" : "") + " after: " + f.what);
  switch (d) {
    case directive::resume:
      return;
    case directive::stop:
      if (all) {
        for (auto& sibling : parent_->children()) {
          if (sibling.get() != this) (void)sibling->request_stop();
        }
      }
      stop_self();
      return;
    case directive::restart: {
      // The budget first: past it the failing child stops, and under
      // one_for_all the group stops with it (as in Erlang/OTP and Akka).
      const auto restart = count_restart(strategy);
      if (all) {
        for (auto& sibling : parent_->children()) {
          if (sibling.get() == this) continue;
          (void)(restart ? sibling->request_restart() : sibling->request_stop());
        }
      }
      if (!restart) {
        stop_self();
        return;
      }
      begin_restart(strategy.backoff(*restart));
      return;
    }
    case directive::escalate:
      if (parent_->is_guardian()) {
        system_.log().error(path() + " escalated a failure to the guardian: stopping it");
        stop_self();
        return;
      }
      f.what = "escalated by " + path() + ": " + f.what;
      parent_->post(envelope_ptr(new escalated_envelope(std::move(f))));
      return;
  }
}

std::optional<std::uint32_t> actor_cell::count_restart(const supervisor_strategy& strategy) noexcept {
  cell_extras& x = ensure_extras();
  const auto now = system_.timers().now();
  if (strategy.window().count() > 0) {
    const auto horizon = now - strategy.window();
    auto& t = x.restart_times;
    t.erase(t.begin(), std::find_if(t.begin(), t.end(), [&](auto at) { return at >= horizon; }));
  }
  if (strategy.max_restarts() != 0 && x.restart_times.size() >= strategy.max_restarts()) {
    const bool all = strategy.applies_to() == supervisor_strategy::scope::one_for_all;
    system_.log().error("actor " + path() + " failed again after " + std::to_string(x.restart_times.size()) +
                        " restarts within " +
                        format_duration(std::chrono::nanoseconds(strategy.window()).count()) +
                        " (its budget): stopping it" + (all ? " and its siblings (one_for_all)" : ""));
    return std::nullopt;
  }
  x.restart_times.push_back(now);
  return static_cast<std::uint32_t>(x.restart_times.size());
}

void actor_cell::begin_restart(std::chrono::milliseconds delay) noexcept {
  std::vector<ref_ptr<actor_ref>> kids;
  {
    std::lock_guard g(children_);
    if (!life_.begin_restart(!children_.empty(), delay.count() > 0)) return;
    children_.for_each([&](actor_cell* c) { kids.push_back(ref_ptr<actor_ref>::share(c)); });
  }
  for (auto& k : kids) (void)k->request_stop();  // a fresh instance starts without children (as in Akka)
  if (delay.count() > 0) {
    auto self = ref_ptr<actor_cell>::share(this);
    system_.timers().schedule_after(
        delay, [self] { self->post(make_runtime_envelope(envelope_kind::restart_now)); });
  }
  act(life_.restart_step());
}

void actor_cell::finish_restart() noexcept {
  cell_extras& x = ensure_extras();
  call_post_stop_and_destroy();
  x.behaviors.clear();
  x.behavior_ops.clear();
  // Stashed messages go back in front: the new instance sees them first.
  while (!x.stash.empty()) {
    x.replay.push_front(std::move(x.stash.back()));
    x.stash.pop_back();
  }
  auto made = factory_->make();
  status started = made ? status() : status(std::move(made).error());
  if (started) {
    instance_ = std::move(*made);
    started = call_pre_start();
  }
  // Counted once the new instance's pre_start has run: whoever sees the
  // count also sees everything that pre_start did.
  x.restarts.fetch_add(1, std::memory_order_release);
  life_.restarted();
  if (!started) {
    system_.log().error("restart of " + path() + " failed (" + started.error().to_string() +
                        "): stopping it");
    stop_self();
    return;
  }
  started_ok_ = true;
  if (observed_.load(std::memory_order_relaxed)) {
    const actor_view self(*this);
    system_.for_each_observer([&](actor_observer& o) { o.on_restart(self); });
  }
  system_.publish(event_kind::actor_restarted, *this, {});
}

}  // namespace detail
}  // namespace akt
