// system_core: what an actor_system is made of, behind the public facade —
// the dispatcher, the timer service, the guardian (root of the actor tree),
// dead-letter accounting and the stop sequence.
//
// Thread safety: all members are safe from any thread; start/stop are
// serialized by lifecycle_mu_.
#pragma once

#include <akt/actor_system.hpp>
#include <akt/events.hpp>
#include <akt/logger.hpp>
#include <akt/options.hpp>
#include <akt/supervision.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <akt/detail/ref_ptr.hpp>

#include "dispatch/scheduler.hpp"
#include "timer/passivation_wheel.hpp"
#include "timer/timer_service.hpp"
#include "util/sharded_counter.hpp"

namespace akt::detail {

class actor_cell;

enum class system_state : std::uint8_t { created, running, stopping, stopped };

// Reference counted: the actor_system facade holds one reference and the
// guardian cell another, and every cell holds its parent; so the core lives
// as long as any pid does, and a pid used after its system was destroyed
// still gets a clean errc::dead_actor.
class system_core final : public ref_counted {
 public:
  system_core(std::string name, system_options options);

  status start();
  status stop();
  bool is_running() const noexcept { return state_.load(std::memory_order_acquire) == system_state::running; }
  // errc::not_running unless running, saying whether the system has not
  // started yet or has stopped.
  status check_running() const;

  // Spawns under `parent` (null = top level).
  result<pid> spawn(actor_cell* parent, spawn_options options, ref_ptr<actor_factory> factory);
  result<pid> lookup(std::string_view name_or_path) const;

  // Counts a message nobody will handle and fails its asker, if any.
  void dead_letter(envelope_ptr e, error why, actor_cell* recipient = nullptr) noexcept;
  // An ask whose message an actor took and let go of without replying: no
  // reply can reach it any more. It is left to its timeout while the system
  // runs, and failed (errc::not_running) when the system stops, so that its
  // asker does not wait out the whole timeout after that.
  void keep_unanswered(ref_ptr<reply_sink> ask) noexcept;
  std::uint64_t dead_letters() const noexcept { return dead_letters_.load(std::memory_order_relaxed); }
  std::uint64_t actor_count() const noexcept {
    const std::int64_t n = live_actors_.sum();
    return n > 0 ? static_cast<std::uint64_t>(n) : 0;
  }

  void on_started() noexcept { live_actors_.add(1); }
  void on_terminated(actor_cell& cell) noexcept;

  const supervisor_strategy& default_supervisor() const noexcept;

  // The event stream (events.cpp).
  status subscribe(const pid& subscriber);
  status unsubscribe(const actor_ref* subscriber);
  void remove_subscriber(const actor_ref* subscriber) noexcept;  // as unsubscribe, in any state
  // Cheap when nobody listens: one relaxed load.
  void publish(event_kind kind, actor_cell& about, std::string detail) noexcept {
    if (has_subscribers_.load(std::memory_order_relaxed)) publish_slow(kind, &about, std::move(detail));
  }

  // Timers (events.cpp).
  result<timer_id> schedule_timer(std::chrono::nanoseconds delay, std::chrono::nanoseconds interval,
                                  std::function<void()> fire);
  bool cancel_timer(timer_id id);
  status wait_terminated(const actor_cell& cell, std::chrono::nanoseconds timeout);

  const std::string& name() const noexcept { return name_; }
  // "akt://name" or, with remoting, "akt://name@host:port": the root of every path.
  std::string root_path() const;
  std::string node_address() const;
  void set_node_address(std::string address);
  const system_options& options() const noexcept { return options_; }
  akt::logger& log() const noexcept { return *logger_; }
  scheduler& dispatcher() noexcept { return scheduler_; }
  timer_service& timers() noexcept { return timers_; }
  passivation_wheel& passivation() noexcept { return passivation_; }
  std::uint32_t throughput() const noexcept { return options_.throughput; }
  bool is_deterministic() const noexcept { return options_.deterministic; }
  // Milliseconds on the system's clock for passivation: the coarse real
  // clock, or the manual one of a deterministic system.
  std::uint32_t now_ms() noexcept;

  // Breaks the core <-> guardian reference cycle; called by the facade's
  // destructor, after stop().
  void release_guardian();

  actor_system* facade = nullptr;  // cleared when the facade is destroyed

 private:
  ~system_core() override;

  std::string name_;
  std::atomic<std::shared_ptr<const std::string>> root_path_;
  system_options options_;
  std::shared_ptr<akt::logger> logger_;
  std::atomic<system_state> state_{system_state::created};
  std::mutex lifecycle_mu_;

  scheduler scheduler_;
  timer_service timers_;
  passivation_wheel passivation_{*this};
  ref_ptr<actor_cell> guardian_;

  std::atomic<std::uint64_t> dead_letters_{0};
  sharded_counter live_actors_;

  void publish_slow(event_kind kind, actor_cell* about, std::string detail) noexcept;

  void fail_unanswered() noexcept;  // from stop(): fails every kept ask, and from then on any new one

  std::mutex unanswered_mu_;
  std::vector<ref_ptr<reply_sink>> unanswered_;  // guarded by unanswered_mu_
  std::size_t unanswered_sweep_at_ = 64;         // guarded likewise: size at which answered ones are dropped
  bool unanswered_closed_ = false;               // guarded likewise: set by stop()

  std::mutex subscribers_mu_;
  std::vector<ref_ptr<actor_ref>> subscribers_;  // guarded by subscribers_mu_
  std::atomic<bool> has_subscribers_{false};

  struct timer_entry;
  std::mutex timers_mu_;
  std::unordered_map<timer_id, std::shared_ptr<timer_entry>> timers_by_id_;  // guarded by timers_mu_
  timer_id next_timer_id_ = 1;                                               // guarded by timers_mu_

  mutable std::mutex terminated_mu_;
  mutable std::condition_variable terminated_cv_;
  mutable std::atomic<std::uint32_t> terminated_waiters_{0};
};

// Name rules (see options.hpp / actor_system.hpp); the error says what is wrong.
status validate_system_name(std::string_view name);
status validate_actor_name(std::string_view name);

}  // namespace akt::detail
