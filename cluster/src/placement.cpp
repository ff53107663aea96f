// Placement: spawn_on picks a member that offers the kind (and has the
// role), then spawns there — here directly, elsewhere through remoting's
// remote spawn.
#include <akt/remote/remoting.hpp>

#include <random>

#include "engine.hpp"

namespace akt::cluster::detail {

static bool contains(const std::vector<std::string>& v, std::string_view x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace akt::cluster::detail

namespace akt::cluster {

bool member::has_role(std::string_view role) const {
  return role.empty() || detail::contains(roles, role);
}

}  // namespace akt::cluster

namespace akt::cluster::detail {

namespace {

std::string describe(std::string_view kind, const placement& where) {
  std::string s = "the kind '" + std::string(kind) + "'";
  if (!where.role.empty()) s += " with the role '" + where.role + "'";
  return s;
}

}  // namespace

result<pid> engine::spawn_at(const member& where, std::string_view kind, std::string_view name,
                             std::chrono::nanoseconds timeout) {
  if (where.address == self_) {
    auto spawner = system_.registry().find_kind(kind);
    if (!spawner) {
      return error(errc::not_found, "the kind '" + std::string(kind) + "' is not registered on " + self_ +
                                        " (registry().register_kind)");
    }
    return spawner(system_, std::string(name));
  }
  const auto colon = where.address.rfind(':');
  const auto port = static_cast<std::uint16_t>(std::strtoul(where.address.c_str() + colon + 1, nullptr, 10));
  auto spawned = remoting_->spawn(where.address.substr(0, colon), port, kind, name, timeout);
  if (spawned) {
    std::lock_guard g(placed_mu_);
    ++placed_[where.address];
  }
  return spawned;
}

result<pid> engine::spawn_on(std::string_view kind, std::string_view name, const placement& where,
                             std::chrono::nanoseconds timeout) {
  if (kind.empty()) return error(errc::invalid_argument, "spawn_on: the kind is empty");
  std::vector<member> eligible;
  std::size_t in_view = 0;
  for (auto& m : members()) {
    ++in_view;
    // This node's kinds are read now, not as last advertised.
    const bool offers =
        m.address == self_ ? bool(system_.registry().find_kind(kind)) : contains(m.kinds, kind);
    if (m.has_role(where.role) && offers) eligible.push_back(std::move(m));
  }
  if (where.how == placement::strategy::local) {
    auto here =
        std::find_if(eligible.begin(), eligible.end(), [&](const member& m) { return m.address == self_; });
    if (here == eligible.end()) {
      const bool has_role =
          std::find(options_.roles.begin(), options_.roles.end(), where.role) != options_.roles.end();
      return error(errc::not_found,
                   "spawn_on(local): this node (" + self_ + ") " +
                       (!where.role.empty() && !has_role ? "does not have the role '" + where.role + "'"
                                                         : "has no kind '" + std::string(kind) + "'"));
    }
    return spawn_at(*here, kind, name, timeout);
  }
  if (eligible.empty()) {
    return error(errc::not_found, "no member of cluster '" + options_.name + "' (" + std::to_string(in_view) +
                                      " in view) offers " + describe(kind, where));
  }
  std::size_t pick = 0;
  switch (where.how) {
    case placement::strategy::round_robin:
      pick = round_robin_.fetch_add(1, std::memory_order_relaxed) % eligible.size();
      break;
    case placement::strategy::random: {
      thread_local std::minstd_rand rng{std::random_device{}()};
      pick = std::uniform_int_distribution<std::size_t>(0, eligible.size() - 1)(rng);
      break;
    }
    case placement::strategy::least_loaded: {
      // Advertised loads are a few seconds old: what this node placed since counts too,
      // so a burst of spawns spreads instead of piling onto one member.
      std::lock_guard g(placed_mu_);
      auto load = [&](const member& m) {
        if (m.address == self_) return system_.actor_count();
        auto it = placed_.find(m.address);
        return m.load + (it == placed_.end() ? 0 : it->second);
      };
      for (std::size_t i = 1; i < eligible.size(); ++i) {
        if (load(eligible[i]) < load(eligible[pick])) pick = i;
      }
      break;
    }
    case placement::strategy::local:
      break;
  }
  return spawn_at(eligible[pick], kind, name, timeout);
}

}  // namespace akt::cluster::detail
