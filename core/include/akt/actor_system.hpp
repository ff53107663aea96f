// akt/actor_system.hpp — the home of actors: a dispatcher (a fixed pool of
// worker threads), a timer service, the tree of actors and their names.
//
//   auto sys = akt::actor_system::create("shop", {.workers = 4}).value();
//   if (auto s = sys->start(); !s) return fail(s.error());
//   auto orders = sys->spawn<order_book>("orders").value();
//   ...
//   sys->stop();   // every actor stops, children first; every thread joined
//
// Several systems can live in one process; they share nothing.
//
// Thread safety: every member may be called from any thread, except that
// stop() must not be called from one of the system's own actors (it waits
// for them; it returns errc::invalid_argument there).
#pragma once

#include <akt/detail/ref_ptr.hpp>
#include <akt/error.hpp>
#include <akt/logger.hpp>
#include <akt/options.hpp>
#include <akt/pid.hpp>
#include <akt/spawner.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace akt {

namespace detail {
class system_core;
}

class actor_system : public spawner<actor_system> {
 public:
  // Validates the name: 1..64 of [A-Za-z0-9_-] (errc::invalid_name) and the
  // options (errc::invalid_argument). The system is created stopped.
  [[nodiscard]] static result<std::unique_ptr<actor_system>> create(std::string_view name,
                                                                    system_options options = {});
  ~actor_system();  // stops the system if it is still running
  actor_system(const actor_system&) = delete;
  actor_system& operator=(const actor_system&) = delete;

  // Starts the workers and the timer service.
  [[nodiscard]] status start();
  // Stops every actor (children before parents, post_stop run), then joins
  // every thread. Bounded by options().shutdown_timeout: past it the actors
  // still running are named in the error (errc::shutdown_timeout) and the
  // threads are joined once they return. Stopping a stopped system is a no-op.
  status stop();
  bool is_running() const noexcept;

  const std::string& name() const noexcept;
  const system_options& options() const noexcept;
  akt::logger& logger() const noexcept;

  // Finds a live actor: "orders" (a top-level name), "orders/audit" (a path
  // of names from a top-level actor), or its full "akt://shop/orders/audit".
  [[nodiscard]] result<pid> lookup(std::string_view name_or_path) const;

  // Messages that reached no actor: sent to stopped actors, left in a stopped
  // actor's mailbox, dropped by a full mailbox, late replies.
  std::uint64_t dead_letters() const noexcept;
  // Actors alive right now (started and not yet terminated).
  std::uint64_t actor_count() const noexcept;

  // Used by spawner<actor_system>: spawns a top-level actor.
  result<pid> spawn_instance(spawn_options options, std::unique_ptr<actor> instance);

  detail::system_core& core() const noexcept { return *core_; }

 private:
  explicit actor_system(detail::ref_ptr<detail::system_core> core);
  detail::ref_ptr<detail::system_core> core_;
};

}  // namespace akt
