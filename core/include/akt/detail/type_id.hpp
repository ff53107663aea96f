// akt/detail/type_id.hpp — a per-type identity that costs one pointer compare.
//
// `type_id_of<T>()` is the address of an inline variable that exists once per
// type in the program, so dispatching on a message's type never calls into
// RTTI. Names (for logs and errors) are computed only when asked for.
#pragma once

#include <string>
#include <type_traits>
#include <typeinfo>

namespace akt {

// A Protocol Buffers message (generated C++ class). Detected structurally so
// that the core does not depend on libprotobuf.
template <class T>
concept protobuf_message = requires(const T& m, std::string* out) {
  { m.SerializeToString(out) } -> std::same_as<bool>;
  { m.AppendToString(out) } -> std::same_as<bool>;
  { m.GetTypeName() } -> std::convertible_to<std::string>;
  T::descriptor();
};

namespace detail {

using type_id = const void*;

template <class T>
struct type_tag {
  static constexpr char id = 0;
};

template <class T>
constexpr type_id type_id_of() noexcept {
  return &type_tag<std::remove_cvref_t<T>>::id;
}

std::string demangle(const char* mangled);

// Inside a catch block: what was thrown, for an error message. The what() of
// a std::exception; otherwise the thrown value's type, e.g. "a value of type
// int (not derived from std::exception)".
std::string describe_current_exception();

template <class T>
std::string type_name_of(const T& value) {
  if constexpr (protobuf_message<T>) {
    return value.GetTypeName();  // the full protobuf name, e.g. "demo.Ping"
  } else {
    (void)value;
    return demangle(typeid(T).name());
  }
}

}  // namespace detail
}  // namespace akt
