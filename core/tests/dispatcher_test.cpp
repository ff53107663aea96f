// The dispatcher: the workers option bounds the threads actors run on, a
// busy actor yields its worker after `throughput` messages, an idle system
// burns no CPU, and heavy concurrent traffic is counted exactly.
#include "test_util.hpp"

#include <akt/akt.hpp>

#include <gtest/gtest.h>

#include <sys/resource.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace {

using namespace akt_test;
using namespace std::chrono_literals;

struct thread_log {
  std::mutex mu;
  std::set<std::thread::id> ids;
  std::atomic<int> handled{0};
};

std::size_t distinct_worker_threads(std::size_t workers, std::shared_ptr<thread_log> log) {
  auto sys = start_system("sys", {.workers = workers});
  if (!sys) return 0;
  std::vector<akt::pid> actors;
  for (int i = 0; i < 200; ++i) {
    auto a = sys->spawn_fn(akt::spawn_options{}, [log](akt::context& ctx) {
      if (ctx.message<ping>()) {
        {
          std::lock_guard lock(log->mu);
          log->ids.insert(std::this_thread::get_id());
        }
        ++log->handled;
      }
    });
    if (!a) {
      ADD_FAILURE() << outcome(a);
      return 0;
    }
    actors.push_back(*a);
  }
  // Several producer threads so that the pool has reason to use every worker.
  std::vector<std::thread> producers;
  for (int t = 0; t < 4; ++t) {
    producers.emplace_back([&] {
      for (int round = 0; round < 50; ++round)
        for (auto& a : actors) (void)a.tell(ping{round});
    });
  }
  for (auto& p : producers) p.join();
  const int expected = 4 * 50 * 200;
  EXPECT_TRUE(wait_until([&] { return log->handled.load() == expected; })) << log->handled.load();
  std::lock_guard lock(log->mu);
  return log->ids.size();
}

TEST(dispatcher, actors_run_on_at_most_the_configured_number_of_workers) {
  for (std::size_t workers : {1u, 3u}) {
    auto log = std::make_shared<thread_log>();
    const auto used = distinct_worker_threads(workers, log);
    EXPECT_GE(used, 1u);
    EXPECT_LE(used, workers) << "workers = " << workers;
    std::lock_guard lock(log->mu);
    EXPECT_EQ(log->ids.count(std::this_thread::get_id()), 0u) << "actors never run on the caller's thread";
  }
}

TEST(dispatcher, zero_workers_means_one_per_hardware_thread) {
  auto log = std::make_shared<thread_log>();
  const auto used = distinct_worker_threads(0, log);
  EXPECT_GE(used, 1u);
  EXPECT_LE(used, std::max(1u, std::thread::hardware_concurrency()));
}

TEST(dispatcher, a_busy_actor_yields_its_worker_after_throughput_messages) {
  constexpr std::uint32_t throughput = 16;
  auto sys = start_system("sys", {.workers = 1, .throughput = throughput});
  ASSERT_TRUE(sys);
  auto release = std::make_shared<gate>();
  auto blocker = sys->spawn_fn("blocker", [release](akt::context& ctx) {
    if (ctx.message<ping>()) release->wait_for(10s);
  });
  auto busy_count = std::make_shared<std::atomic<int>>(0);
  auto busy = sys->spawn_fn("busy", [busy_count](akt::context& ctx) {
    if (ctx.message<ping>()) ++*busy_count;
  });
  auto seen_at = std::make_shared<std::atomic<int>>(-1);
  auto other = sys->spawn_fn("other", [busy_count, seen_at](akt::context& ctx) {
    if (ctx.message<ping>()) *seen_at = busy_count->load();
  });
  ASSERT_TRUE(blocker && busy && other);

  // Hold the only worker, queue a long backlog for `busy`, then one message
  // for `other`; release and see how much of the backlog ran before `other`.
  ASSERT_TRUE(blocker->tell(ping{}));
  ASSERT_TRUE(wait_until([&] { return blocker->metrics().received == 1; }));
  constexpr int backlog = 10'000;
  for (int i = 0; i < backlog; ++i) ASSERT_TRUE(busy->tell(ping{i}));
  ASSERT_TRUE(other->tell(ping{}));
  release->open();
  ASSERT_TRUE(wait_until([&] { return seen_at->load() >= 0 && busy_count->load() == backlog; }));
  EXPECT_LE(seen_at->load(), static_cast<int>(4 * throughput))
      << "`other` waited behind " << seen_at->load() << " of busy's messages; throughput is " << throughput;
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

// CPU used by the process over a wall-clock window (a measurement, not a wait).
double cpu_over(std::chrono::milliseconds window) {
  const double before = cpu_seconds();
  std::this_thread::sleep_for(window);
  return cpu_seconds() - before;
}

TEST(dispatcher, an_idle_system_uses_almost_no_cpu) {
  auto sys = start_system("idle", {.workers = 2});
  ASSERT_TRUE(sys);
  auto total = std::make_shared<std::atomic<std::int64_t>>(0);
  std::vector<akt::pid> actors;
  for (int i = 0; i < 50; ++i) {
    auto a = sys->spawn<counting_actor>("c" + std::to_string(i), total);
    ASSERT_TRUE(a);
    actors.push_back(*a);
  }
  for (int round = 0; round < 200; ++round)
    for (auto& a : actors) ASSERT_TRUE(a.tell(ping{round}));
  ASSERT_TRUE(wait_until([&] { return total->load() == 200 * 50; }));
  for (auto& a : actors) ASSERT_TRUE(a.ask<std::int64_t>(get_count{}, 5s));

  // Quiescence: workers may spin briefly before parking; wait (bounded) for a
  // quiet 100 ms window before measuring.
  const auto settle_end = clock_type::now() + 5s;
  while (cpu_over(100ms) > 0.010 && clock_type::now() < settle_end) {
  }
  const double used = cpu_over(1000ms);
  EXPECT_LT(used, 0.050) << "an idle system burned " << used * 1000 << " ms of CPU in 1 s";
  EXPECT_TRUE(sys->is_running());
}

// An extension that sends from the idle workers' poll, as a transport does.
class sending_poller final : public akt::extension {
 public:
  sending_poller(akt::pid target, int to_send) : target_(std::move(target)), to_send_(to_send) {}
  std::string_view name() const noexcept override { return "sending-poller"; }
  void poll_idle() noexcept override {
    calls.fetch_add(1);
    if (to_send_.fetch_sub(1) > 0 && target_.tell(ping{1})) sent.fetch_add(1);
  }
  std::atomic<int> calls{0};
  std::atomic<int> sent{0};

 private:
  akt::pid target_;
  std::atomic<int> to_send_;
};

TEST(dispatcher, an_extensions_idle_poll_runs_while_workers_spin_and_what_it_sends_is_handled) {
  // The poll delivers messages from the idle worker's own thread. Each must
  // be run (not left in that worker's slot when it parks). One worker: with
  // two, the other may take each message while the spinner's 50 us run out,
  // and the chain below would end early by design, not by a fault.
  auto sys = start_system("poller", {.workers = 1});
  ASSERT_TRUE(sys);
  auto total = std::make_shared<std::atomic<std::int64_t>>(0);
  auto target = sys->spawn<counting_actor>("target", total);
  ASSERT_TRUE(target);
  auto poller = sys->add_extension(std::make_unique<sending_poller>(*target, 50));
  ASSERT_TRUE(poller);
  // One tell wakes the worker; after its turn it spins and polls, and every
  // message the poll sends gives it another turn and another spin.
  ASSERT_TRUE(target->tell(ping{0}));
  auto& p = **poller;
  EXPECT_TRUE(wait_until([&] { return total->load() == 51; }))
      << total->load() << " messages handled of " << 1 + p.sent.load() << " sent, " << p.calls.load()
      << " polls";
}

TEST(dispatcher, eight_producers_times_100k_tells_into_one_actor_are_counted_exactly) {
  auto sys = start_system("stress", {.workers = 2});
  ASSERT_TRUE(sys);
  auto total = std::make_shared<std::atomic<std::int64_t>>(0);
  auto sink = sys->spawn<counting_actor>("sink", total);
  ASSERT_TRUE(sink);
  constexpr int producers = 8;
  constexpr int per_producer = 100'000;
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < producers; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < per_producer; ++i)
        if (!sink->tell(ping{i})) ++refused;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(refused.load(), 0);
  constexpr std::int64_t expected = std::int64_t{producers} * per_producer;
  ASSERT_TRUE(wait_until([&] { return total->load() == expected; }, 60s))
      << total->load() << " of " << expected;
  auto count = sink->ask<std::int64_t>(get_count{}, 10s);
  ASSERT_TRUE(count) << outcome(count);
  EXPECT_EQ(*count, expected);
  EXPECT_TRUE(
      wait_until([&] { return sink->metrics().processed == static_cast<std::uint64_t>(expected) + 1; }));
  EXPECT_EQ(sink->metrics().received, static_cast<std::uint64_t>(expected) + 1);
}

TEST(dispatcher, a_thousand_actors_fed_in_parallel_count_every_message) {
  auto sys = start_system("many", {.workers = 2});
  ASSERT_TRUE(sys);
  constexpr int actors_n = 1000;
  constexpr int producers = 4;
  constexpr int per_actor_per_producer = 25;
  auto total = std::make_shared<std::atomic<std::int64_t>>(0);
  std::vector<akt::pid> actors;
  for (int i = 0; i < actors_n; ++i) {
    auto a = sys->spawn_anonymous<counting_actor>(total);
    ASSERT_TRUE(a) << outcome(a);
    actors.push_back(*a);
  }
  EXPECT_EQ(sys->actor_count(), static_cast<std::uint64_t>(actors_n));
  std::vector<std::thread> threads;
  for (int t = 0; t < producers; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < per_actor_per_producer; ++i)
        for (auto& a : actors) (void)a.tell(ping{i});
    });
  }
  for (auto& t : threads) t.join();
  constexpr std::int64_t expected = std::int64_t{actors_n} * producers * per_actor_per_producer;
  ASSERT_TRUE(wait_until([&] { return total->load() == expected; }, 60s))
      << total->load() << " of " << expected;
  int wrong = 0;
  for (auto& a : actors) {
    auto c = a.ask<std::int64_t>(get_count{}, 5s);
    if (!c || *c != producers * per_actor_per_producer) ++wrong;
  }
  EXPECT_EQ(wrong, 0) << "actors whose own count is not " << producers * per_actor_per_producer;
}

}  // namespace
