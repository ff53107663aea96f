// system_core: what an actor_system is made of, behind the public facade —
// the dispatcher, the timer service, the guardian (root of the actor tree),
// dead-letter accounting and the stop sequence.
//
// Thread safety: all members are safe from any thread; start/stop are
// serialized by lifecycle_mu_.
#pragma once

#include <akt/actor_system.hpp>
#include <akt/events.hpp>
#include <akt/extension.hpp>
#include <akt/logger.hpp>
#include <akt/options.hpp>
#include <akt/registry.hpp>
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
  // The local tree, then each extension's resolve (see extension.hpp).
  result<pid> lookup(std::string_view name_or_path) const;
  result<pid> lookup_local(std::string_view name_or_path) const;

  // Counts a message nobody will handle and fails its asker, if any.
  void dead_letter(envelope_ptr e, error why, actor_cell* recipient = nullptr) noexcept;
  // A message its recipient handled without matching it (context::unhandled):
  // counted, published, and counted as a dead letter.
  void unhandled(envelope_ptr e, actor_cell& recipient) noexcept;
  std::uint64_t unhandled_messages() const noexcept { return unhandled_.load(std::memory_order_relaxed); }
  // An ask whose message an actor took and let go of without replying: no
  // reply can reach it any more. It is left to its timeout while the system
  // runs, and failed (errc::not_running) when the system stops, so that its
  // asker does not wait out the whole timeout after that.
  void keep_unanswered(ref_ptr<reply_sink> ask) noexcept;
  std::uint64_t dead_letters() const noexcept { return dead_letters_.load(std::memory_order_relaxed); }
  void count_dead_letters(std::uint64_t n) noexcept { dead_letters_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t actor_count() const noexcept {
    const std::int64_t n = live_actors_.sum();
    return n > 0 ? static_cast<std::uint64_t>(n) : 0;
  }

  void on_started() noexcept { live_actors_.add(1); }
  void on_terminated(actor_cell& cell) noexcept;

  // Extensions (extensions.cpp; see akt/extension.hpp).
  result<akt::extension*> add_extension(std::unique_ptr<akt::extension> ext);
  akt::extension* find_extension(const std::function<bool(akt::extension&)>& match) const;
  // One relaxed load: is any observer installed?
  bool observed() const noexcept { return observer_count_.load(std::memory_order_relaxed) != 0; }
  // The union of the observers' interests (actor_observer::interest).
  std::uint32_t turn_timing_every() const noexcept { return timing_every_.load(std::memory_order_relaxed); }
  bool observes_every_enqueue() const noexcept { return every_enqueue_.load(std::memory_order_relaxed); }
  bool observes_every_turn() const noexcept { return every_turn_.load(std::memory_order_relaxed); }
  bool observes_entry_turns() const noexcept { return entry_turns_.load(std::memory_order_relaxed); }
  template <class F>
  void for_each_observer(F&& f) const noexcept {
    const std::uint32_t n = observer_count_.load(std::memory_order_acquire);
    for (std::uint32_t i = 0; i < n; ++i) f(*observers_[i]);
  }
  bool has_extensions() const noexcept { return hooked_count_.load(std::memory_order_relaxed) != 0; }
  status before_bind(const bind_request& r);
  void after_start(actor_cell& cell) noexcept;
  void after_terminate(actor_cell& cell, bool was_bound) noexcept;
  void announce(const node_event& e) noexcept;
  trace_ref observe_send(const trace_context& current, const send_view& s) const noexcept;
  void report_metrics(metric_sink& sink) const;
  void poll_extensions() noexcept;
  type_registry& registry() noexcept { return registry_; }
  std::uint64_t next_inbox_id() noexcept { return next_inbox_.fetch_add(1, std::memory_order_relaxed); }
  // Inboxes (inbox.cpp) are found by lookup_local under their name "$inbox-<n>".
  void add_inbox(std::string name, actor_ref* ref);
  void remove_inbox(const std::string& name);
  // Calls f(actor_ref&) for every live actor (not the guardian), parents first.
  void for_each_actor(const std::function<void(actor_ref&)>& f) const;
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
  const system_options& options() const noexcept { return options_; }
  akt::logger& log() const noexcept { return *logger_; }
  scheduler& dispatcher() noexcept { return scheduler_; }
  timer_service& timers() noexcept { return timers_; }
  passivation_wheel& passivation() noexcept { return passivation_; }
  std::uint32_t throughput() const noexcept { return options_.throughput; }
  bool is_deterministic() const noexcept { return options_.deterministic; }
  // Deterministic systems: runs what is ready on the calling thread and,
  // when nothing is, moves the manual clock to the next timer due, until
  // done() or `within` has passed on that clock. Returns done(). What a
  // blocking ask and an inbox's receive wait with.
  bool run_manually(std::chrono::nanoseconds within, const std::function<bool()>& done);
  // Milliseconds on the system's clock for passivation: the coarse real
  // clock, or the manual one of a deterministic system.
  std::uint32_t now_ms() noexcept;

  // Destroys the extensions (last added first), after stop(); called by
  // the facade's destructor.
  void release_extensions() noexcept;
  // Breaks the core <-> guardian reference cycle; called by the facade's
  // destructor, after stop().
  void release_guardian();

  actor_system* facade = nullptr;  // cleared when the facade is destroyed

 private:
  ~system_core() override;

  std::string name_;
  // Set when an extension gives the node its address, cleared when it stops.
  // A mutex, not atomic<shared_ptr>: libstdc++ 12's version unlocks with a
  // relaxed store, which ThreadSanitizer rightly reports as a race. Read on
  // cold paths only (errors, names of actors).
  mutable std::mutex root_mu_;
  std::string address_;
  system_options options_;
  std::shared_ptr<akt::logger> logger_;
  std::atomic<system_state> state_{system_state::created};
  std::mutex lifecycle_mu_;

  scheduler scheduler_;
  timer_service timers_;
  passivation_wheel passivation_{*this};
  ref_ptr<actor_cell> guardian_;

  std::atomic<std::uint64_t> dead_letters_{0};
  const std::chrono::steady_clock::time_point created_at_ = std::chrono::steady_clock::now();
  std::atomic<std::uint64_t> unhandled_{0};

  // Extensions: append-only arrays published by their counts (release), so
  // hooks read them without a lock; destroyed by the facade after stop
  // (release_extensions), or with the core if the system never stopped.
  static constexpr std::uint32_t max_extensions = 16;
  std::mutex extensions_mu_;  // serializes add_extension
  akt::extension* extensions_[max_extensions] = {};
  std::atomic<std::uint32_t> extension_count_{0};  // added (find_extension)
  std::atomic<std::uint32_t> hooked_count_{0};     // started: the hooks reach extensions_[0, hooked_count_)
  actor_observer* observers_[max_extensions] = {};
  std::atomic<std::uint32_t> observer_count_{0};
  std::atomic<std::uint32_t> timing_every_{0};  // 0: no observer yet
  std::atomic<bool> every_enqueue_{false};
  std::atomic<bool> every_turn_{false};
  std::atomic<bool> entry_turns_{false};
  std::vector<std::unique_ptr<akt::extension>> owned_extensions_;  // guarded by extensions_mu_
  status start_extensions_locked();
  status adopt_address(akt::extension& ext);
  void stop_extensions(bool before_actors) noexcept;
  std::uint32_t started_extensions_ = 0;  // guarded by extensions_mu_
  type_registry registry_;
  std::atomic<std::uint64_t> next_inbox_{1};
  mutable std::mutex inboxes_mu_;
  std::unordered_map<std::string, actor_ref*> inboxes_;  // guarded by inboxes_mu_
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
