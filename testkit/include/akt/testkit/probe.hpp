// akt/testkit/probe.hpp — a probe: an actor your test talks through and
// inspects, with deadlines on every expectation.
//
//   akt::testkit::probe p(*sys);
//   p.send(server, Ping{1});                       // the probe is the sender
//   auto pong = p.expect_message<Pong>(1s);        // result<Pong>: the next message must be a Pong
//   ASSERT_TRUE(pong) << pong.error().message();
//   ASSERT_TRUE(p.expect_no_message(100ms));
//   p.watch(server);  server.stop();
//   ASSERT_TRUE(p.expect_terminated(server, 1s));
//
// Expectations return results instead of failing a test framework's
// assertion, so the probe works with any test framework. On a deterministic
// system (system_options::deterministic) the probe runs the system while it
// waits: no real waiting happens unless nothing is ready.
//
// Thread safety: one test thread uses a probe; the probe actor itself runs
// on the system's workers.
#pragma once

#include <akt/akt.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

namespace akt::testkit {

class probe {
 public:
  explicit probe(actor_system& system, std::string name = {});
  ~probe();
  probe(const probe&) = delete;
  probe& operator=(const probe&) = delete;

  // The probe's pid: hand it to actors as a destination or sender.
  const pid& ref() const noexcept { return self_; }

  // Tells `to` with the probe as the sender (replies come to the probe).
  template <class T>
  status send(const pid& to, T msg) {
    return relay(to, detail::make_envelope(std::move(msg)));
  }
  // Replies to the sender of the last message the probe took.
  template <class T>
  status reply(T msg) {
    return relay(last_sender_, detail::make_envelope(std::move(msg)));
  }

  // The next message, whatever it is (errc::request_timeout if none comes).
  result<message> receive(std::chrono::nanoseconds within);
  // The next message must be a T: errc::unexpected_reply (naming what came
  // instead) or errc::request_timeout otherwise.
  template <class T>
  result<T> expect_message(std::chrono::nanoseconds within = std::chrono::seconds(3)) {
    auto m = receive(within);
    if (!m) return std::move(m).error();
    if (T* v = m->template get<T>()) return std::move(*v);
    return error(errc::unexpected_reply,
                 "expected a " + detail::demangle(typeid(T).name()) + ", got a " + m->type_name());
  }
  // No message may arrive for `during` (errc::unexpected_reply names the one that did).
  status expect_no_message(std::chrono::nanoseconds during);
  // Starts watching `who` (akt::terminated arrives once it stops).
  status watch(const pid& who);
  // The next message must be akt::terminated for `who` (watch it first).
  status expect_terminated(const pid& who, std::chrono::nanoseconds within = std::chrono::seconds(3));

  // Sender of the last message taken.
  const pid& last_sender() const noexcept { return last_sender_; }
  std::size_t pending() const;

  struct shared;  // the mailbox the probe actor fills

 private:
  status relay(const pid& to, detail::envelope_ptr e);

  actor_system& system_;
  std::shared_ptr<shared> shared_;
  pid self_;
  pid last_sender_;
};

}  // namespace akt::testkit
