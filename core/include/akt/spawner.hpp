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
#include <akt/detail/ref_ptr.hpp>
#include <akt/error.hpp>
#include <akt/options.hpp>
#include <akt/pid.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
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

// Makes the actor's instances: the first at spawn, a fresh one at every
// restart. Reference counted; shared by nothing else.
class actor_factory : public ref_counted {
 public:
  // An instance, or an error saying why none could be made.
  virtual result<std::unique_ptr<actor>> make() = 0;
  // The C++ type of the instances ("shop::order_book"), for aggregation.
  virtual const std::string& kind() const noexcept = 0;

  static void* operator new(std::size_t size) { return small_alloc(size); }
  static void operator delete(void* p, std::size_t size) noexcept { small_free(p, size); }
  // Over-aligned types skip it: its blocks are only 16-byte aligned.
  static void* operator new(std::size_t size, std::align_val_t al) { return ::operator new(size, al); }
  static void operator delete(void* p, std::size_t size, std::align_val_t al) noexcept {
    ::operator delete(p, size, al);
  }
};

// Constructs A from copies of the spawn's arguments (kept for restarts). With
// move-only arguments the first instance takes them and a restart fails
// with a clear error (the actor is then stopped).
template <class A, class... Args>
class args_factory final : public actor_factory {
 public:
  template <class... U>
  explicit args_factory(U&&... args) : args_(std::forward<U>(args)...) {}

  const std::string& kind() const noexcept override {
    static const std::string name = demangle(typeid(A).name());
    return name;
  }

  result<std::unique_ptr<actor>> make() override {
    try {
      if constexpr ((std::is_copy_constructible_v<Args> && ...)) {
        return std::apply([](const auto&... a) { return std::unique_ptr<actor>(std::make_unique<A>(a...)); },
                          args_);
      } else {
        if (used_) {
          return error(errc::invalid_argument, "cannot make a second " + demangle(typeid(A).name()) +
                                                   ": its constructor arguments are move-only");
        }
        used_ = true;
        return std::apply(
            [](auto&... a) { return std::unique_ptr<actor>(std::make_unique<A>(std::move(a)...)); }, args_);
      }
    } catch (...) {  // whatever it was: this runs in restarts too, where nothing may escape
      return error(errc::pre_start_failed, "constructor of " + demangle(typeid(A).name()) +
                                               " threw: " + describe_current_exception());
    }
  }

 private:
  std::tuple<Args...> args_;
  bool used_ = false;
};

template <class A, class... Args>
ref_ptr<actor_factory> make_factory(Args&&... args) {
  static_assert(std::is_base_of_v<actor, A>, "spawn<A>: A must derive from akt::actor");
  if constexpr (sizeof...(Args) == 0) {
    static auto* shared = new args_factory<A>();  // one per type, never freed: spawning costs no allocation
    return ref_ptr<actor_factory>::share(shared);
  } else {
    return ref_ptr<actor_factory>::adopt(
        new args_factory<A, std::decay_t<Args>...>(std::forward<Args>(args)...));
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
    return self().spawn_with(std::move(options), detail::make_factory<A>(std::forward<Args>(args)...));
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
    return self().spawn_with(std::move(options), detail::make_factory<detail::fn_actor>(
                                                     std::function<void(context&)>(std::forward<F>(fn))));
  }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
};

}  // namespace akt
