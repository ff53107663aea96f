// The lock-free mailbox queue on its own: many producers, one consumer,
// every node arrives exactly once and per-producer order is kept. Runs under
// ThreadSanitizer in CI (./run tsan).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "mailbox/mpsc_queue.hpp"

namespace {

struct node : akt::detail::mpsc_node {
  int producer = 0;
  int seq = 0;
};

TEST(mpsc_queue, pop_on_empty_returns_null) {
  akt::detail::mpsc_queue q;
  EXPECT_EQ(q.pop(), nullptr);
  node n;
  q.push(&n);
  EXPECT_EQ(q.pop(), &n);
  EXPECT_EQ(q.pop(), nullptr);
}

TEST(mpsc_queue, single_thread_fifo) {
  akt::detail::mpsc_queue q;
  std::vector<node> nodes(100);
  for (int i = 0; i < 100; ++i) {
    nodes[i].seq = i;
    q.push(&nodes[i]);
  }
  for (int i = 0; i < 100; ++i) {
    auto* n = static_cast<node*>(q.pop());
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->seq, i);
  }
  EXPECT_EQ(q.pop(), nullptr);
}

TEST(mpsc_queue_stress, many_producers_one_consumer_exactly_once_in_order) {
  constexpr int producers = 8;
  constexpr int per_producer = 50'000;
  akt::detail::mpsc_queue q;
  std::vector<std::vector<node>> nodes(producers);
  for (auto& v : nodes) v = std::vector<node>(per_producer);
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < per_producer; ++i) {
        nodes[p][i].producer = p;
        nodes[p][i].seq = i;
        q.push(&nodes[p][i]);
      }
    });
  }
  go.store(true);
  std::vector<int> next(producers, 0);
  int received = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (received < producers * per_producer && std::chrono::steady_clock::now() < deadline) {
    auto* n = static_cast<node*>(q.pop());
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
