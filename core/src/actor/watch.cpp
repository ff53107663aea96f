// Death watch: who is told when an actor stops. A watcher registers under
// the lock of the watched cell's child tree; termination marks the cell terminated
// under that same lock and takes the list, so every watcher is told exactly
// once — registered before (from the list) or after (at once, by
// add_watcher) — and never twice.
#include "actor/actor_cell.hpp"
#include "actor/cell_extras.hpp"
#include "system/system_core.hpp"

#include <algorithm>
#include <mutex>

namespace akt::detail {

namespace {

// A local watcher gets it as a runtime post (never refused by a bounded
// mailbox); a remote one through its transport.
void tell_watcher(actor_ref& watcher, envelope_ptr e) {
  if (actor_cell* local = watcher.as_local()) {
    local->post(std::move(e));
  } else {
    (void)watcher.deliver(std::move(e));
  }
}

envelope_ptr terminated_message(actor_cell& who) {
  auto e = make_envelope(terminated{pid(ref_ptr<actor_ref>::share(&who))});
  e->sender = ref_ptr<actor_ref>::share(&who);
  return e;
}

}  // namespace

status actor_cell::add_watcher(actor_ref& watcher) noexcept {
  cell_extras& x = ensure_extras();
  {
    std::lock_guard g(children_);
    if (!x.watchers_closed && state() != cell_state::terminated) {
      x.watchers.push_back(ref_ptr<actor_ref>::share(&watcher));
      return {};
    }
  }
  tell_watcher(watcher, terminated_message(*this));  // already gone: tell at once
  return {};
}

void actor_cell::remove_watcher(actor_ref& watcher) noexcept {
  cell_extras* x = extras();
  if (x == nullptr) return;
  std::lock_guard g(children_);
  auto& w = x->watchers;
  const bool remote = watcher.as_local() == nullptr;
  const std::string path = remote ? watcher.path() : std::string();
  w.erase(std::remove_if(w.begin(), w.end(),
                         [&](const auto& r) {
                           return r.get() == &watcher ||
                                  (remote && r->as_local() == nullptr && r->path() == path);
                         }),
          w.end());
}

void actor_cell::notify_watchers() noexcept {
  std::vector<ref_ptr<actor_ref>> watchers;
  cell_extras* x;
  {
    std::lock_guard g(children_);
    life_.terminated();
    // Read under the lock: a first watcher creates the extras under it (ensure_extras).
    x = extras();
    if (x != nullptr) {
      x->watchers_closed = true;
      watchers.swap(x->watchers);
    }
  }
  if (x == nullptr) return;
  for (auto& w : watchers) tell_watcher(*w, terminated_message(*this));
  for (auto& target : x->watching) target->remove_watcher(*this);  // our watches end with us
  x->watching.clear();
}

bool actor_cell::accept_terminated(envelope& e) noexcept {
  // Delivered only while still watched: unwatch() cancels one in flight.
  cell_extras* x = extras();
  if (x == nullptr) return false;
  actor_ref* who = payload_as<terminated>(&e)->actor.ref().get();
  auto& w = x->watching;
  // A remote actor may come back as another reference object: match its path.
  auto same = [&](const ref_ptr<actor_ref>& r) {
    return r.get() == who || (who != nullptr && r->as_local() == nullptr && who->as_local() == nullptr &&
                              r->path() == who->path());
  };
  auto it = std::find_if(w.begin(), w.end(), same);
  if (it == w.end()) return false;
  w.erase(it);
  return true;
}

}  // namespace akt::detail
