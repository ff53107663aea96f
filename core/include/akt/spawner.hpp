// akt/spawner.hpp — the spawn family shared by actor_system (top-level
// actors) and context (children of the current actor).
//
//   sys->spawn<Worker>("w1", config);                       // named
//   sys->spawn<Worker>({.name = "w2", .mailbox = {.capacity = 100}}, config);
//   sys->spawn_anonymous<Worker>(config);                   // "$<n>"
//   sys->spawn_fn("echo", [](akt::context& ctx) { ... });   // from a lambda
//
// Spawn runs the actor's pre_start before it returns: a pid you get back is
// running. A name in use gets errc::name_taken (the existing actor is not
// returned: two owners of one name is a bug we refuse to hide).
#pragma once

#include <akt/actor.hpp>
#include <akt/error.hpp>
#include <akt/options.hpp>
#include <akt/pid.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <string_view>
#include <type_traits>

namespace akt {

namespace detail {

// An actor made of one function: receive.
class fn_actor final : public actor {
 public:
  explicit fn_actor(std::function<void(context&)> fn) : fn_(std::move(fn)) {}
  void receive(context& ctx) override { fn_(ctx); }

 private:
  std::function<void(context&)> fn_;
};

template <class A, class... Args>
result<std::unique_ptr<actor>> construct_actor(Args&&... args) {
  static_assert(std::is_base_of_v<actor, A>, "spawn<A>: A must derive from akt::actor");
  try {
    return std::unique_ptr<actor>(std::make_unique<A>(std::forward<Args>(args)...));
  } catch (const std::exception& e) {
    return error(errc::pre_start_failed,
                 "constructor of " + demangle(typeid(A).name()) + " threw: " + e.what());
  }
}

}  // namespace detail

template <class Derived>
class spawner {
 public:
  template <class A, class... Args>
  [[nodiscard]] result<pid> spawn(std::string_view name, Args&&... args) {
    return spawn<A>(spawn_options{.name = std::string(name)}, std::forward<Args>(args)...);
  }
  template <class A, class... Args>
  [[nodiscard]] result<pid> spawn(spawn_options options, Args&&... args) {
    auto made = detail::construct_actor<A>(std::forward<Args>(args)...);
    if (!made) return std::move(made).error();
    return self().spawn_instance(std::move(options), std::move(*made));
  }
  template <class A, class... Args>
  [[nodiscard]] result<pid> spawn_anonymous(Args&&... args) {
    return spawn<A>(spawn_options{}, std::forward<Args>(args)...);
  }
  // `fn` is called as fn(context&) for every message.
  template <class F>
  [[nodiscard]] result<pid> spawn_fn(std::string_view name, F&& fn) {
    return spawn_fn(spawn_options{.name = std::string(name)}, std::forward<F>(fn));
  }
  template <class F>
  [[nodiscard]] result<pid> spawn_fn(spawn_options options, F&& fn) {
    static_assert(std::is_invocable_v<F&, context&>, "spawn_fn: fn must be callable as fn(akt::context&)");
    return self().spawn_instance(std::move(options),
                                 std::make_unique<detail::fn_actor>(std::forward<F>(fn)));
  }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
};

}  // namespace akt
