// Death watch across nodes, both directions.
//
// Ours: a local actor watching an actor on another node is remembered by
// that node's address; a TERMINATED frame, or that node going down, tells
// the watcher. Theirs: a peer's WATCH puts a remote watcher (a pid bound to
// the connection) on a local actor; the watch ends with UNWATCH or with the
// connection, and a peer holds at most permissions.max_watches_per_peer.
#include "node.hpp"

namespace akt::remote::detail {

void node::watch(const std::string& address, const std::string& target, actor_ref& watcher,
                 connection_handle& handle) {
  {
    std::lock_guard g(watches_mu_);
    watches_[address].push_back(remote_watch{target, ref_ptr<actor_ref>::share(&watcher)});
  }
  if (auto s = send_command(address, envelope_kind::watch, target, watcher.path(), handle); !s) {
    drop_watches(address, &target, s.error().message());
  }
}

void node::unwatch(const std::string& address, const std::string& target, actor_ref& watcher,
                   connection_handle& handle) {
  {
    std::lock_guard g(watches_mu_);
    if (auto it = watches_.find(address); it != watches_.end()) {
      std::erase_if(it->second,
                    [&](const remote_watch& w) { return w.target == target && w.watcher.get() == &watcher; });
      if (it->second.empty()) watches_.erase(it);
    }
  }
  (void)send_command(address, envelope_kind::unwatch, target, watcher.path(), handle);
}

void node::send_terminated(const std::string& address, const std::string& watcher_path,
                           const std::string& target_path, connection_handle& handle) {
  (void)send_command(address, envelope_kind::terminated, watcher_path, target_path, handle);
}

void node::drop_watches(const std::string& address, const std::string* only_target, const std::string& why) {
  std::vector<remote_watch> gone;
  {
    std::lock_guard g(watches_mu_);
    auto it = watches_.find(address);
    if (it == watches_.end()) return;
    auto& list = it->second;
    for (auto w = list.begin(); w != list.end();) {
      if (only_target == nullptr || w->target == *only_target) {
        gone.push_back(std::move(*w));
        w = list.erase(w);
      } else {
        ++w;
      }
    }
    if (list.empty()) watches_.erase(it);
  }
  for (auto& w : gone) {
    system_.logger().debug("remoting: " + w.target + " is gone for its watchers (" + why + ")");
    (void)w.watcher->deliver(akt::detail::make_envelope(terminated{pid(remote_ref_for(w.target, nullptr))}));
  }
}

void node::on_watch(connection& from, const envelope_view& env, std::uint32_t) {
  const remote_permissions& may = options_.permissions;
  if (!may.watch) {
    send_failure(
        from, 0,
        error(errc::not_permitted,
              "node " + address() + " does not permit remote watch (remoting_options::permissions.watch)"),
        env.receiver);
    return;
  }
  auto target = system_.lookup_local(env.receiver);
  auto watcher = remote_ref_for(std::string(env.sender), &from);
  if (!target) {  // nothing there: gone
    (void)watcher->deliver(
        akt::detail::make_envelope(terminated{pid(remote_ref_for(std::string(env.receiver), nullptr))}));
    return;
  }
  {
    std::lock_guard g(watches_mu_);
    auto& held = inbound_watches_[&from];
    if (held.size() >= may.max_watches_per_peer) {
      std::erase_if(held,
                    [](const inbound_watch& w) { return !w.target.is_running(); });  // stopped meanwhile
    }
    if (held.size() >= may.max_watches_per_peer) {
      send_failure(from, 0,
                   error(errc::not_permitted,
                         "node " + address() + " allows a peer " + std::to_string(may.max_watches_per_peer) +
                             " watches (remoting_options::permissions.max_watches_per_peer)"),
                   env.receiver);
      return;
    }
    held.push_back(inbound_watch{*target, watcher});
  }
  (void)target->ref()->add_watcher(*watcher);
}

void node::on_unwatch(connection& from, const envelope_view& env, std::uint32_t) {
  auto target = system_.lookup_local(env.receiver);
  if (!target) return;
  const std::string watcher_path(env.sender);
  ref_ptr<actor_ref> watcher;
  {
    std::lock_guard g(watches_mu_);
    auto it = inbound_watches_.find(&from);
    if (it == inbound_watches_.end()) return;
    auto& held = it->second;
    for (auto w = held.begin(); w != held.end(); ++w) {
      if (w->target == *target && w->watcher->path() == watcher_path) {
        watcher = std::move(w->watcher);
        held.erase(w);
        break;
      }
    }
  }
  if (watcher) target->ref()->remove_watcher(*watcher);
}

void node::end_inbound_watches(const connection* c) {
  std::vector<inbound_watch> held;
  {
    std::lock_guard g(watches_mu_);
    auto it = inbound_watches_.find(c);
    if (it == inbound_watches_.end()) return;
    held = std::move(it->second);
    inbound_watches_.erase(it);
  }
  for (auto& w : held) w.target.ref()->remove_watcher(*w.watcher);
}

void node::on_terminated(connection& from, const envelope_view& env, std::uint32_t) {
  // The watched actor stopped: every local watcher of it is told (the
  // other TERMINATED frames for the same actor then find nothing left).
  const std::string target(env.sender);
  drop_watches(from.peer(), &target, "it stopped");
}

}  // namespace akt::remote::detail
