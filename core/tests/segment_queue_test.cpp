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

struct node final : envelope {
  int producer = 0;
  int seq = 0;
  std::string type_name() const override { return "node"; }
};

// Both ends, emptied and freed at the end of the test.
struct queue {
  segment_tail tail;
  segment_head head{tail};
  ~queue() { head.release(tail); }
  void push(envelope* e) {  // as a mailbox does
    const std::uintptr_t seen = tail.peek();
    if (segment_tail::has_room(seen, 1)) {
      tail.push(e, seen);
    } else {
      tail.push_chain(e, 1, tail.reserve(1));
    }
  }
  node* pop() { return static_cast<node*>(head.pop(tail)); }
};

// Links nodes[from, from + n) through their next, for push_chain.
envelope* chain(std::vector<node>& nodes, std::size_t from, std::size_t n) {
  for (std::size_t i = from; i + 1 < from + n; ++i) nodes[i].next = &nodes[i + 1];
  return &nodes[from];
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
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    node* n = q.pop();
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->seq, static_cast<int>(i));
  }
  EXPECT_EQ(q.pop(), nullptr);
}

TEST(segment_queue, a_chain_fills_the_segment_it_starts_in_and_goes_on_in_new_ones) {
  queue q;
  std::vector<node> nodes(60);
  for (std::size_t i = 0; i < nodes.size(); ++i) nodes[i].seq = static_cast<int>(i);
  for (std::size_t i = 0; i < 10; ++i) q.push(&nodes[i]);           // five slots left in the first segment
  q.tail.push_chain(chain(nodes, 10, 40), 40, q.tail.reserve(40));  // 5 + 15 + 15 + 5
  q.tail.push_chain(chain(nodes, 50, 1), 1, nullptr);
  for (std::size_t i = 51; i < nodes.size(); ++i) q.push(&nodes[i]);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    node* n = q.pop();
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->seq, static_cast<int>(i));
  }
  EXPECT_EQ(q.pop(), nullptr);
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

TEST(segment_queue_stress, many_producers_one_consumer_exactly_once_in_order) {
  constexpr int producers = 8;
  constexpr int per_producer = 50'000;
  queue q;
  std::vector<std::vector<node>> nodes(producers);
  for (auto& v : nodes) v = std::vector<node>(per_producer);
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      while (!go.load()) std::this_thread::yield();
      std::vector<node>& mine = nodes[p];
      int i = 0;
      while (i < per_producer) {
        // Odd producers push chains of 1..37 as well: swaps that fill part of a segment, all of one, several.
        const int n = p % 2 == 1 ? std::min(1 + (i % 37), per_producer - i) : 1;
        for (int k = i; k < i + n; ++k) {
          mine[k].producer = p;
          mine[k].seq = k;
        }
        if (n == 1) {
          if (i % 3 == 0) {
            q.push(&mine[i]);
          } else {  // without reserving, and with a stale guess of the tail word
            q.tail.push(&mine[i], q.tail.peek());
          }
        } else {
          q.tail.push_chain(chain(mine, i, n), static_cast<std::uint32_t>(n),
                            q.tail.reserve(static_cast<std::uint32_t>(n)));
        }
        i += n;
      }
    });
  }
  go.store(true);
  std::vector<int> next(producers, 0);
  int received = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (received < producers * per_producer && std::chrono::steady_clock::now() < deadline) {
    node* n = q.pop();
    if (n == nullptr) {
      std::this_thread::yield();
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

}  // namespace
