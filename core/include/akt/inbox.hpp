// akt/inbox.hpp — receiving in plain code. An inbox is a pid that a plain
// thread (a main, a feed handler, a test) reads with a deadline: actors reply
// to it, tell it, and it can watch them, like CAF's scoped_actor or Akka's
// Inbox.
//
//   akt::inbox in(*sys);
//   in.tell(orders, Submit{42});                 // orders sees the inbox as its sender
//   auto ack = in.receive<Accepted>(1s);         // result<Accepted>: what came, or why not
//   in.watch(orders);
//   orders.stop();
//   auto t = in.receive<akt::terminated>(1s);
//
// Messages wait in the inbox, in arrival order, until received; at most
// `capacity` (default 10,000) — past it tells to the inbox fail with
// errc::mailbox_full. Destroying the inbox ends its pid: later messages to
// it are dead letters.
//
// On a deterministic system (testkit::test_system) receive runs the system
// on the calling thread and follows its manual clock, as a blocking ask does.
//
// Thread safety: receive from one thread at a time; tell and the pid from
// any thread.
#pragma once

#include <akt/detail/ref_ptr.hpp>
#include <akt/error.hpp>
#include <akt/message.hpp>
#include <akt/pid.hpp>

#include <chrono>
#include <cstddef>
#include <string>

namespace akt {

class actor_system;

namespace detail {
class inbox_ref;
}

class inbox {
 public:
  explicit inbox(actor_system& system, std::size_t capacity = 10'000);
  ~inbox();
  inbox(const inbox&) = delete;
  inbox& operator=(const inbox&) = delete;

  // The inbox's pid: give it to actors as a destination.
  const pid& self() const noexcept { return self_; }

  // Tells `to` with the inbox as the sender (replies come back here).
  template <class T>
  status tell(const pid& to, T&& msg) {
    if (!to) return detail::null_pid_error();
    auto e = detail::make_envelope(std::forward<T>(msg));
    detail::stamp_outgoing(*e);  // this thread's trace context, if any
    e->sender = self_.ref();
    return to.ref()->deliver(std::move(e));
  }

  // The next message (errc::timeout if none comes within `within`).
  [[nodiscard]] result<message> receive(std::chrono::nanoseconds within);
  // The next message must be a T: errc::unexpected_reply (naming what came
  // instead; that message is consumed) or errc::timeout.
  template <class T>
  [[nodiscard]] result<T> receive(std::chrono::nanoseconds within) {
    auto m = receive(within);
    if (!m) return std::move(m).error();
    if (T* v = m->template get<T>()) return std::move(*v);
    return error(errc::unexpected_reply,
                 "the inbox expected a " + detail::demangle(typeid(T).name()) + ", got a " + m->type_name());
  }

  // Death watch: akt::terminated{who} arrives here once `who` stops.
  status watch(const pid& who);
  status unwatch(const pid& who);

  // Messages waiting.
  std::size_t size() const;

 private:
  detail::ref_ptr<detail::inbox_ref> ref_;
  pid self_;
};

}  // namespace akt
