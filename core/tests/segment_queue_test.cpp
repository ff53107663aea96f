// The lock-free mailbox queue on its own: order across segments, chains,
// retiring a read segment and starting again, and many producers with one
// consumer (every envelope exactly once, each producer's in order). Runs
// under ThreadSanitizer and AddressSanitizer + LeakSanitizer in CI: a
// segment used after it was freed, or never freed, fails there.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <akt/pid.hpp>  // actor_ref complete: an envelope's destructor releases its sender

#include "mailbox/segment_queue.hpp"

namespace {

using akt::detail::envelope;
using akt::detail::mail_segment;
using akt::detail::segment_head;
using akt::detail::segment_tail;

struct alignas(16) node final : envelope {  // the queue keeps tags in an address's low four bits
  int producer = 0;
  int seq = 0;
  std::string type_name() const override { return "node"; }
};

// Both ends, emptied and freed at the end of the test.
struct queue {
  segment_tail tail;
  segment_head head{tail};
  ~queue() {
    while (head.pop(tail) != nullptr) {
    }
    head.release(tail);
  }
  void push(envelope* e) {  // as a mailbox does
    std::uintptr_t seen = tail.peek();
    if (segment_tail::has_room(seen, false)) {
      if (!tail.try_push(e, seen)) tail.push(e, seen, false, nullptr);
    } else {
      tail.push(e, tail.peek(), false, tail.reserve(false));
    }
  }
  void push_chain(envelope* first) { tail.push(first, tail.peek(), true, tail.reserve(true)); }
  node* pop() { return static_cast<node*>(head.pop(tail)); }
};

// Links nodes[from, from + n) through their next, for push_chain.
envelope* chain(std::vector<node>& nodes, std::size_t from, std::size_t n) {
  for (std::size_t i = from; i + 1 < from + n; ++i) nodes[i].next = &nodes[i + 1];
  nodes[from + n - 1].next = nullptr;
  return &nodes[from];
}

// Pops `count` nodes numbered 0, 1, ... in that order, then nothing.
void expect_pops_in_order(queue& q, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    node* n = q.pop();
    ASSERT_NE(n, nullptr) << "node " << i << " missing";
    EXPECT_EQ(n->seq, static_cast<int>(i));
  }
  EXPECT_EQ(q.pop(), nullptr);
}

TEST(segment_queue, pop_on_empty_returns_null) {
  queue q;
  EXPECT_EQ(q.pop(), nullptr);
  node n;
  q.push(&n);
  EXPECT_EQ(q.pop(), &n);
  EXPECT_EQ(q.pop(), nullptr);
}

TEST(segment_queue, keeps_order_across_many_segments) {
  queue q;
  std::vector<node> nodes(10 * mail_segment::slots + 7);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].seq = static_cast<int>(i);
    q.push(&nodes[i]);
  }
  expect_pops_in_order(q, nodes.size());
}

TEST(segment_queue, one_envelope_needs_no_segment_and_a_second_moves_it_into_one_in_order) {
  queue q;
  node a, b, c;
  q.push(&a);
  EXPECT_EQ(q.tail.peek() & 15, 15u);  // the word holds it
  EXPECT_EQ(q.pop(), &a);
  EXPECT_EQ(q.tail.peek(), 0u);
  q.push(&a);
  q.push(&b);  // a segment: a first, then b
  q.push(&c);
  EXPECT_NE(q.tail.peek() & 15, 15u);
  EXPECT_EQ(q.pop(), &a);
  EXPECT_EQ(q.pop(), &b);
  EXPECT_EQ(q.pop(), &c);
  EXPECT_EQ(q.pop(), nullptr);
}

TEST(segment_queue, a_chain_takes_one_slot_and_comes_out_in_order_among_single_pushes) {
  queue q;
  std::vector<node> nodes(100);
  for (std::size_t i = 0; i < nodes.size(); ++i) nodes[i].seq = static_cast<int>(i);
  q.push_chain(chain(nodes, 0, 3));  // on an empty word: a segment of its own
  for (std::size_t i = 3; i < 13; ++i) q.push(&nodes[i]);
  q.push_chain(chain(nodes, 13, 40));
  q.push_chain(chain(nodes, 53, 2));
  for (std::size_t i = 55; i < nodes.size(); ++i) q.push(&nodes[i]);
  expect_pops_in_order(q, nodes.size());
}

TEST(segment_queue, a_segment_read_to_the_end_is_retired_and_the_next_push_starts_a_new_one) {
  queue q;
  std::vector<node> nodes(3 * mail_segment::slots);
  for (int round = 0; round < 3; ++round) {
    for (std::uint32_t i = 0; i < mail_segment::slots; ++i) {
      node& n = nodes[round * mail_segment::slots + i];
      n.seq = round;
      q.push(&n);
    }
    for (std::uint32_t i = 0; i < mail_segment::slots; ++i) {
      node* n = q.pop();
      ASSERT_NE(n, nullptr);
      EXPECT_EQ(n->seq, round);
    }
    EXPECT_EQ(q.pop(), nullptr);  // retires the segment: LeakSanitizer sees none left over
    EXPECT_EQ(q.pop(), nullptr);
  }
}

TEST(segment_queue, a_segment_read_to_what_was_pushed_is_retired_so_an_idle_queue_holds_none) {
  queue q;
  std::vector<node> nodes(5);
  for (node& n : nodes) q.push(&n);  // a segment, partly filled
  for (node& n : nodes) EXPECT_EQ(q.pop(), &n);
  EXPECT_NE(q.tail.peek(), 0u);  // not yet: the consumer has not looked past the last
  EXPECT_EQ(q.pop(), nullptr);
  EXPECT_EQ(q.tail.peek(), 0u);  // retired
  q.push(&nodes[0]);             // and the word starts over, with no segment
  EXPECT_EQ(q.tail.peek() & 15, 15u);
  EXPECT_EQ(q.pop(), &nodes[0]);
  EXPECT_EQ(q.pop(), nullptr);
}

TEST(segment_queue, pops_between_pushes_keep_order) {
  queue q;
  std::vector<node> nodes(200);
  int next = 0;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].seq = static_cast<int>(i);
    q.push(&nodes[i]);
    if (i % 3 == 0) {
      node* n = q.pop();
      ASSERT_NE(n, nullptr);
      EXPECT_EQ(n->seq, next++);
    }
  }
  while (node* n = q.pop()) EXPECT_EQ(n->seq, next++);
  EXPECT_EQ(next, 200);
}

// `producers` threads each push `per_producer` nodes with `produce(q,
// mine, p)` (nodes numbered in order, `mine` theirs) while this thread pops:
// every node must come out exactly once, each producer's in order.
// `consumer_spins`: the consumer retries at once instead of yielding (it
// stays on the producers' heels and keeps emptying the queue).
template <class Produce>
void stress(int producers, int per_producer, bool consumer_spins, Produce produce) {
  queue q;
  std::vector<std::vector<node>> nodes(producers);
  for (int p = 0; p < producers; ++p) {
    nodes[p] = std::vector<node>(per_producer);
    for (int i = 0; i < per_producer; ++i) {
      nodes[p][i].producer = p;
      nodes[p][i].seq = i;
    }
  }
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      while (!go.load()) std::this_thread::yield();
      produce(q, nodes[p], p);
    });
  }
  go.store(true);
  std::vector<int> next(producers, 0);
  int received = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (received < producers * per_producer && std::chrono::steady_clock::now() < deadline) {
    node* n = q.pop();
    if (n == nullptr) {
      if (!consumer_spins) std::this_thread::yield();
      continue;
    }
    ASSERT_EQ(n->seq, next[n->producer]) << "producer " << n->producer << " out of order";
    ++next[n->producer];
    ++received;
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(received, producers * per_producer);
  EXPECT_EQ(q.pop(), nullptr);
}

TEST(segment_queue_stress, many_producers_one_consumer_exactly_once_in_order) {
  constexpr int per_producer = 50'000;
  stress(8, per_producer, false, [](queue& q, std::vector<node>& mine, int p) {
    int i = 0;
    while (i < per_producer) {
      // Odd producers push chains of 2..37 as well (one slot each).
      const int n = p % 2 == 1 ? std::min(1 + (i % 37), per_producer - i) : 1;  // 1: a single push
      if (n == 1) {
        std::uintptr_t guess = 0;  // a stale guess of the tail word
        if (i % 3 == 0) {
          q.push(&mine[i]);
        } else if (i % 3 == 1) {  // the slow push, without reserving
          q.tail.push(&mine[i], guess, false, nullptr);
        } else if (!q.tail.try_push(&mine[i], guess)) {  // the fast push, then the slow one
          q.tail.push(&mine[i], guess, false, nullptr);
        }
      } else {
        q.push_chain(chain(mine, i, n));
      }
      i += n;
    }
  });
}

// The word's one envelope under contention: two producers push one at a
// time while the consumer keeps emptying the queue, so that most pushes meet
// an empty word or its one envelope, and the consumer's swap races a push
// moving that envelope into a segment.
TEST(segment_queue_stress, the_one_envelope_word_races_the_consumer_without_loss_or_reorder) {
  stress(2, 100'000, true, [](queue& q, std::vector<node>& mine, int) {
    for (std::size_t i = 0; i < mine.size(); ++i) {
      q.push(&mine[i]);
      if (i % 64 == 0) std::this_thread::yield();  // let the consumer catch up and empty the word
    }
  });
}

}  // namespace
