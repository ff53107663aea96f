// akt/error.hpp — the one error type of Akt's API, and result<T> / status.
//
// Every fallible call returns `akt::result<T>` (a value or an `akt::error`) or
// `akt::status` (= result<void>). An error carries a stable code (`errc`, whose
// numbers never change and can cross the wire) and a message that says what
// was wrong. Exceptions are not used on the API surface, with one exception
// that mirrors std::expected: value() on an error throws bad_result_access,
// which carries the error (test first, or use value_or / and_then /
// transform, to never see it).
//
//   auto sys = akt::actor_system::launch("shop").value();      // throws, saying why, if it failed
//   int n = counter.ask<int>(Get{}, 1s).value_or(0);
//   auto name = sys->lookup("orders").transform([](akt::pid p) { return p.path(); });
//
// Thread safety: values; no shared state.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace akt {

// Stable error codes. Append only: the numbers are part of the wire protocol.
enum class errc : std::uint16_t {
  dead_actor = 1,         // the target actor has stopped (or is stopping)
  not_found = 2,          // no actor with that name / path
  name_taken = 3,         // the name is already used by a live actor
  invalid_name = 4,       // a system or actor name breaks the naming rules
  request_timeout = 5,    // an ask or request got no reply in time
  mailbox_full = 6,       // a bounded mailbox is at capacity
  already_replied = 7,    // a second reply to the same message
  no_sender = 8,          // reply/forward without anyone to answer to
  not_running = 9,        // the actor system is not started or already stopped
  pre_start_failed = 10,  // the actor's pre_start returned an error or threw
  unexpected_reply = 11,  // an ask got a reply of another type than expected
  invalid_argument = 12,  // a bad option or argument
  shutdown_timeout = 13,  // stopping did not finish within its deadline
  no_message = 14,        // a message operation outside of receive
  timeout = 15,           // a wait (other than an ask) ran out of time
  unhandled = 16,         // the receiving actor did not handle the message (context::unhandled)
  no_reply = 17,          // whoever had to answer gave up (a response_promise dropped unanswered)
  backpressure = 18,      // the receiver is behind: a transport's window or queue is full; retry later
  not_permitted = 19,     // the receiving node does not permit this (remote stop, spawn, watch)
  unavailable = 20,       // a service the operation needs (etcd) did not answer in time
};

// The code's name, e.g. "dead_actor".
std::string_view to_string(errc code) noexcept;

namespace detail {
// "250 us", "100 ms", "1.5 s": durations in error messages.
std::string format_duration(long long nanoseconds);
}  // namespace detail

class error {
 public:
  error(errc code, std::string message) : code_(code), message_(std::move(message)) {}

  errc code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }
  // "<code>: <message>", for logs and exceptions of the user's own.
  std::string to_string() const;

 private:
  errc code_;
  std::string message_;
};

// Thrown by result<T>::value() on an error; carries the error.
class bad_result_access : public std::runtime_error {
 public:
  explicit bad_result_access(akt::error e);
  const akt::error& error() const noexcept { return error_; }

 private:
  akt::error error_;
};

template <class T>
class result;

namespace detail {
template <class R>
struct is_result : std::false_type {};
template <class U>
struct is_result<result<U>> : std::true_type {};
}  // namespace detail

// A value of type T or an error. value() (and * and ->) on an error throws
// bad_result_access; error() on a value is a bug and aborts.
template <class T>
class [[nodiscard]] result {
 public:
  using value_type = T;

  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}   // NOLINT: implicit by design
  result(akt::error e) : v_(std::in_place_index<1>, std::move(e)) {}  // NOLINT

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & {
    check(true);
    return std::get<0>(v_);
  }
  const T& value() const& {
    check(true);
    return std::get<0>(v_);
  }
  T&& value() && {
    check(true);
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // The value, or `fallback` on an error.
  template <class U>
  T value_or(U&& fallback) const& {
    return has_value() ? std::get<0>(v_) : static_cast<T>(std::forward<U>(fallback));
  }
  template <class U>
  T value_or(U&& fallback) && {
    return has_value() ? std::get<0>(std::move(v_)) : static_cast<T>(std::forward<U>(fallback));
  }
  // f(value) -> result<U>, or the error passed on.
  template <class F>
  auto and_then(F&& f) && {
    using R = std::remove_cvref_t<std::invoke_result_t<F, T&&>>;
    static_assert(detail::is_result<R>::value, "and_then: f must return an akt::result");
    if (!has_value()) return R(std::get<1>(std::move(v_)));
    return std::forward<F>(f)(std::get<0>(std::move(v_)));
  }
  template <class F>
  auto and_then(F&& f) const& {
    return result(*this).and_then(std::forward<F>(f));
  }
  // result<U> holding f(value), or the error passed on.
  template <class F>
  auto transform(F&& f) && {
    using U = std::remove_cvref_t<std::invoke_result_t<F, T&&>>;
    if (!has_value()) return result<U>(std::get<1>(std::move(v_)));
    if constexpr (std::is_void_v<U>) {
      std::forward<F>(f)(std::get<0>(std::move(v_)));
      return result<U>();
    } else {
      return result<U>(std::forward<F>(f)(std::get<0>(std::move(v_))));
    }
  }
  template <class F>
  auto transform(F&& f) const& {
    return result(*this).transform(std::forward<F>(f));
  }

  const akt::error& error() const& {
    check(false);
    return std::get<1>(v_);
  }
  akt::error&& error() && {
    check(false);
    return std::get<1>(std::move(v_));
  }
  errc code() const { return error().code(); }

 private:
  void check(bool want_value) const {
    if (has_value() == want_value) return;
    if (want_value) throw bad_result_access(std::get<1>(v_));
    std::abort();  // error() on a value: the caller did not test
  }
  std::variant<T, akt::error> v_;
};

// Success or an error. Not [[nodiscard]] as a type: `tell` returns it and is
// fire-and-forget by nature; calls whose failure matters are marked one by one.
template <>
class result<void> {
 public:
  result() = default;
  result(akt::error e) : e_(std::move(e)) {}  // NOLINT: implicit by design

  bool has_value() const noexcept { return !e_.has_value(); }
  explicit operator bool() const noexcept { return has_value(); }
  // Throws bad_result_access on an error (a status one means to check).
  void value() const {
    if (e_) throw bad_result_access(*e_);
  }
  template <class F>
  auto and_then(F&& f) const {
    using R = std::remove_cvref_t<std::invoke_result_t<F>>;
    static_assert(detail::is_result<R>::value, "and_then: f must return an akt::result");
    if (e_) return R(*e_);
    return std::forward<F>(f)();
  }
  const akt::error& error() const& {
    if (!e_) std::abort();
    return *e_;
  }
  akt::error&& error() && {
    if (!e_) std::abort();
    return std::move(*e_);
  }
  errc code() const { return error().code(); }

 private:
  std::optional<akt::error> e_;
};

using status = result<void>;

}  // namespace akt
