// The inbox (akt/inbox.hpp): an actor_ref that is not an actor — deliver
// queues under a mutex and wakes the plain thread waiting in receive.
#include <akt/actor_system.hpp>
#include <akt/inbox.hpp>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <random>

#include "system/system_core.hpp"

namespace akt {
namespace detail {

class inbox_ref final : public actor_ref {
 public:
  inbox_ref(system_core& system, std::string name, std::size_t capacity)
      : system_(ref_ptr<system_core>::share(&system)), name_(std::move(name)), capacity_(capacity) {}

  status deliver(envelope_ptr e) noexcept override {
    bool closed = false;
    {
      std::lock_guard g(mu_);
      closed = closed_;
      if (!closed && queue_.size() < capacity_) {
        queue_.push_back(std::move(e));
      }
    }
    if (!e) {
      cv_.notify_one();
      return {};
    }
    // Outside the lock: a dead letter may be announced to this very inbox.
    if (closed) {
      error why(errc::dead_actor, "inbox " + path() + " is closed");
      system_->dead_letter(std::move(e), why);
      return why;
    }
    return error(errc::mailbox_full,
                 "inbox " + path() + " is full (" + std::to_string(capacity_) + " messages unread)");
  }

  result<message> take(std::chrono::nanoseconds within) {
    if (system_->is_deterministic()) (void)system_->run_manually(within, [&] { return size() > 0; });
    std::unique_lock g(mu_);
    if (!cv_.wait_for(g, system_->is_deterministic() ? std::chrono::nanoseconds::zero() : within,
                      [&] { return !queue_.empty(); })) {
      g.unlock();
      return error(errc::timeout,
                   "inbox " + path() + ": no message within " + format_duration(within.count()));
    }
    envelope_ptr e = std::move(queue_.front());
    queue_.pop_front();
    g.unlock();
    if (e->reply_to) {  // an ask to the inbox: it cannot answer, so the asker hears at once
      e->reply_to->fail(error(errc::unhandled, "inbox " + path() + " does not answer asks"));
      e->reply_to.reset();
    }
    return message(std::move(e));
  }

  void close() {
    system_->remove_subscriber(this);  // the event stream holds its subscribers
    std::deque<envelope_ptr> left;
    {
      std::lock_guard g(mu_);
      closed_ = true;
      left.swap(queue_);
    }
    for (auto& e : left)
      system_->dead_letter(std::move(e), error(errc::dead_actor, "inbox " + path() + " closed"));
  }

  std::size_t size() const {
    std::lock_guard g(mu_);
    return queue_.size();
  }

  // Only its owner closes an inbox (by destroying it): no pid, local or
  // from another node, can.
  status request_stop() noexcept override {
    return error(errc::invalid_argument, path() + " is an inbox: only its owner closes it");
  }
  status request_restart() noexcept override {
    return error(errc::invalid_argument, path() + " is an inbox: it cannot be restarted");
  }
  status add_watcher(actor_ref& watcher) noexcept override {
    (void)watcher;
    return error(errc::invalid_argument, path() + " is an inbox: it cannot be watched");
  }
  void remove_watcher(actor_ref&) noexcept override {}
  status wait_stopped(std::chrono::nanoseconds) const override { return {}; }
  bool is_running() const noexcept override {
    std::lock_guard g(mu_);
    return !closed_;
  }
  std::string name() const override { return name_; }
  // From the system's root each time: an inbox made before remoting has the
  // node's address in its path once there is one.
  std::string path() const override { return system_->root_path() + "/" + name_; }
  ref_ptr<actor_ref> parent() const override { return {}; }
  std::vector<ref_ptr<actor_ref>> children() const override { return {}; }
  actor_metrics metrics() const noexcept override { return actor_metrics{.mailbox_size = size()}; }
  std::string_view kind() const noexcept override { return "akt::inbox"; }
  system_core& system() const noexcept { return *system_; }

 private:
  ref_ptr<system_core> system_;
  std::string name_;
  std::size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<envelope_ptr> queue_;  // guarded by mu_
  bool closed_ = false;             // guarded by mu_
};

}  // namespace detail

inbox::inbox(actor_system& system, std::size_t capacity) {
  detail::system_core& core = system.core();
  // A sequence number and a random part: a peer cannot guess a plain
  // thread's inbox to write to it.
  static thread_local std::mt19937_64 random{std::random_device{}()};
  char suffix[17];
  std::snprintf(suffix, sizeof suffix, "%016llx", static_cast<unsigned long long>(random()));
  std::string name = "$inbox-" + std::to_string(core.next_inbox_id()) + "-" + suffix;
  ref_ = detail::ref_ptr<detail::inbox_ref>::adopt(
      new detail::inbox_ref(core, name, capacity == 0 ? 1 : capacity));
  self_ = pid(detail::ref_ptr<detail::actor_ref>(ref_));
  core.add_inbox(std::move(name), ref_.get());
}

inbox::~inbox() {
  ref_->system().remove_inbox(ref_->name());
  ref_->close();
}

result<message> inbox::receive(std::chrono::nanoseconds within) {
  return ref_->take(within);
}

status inbox::watch(const pid& who) {
  if (!who) return detail::null_pid_error();
  return who.ref()->add_watcher(*ref_);
}

status inbox::unwatch(const pid& who) {
  if (!who) return detail::null_pid_error();
  who.ref()->remove_watcher(*ref_);
  return {};
}

std::size_t inbox::size() const {
  return ref_->size();
}

}  // namespace akt
