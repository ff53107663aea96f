// child_tree: an actor's children — a list to walk (stop them all, report
// them) and an index by name (lookup; names are unique among siblings).
// Intrusive: each child carries its own links, so linking allocates
// nothing; the index is allocated with the first named child. The tree
// holds no references: its owner takes one per child.
//
// Node is the child's type (actor_cell); the tree reaches a child through
// two functions it gives its friend the tree:
//   child_tree_links<Node>& tree_links() noexcept;      its place in the list
//   const std::string* tree_name() const noexcept;      null: anonymous
// A template only so that adding a child stays inline on the spawn path.
//
// Thread safety: guarded by its own lock (lock()/unlock(): use a
// std::lock_guard); every other member requires it held. The owning cell
// also makes its lifecycle moves to stopping, restarting and terminated,
// registers watchers and creates its extras under this lock, so that a
// child adopted or a watcher added is seen by the stop that follows.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "util/spinlock.hpp"

namespace akt::detail {

template <class Node>
struct child_tree_links {
  Node* prev = nullptr;
  Node* next = nullptr;
};

template <class Node>
class child_tree {
 public:
  child_tree() = default;
  child_tree(const child_tree&) = delete;
  child_tree& operator=(const child_tree&) = delete;

  void lock() noexcept { lock_.lock(); }
  void unlock() noexcept { lock_.unlock(); }

  // Links `child`, indexed under its name if it has one. False, and nothing
  // changed, when a sibling has that name.
  bool add(Node* child) {
    if (const std::string* name = child->tree_name()) {
      if (!by_name_) by_name_ = std::make_unique<std::unordered_map<std::string_view, Node*>>();
      if (!by_name_->emplace(*name, child).second) return false;
    }
    child->tree_links().next = first_;
    if (first_ != nullptr) first_->tree_links().prev = child;
    first_ = child;
    ++count_;
    return true;
  }

  // Unlinks `child` and frees its name; returns how many children are left.
  std::uint32_t remove(Node* child) noexcept {
    child_tree_links<Node>& l = child->tree_links();
    if (l.prev != nullptr) l.prev->tree_links().next = l.next;
    if (l.next != nullptr) l.next->tree_links().prev = l.prev;
    if (first_ == child) first_ = l.next;
    l.prev = l.next = nullptr;
    if (const std::string* name = child->tree_name(); name != nullptr && by_name_) by_name_->erase(*name);
    return --count_;
  }

  // The child named `name`, or null.
  Node* find(std::string_view name) const noexcept {
    if (!by_name_) return nullptr;
    auto it = by_name_->find(name);
    return it == by_name_->end() ? nullptr : it->second;
  }

  std::uint32_t size() const noexcept { return count_; }
  bool empty() const noexcept { return count_ == 0; }
  // f(Node*) for each child, most recent first. f must not change the tree.
  template <class F>
  void for_each(F&& f) const {
    for (Node* c = first_; c != nullptr; c = c->tree_links().next) f(c);
  }

 private:
  Node* first_ = nullptr;
  std::unique_ptr<std::unordered_map<std::string_view, Node*>> by_name_;  // keys: the children's names
  std::uint32_t count_ = 0;
  spinlock lock_;
};

}  // namespace akt::detail
