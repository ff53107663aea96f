// Which protobuf types this process can decode from the wire.
#include <akt/remote/remoting.hpp>

#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "registry.hpp"

namespace akt::remote::detail {

namespace {
// Lookups by string_view without making a std::string.
struct name_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
template <class V>
using by_name = std::unordered_map<std::string, V, name_hash, std::equal_to<>>;

struct registry {
  std::shared_mutex mu;
  by_name<message_decoder> decoders;  // guarded by mu
  by_name<kind_spawner> kinds;        // guarded by mu
};
registry& instance() {
  static auto* r = new registry();  // never destroyed: used until the last thread exits
  return *r;
}
}  // namespace

void register_decoder(std::string type_name, message_decoder decode) {
  auto& r = instance();
  std::unique_lock g(r.mu);
  r.decoders[std::move(type_name)] = decode;
}

message_decoder find_decoder(std::string_view type_name) {
  auto& r = instance();
  std::shared_lock g(r.mu);
  auto it = r.decoders.find(type_name);
  return it == r.decoders.end() ? nullptr : it->second;
}

}  // namespace akt::remote::detail

namespace akt::remote::detail {

void register_kind(std::string kind, kind_spawner spawn) {
  auto& r = instance();
  std::unique_lock g(r.mu);
  r.kinds[std::move(kind)] = std::move(spawn);
}

kind_spawner find_kind(std::string_view kind) {
  auto& r = instance();
  std::shared_lock g(r.mu);
  auto it = r.kinds.find(kind);
  return it == r.kinds.end() ? kind_spawner() : it->second;
}

}  // namespace akt::remote::detail
