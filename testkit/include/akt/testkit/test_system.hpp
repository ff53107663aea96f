// akt/testkit/test_system.hpp — a deterministic actor system for tests: no
// worker threads and a manual clock. Nothing runs until the test says so,
// timeouts / timers / backoff / passivation — and a blocking ask from the
// test thread — follow the manual clock, and a test of a 30-second timeout
// takes microseconds.
//
//   akt::testkit::test_system t("orders");
//   auto a = t->spawn<order_book>("book").value();
//   a.tell(Submit{});
//   t.run();                                 // every ready actor, on this thread
//   t.advance(std::chrono::seconds(30));      // fire what is due, then run
//
// Step by step, CAF-style: each step handles one message (a test system's
// throughput is 1), and every message sent is recorded, in order, so a test
// states the protocol it expects:
//   client.tell(Start{});
//   ASSERT_TRUE(t.expect<Start>(akt::pid(), client));   // sent from outside, to client
//   ASSERT_TRUE(t.step());                               // client handles it...
//   ASSERT_TRUE(t.expect<Query>(client, server));        // ...and asked the server
//   EXPECT_EQ(t.mailbox_size(server), 1u);
//   ASSERT_TRUE(t.expect_nothing_else());
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
  // Runs one turn of the next ready actor (one message, unless the options
  // raised the throughput); false if no actor was ready.
  bool step() { return system_->run_ready(1) == 1; }
  // Moves the manual clock forward, fires what became due, runs.
  std::size_t advance(std::chrono::nanoseconds by) { return system_->advance_clock(by); }

  // Messages waiting in `who`'s mailbox.
  std::size_t mailbox_size(const pid& who) const { return who.metrics().mailbox_size; }

  // The oldest message sent (to any actor) and not yet expected must be a T
  // from `from` (a null pid: sent from outside any actor) to `to`; it is
  // then consumed from the record (not from the mailbox). Errors:
  // not_found (nothing was sent), unexpected_reply (says what was sent).
  template <class T>
  status expect(const pid& from, const pid& to) {
    return expect_sent(detail::type_id_of<T>(), detail::demangle(typeid(T).name()), from, to);
  }
  // Every message sent has been expected (unexpected_reply lists the rest).
  status expect_nothing_else();

  struct recorder;  // the extension that records sends

 private:
  status expect_sent(detail::type_id type, const std::string& type_name, const pid& from, const pid& to);
  std::unique_ptr<actor_system> system_;
  recorder* sends_ = nullptr;  // owned by system_
};

}  // namespace akt::testkit
