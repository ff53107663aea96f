// akt/context.hpp — what an actor sees while it runs: the message in hand, its
// sender, itself, and the operations an actor performs (reply, tell, forward,
// request, spawn and stop children).
//
//   void receive(akt::context& ctx) override {
//     if (auto* ping = ctx.message<demo::Ping>()) {          // one pointer compare
//       demo::Pong pong; pong.set_seq(ping->seq());
//       ctx.reply(std::move(pong));
//     }
//   }
//
// The same context is handed to pre_start and post_stop, where there is no
// message: message<T>() is null and reply fails with errc::no_message.
//
// Unhandled messages: a message that receive neither matched (message<T>()
// non-null, is<T>() true, accept()) nor used (reply, forward, take_message, stash,
// make_response_promise) is *unhandled*, as is one for which receive called
// unhandled(): it is counted (actor_system::unhandled_messages), published
// on the event stream (event_kind::unhandled_message) and counted as a
// dead letter; an asker gets errc::unhandled at once instead of waiting.
//
// Thread safety: a context belongs to one handler invocation on one thread;
// do not keep it or use it after the handler returns. pids taken from it may
// be kept and used anywhere.
#pragma once

#include <akt/error.hpp>
#include <akt/message.hpp>
#include <akt/pid.hpp>
#include <akt/spawner.hpp>
#include <akt/trace.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace akt {

class actor_system;
class logger;
class response_promise;
namespace detail {
class actor_cell;
}

// What a non-blocking request calls back with, inside the asking actor: the
// reply, or errc::request_timeout / errc::dead_actor.
using reply_handler = std::function<void(context&, result<message>)>;
// A receive function for become / become_stacked.
using behavior = std::function<void(context&)>;

class context : public spawner<context> {
 public:
  // The message in hand if it is a T, else nullptr. You may move from it.
  template <class T>
  T* message() noexcept {
    T* m = detail::payload_as<T>(env_);
    if (m != nullptr) match_ |= matched;
    return m;
  }
  template <class T>
  bool is() const noexcept {
    const bool yes = env_ && env_->type == detail::type_id_of<T>();
    if (yes) match_ |= matched;
    return yes;
  }
  // Says the message in hand is not for this actor (whatever was matched):
  // it becomes an unhandled message (see the file comment).
  void unhandled() noexcept { match_ |= disowned; }
  // Says the message in hand is handled without looking at its type: an
  // actor that treats every message alike (a sink, a counter) calls it. An
  // ask it does not answer then waits for its timeout.
  void accept() noexcept { match_ |= matched; }
  // The trace context of the message in hand (null when untraced); sends
  // made from here carry it (see trace.hpp).
  const trace_context* trace() const noexcept { return detail::current_trace(); }
  // The type of the message in hand, for logs ("demo.Ping", "int", ...).
  std::string message_type_name() const;

  pid self() const noexcept;
  // Who sent the message in hand; null when it came from outside any actor.
  pid sender() const noexcept;
  pid parent() const noexcept;
  std::vector<pid> children() const;
  actor_system& system() const noexcept;
  akt::logger& logger() const noexcept;

  // Answers the message in hand: to the asker for an ask or request, else to
  // the sender. Errors: already_replied (a second reply), no_sender (sent
  // from outside any actor and not an ask), no_message (outside receive).
  // A reply that arrives after the asker gave up goes to dead letters.
  template <class T>
  status reply(T&& msg) {
    return reply_envelope(detail::make_envelope(std::forward<T>(msg)));
  }

  // Sends with this actor as the sender.
  template <class T>
  status tell(const pid& to, T&& msg) {
    return to.tell(std::forward<T>(msg));
  }

  // Passes the message in hand on, keeping its original sender (and, for an
  // ask, its asker). After it, message<T>() is null.
  status forward(const pid& to);
  // Takes the message in hand out of the context (to keep it; a reply is
  // then no longer possible through the context). After it, message<T>() is null.
  akt::message take_message();

  // Non-blocking ask: returns at once; `on_reply(ctx, result)` runs later in
  // this actor, one message at a time like receive, with the reply or an
  // error (request_timeout after `timeout`, dead_actor). Never blocks a
  // worker, so any number of actors can ask each other at once.
  //
  // request<R>: the reply must be an R; on_reply(ctx, result<R>) gets it by
  // value, or errc::unexpected_reply naming what came instead.
  template <class R = akt::message, class T, class F>
  status request(const pid& to, T&& msg, std::chrono::nanoseconds timeout, F&& on_reply) {
    if constexpr (std::is_same_v<R, akt::message>) {
      static_assert(std::is_invocable_v<F&, context&, result<akt::message>>,
                    "request: on_reply must be callable as f(akt::context&, akt::result<akt::message>)");
      return request_envelope(to, detail::make_envelope(std::forward<T>(msg)), timeout,
                              reply_handler(std::forward<F>(on_reply)));
    } else {
      static_assert(std::is_invocable_v<F&, context&, result<R>>,
                    "request<R>: on_reply must be callable as f(akt::context&, akt::result<R>)");
      return request_envelope(
          to, detail::make_envelope(std::forward<T>(msg)), timeout,
          reply_handler([f = std::forward<F>(on_reply)](context& ctx, result<akt::message> r) mutable {
            if (!r) return f(ctx, result<R>(std::move(r).error()));
            if (R* v = r->template get<R>()) return f(ctx, result<R>(std::move(*v)));
            f(ctx, result<R>(error(errc::unexpected_reply, "expected a reply of type " +
                                                               detail::demangle(typeid(R).name()) + ", got " +
                                                               r->type_name())));
          }));
    }
  }

  // Answering later: takes over the duty to answer the message in hand (its
  // asker, or else its sender) so the handler can return and the answer be
  // given from a later message or a request's continuation. The promise may
  // be kept anywhere (in the actor's state) and used from any thread.
  // Errors: no_message (outside receive), already_replied.
  [[nodiscard]] result<response_promise> make_response_promise();

  // Stops a child of this actor (asynchronously). Errors: not_found if `child`
  // is not a child of this actor, dead_actor if it has stopped.
  status stop(const pid& child);
  // Stops this actor once the current handler returns.
  void stop_self();

  // Reports a failure without throwing: once the handler returns, this
  // actor's supervisor decides (see supervision.hpp) as for an exception;
  // rules matching `e.code()` apply.
  void fail(error e);

  // Death watch: this actor gets akt::terminated{pid} exactly once when
  // `other` stops (at once if it already has); none after unwatch. Watches
  // end by themselves when either side stops.
  status watch(const pid& other);
  status unwatch(const pid& other);

  // Behaviors. The message in hand finishes with the current behavior; the
  // change applies from the next message.
  //   become(b)          replace the current behavior with b
  //   become_stacked(b)  push b; unbecome_stacked() pops back to the previous one
  //   unbecome()         back to receive(), the stack emptied
  void become(behavior b);
  void become_stacked(behavior b);
  void unbecome();
  void unbecome_stacked();

  // Stash: set the message in hand aside (up to system_options::
  // stash_capacity; errc::mailbox_full past it). unstash() puts the oldest
  // back, unstash_all() all of them, in stash order, ahead of the mailbox.
  // A restart puts the stash back the same way; a stop sends it to dead letters.
  status stash();
  bool unstash();
  std::size_t unstash_all();
  std::size_t stash_size() const noexcept;

  // Used by spawner<context>: spawns a child of this actor.
  result<pid> spawn_with(spawn_options options, detail::ref_ptr<detail::actor_factory> factory);

  context(const context&) = delete;
  context& operator=(const context&) = delete;

 private:
  friend class detail::actor_cell;
  context(detail::actor_cell* cell, detail::envelope_ptr* held) noexcept
      : cell_(cell), held_(held), env_(held ? held->get() : nullptr) {}

  status reply_envelope(detail::envelope_ptr reply);
  status request_envelope(const pid& to, detail::envelope_ptr msg, std::chrono::nanoseconds timeout,
                          reply_handler on_reply);

  detail::actor_cell* cell_;
  detail::envelope_ptr* held_;  // owner of the message in hand (the turn's); null outside receive
  detail::envelope* env_;       // == held_->get(), kept for one-load access
  bool replied_ = false;
  static constexpr std::uint8_t matched = 1, disowned = 2;
  mutable std::uint8_t match_ = 0;  // handled unless exactly `matched` (see unhandled())
};

// The duty to answer one message, taken out of its handler
// (context::make_response_promise). Move-only; answering twice fails with
// errc::already_replied. Dropping an unanswered promise fails a waiting
// asker with errc::no_reply at once (it does not wait for its timeout).
//
// Thread safety: one promise is used by one thread at a time; any thread.
class response_promise {
 public:
  response_promise() = default;
  response_promise(response_promise&&) noexcept = default;
  response_promise& operator=(response_promise&& o) noexcept;
  response_promise(const response_promise&) = delete;
  response_promise& operator=(const response_promise&) = delete;
  ~response_promise();

  template <class T>
  status deliver(T&& msg) {
    return deliver_envelope(detail::make_envelope(std::forward<T>(msg)));
  }
  // Fails the asker with `e` (a sender that did not ask is not told).
  status fail(error e);
  bool is_pending() const noexcept { return pending_; }

 private:
  friend class context;
  status deliver_envelope(detail::envelope_ptr reply);
  detail::ref_ptr<detail::reply_sink> sink_;  // the asker's, for an ask or request
  detail::ref_ptr<detail::actor_ref> to_;     // else the sender
  detail::ref_ptr<detail::actor_ref> self_;   // the answering actor: the reply's sender
  trace_ref trace_;
  std::string what_;  // the message's type, for errors
  bool pending_ = false;
};

}  // namespace akt
