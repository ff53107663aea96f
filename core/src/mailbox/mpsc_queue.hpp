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

// The producers' end: every push writes here.
class mpsc_tail {
 public:
  mpsc_tail() noexcept : tail_(&sentinel_) {}
  mpsc_tail(const mpsc_tail&) = delete;
  mpsc_tail& operator=(const mpsc_tail&) = delete;

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

 private:
  friend class mpsc_head;
  std::atomic<mpsc_node*> tail_;
  mpsc_node sentinel_;
};

// The consumer's end: a cursor the consumer keeps where it likes. An actor
// keeps it among the fields its turn writes, at least 64 bytes away from the
// tail, so that producers and the consumer never write the same cache line.
class mpsc_head {
 public:
  explicit mpsc_head(mpsc_tail& q) noexcept : head_(&q.sentinel_) {}
  mpsc_head(const mpsc_head&) = delete;
  mpsc_head& operator=(const mpsc_head&) = delete;

  mpsc_node* pop(mpsc_tail& q) noexcept {
    mpsc_node* head = head_;
    mpsc_node* next = head->next.load(std::memory_order_acquire);
    if (head == &q.sentinel_) {
      if (next == nullptr) return nullptr;
      head_ = next;
      head = next;
      next = next->next.load(std::memory_order_acquire);
    }
    if (next != nullptr) {
      head_ = next;
      // The next pop reads next's link: a line another core wrote. Fetching
      // it now overlaps that miss with the handling of `head` (perf: the
      // consumer's pop was a third of a plain thread's fan-out to 60 actors).
      __builtin_prefetch(next);
      return head;
    }
    if (head != q.tail_.load(std::memory_order_acquire)) return nullptr;  // a push is mid-way
    q.push(&q.sentinel_);
    next = head->next.load(std::memory_order_acquire);
    if (next != nullptr) {
      head_ = next;
      return head;
    }
    return nullptr;
  }

 private:
  mpsc_node* head_;
};

// Both ends together, for users that do not care where each end lives.
class mpsc_queue {
 public:
  void push(mpsc_node* node) noexcept { tail_.push(node); }
  void push_chain(mpsc_node* first, mpsc_node* last) noexcept { tail_.push_chain(first, last); }
  mpsc_node* pop() noexcept { return head_.pop(tail_); }

 private:
  mpsc_tail tail_;
  mpsc_head head_{tail_};
};

}  // namespace akt::detail
