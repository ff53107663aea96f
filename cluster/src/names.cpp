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
    for (const auto& [n, e] : names_) out.emplace_back(n, e.path);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string engine::path_of(std::string_view name) const {
  std::lock_guard g(view_mu_);
  auto it = names_.find(std::string(name));
  return it == names_.end() ? std::string() : it->second.path;
}

result<pid> engine::lookup(std::string_view name) const {
  std::string path, address;
  {
    std::lock_guard g(view_mu_);
    auto it = names_.find(std::string(name));
    if (it == names_.end()) {
      return error(errc::not_found,
                   "no actor named '" + std::string(name) + "' in cluster '" + options_.name + "'");
    }
    path = it->second.path;
    address = it->second.address;
  }
  if (address == self_) return system_.lookup_local(name);
  return remoting_->resolve(path);
}

// ---------------------------------------------------------------- names

status engine::claim(std::string_view name, const std::string& path) {
  const std::int64_t lease = lease_.load();
  if (lease == 0) return error(errc::unavailable, "cluster: this node is not registered (etcd unreachable?)");
  auto held = etcd_.create(name_key(name), self_ + "\t" + path, lease);
  if (!held && held.error().message().find("lease not found") != std::string::npos) {
    // Our lease expired (a partition longer than lease_ttl) and the runner
    // has not noticed yet: have it register again now.
    post([this] { keep_alive_once(); });
    return error(errc::unavailable, "cannot claim the name '" + std::string(name) + "' in cluster '" +
                                        options_.name + "': this node's etcd lease expired; it is registering "
                                        "again, try again shortly");
  }
  if (!held) {
    return error(held.code(), "cannot claim the name '" + std::string(name) + "' in cluster '" +
                                  options_.name + "': " + held.error().message());
  }
  if (*held) {
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
  post([this, key = name_key(name), value = self_ + "\t" + path, name] {
    if (auto r = etcd_.erase_if(key, value); !r) {
      system_.logger().warn("cluster: could not release the name '" + name + "' (" + r.error().message() +
                            "); it goes with this node's lease");
    }
  });
}

void engine::reclaim_names() {
  std::unordered_map<std::string, std::string> mine;
  {
    std::lock_guard g(claims_mu_);
    mine = claims_;
  }
  const std::int64_t lease = lease_.load();
  for (const auto& [name, path] : mine) {
    auto held = etcd_.create(name_key(name), self_ + "\t" + path, lease);
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
    name_entry holder;
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
      holder = names_.find(key)->second;
    }
    auto found = holder.address == self_ ? system_.lookup_local(key) : remoting_->resolve(holder.path);
    if (found) return std::pair{std::move(*found), holder.revision};
    if (holder.address != self_ || std::chrono::steady_clock::now() >= deadline) return std::move(found).error();
    // Claimed here but not bound yet (a spawn between its claim and its
    // start), or stopped with its release on the way: look again shortly.
    std::unique_lock g(view_mu_);
    view_changed_.wait_until(g, std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(2)));
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
