// akt/registry.hpp — a system's registries, for what arrives from outside
// the process: the message types it can decode (Protocol Buffers messages,
// by full name) and the actor kinds other nodes may spawn here (by kind
// name). Each system has its own (actor_system::registry()); two systems in
// one process register independently.
//
//   sys->registry().register_message<demo::Ping>();
//   sys->registry().register_kind<worker>("worker");
//
// Thread safety: every member from any thread; lookups take a shared lock.
#pragma once

#include <akt/detail/envelope_pool.hpp>
#include <akt/error.hpp>
#include <akt/pid.hpp>

#include <functional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace akt {

class actor_system;

// Decodes one message's bytes into an envelope; null when they do not parse.
using message_decoder = detail::envelope_ptr (*)(std::string_view bytes);
// Spawns a top-level actor of a kind, with the name given (empty = anonymous).
using kind_spawner = std::function<result<pid>(actor_system&, std::string name)>;

class type_registry {
 public:
  // Makes T (a generated protobuf message) decodable when it arrives.
  // Registering a type twice is harmless.
  template <class T>
  void register_message() {
    static_assert(protobuf_message<T>, "only Protocol Buffers messages cross the wire");
    add_decoder(std::string(T::descriptor()->full_name()),
                [](std::string_view bytes) -> detail::envelope_ptr {
                  // Parsed straight into a recycled envelope: no copy, no allocation
                  // once the pool is warm (ParseFromArray clears what was there).
                  detail::envelope_ptr e(detail::envelope_pool<T>::take());
                  auto& value = static_cast<detail::typed_envelope<T>&>(*e).value;
                  if (!value.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return nullptr;
                  return e;
                });
  }
  // Lets other nodes spawn actors of type A here by the name `kind`. A is
  // constructed with no arguments. A kind registered again is replaced.
  template <class A>
  void register_kind(std::string kind);

  void add_decoder(std::string type_name, message_decoder decode);
  // The decoder for a protobuf full name, or null.
  message_decoder find_decoder(std::string_view type_name) const;
  void add_kind(std::string kind, kind_spawner spawn);
  // The spawner for a kind, or an empty function.
  kind_spawner find_kind(std::string_view kind) const;
  std::vector<std::string> kinds() const;

 private:
  struct name_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  template <class V>
  using by_name = std::unordered_map<std::string, V, name_hash, std::equal_to<>>;

  mutable std::shared_mutex mu_;
  by_name<message_decoder> decoders_;  // guarded by mu_
  by_name<kind_spawner> kinds_;        // guarded by mu_
};

}  // namespace akt

#include <akt/actor_system.hpp>

template <class A>
void akt::type_registry::register_kind(std::string kind) {
  add_kind(std::move(kind), [](actor_system& sys, std::string name) { return sys.spawn<A>(name); });
}
