// akt/testkit/test_system.hpp — a deterministic actor system for tests: no
// worker threads and a manual clock. Nothing runs until the test says so,
// timeouts / timers / backoff / passivation follow the manual clock, and a
// test of a 30-second timeout takes microseconds.
//
//   akt::testkit::test_system t("orders");
//   auto a = t->spawn<order_book>("book").value();
//   a.tell(Submit{});
//   t.run();                                 // every ready actor, on this thread
//   t.advance(std::chrono::seconds(30));      // fire what is due, then run
//
// Thread safety: drive it from one thread.
#pragma once

#include <akt/akt.hpp>

#include <chrono>
#include <memory>
#include <string_view>

namespace akt::testkit {

class test_system {
 public:
  // `options.deterministic` is forced on; the logger defaults to discarding.
  explicit test_system(std::string_view name = "test", system_options options = {});
  ~test_system();

  actor_system& system() noexcept { return *system_; }
  actor_system* operator->() noexcept { return system_.get(); }

  // Runs every ready actor until none is ready; returns the turns run.
  std::size_t run() { return system_->run_ready(); }
  // Moves the manual clock forward, fires what became due, runs.
  std::size_t advance(std::chrono::nanoseconds by) { return system_->advance_clock(by); }

 private:
  std::unique_ptr<actor_system> system_;
};

}  // namespace akt::testkit
