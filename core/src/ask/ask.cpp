#include "ask/ask.hpp"

#include <atomic>
#include <thread>

#include "actor/actor_cell.hpp"
#include "dispatch/outbox.hpp"
#include "system/system_core.hpp"
#include "util/futex.hpp"

namespace akt::detail {

namespace {

using clock = std::chrono::steady_clock;

// How a blocked asker waits is the target's to say (actor_ref::reply_wait):
// a local reply usually comes back within the default 20 us spin, which
// saves two futex round trips; a transport asks for longer, with polling.

// The sink of a blocking ask. States: waiting -> (busy) -> replied | failed,
// or waiting -> abandoned when the asker times out first. Whoever moves it
// out of `waiting` owns the outcome; everyone else backs off.
class ask_promise final : public reply_sink {
 public:
  enum : std::uint32_t { waiting, busy, replied, failed, abandoned };

  bool complete(envelope_ptr& reply) override {
    if (!claim()) return false;
    reply_ = std::move(reply);
    publish(replied);
    return true;
  }

  void fail(error e) noexcept override {
    if (!claim()) return;
    error_.emplace(std::move(e));
    publish(failed);
  }

  // `manual` = the target's dispatcher when it has no threads: the waiting
  // thread runs it (a deterministic test system).
  bool is_waiting() const noexcept override { return state_.load(std::memory_order_acquire) == waiting; }

  // `poll` (a remote target, asked from a plain thread): while spinning,
  // the waiting thread reads the reply off the network itself.
  result<message> wait(std::chrono::nanoseconds timeout, scheduler* manual, std::chrono::nanoseconds spin,
                       std::uint32_t yield_mask, actor_ref* poll) {
    const auto deadline = clock::now() + timeout;
    const auto spin_until = clock::now() + std::min<std::chrono::nanoseconds>(spin, timeout);
    scheduler* helper = nullptr;
    if (actor_cell* cur = current_cell()) helper = &cur->system().dispatcher();

    for (std::uint32_t i = 0; !is_final(state_.load(std::memory_order_acquire)); ++i) {
      auto now = clock::now();
      if (now >= deadline) {
        std::uint32_t expected = waiting;
        if (state_.compare_exchange_strong(expected, abandoned, std::memory_order_acq_rel)) {
          return error(errc::request_timeout, "no reply within " + format_duration(timeout.count()));
        }
        continue;  // a reply is being written right now: take it
      }
      if (helper != nullptr && helper->help_once()) continue;
      if (manual != nullptr && helper == nullptr && manual->run_ready(1'000'000) > 0) continue;
      if (now < spin_until) {
        if (poll != nullptr) {
          poll->poll_incoming();
          if (is_final(state_.load(std::memory_order_acquire))) break;
        }
        cpu_relax();
        if ((i & yield_mask) == yield_mask) std::this_thread::yield();
        continue;
      }
      sleeping_.store(true, std::memory_order_seq_cst);
      std::uint32_t s = state_.load(std::memory_order_seq_cst);
      if (!is_final(s)) {
        auto left = deadline - now;
        if (helper != nullptr)
          left = std::min<std::chrono::nanoseconds>(left, std::chrono::microseconds(200));
        futex_wait(state_, s, left);
      }
      sleeping_.store(false, std::memory_order_relaxed);
    }
    return outcome();
  }

  // On a deterministic system (no threads, a manual clock): run what is
  // ready; when nothing is, move the manual clock to the next timer due
  // before the deadline (it may be what makes the reply come), else to the
  // deadline itself. A 30 s timeout is tested without waiting 30 s.
  result<message> wait_manually(std::chrono::nanoseconds timeout, system_core& system) {
    auto done = [&] { return is_final(state_.load(std::memory_order_acquire)); };
    if (!system.run_manually(timeout, done)) {
      std::uint32_t expected = waiting;
      if (state_.compare_exchange_strong(expected, abandoned, std::memory_order_acq_rel)) {
        return error(errc::request_timeout,
                     "no reply within " + format_duration(timeout.count()) + " (on the manual clock)");
      }
      while (!done()) cpu_relax();  // a reply is being written right now: take it
    }
    return outcome();
  }

 private:
  result<message> outcome() {
    if (state_.load(std::memory_order_acquire) == failed) return std::move(*error_);
    return message(std::move(reply_));
  }
  static bool is_final(std::uint32_t s) { return s == replied || s == failed; }
  bool claim() {
    std::uint32_t expected = waiting;
    return state_.compare_exchange_strong(expected, busy, std::memory_order_acq_rel);
  }
  void publish(std::uint32_t s) {
    state_.store(s, std::memory_order_seq_cst);
    if (sleeping_.load(std::memory_order_seq_cst)) futex_wake_one(state_);
  }

  std::atomic<std::uint32_t> state_{waiting};
  std::atomic<bool> sleeping_{false};
  envelope_ptr reply_;
  std::optional<error> error_;
};

// The sink of a non-blocking request: the first of reply, failure and
// timeout wins and becomes a continuation message for the asker.
class pending_request final : public reply_sink {
 public:
  pending_request(actor_cell& asker, reply_handler handler)
      : asker_(ref_ptr<actor_cell>::share(&asker)), handler_(std::move(handler)) {}

  void arm(std::chrono::nanoseconds timeout) {
    timer_ = asker_->system().timers().schedule_after(
        timeout, [self = ref_ptr<pending_request>::share(this), timeout] {
          self->finish(error(errc::request_timeout, "no reply within " + format_duration(timeout.count())),
                       false);
        });
  }

  bool complete(envelope_ptr& reply) override {
    if (done_.exchange(true, std::memory_order_acq_rel)) return false;
    deliver(result<message>(message(std::move(reply))), true);
    return true;
  }
  void fail(error e) noexcept override { finish(std::move(e), true); }
  bool is_waiting() const noexcept override { return !done_.load(std::memory_order_acquire); }
  // The request never left (delivery failed synchronously): no outcome will come.
  void abandon() noexcept {
    if (!done_.exchange(true, std::memory_order_acq_rel)) asker_->system().timers().cancel(timer_);
  }

 private:
  void finish(error e, bool cancel_timer) noexcept {
    if (done_.exchange(true, std::memory_order_acq_rel)) return;
    deliver(result<message>(std::move(e)), cancel_timer);
  }
  void deliver(result<message> outcome, bool cancel_timer) noexcept {
    if (cancel_timer) asker_->system().timers().cancel(timer_);
    asker_->post(envelope_ptr(new continuation_envelope(std::move(handler_), std::move(outcome))));
  }

  ref_ptr<actor_cell> asker_;
  reply_handler handler_;
  std::atomic<bool> done_{false};
  timer_service::key timer_{};
};

}  // namespace

result<message> blocking_ask(actor_ref& target, envelope_ptr request, std::chrono::nanoseconds timeout) {
  if (timeout <= std::chrono::nanoseconds::zero()) {
    return error(errc::invalid_argument, "ask timeout must be positive");
  }
  auto promise = ref_ptr<ask_promise>::adopt(new ask_promise());
  request->reply_to = promise;
  if (auto s = target.deliver(std::move(request)); !s) return std::move(s).error();
  outbox::flush();  // inside a handler the request (and all sent before it) must leave before we wait
  scheduler* manual = nullptr;
  if (actor_cell* local = target.as_local(); local != nullptr && local->system().dispatcher().is_manual()) {
    manual = &local->system().dispatcher();
    // A plain thread asking a deterministic system: the ask runs on the
    // system's manual clock, as its timers and requests do.
    if (current_cell() == nullptr) return promise->wait_manually(timeout, local->system());
  }
  const reply_wait_hint hint = target.reply_wait();
  return promise->wait(timeout, manual, hint.spin, hint.yield_mask,
                       hint.poll && current_cell() == nullptr ? &target : nullptr);
}

status start_request(actor_cell& asker, const pid& to, envelope_ptr msg, std::chrono::nanoseconds timeout,
                     reply_handler on_reply) {
  if (!to) return null_pid_error();
  if (timeout <= std::chrono::nanoseconds::zero()) {
    return error(errc::invalid_argument, "request timeout must be positive");
  }
  auto req = ref_ptr<pending_request>::adopt(new pending_request(asker, std::move(on_reply)));
  req->arm(timeout);
  stamp_outgoing(*msg);  // the asker (requests are made from its handler) and its trace
  msg->reply_to = req;
  auto s = to.ref()->deliver(std::move(msg));
  if (!s) req->abandon();  // the caller has the error; the handler will not run
  return s;
}

}  // namespace akt::detail
