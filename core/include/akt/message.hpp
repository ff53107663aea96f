// akt/message.hpp — an owned message of any type: what ask returns and what a
// request's continuation receives.
//
//   akt::result<akt::message> r = pid.ask(Ping{1}, 1s);
//   if (r) if (auto* pong = r->get<Pong>()) use(*pong);
//
// `get<T>()` is one pointer compare (no RTTI, no deserialization). Protocol
// Buffers messages are held as the generated C++ object itself.
//
// Thread safety: a value type; not for concurrent use of one instance.
#pragma once

#include <akt/detail/envelope.hpp>

#include <string>

namespace akt {

class pid;

class message {
 public:
  message() = default;
  explicit message(detail::envelope_ptr env) noexcept : env_(std::move(env)) {}

  template <class T>
  bool is() const noexcept {
    return env_ && env_->type == detail::type_id_of<T>();
  }
  // The value if it is a T, else nullptr. Move from it freely: you own it.
  template <class T>
  T* get() noexcept {
    return detail::payload_as<T>(env_.get());
  }
  template <class T>
  const T* get() const noexcept {
    return detail::payload_as<T>(env_.get());
  }

  bool empty() const noexcept { return !env_; }
  explicit operator bool() const noexcept { return !empty(); }
  // The value's type, e.g. "demo.Pong" for a protobuf message.
  std::string type_name() const { return env_ ? env_->type_name() : std::string("<empty>"); }
  // The actor that sent it; a null pid when it came from outside any actor.
  pid sender() const;

  detail::envelope_ptr release() noexcept { return std::move(env_); }

 private:
  detail::envelope_ptr env_;
};

}  // namespace akt
