// The cluster-wide registry of names: claims (before an actor binds its
// name), releases, re-claims after a lost lease, lookups from the local
// view, and sends by name that ride out a handoff.
#include <akt/remote/remoting.hpp>

#include <thread>

#include "engine.hpp"

namespace akt::cluster::detail {

std::vector<std::pair<std::string, std::string>> engine::names() const {
  std::vector<std::pair<std::string, std::string>> out;
  {
    std::lock_guard g(view_mu_);
    out.reserve(names_.size());
    for (const auto& [n, e] : names_) out.emplace_back(n, e.path(n));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string engine::path_of(std::string_view name) const {
  std::lock_guard g(view_mu_);
  auto it = names_.find(name);
  return it == names_.end() ? std::string() : it->second.path(name);
}

std::optional<result<pid>> engine::find(std::string_view name) const {
  std::string path;
  std::int64_t revision = 0;
  {
    std::lock_guard g(view_mu_);
    auto it = names_.find(name);
    if (it == names_.end()) return std::nullopt;
    const name_entry& e = it->second;
    // A local holder is looked up afresh (its actor may have been spawned
    // again under the same claim); a remote one's pid is made once.
    if (e.by->local) {
      path.clear();
    } else if (e.cached) {
      return result<pid>(e.cached);
    } else {
      path = e.path(name);
      revision = e.revision;
    }
  }
  if (path.empty()) return system_.lookup_local(name);
  auto made = remoting_->resolve(path);
  if (made) {
    std::lock_guard g(view_mu_);
    if (auto it = names_.find(name); it != names_.end() && it->second.revision == revision)
      it->second.cached = *made;
  }
  return made;
}

result<pid> engine::lookup(std::string_view name) const {
  if (auto found = find(name)) return std::move(*found);
  return error(errc::not_found,
               "no actor named '" + std::string(name) + "' in cluster '" + options_.name + "'");
}

// ---------------------------------------------------------------- names

status engine::claim(std::string_view name, const std::string& path) {
  const std::int64_t lease = lease_.load();
  if (lease == 0) return error(errc::unavailable, "cluster: this node is not registered (etcd unreachable?)");
  auto held = etcd_->create(name_key(name), self_ + "\t" + path, lease);
  if (!held && held.error().message().find("lease not found") != std::string::npos) {
    // Our lease expired (a partition longer than lease_ttl) and the runner
    // has not noticed yet: have it register again now.
    post([this] { keep_alive_once(); });
    return error(errc::unavailable, "cannot claim the name '" + std::string(name) + "' in cluster '" +
                                        options_.name +
                                        "': this node's etcd lease expired; it is registering "
                                        "again, try again shortly");
  }
  if (!held) {
    const std::string hint =
        member_ && held.code() == errc::unavailable ? member_->diagnose() : std::string();
    return error(held.code(), "cannot claim the name '" + std::string(name) + "' in cluster '" +
                                  options_.name + "': " + held.error().message() +
                                  (hint.empty() ? std::string() : "; " + hint));
  }
  if (*held && (*held)->value == self_ + "\t" + path && (*held)->lease == lease) {
    // Ours already: an earlier attempt that etcd committed, though its
    // answer came too late (the failover then asked again).
  } else if (*held) {
    const std::string& value = (*held)->value;
    const auto tab = value.find('\t');
    return error(errc::name_taken, "the name '" + std::string(name) + "' is held in cluster '" +
                                       options_.name + "' by " +
                                       (tab == std::string::npos ? value : value.substr(tab + 1)));
  }
  std::lock_guard g(claims_mu_);
  claims_[std::string(name)] = path;
  return {};
}

void engine::release(const std::string& name, const std::string& path) {
  {
    std::lock_guard g(claims_mu_);
    auto it = claims_.find(name);
    if (it == claims_.end() || it->second != path) return;
    claims_.erase(it);
  }
  post_release(name_key(name), self_ + "\t" + path, name, lease_.load());
}

// A release that fails (etcd unreachable) is tried again at every beat:
// the lease is kept alive once etcd is back, so the key would never go by
// itself. Until it succeeds, or the lease it was bound to is gone (the key
// went with it).
void engine::post_release(std::string key, std::string value, std::string name, std::int64_t lease) {
  post([this, key = std::move(key), value = std::move(value), name = std::move(name), lease] {
    if (lease_.load() != lease) return;
    {
      // Claimed again meanwhile by an actor of the same path: the key is its now.
      std::lock_guard g(claims_mu_);
      auto it = claims_.find(name);
      if (it != claims_.end() && value.ends_with("\t" + it->second)) return;
    }
    if (auto r = etcd_->erase_if(key, value); !r) {
      system_.logger().warn("cluster: could not release the name '" + name + "' (" + r.error().message() +
                            "); trying again");
      std::lock_guard g(mu_);
      failed_releases_.push_back(release_job{key, value, name, lease});
    }
  });
}

void engine::retry_releases() {
  std::vector<release_job> again;
  {
    std::lock_guard g(mu_);
    again.swap(failed_releases_);
  }
  for (auto& r : again) post_release(std::move(r.key), std::move(r.value), std::move(r.name), r.lease);
}

void engine::reclaim_names() {
  std::unordered_map<std::string, std::string> mine;
  {
    std::lock_guard g(claims_mu_);
    mine = claims_;
  }
  const std::int64_t lease = lease_.load();
  for (const auto& [name, path] : mine) {
    auto held = etcd_->create(name_key(name), self_ + "\t" + path, lease);
    if (held && !*held) continue;  // ours again
    if (held && (*held)->value == self_ + "\t" + path) continue;
    // Another node took it meanwhile, or etcd failed us again: never two
    // live actors under one name — ours stops.
    system_.logger().warn("cluster: the name '" + name +
                          "' could not be claimed again after the lease was lost (" +
                          (held ? std::string("held by another node") : held.error().message()) +
                          "); stopping the local actor");
    {
      std::lock_guard g(claims_mu_);
      claims_.erase(name);
    }
    if (auto p = system_.lookup_local(name)) (void)p->stop();
  }
}

result<std::pair<pid, std::int64_t>> engine::await(std::string_view name,
                                                   std::chrono::steady_clock::time_point deadline,
                                                   std::int64_t after_revision) const {
  const std::string key(name);
  for (;;) {
    std::shared_ptr<const holder> by;
    std::int64_t revision = 0;
    {
      std::unique_lock g(view_mu_);
      auto ready = [&] {
        auto it = names_.find(key);
        return it != names_.end() && it->second.revision > after_revision;
      };
      if (!view_changed_.wait_until(g, deadline, ready)) {
        return error(errc::not_found, "no actor named '" + key + "' in cluster '" + options_.name + "'" +
                                          (after_revision != 0 ? " took over from the one that failed" : "") +
                                          " within the deadline");
      }
      const name_entry& e = names_.find(key)->second;
      by = e.by;
      revision = e.revision;
    }
    auto found = find(key);
    if (found && *found) return std::pair{std::move(**found), revision};
    if (!by->local || std::chrono::steady_clock::now() >= deadline) {
      if (!found) return error(errc::not_found, "the name '" + key + "' went while it was looked up");
      return std::move(*found).error();
    }
    // Claimed here but not bound yet (a spawn between its claim and its
    // start), or stopped with its release on the way: look again shortly.
    std::unique_lock g(view_mu_);
    view_changed_.wait_until(
        g, std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(2)));
  }
}

result<pid> engine::await_other(std::string_view name, std::chrono::steady_clock::time_point deadline,
                                const pid* stale) const {
  std::int64_t after = 0;
  for (;;) {
    auto found = await(name, deadline, after);
    if (!found) return std::move(found).error();
    if (stale == nullptr || !(found->first == *stale)) return std::move(found->first);
    after = found->second;
  }
}

status engine::by_name(std::string_view name, std::chrono::nanoseconds timeout,
                       const std::function<status(const pid&)>& send) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::int64_t after = 0;
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    auto holder = await(name, deadline, after);
    if (!holder) return std::move(holder).error();
    status s = send(holder->first);
    if (s || std::chrono::steady_clock::now() >= deadline) return s;
    if (s.code() == errc::dead_actor) {
      // The holder is gone (stopped, or its node is down or unreachable);
      // its successor, if any, makes a new claim.
      after = holder->second;
    } else if (s.code() == errc::not_found) {
      // Its node does not know it: claimed, not started yet (a claim is seen
      // the moment etcd has it), or stopped with its release on the way.
      std::this_thread::sleep_for(std::min(pause, std::chrono::duration_cast<std::chrono::milliseconds>(
                                                      deadline - std::chrono::steady_clock::now())));
      pause = std::min(pause * 2, std::chrono::milliseconds(50));
    } else {
      return s;
    }
  }
}

}  // namespace akt::cluster::detail
