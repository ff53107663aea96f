// A system's registries of message types and actor kinds (akt/registry.hpp).
#include <akt/registry.hpp>

#include <algorithm>
#include <mutex>

namespace akt {

void type_registry::add_decoder(std::string type_name, message_decoder decode) {
  std::unique_lock g(mu_);
  decoders_[std::move(type_name)] = decode;
}

message_decoder type_registry::find_decoder(std::string_view type_name) const {
  std::shared_lock g(mu_);
  auto it = decoders_.find(type_name);
  return it == decoders_.end() ? nullptr : it->second;
}

void type_registry::add_kind(std::string kind, kind_spawner spawn) {
  std::unique_lock g(mu_);
  kinds_[std::move(kind)] = std::move(spawn);
}

kind_spawner type_registry::find_kind(std::string_view kind) const {
  std::shared_lock g(mu_);
  auto it = kinds_.find(kind);
  return it == kinds_.end() ? kind_spawner() : it->second;
}

std::vector<std::string> type_registry::kinds() const {
  std::vector<std::string> out;
  {
    std::shared_lock g(mu_);
    for (const auto& [k, _] : kinds_) out.push_back(k);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace akt
