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
// Thread safety: a context belongs to one handler invocation on one thread;
// do not keep it or use it after the handler returns. pids taken from it may
// be kept and used anywhere.
#pragma once

#include <akt/error.hpp>
#include <akt/message.hpp>
#include <akt/pid.hpp>
#include <akt/spawner.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace akt {

class actor_system;
class logger;
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
    return detail::payload_as<T>(env_);
  }
  template <class T>
  bool is() const noexcept {
    return env_ && env_->type == detail::type_id_of<T>();
  }
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
  template <class T, class F>
  status request(const pid& to, T&& msg, std::chrono::nanoseconds timeout, F&& on_reply) {
    static_assert(std::is_invocable_v<F&, context&, result<akt::message>>,
                  "request: on_reply must be callable as f(akt::context&, akt::result<akt::message>)");
    return request_envelope(to, detail::make_envelope(std::forward<T>(msg)), timeout,
                            reply_handler(std::forward<F>(on_reply)));
  }

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
};

}  // namespace akt
