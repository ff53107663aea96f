// An actor's children: adopting and unlinking them, finding them by name,
// listing them. The list and the index are the child tree's (child_tree.hpp).
#include <algorithm>
#include <mutex>

#include "actor/actor_cell.hpp"
#include "system/system_core.hpp"

namespace akt::detail {

status actor_cell::adopt_child(actor_cell* child) {
  std::lock_guard g(children_);
  if (life_.refuses_children()) {
    if (is_guardian()) return error(errc::not_running, "actor system " + system_.name() + " is stopping");
    return error(errc::dead_actor, "cannot spawn under " + path() + ": it is stopping");
  }
  if (!children_.add(child)) {
    return error(errc::name_taken, "the name '" + *child->name_ + "' is already used by a live actor " +
                                       (is_guardian() ? "in system " + system_.name() : "under " + path()));
  }
  child->add_ref();  // the tree keeps a running actor alive
  return {};
}

void actor_cell::unlink_child(actor_cell* child) noexcept {
  bool last_awaited;
  {
    std::lock_guard g(children_);
    // A stopping actor finishes, a restarting one restarts, once its last child is gone.
    last_awaited = children_.remove(child) == 0 && life_.waits_for_children();
  }
  child->release();
  if (last_awaited) post(make_runtime_envelope(envelope_kind::children_stopped));
}

ref_ptr<actor_cell> actor_cell::find_child(std::string_view name) const {
  std::lock_guard g(children_);
  actor_cell* c = children_.find(name);
  if (c == nullptr || !c->is_running()) return {};  // starting, or on its way out
  return ref_ptr<actor_cell>::share(c);
}

std::vector<ref_ptr<actor_ref>> actor_cell::children() const {
  std::vector<ref_ptr<actor_ref>> out;
  std::lock_guard g(children_);
  out.reserve(children_.size());
  children_.for_each([&](actor_cell* c) {
    if (c->state() != cell_state::starting) out.push_back(ref_ptr<actor_ref>::share(c));
  });
  return out;
}

bool actor_cell::has_child(const actor_cell* child) const {
  return child->parent_.get() == this;
}

void actor_cell::collect_live(std::vector<ref_ptr<actor_cell>>& out) const {
  // Depth first with a stack of our own (a tree may be deeper than the
  // thread's); reversed, the order lists every actor after its subtree.
  const std::size_t first = out.size();
  std::vector<ref_ptr<actor_cell>> to_visit{ref_ptr<actor_cell>::share(const_cast<actor_cell*>(this))};
  while (!to_visit.empty()) {
    ref_ptr<actor_cell> at = std::move(to_visit.back());
    to_visit.pop_back();
    {
      std::lock_guard g(at->children_);
      at->children_.for_each([&](actor_cell* c) { to_visit.push_back(ref_ptr<actor_cell>::share(c)); });
    }
    if (!at->is_guardian()) out.push_back(std::move(at));
  }
  std::reverse(out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
}

}  // namespace akt::detail
