// An intrusive, unbounded, lock-free multi-producer single-consumer queue
// (Dmitry Vyukov's design): the mailbox of every actor.
//
// push: one atomic exchange on the tail plus one release store; wait-free.
// pop: consumer only; never blocks, but returns nullptr both when the queue
// is empty and when a producer is between its two steps (the node is then
// visible a few instructions later). Callers that know a message is there
// (the actor's message count says so) simply try again on a later turn.
//
// Memory ordering: the exchange is acq_rel and the link store release, the
// consumer's loads of `next` acquire: everything a producer wrote into a node
// before pushing it is visible to the consumer that pops it.
//
// Not for: several consumers; a node must not be pushed while still queued.
#pragma once

#include <akt/detail/envelope.hpp>

#include <atomic>

namespace akt::detail {

class mpsc_queue {
 public:
  mpsc_queue() noexcept : head_(&sentinel_), tail_(&sentinel_) {}
  mpsc_queue(const mpsc_queue&) = delete;
  mpsc_queue& operator=(const mpsc_queue&) = delete;

  void push(mpsc_node* node) noexcept {
    node->next.store(nullptr, std::memory_order_relaxed);
    mpsc_node* prev = tail_.exchange(node, std::memory_order_acq_rel);
    prev->next.store(node, std::memory_order_release);
  }

  // Pushes nodes already linked first -> ... -> last (last->next null) in one
  // step: the same two operations as a single push.
  void push_chain(mpsc_node* first, mpsc_node* last) noexcept {
    mpsc_node* prev = tail_.exchange(last, std::memory_order_acq_rel);
    prev->next.store(first, std::memory_order_release);
  }

  mpsc_node* pop() noexcept {
    mpsc_node* head = head_;
    mpsc_node* next = head->next.load(std::memory_order_acquire);
    if (head == &sentinel_) {
      if (next == nullptr) return nullptr;
      head_ = next;
      head = next;
      next = next->next.load(std::memory_order_acquire);
    }
    if (next != nullptr) {
      head_ = next;
      return head;
    }
    if (head != tail_.load(std::memory_order_acquire)) return nullptr;  // a push is mid-way
    push(&sentinel_);
    next = head->next.load(std::memory_order_acquire);
    if (next != nullptr) {
      head_ = next;
      return head;
    }
    return nullptr;
  }

 private:
  mpsc_node* head_;  // consumer only
  std::atomic<mpsc_node*> tail_;
  mpsc_node sentinel_;
};

}  // namespace akt::detail
