// akt/actor_system.hpp — the home of actors: a dispatcher (a fixed pool of
// worker threads), a timer service, the tree of actors and their names.
//
//   auto sys = akt::actor_system::launch("shop", {.workers = 4}).value();   // created and started
//   auto orders = sys->spawn<order_book>("orders").value();
//   ...
//   sys->stop();   // extensions, then every actor (children first); every thread joined
//
// (create + start are the same in two steps, for a system configured in between.)
// Several systems can live in one process; they share nothing. A system owns
// its extensions (remoting, cluster, telemetry: see extension.hpp).
//
// Thread safety: every member may be called from any thread, except that
// stop() must not be called from one of the system's own actors (it waits
// for them; it returns errc::invalid_argument there).
#pragma once

#include <akt/detail/ref_ptr.hpp>
#include <akt/error.hpp>
#include <akt/events.hpp>
#include <akt/extension.hpp>
#include <akt/logger.hpp>
#include <akt/options.hpp>
#include <akt/pid.hpp>
#include <akt/spawner.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace akt {

namespace detail {
class system_core;
}
class type_registry;

using timer_id = std::uint64_t;

class actor_system : public spawner<actor_system> {
 public:
  // Validates the name: 1..64 of [A-Za-z0-9_-] (errc::invalid_name) and the
  // options (errc::invalid_argument). The system is created stopped.
  [[nodiscard]] static result<std::unique_ptr<actor_system>> create(std::string_view name,
                                                                    system_options options = {});
  // create() then start(), in one call.
  [[nodiscard]] static result<std::unique_ptr<actor_system>> launch(std::string_view name,
                                                                    system_options options = {});
  ~actor_system();  // stops the system if it is still running
  actor_system(const actor_system&) = delete;
  actor_system& operator=(const actor_system&) = delete;

  // Starts the workers and the timer service, then the extensions added so far.
  [[nodiscard]] status start();
  // Tells the extensions it is stopping (last added first), stops every
  // actor (children before parents, post_stop run), stops the extensions
  // (last added first), then joins every thread. Bounded by
  // options().shutdown_timeout: past it the actors still running are named
  // in the error (errc::shutdown_timeout) and the threads are joined once
  // they return. Stopping a stopped system is a no-op.
  status stop();
  bool is_running() const noexcept;

  const std::string& name() const noexcept;
  const system_options& options() const noexcept;
  akt::logger& logger() const noexcept;

  // Finds a live actor: "orders" (a top-level name), "orders/audit" (a path
  // of names from a top-level actor), or its full "akt://shop/orders/audit".
  // What is not found here is asked of each extension in turn (a path on
  // another node with remoting, a cluster-wide name with the cluster).
  [[nodiscard]] result<pid> lookup(std::string_view name_or_path) const;
  // The same, in this system's own tree only (no extension is asked): what a
  // transport uses for names that arrive from the network.
  [[nodiscard]] result<pid> lookup_local(std::string_view name_or_path) const;

  // Messages that reached no actor: sent to stopped actors, left in a stopped
  // actor's mailbox, dropped by a full mailbox, late replies.
  std::uint64_t dead_letters() const noexcept;
  // Messages handled without being matched (context::unhandled); each is
  // also a dead letter.
  std::uint64_t unhandled_messages() const noexcept;
  // Actors alive right now (started and not yet terminated).
  std::uint64_t actor_count() const noexcept;
  // Calls f for every live actor (parents before children), for exporters
  // and tools; f must not spawn or stop actors of this system.
  void for_each_actor(const std::function<void(const actor_view&)>& f) const;

  // Timers: deliver `msg` to `to` after `delay` (once), or after `initial`
  // and then every `interval` (a copy each time) until cancelled. One timer
  // service serves them all. The message arrives with no sender. Errors:
  // not_running (the system is not started or has stopped: no timer fires).
  template <class T>
  [[nodiscard]] result<timer_id> schedule_once(std::chrono::nanoseconds delay, const pid& to, T msg) {
    return schedule_timer(delay, std::chrono::nanoseconds::zero(),
                          [to, m = std::move(msg)]() mutable { (void)to.tell(std::move(m)); });
  }
  template <class T>
  [[nodiscard]] result<timer_id> schedule_repeatedly(std::chrono::nanoseconds initial,
                                                     std::chrono::nanoseconds interval, const pid& to,
                                                     T msg) {
    static_assert(std::is_copy_constructible_v<T>, "a repeated message is copied for every delivery");
    return schedule_timer(initial, interval, [to, m = std::move(msg)] { (void)to.tell(T(m)); });
  }
  // True if the timer was pending and will never deliver again; false if it
  // already fired (a one-shot), was cancelled, or never existed.
  bool cancel_timer(timer_id id);

  // The event stream: `subscriber` receives akt::system_event messages
  // (actor started, stopped, restarted, passivated; dead letters) until it
  // unsubscribes or stops. Errors: not_running (the system is not started or
  // has stopped).
  status subscribe(const pid& subscriber);
  status unsubscribe(const pid& subscriber);

  // Deterministic systems only (system_options::deterministic): run ready
  // actors on the calling thread until none is ready (or `max_turns`
  // turns); returns the turns run. advance_clock moves the manual clock,
  // fires what became due (timers, request timeouts, passivation), then
  // runs what that made ready. Both return 0 / do nothing otherwise.
  std::size_t run_ready(std::size_t max_turns = 1'000'000);
  std::size_t advance_clock(std::chrono::nanoseconds by);

  // The node's network address ("host:port") when an extension gives it
  // one (remoting), else empty; paths then read akt://<system>@<address>/...
  std::string node_address() const;

  // Extensions (see extension.hpp). The system owns `ext` from here on,
  // starts it now if the system runs (else at start) and stops it at stop.
  // Errors: invalid_argument (a second extension of the same name, a second
  // one giving a node address, too many), not_running (the system stopped),
  // or the extension's own start error (it is then destroyed).
  template <class E>
  [[nodiscard]] result<E*> add_extension(std::unique_ptr<E> ext) {
    static_assert(std::is_base_of_v<akt::extension, E>, "add_extension: E must derive from akt::extension");
    E* raw = ext.get();
    auto r = add_extension_impl(std::unique_ptr<akt::extension>(std::move(ext)));
    if (!r) return std::move(r).error();
    return raw;
  }
  // The extension of type E, or null.
  template <class E>
  E* find_extension() const {
    return dynamic_cast<E*>(
        find_extension_impl([](akt::extension& e) { return dynamic_cast<E*>(&e) != nullptr; }));
  }
  // Tells every extension of a transport event (node up / down) and
  // publishes it on the event stream.
  void announce(const node_event& e);
  // For transports: a message that reached no actor elsewhere (refused by
  // another node, or meant for a node that is down) is counted in
  // dead_letters(), seen by observers and published, like a local one.
  // `why` should name the intended recipient. `count` alike messages are
  // counted at once (observers and subscribers hear of them once).
  void report_dead_letter(std::string_view type_name, error why, std::uint64_t count = 1);
  // For transports: a traced message leaves for another node. Observers
  // may open a send span (actor_observer::on_send); returns the context to
  // write on the wire (`current` itself when none did).
  trace_ref observe_send(const trace_context& current, const send_view& s) const noexcept;
  // For exporters: reports the system's metrics (actors alive, dead
  // letters, unhandled messages, workers busy, uptime), then every
  // extension's (extension::report_metrics). See metrics.hpp.
  void report_metrics(metric_sink& sink) const;
  // The message types and actor kinds this system accepts from outside.
  type_registry& registry() noexcept;

  // Used by spawner<actor_system>: spawns a top-level actor.
  result<pid> spawn_with(spawn_options options, detail::ref_ptr<detail::actor_factory> factory);

  detail::system_core& core() const noexcept { return *core_; }

 private:
  explicit actor_system(detail::ref_ptr<detail::system_core> core);
  result<timer_id> schedule_timer(std::chrono::nanoseconds delay, std::chrono::nanoseconds interval,
                                  std::function<void()> fire);
  result<akt::extension*> add_extension_impl(std::unique_ptr<akt::extension> ext);
  akt::extension* find_extension_impl(const std::function<bool(akt::extension&)>& match) const;
  detail::ref_ptr<detail::system_core> core_;
};

}  // namespace akt
