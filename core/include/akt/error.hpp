// akt/error.hpp — the one error type of Akt's API, and result<T> / status.
//
// Every fallible call returns `akt::result<T>` (a value or an `akt::error`) or
// `akt::status` (= result<void>). An error carries a stable code (`errc`, whose
// numbers never change and can cross the wire) and a message that says what
// was wrong. Exceptions are not used on the API surface.
//
// Thread safety: values; no shared state.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
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

// A value of type T or an error. Accessing the wrong alternative is a bug and
// aborts (it is not turned into an exception).
template <class T>
class [[nodiscard]] result {
 public:
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
    if (has_value() != want_value) std::abort();  // broken invariant: caller did not test
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
