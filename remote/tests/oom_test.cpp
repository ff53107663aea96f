// Out of memory while a frame is being encoded: the send fails with an
// error that says so, and the connection goes on. Before, the failed frame
// left its interned ids defined on the sender's side only (the peer closed
// the connection at their next use, losing what followed) and the remote
// pid's lock held (the next tell through it spun for good).
//
// This binary replaces the array forms of operator new (the connection's
// queue grows with one): they call malloc, and fail once, on the thread that
// armed them, for a request of at least the armed size.
#include <akt/remote/remoting.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "messages.pb.h"
#include "raw_peer.hpp"

namespace {

thread_local std::size_t fail_from = 0;       // this thread's next request of at least this fails; 0: never
std::atomic<std::size_t> fail_any_from{0};    // the same, on whichever thread asks first
std::atomic<std::size_t> failures_on_any{0};  // how often fail_any_from fired

void* allocate(std::size_t n, std::size_t align) {
  if (fail_from != 0 && n >= fail_from) {
    fail_from = 0;
    throw std::bad_alloc();
  }
  if (std::size_t any = fail_any_from.load(std::memory_order_relaxed);
      any != 0 && n >= any && fail_any_from.compare_exchange_strong(any, 0)) {
    failures_on_any.fetch_add(1);
    throw std::bad_alloc();
  }
  if (n == 0) n = 1;
  void* p = nullptr;
  if (align <= alignof(std::max_align_t)) {
    p = std::malloc(n);
  } else if (::posix_memalign(&p, align, n) != 0) {
    p = nullptr;
  }
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

void* operator new[](std::size_t n) {
  return allocate(n, 0);
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return allocate(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return allocate(n, 0);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  try {
    return allocate(n, static_cast<std::size_t>(a));
  } catch (...) {
    return nullptr;
  }
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  std::free(p);
}

namespace {

using namespace std::chrono_literals;

using akt_test::wait_until;

struct inbox {
  std::mutex mu;
  std::vector<std::string> names;  // guarded by mu
  std::size_t size() {
    std::lock_guard g(mu);
    return names.size();
  }
  std::vector<std::string> copy() {
    std::lock_guard g(mu);
    return names;
  }
};

std::unique_ptr<akt::actor_system> start(const char* name) {
  auto sys = akt::actor_system::create(name, {.logger = akt::make_discard_logger()}).value();
  EXPECT_TRUE(sys->start());
  sys->registry().register_message<demo::Greet>();
  return sys;
}

akt::pid sink_on(akt::actor_system& sys, const std::string& name, const std::shared_ptr<inbox>& box) {
  auto p = sys.spawn_fn(name, [box](akt::context& ctx) {
    if (auto* g = ctx.message<demo::Greet>()) {
      std::lock_guard lock(box->mu);
      box->names.push_back(g->name());
    }
  });
  EXPECT_TRUE(p);
  return p ? *p : akt::pid();
}

demo::Greet greet(std::string name) {
  demo::Greet g;
  g.set_name(std::move(name));
  return g;
}

TEST(remote_oom, a_frame_that_runs_out_of_memory_fails_its_send_and_the_connection_goes_on) {
  auto a = start("alpha");
  auto b = start("beta");
  auto* na = akt::remote::remoting::enable(*a).value();
  auto* nb = akt::remote::remoting::enable(*b).value();
  auto first = std::make_shared<inbox>();
  auto second = std::make_shared<inbox>();
  auto sink1 = sink_on(*b, "sink-1", first);
  auto sink2 = sink_on(*b, "sink-2", second);
  auto to1 = na->resolve(sink1.path()).value();
  auto to2 = na->resolve(sink2.path()).value();

  // The connection is up and its queue small; sink-1's path and the type
  // have their ids.
  ASSERT_TRUE(to1.tell(greet("one")));
  ASSERT_TRUE(wait_until([&] { return first->size() == 1; }));

  // The first frame to sink-2 defines its path's id, and is too big for
  // the queue: its growth fails.
  const std::string big(3 << 20, 'x');
  fail_from = 1 << 20;
  const akt::status s = to2.tell(greet(big));
  const bool fired = fail_from == 0;
  fail_from = 0;
  ASSERT_TRUE(fired) << "the queue did not grow: the test did not run out of memory";
  ASSERT_FALSE(s);
  EXPECT_EQ(s.code(), akt::errc::backpressure);
  EXPECT_NE(s.error().message().find("out of memory"), std::string::npos) << s.error().to_string();

  // A tell through a pid that holds its connection (the fast path, under
  // the pid's own lock) runs out of memory the same way.
  fail_from = 1 << 20;
  const akt::status fast = to1.tell(greet(big));
  const bool fired_fast = fail_from == 0;
  fail_from = 0;
  ASSERT_TRUE(fired_fast);
  ASSERT_FALSE(fast);
  EXPECT_NE(fast.error().message().find("out of memory"), std::string::npos) << fast.error().to_string();

  // The same pids again (their locks were released): the stream is
  // intact, sink-2's id is defined anew, the order kept.
  ASSERT_TRUE(to2.tell(greet("two")));
  ASSERT_TRUE(to1.tell(greet("three")));
  ASSERT_TRUE(to2.tell(greet(big)));
  ASSERT_TRUE(wait_until([&] { return first->size() == 2 && second->size() == 2; }));
  EXPECT_EQ(first->copy(), (std::vector<std::string>{"one", "three"}));
  const auto got = second->copy();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], "two");
  EXPECT_TRUE(got[1] == big) << "the big message arrived with " << got[1].size() << " bytes";
  EXPECT_EQ(nb->frames_rejected(), 0u) << "beta read no broken frame";
  EXPECT_EQ(na->connections_opened(), 1u) << "alpha never had to dial again";
}

// Answers each Greet with its name and how many it has seen; a Greet
// named "big" gets a 3 MiB answer. A restart would start the count again.
class counting_echo : public akt::actor {
 public:
  void receive(akt::context& ctx) override {
    if (auto* g = ctx.message<demo::Greet>()) {
      ++seen_;
      const std::string body = g->name() == "big" ? std::string(3 << 20, 'y') : g->name();
      (void)ctx.reply(greet(body + ":" + std::to_string(seen_)));
    }
  }

 private:
  int seen_ = 0;
};

TEST(remote_oom, a_reply_that_runs_out_of_memory_is_dropped_and_the_replying_actor_goes_on) {
  auto a = start("alpha");
  auto b = start("beta");
  auto* na = akt::remote::remoting::enable(*a).value();
  ASSERT_TRUE(akt::remote::remoting::enable(*b));
  auto echo = b->spawn<counting_echo>("echo").value();
  auto remote_echo = na->resolve(echo.path()).value();
  auto first = remote_echo.ask<demo::Greet>(greet("small"), 10s);
  ASSERT_TRUE(first) << first.error().to_string();
  EXPECT_EQ(first->name(), "small:1");

  // The 3 MiB reply is encoded on beta's worker; its queue's growth fails.
  // The ask waits long enough for that on a slow machine (the reply is
  // dropped, so the ask always waits all of it).
  failures_on_any = 0;
  fail_any_from = 1 << 20;
  auto lost = remote_echo.ask<demo::Greet>(greet("big"), 3s);
  fail_any_from = 0;
  ASSERT_EQ(failures_on_any.load(), 1u) << "the reply's queue did not grow: nothing ran out of memory";
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().code(), akt::errc::request_timeout) << lost.error().to_string();

  // The actor was not failed by its reply (a restart would count from 1
  // again) and the connection carries the next reply.
  auto next = remote_echo.ask<demo::Greet>(greet("small"), 10s);
  ASSERT_TRUE(next) << next.error().to_string();
  EXPECT_EQ(next->name(), "small:3");
}

}  // namespace
