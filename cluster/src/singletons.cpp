// Singletons: a record in etcd (outside any lease) says a name is a
// singleton of a kind; the oldest member with its role hosts it. Every
// node reconciles on the runner thread: a recorded singleton whose name
// nobody holds is spawned by the member that should host it; the name's
// create-only claim keeps it to one even when two nodes disagree for a
// moment. A record removed stops the actor where it runs.
#include <akt/remote/remoting.hpp>

#include "engine.hpp"

namespace akt::cluster::detail {

std::optional<member> engine::oldest_with(std::string_view role) const {
  std::lock_guard g(view_mu_);
  const member* best = nullptr;
  for (const auto& [a, m] : members_) {
    if (m.has_role(role) && (best == nullptr || m.joined_revision < best->joined_revision)) best = &m;
  }
  if (best == nullptr) return std::nullopt;
  return *best;
}

std::vector<std::pair<std::string, std::string>> engine::singletons() const {
  std::lock_guard g(view_mu_);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, s] : singletons_) out.emplace_back(name, s.kind);
  return out;
}

result<pid> engine::spawn_singleton(std::string_view name, std::string_view kind,
                                    const singleton_options& options) {
  const std::string n(name);
  if (name.empty() || name.find_first_of("/\t\n") != std::string_view::npos)
    return error(errc::invalid_name, "spawn_singleton: '" + n + "' is not a valid actor name");
  if (kind.empty() || kind.find_first_of("\t\n") != std::string_view::npos)
    return error(errc::invalid_argument,
                 "spawn_singleton: the kind '" + std::string(kind) + "' is not valid");
  if (options.role.find_first_of(",\t\n") != std::string::npos)
    return error(errc::invalid_argument, "spawn_singleton: the role '" + options.role + "' is not valid");
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;

  auto the_existing_one = [&](const std::string& recorded_kind) -> result<pid> {
    if (recorded_kind != kind) {
      return error(errc::invalid_argument, "'" + n + "' is already a singleton of the kind '" +
                                               recorded_kind + "', not '" + std::string(kind) + "'");
    }
    // Idempotent: the one that exists (or is being placed) is the answer.
    auto found = await_other(name, deadline, nullptr);
    if (found) return found;
    return error(errc::request_timeout, "the singleton '" + n + "' is recorded but no member hosts it yet (" +
                                            found.error().message() + ")");
  };
  {
    std::unique_lock g(view_mu_);
    if (auto it = singletons_.find(n); it != singletons_.end()) {
      const std::string recorded = it->second.kind;
      g.unlock();
      return the_existing_one(recorded);
    }
  }
  // Checked before anything is recorded: a refused singleton leaves no trace.
  const auto host = oldest_with(options.role);
  if (!host) {
    return error(errc::not_found, "no member of cluster '" + options_.name + "' has the role '" +
                                      options.role + "' to host the singleton '" + n + "'");
  }
  const bool host_has_kind =
      host->address == self_ ? bool(system_.registry().find_kind(kind))
                             : std::find(host->kinds.begin(), host->kinds.end(), kind) != host->kinds.end();
  if (!host_has_kind) {
    return error(errc::not_found, "the kind '" + std::string(kind) + "' is not registered on " +
                                      host->address + ", which should host the singleton '" + n + "'");
  }
  if (const std::string holder = path_of(name); !holder.empty()) {
    return error(errc::invalid_argument,
                 "the name '" + n + "' is held by an ordinary actor (" + holder + "), not by a singleton");
  }

  // Record it: create-only (another node may be doing the same), and only
  // while no actor holds the name (the view may not show a fresh claim yet).
  const std::string record = std::string(kind) + "\t" + options.role;
  auto existing = etcd_->create(singleton_key(name), record, 0, name_key(name));
  if (!existing) {
    return error(existing.code(), "cannot record the singleton '" + n + "' in cluster '" + options_.name +
                                      "': " + existing.error().message());
  }
  if (*existing) {
    const std::string& v = (*existing)->value;
    if ((*existing)->key == name_key(name)) {
      return error(errc::invalid_argument, "the name '" + n + "' is held by an ordinary actor (" +
                                               v.substr(v.find('\t') + 1) + "), not by a singleton");
    }
    return the_existing_one(v.substr(0, v.find('\t')));
  }
  if (host->address == self_) {
    auto spawned = system_.registry().find_kind(kind)(system_, n);
    if (spawned) {
      std::lock_guard g(hosted_mu_);
      hosted_.insert(n);
      return spawned;
    }
    if (spawned.code() != errc::name_taken) {
      (void)etcd_->erase_if(singleton_key(name), record);
      return spawned;
    }
    // This node's runner won the race to spawn it (or an ordinary actor
    // took the name meanwhile: then the wait below says so).
  }
  // The host spawns it on seeing the record (its runner): wait for the name.
  auto found = await_other(name, deadline, nullptr);
  if (found) return found;
  return error(errc::request_timeout, "the singleton '" + n + "' is recorded; its host " + host->address +
                                          " has not spawned it yet (" + found.error().message() + ")");
}

status engine::stop_singleton(std::string_view name) {
  auto existing = etcd_->get(singleton_key(name));
  if (!existing) return std::move(existing).error();
  if (!*existing) {
    return error(errc::not_found,
                 "no singleton named '" + std::string(name) + "' in cluster '" + options_.name + "'");
  }
  // The record goes first, so no node re-creates it; its host stops it on seeing that.
  if (auto s = etcd_->erase(singleton_key(name)); !s) return s;
  return {};
}

void engine::reconcile_singletons() {
  if (leaving_.load()) return;
  std::vector<std::pair<std::string, std::string>> to_spawn;  // name, kind
  std::vector<std::string> to_stop;
  {
    std::lock_guard h(hosted_mu_);
    std::lock_guard g(view_mu_);
    for (const auto& [name, s] : singletons_) {
      if (names_.find(name) != names_.end()) continue;
      const member* best = nullptr;
      for (const auto& [a, m] : members_) {
        if (m.has_role(s.role) && (best == nullptr || m.joined_revision < best->joined_revision)) best = &m;
      }
      if (best != nullptr && best->address == self_) to_spawn.emplace_back(name, s.kind);
    }
    for (auto it = hosted_.begin(); it != hosted_.end();) {
      if (!singletons_.contains(*it)) {
        to_stop.push_back(*it);
        it = hosted_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& name : to_stop) {
    if (auto p = system_.lookup_local(name)) (void)p->stop();
  }
  for (const auto& [name, kind] : to_spawn) {
    auto spawner = system_.registry().find_kind(kind);
    if (!spawner) {
      system_.logger().warn("cluster: this node should host the singleton '" + name + "' but has no kind '" +
                            kind + "' (registry().register_kind)");
      continue;
    }
    auto spawned = spawner(system_, name);
    if (spawned) {
      std::lock_guard h(hosted_mu_);
      hosted_.insert(name);
      system_.logger().info("cluster: the singleton '" + name + "' runs on " + self_ + " now");
    } else if (spawned.code() != errc::name_taken) {
      system_.logger().warn("cluster: could not spawn the singleton '" + name +
                            "': " + spawned.error().message());
    }
  }
}

}  // namespace akt::cluster::detail
