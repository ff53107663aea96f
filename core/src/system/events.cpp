// The event stream and the timers of a system.
#include "actor/actor_cell.hpp"
#include "system/system_core.hpp"

#include <algorithm>

namespace akt {

std::string_view to_string(event_kind k) noexcept {
  switch (k) {
    case event_kind::actor_started:
      return "actor_started";
    case event_kind::actor_stopped:
      return "actor_stopped";
    case event_kind::actor_restarted:
      return "actor_restarted";
    case event_kind::actor_passivated:
      return "actor_passivated";
    case event_kind::dead_letter:
      return "dead_letter";
    case event_kind::unhandled_message:
      return "unhandled_message";
    case event_kind::node_up:
      return "node_up";
    case event_kind::node_down:
      return "node_down";
    case event_kind::member_joined:
      return "member_joined";
    case event_kind::member_left:
      return "member_left";
    case event_kind::leader_changed:
      return "leader_changed";
  }
  return "unknown";
}

namespace detail {

// ---------------------------------------------------------------- events

status system_core::subscribe(const pid& subscriber) {
  if (auto s = check_running(); !s) return s;
  if (!subscriber) return null_pid_error();
  if (!subscriber.is_running())
    return error(errc::dead_actor, subscriber.path() + " cannot subscribe: it has stopped");
  std::lock_guard g(subscribers_mu_);
  for (const auto& s : subscribers_) {
    if (s == subscriber.ref()) return {};
  }
  subscribers_.push_back(subscriber.ref());
  has_subscribers_.store(true, std::memory_order_relaxed);
  return {};
}

status system_core::unsubscribe(const actor_ref* subscriber) {
  if (auto s = check_running(); !s) return s;
  remove_subscriber(subscriber);
  return {};
}

void system_core::remove_subscriber(const actor_ref* subscriber) noexcept {
  std::lock_guard g(subscribers_mu_);
  auto& s = subscribers_;
  s.erase(std::remove_if(s.begin(), s.end(), [&](const auto& r) { return r.get() == subscriber; }), s.end());
  has_subscribers_.store(!s.empty(), std::memory_order_relaxed);
}

void system_core::publish_slow(event_kind kind, actor_cell* about, std::string detail) noexcept {
  std::vector<ref_ptr<actor_ref>> to;
  {
    std::lock_guard g(subscribers_mu_);
    to = subscribers_;
  }
  const pid who = about != nullptr ? pid(ref_ptr<actor_ref>::share(about)) : pid();
  for (auto& s : to) {
    if (s.get() == about && kind != event_kind::dead_letter)
      continue;  // an actor is not told of its own lifecycle
    auto e = make_envelope(system_event{kind, who, detail});
    if (actor_cell* local = s->as_local()) {
      local->post(std::move(e));
    } else {
      (void)s->deliver(std::move(e));
    }
  }
}

// ---------------------------------------------------------------- timers

// One scheduled delivery. `state` makes cancel and fire exclusive: a timer
// cancelled before it starts firing never delivers.
struct system_core::timer_entry {
  enum : int { idle, firing, cancelled };
  std::atomic<int> state{idle};
  std::chrono::nanoseconds interval{0};
  std::function<void()> fire;
  timer_service::key key{};
};

result<timer_id> system_core::schedule_timer(std::chrono::nanoseconds delay,
                                             std::chrono::nanoseconds interval, std::function<void()> fire) {
  // Like spawn: the timer service runs only while the system does.
  if (auto s = check_running(); !s) return std::move(s).error();
  auto entry = std::make_shared<timer_entry>();
  entry->interval = interval;
  entry->fire = std::move(fire);
  std::lock_guard g(timers_mu_);
  const timer_id id = next_timer_id_++;
  timers_by_id_.emplace(id, entry);
  // The callback runs on the timer thread; it re-arms repeating timers.
  struct runner {
    system_core* core;
    timer_id id;
    std::weak_ptr<timer_entry> weak;
    void operator()() const {
      auto e = weak.lock();
      if (!e) return;
      int expected = timer_entry::idle;
      if (!e->state.compare_exchange_strong(expected, timer_entry::firing)) return;  // cancelled
      e->fire();
      std::lock_guard g(core->timers_mu_);
      if (e->interval.count() > 0) {
        e->key = core->timers_.schedule_after(e->interval, *this);
      } else {
        core->timers_by_id_.erase(id);
      }
      e->state.store(timer_entry::idle);
    }
  };
  entry->key =
      timers_.schedule_after(std::max(delay, std::chrono::nanoseconds::zero()), runner{this, id, entry});
  return id;
}

bool system_core::cancel_timer(timer_id id) {
  for (int attempt = 0; attempt < 1'000'000; ++attempt) {
    std::unique_lock g(timers_mu_);
    auto it = timers_by_id_.find(id);
    if (it == timers_by_id_.end()) return false;
    auto e = it->second;
    int expected = timer_entry::idle;
    if (e->state.compare_exchange_strong(expected, timer_entry::cancelled)) {
      timers_.cancel(e->key);
      timers_by_id_.erase(it);
      return true;
    }
    g.unlock();  // firing right now: let that delivery finish, then cancel what follows
    std::this_thread::yield();
  }
  return false;
}

}  // namespace detail
}  // namespace akt
