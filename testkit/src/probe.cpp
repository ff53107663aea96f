#include <akt/testkit/probe.hpp>

namespace akt::testkit {

struct probe::shared {
  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<message> inbox;  // guarded by mu
};

namespace {

struct watch_request {
  pid who;
};

// The probe actor: records what it gets; performs watches for the test
// (a watch is made from inside the watching actor).
class probe_actor final : public actor {
 public:
  explicit probe_actor(std::shared_ptr<probe::shared> s) : s_(std::move(s)) {}
  void receive(context& ctx) override {
    if (auto* w = ctx.message<watch_request>()) {
      (void)ctx.watch(w->who);
      return;
    }
    message m = ctx.take_message();
    {
      std::lock_guard g(s_->mu);
      s_->inbox.push_back(std::move(m));
    }
    s_->cv.notify_all();
  }

 private:
  std::shared_ptr<probe::shared> s_;
};

}  // namespace

probe::probe(actor_system& system, std::string name) : system_(system), shared_(std::make_shared<shared>()) {
  auto spawned = system_.spawn<probe_actor>(spawn_options{.name = std::move(name)}, shared_);
  if (!spawned) {
    system_.logger().error("testkit: cannot spawn a probe: " + spawned.error().to_string());
    return;
  }
  self_ = *spawned;
  system_.run_ready();
}

probe::~probe() {
  (void)self_.stop();
}

status probe::relay(const pid& to, detail::envelope_ptr e) {
  if (!to) return detail::null_pid_error();
  e->sender = self_.ref();
  auto s = to.ref()->deliver(std::move(e));
  system_.run_ready();
  return s;
}

result<message> probe::receive(std::chrono::nanoseconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  const bool deterministic = system_.options().deterministic;
  std::unique_lock g(shared_->mu);
  for (;;) {
    if (!shared_->inbox.empty()) {
      message m = std::move(shared_->inbox.front());
      shared_->inbox.pop_front();
      last_sender_ = m.sender();
      return m;
    }
    if (deterministic) {
      g.unlock();
      const std::size_t turns = system_.run_ready();
      g.lock();
      if (turns == 0 && shared_->inbox.empty()) {
        return error(errc::request_timeout,
                     "no message: the deterministic system is idle (advance its clock?)");
      }
      continue;
    }
    if (shared_->cv.wait_until(g, deadline) == std::cv_status::timeout && shared_->inbox.empty()) {
      return error(errc::request_timeout,
                   "no message within " + detail::format_duration(std::chrono::nanoseconds(within).count()));
    }
  }
}

status probe::expect_no_message(std::chrono::nanoseconds during) {
  auto m = receive(during);
  if (!m) {
    if (m.code() == errc::request_timeout) return {};
    return std::move(m).error();
  }
  return error(errc::unexpected_reply, "expected no message, got a " + m->type_name());
}

status probe::watch(const pid& who) {
  auto s = self_.tell(watch_request{who});
  system_.run_ready();
  return s;
}

status probe::expect_terminated(const pid& who, std::chrono::nanoseconds within) {
  auto t = expect_message<terminated>(within);
  if (!t) return std::move(t).error();
  if (t->actor != who) {
    return error(errc::unexpected_reply,
                 "expected terminated for " + who.path() + ", got it for " + t->actor.path());
  }
  return {};
}

std::size_t probe::pending() const {
  std::lock_guard g(shared_->mu);
  return shared_->inbox.size();
}

}  // namespace akt::testkit
