// The inbox (akt/inbox.hpp): an actor_ref that is not an actor — deliver
// queues under a mutex and wakes the plain thread waiting in receive.
#include <akt/actor_system.hpp>
#include <akt/inbox.hpp>

#include <condition_variable>
#include <deque>
#include <mutex>

#include "system/system_core.hpp"

namespace akt {
namespace detail {

class inbox_ref final : public actor_ref {
 public:
  inbox_ref(system_core& system, std::string path, std::size_t capacity)
      : system_(ref_ptr<system_core>::share(&system)), path_(std::move(path)), capacity_(capacity) {}

  status deliver(envelope_ptr e) noexcept override {
    {
      std::lock_guard g(mu_);
      if (closed_) {
        system_->dead_letter(std::move(e), error(errc::dead_actor, "inbox " + path_ + " is closed"));
        return error(errc::dead_actor, "inbox " + path_ + " is closed");
      }
      if (queue_.size() >= capacity_) {
        return error(errc::mailbox_full,
                     "inbox " + path_ + " is full (" + std::to_string(capacity_) + " messages unread)");
      }
      queue_.push_back(std::move(e));
    }
    cv_.notify_one();
    return {};
  }

  result<message> take(std::chrono::nanoseconds within) {
    std::unique_lock g(mu_);
    if (!cv_.wait_for(g, within, [&] { return !queue_.empty(); })) {
      return error(errc::timeout,
                   "inbox " + path_ + ": no message within " + format_duration(within.count()));
    }
    envelope_ptr e = std::move(queue_.front());
    queue_.pop_front();
    if (e->reply_to) {  // an ask to the inbox: it cannot answer, so the asker hears at once
      e->reply_to->fail(error(errc::unhandled, "inbox " + path_ + " does not answer asks"));
      e->reply_to.reset();
    }
    return message(std::move(e));
  }

  void close() {
    (void)system_->unsubscribe(this);  // the event stream holds its subscribers
    std::deque<envelope_ptr> left;
    {
      std::lock_guard g(mu_);
      closed_ = true;
      left.swap(queue_);
    }
    for (auto& e : left)
      system_->dead_letter(std::move(e), error(errc::dead_actor, "inbox " + path_ + " closed"));
  }

  std::size_t size() const {
    std::lock_guard g(mu_);
    return queue_.size();
  }

  status request_stop() noexcept override {
    close();
    return {};
  }
  status request_restart() noexcept override {
    return error(errc::invalid_argument, path_ + " is an inbox: it cannot be restarted");
  }
  status add_watcher(actor_ref& watcher) noexcept override {
    (void)watcher;
    return error(errc::invalid_argument, path_ + " is an inbox: it cannot be watched");
  }
  void remove_watcher(actor_ref&) noexcept override {}
  status wait_stopped(std::chrono::nanoseconds) const override { return {}; }
  bool is_running() const noexcept override {
    std::lock_guard g(mu_);
    return !closed_;
  }
  std::string name() const override { return path_.substr(path_.rfind('/') + 1); }
  std::string path() const override { return path_; }
  ref_ptr<actor_ref> parent() const override { return {}; }
  std::vector<ref_ptr<actor_ref>> children() const override { return {}; }
  actor_metrics metrics() const noexcept override { return actor_metrics{.mailbox_size = size()}; }
  std::string_view kind() const noexcept override { return "akt::inbox"; }
  system_core& system() const noexcept { return *system_; }

 private:
  ref_ptr<system_core> system_;
  std::string path_;
  std::size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<envelope_ptr> queue_;  // guarded by mu_
  bool closed_ = false;             // guarded by mu_
};

}  // namespace detail

inbox::inbox(actor_system& system, std::size_t capacity) {
  detail::system_core& core = system.core();
  std::string name = "$inbox-" + std::to_string(core.next_inbox_id());
  ref_ = detail::ref_ptr<detail::inbox_ref>::adopt(
      new detail::inbox_ref(core, core.root_path() + "/" + name, capacity == 0 ? 1 : capacity));
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
