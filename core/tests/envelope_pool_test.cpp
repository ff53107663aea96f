// The envelope pool: envelopes made on one thread and disposed of on another
// come back for reuse without their sender or reply sink, and the pool keeps
// a bounded number of spares. Runs under ThreadSanitizer in CI (./run tsan).
#include <akt/detail/envelope_pool.hpp>
#include <akt/pid.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using akt::detail::envelope_pool;
using akt::detail::envelope_ptr;
using akt::detail::typed_envelope;

struct sample {
  static inline std::atomic<int> constructed{0};
  sample() { constructed.fetch_add(1); }
  sample(std::string t, int s) : text(std::move(t)), seq(s) {}
  std::string text;
  int seq = 0;
};

// A reference-counted object that records its destruction.
class probe_sink final : public akt::detail::reply_sink {
 public:
  explicit probe_sink(std::atomic<int>* destroyed) : destroyed_(destroyed) {}
  ~probe_sink() override { destroyed_->fetch_add(1); }
  bool complete(envelope_ptr&) override { return false; }
  void fail(akt::error) noexcept override {}

 private:
  std::atomic<int>* destroyed_;
};

TEST(envelope_pool, a_disposed_envelope_comes_back_without_its_reply_sink_and_keeps_its_value_storage) {
  std::atomic<int> destroyed{0};
  typed_envelope<sample>* first = envelope_pool<sample>::take();
  EXPECT_TRUE(first->pooled);
  EXPECT_EQ(first->type, akt::detail::type_id_of<sample>());
  first->value.text.assign(100, 'x');
  const std::size_t capacity = first->value.text.capacity();
  first->reply_to = akt::detail::ref_ptr<akt::detail::reply_sink>::adopt(new probe_sink(&destroyed));
  envelope_ptr(first).reset();  // dispose: back to this thread's stack
  EXPECT_EQ(destroyed.load(), 1) << "the reply sink is released at once, not when the envelope is reused";

  typed_envelope<sample>* again = envelope_pool<sample>::take();
  EXPECT_EQ(again, first) << "the last envelope given back is the first taken";
  EXPECT_FALSE(again->reply_to);
  EXPECT_FALSE(again->sender);
  EXPECT_GE(again->value.text.capacity(), capacity) << "the value's storage is kept for the next message";
  envelope_ptr(again).reset();
}

TEST(envelope_pool, envelopes_made_on_one_thread_and_disposed_of_on_another_are_reused_and_bounded) {
  // A maker thread (this one) and a disposer thread, as remoting's I/O
  // thread and a worker: 100,000 envelopes go across in rounds of 500.
  constexpr int rounds = 200;
  constexpr int per_round = 500;
  const int made_before = sample::constructed.load();
  std::mutex mu;
  std::condition_variable cv;
  std::vector<typed_envelope<sample>*> handed;  // guarded by mu
  bool finished = false;                        // guarded by mu
  std::atomic<int> out_of_order{0};
  std::thread disposer([&] {
    int expected = 0;
    for (;;) {
      std::vector<typed_envelope<sample>*> batch;
      {
        std::unique_lock g(mu);
        if (!cv.wait_for(g, std::chrono::seconds(10), [&] { return !handed.empty() || finished; })) return;
        if (handed.empty()) return;
        batch.swap(handed);
      }
      for (auto* e : batch) {
        if (e->value.seq != expected++) out_of_order.fetch_add(1);
        envelope_ptr(e).reset();
      }
      cv.notify_all();
    }
  });
  for (int r = 0; r < rounds; ++r) {
    std::vector<typed_envelope<sample>*> made;
    for (int i = 0; i < per_round; ++i) {
      typed_envelope<sample>* e = envelope_pool<sample>::take();
      e->value.seq = r * per_round + i;
      made.push_back(e);
    }
    std::unique_lock g(mu);
    handed.insert(handed.end(), made.begin(), made.end());
    cv.notify_all();
    // Let the disposer catch up, as a consumer keeps up with its producer.
    ASSERT_TRUE(cv.wait_for(g, std::chrono::seconds(10), [&] { return handed.empty(); }));
  }
  {
    std::lock_guard g(mu);
    finished = true;
  }
  cv.notify_all();
  disposer.join();
  EXPECT_EQ(out_of_order.load(), 0);
  // Without reuse every message would construct a new envelope (100,000).
  const int made = sample::constructed.load() - made_before;
  EXPECT_LT(made, 5'000) << "envelopes disposed of on another thread were not reused";
  EXPECT_GT(made, 0);
}

TEST(envelope_pool, envelopes_not_from_the_pool_are_deleted_as_before) {
  envelope_ptr e = akt::detail::make_envelope(sample{"plain", 1});
  EXPECT_FALSE(e->pooled);
}

}  // namespace
