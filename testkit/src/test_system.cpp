#include <akt/testkit/test_system.hpp>

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>

namespace akt::testkit {

// Records every message sent in the system, in order (an observer of enqueues).
struct test_system::recorder final : extension, actor_observer {
  struct sent {
    pid from;
    pid to;
    detail::type_id type;
    std::string type_name;
  };
  std::string_view name() const noexcept override { return "testkit-recorder"; }
  actor_observer* observer() noexcept override { return this; }
  void on_enqueue(const actor_view& to, const message_view& m) noexcept override {
    std::lock_guard g(mu);
    log.push_back(sent{m.sender(), to.to_pid(), m.type(), m.type_name()});
  }
  std::mutex mu;
  std::deque<sent> log;  // guarded by mu
};

namespace {
std::string who(const pid& p) {
  return p ? p.path() : std::string("outside any actor");
}
}  // namespace

status test_system::expect_sent(detail::type_id type, const std::string& type_name, const pid& from,
                                const pid& to) {
  std::lock_guard g(sends_->mu);
  if (sends_->log.empty()) {
    return error(errc::not_found, "expected a " + type_name + " from " + who(from) + " to " + who(to) +
                                      ": nothing more was sent");
  }
  recorder::sent s = std::move(sends_->log.front());
  sends_->log.pop_front();
  if (s.type == type && s.from == from && s.to == to) return {};
  return error(errc::unexpected_reply, "expected a " + type_name + " from " + who(from) + " to " + who(to) +
                                           "; the next message sent was a " + s.type_name + " from " +
                                           who(s.from) + " to " + who(s.to));
}

status test_system::expect_nothing_else() {
  std::lock_guard g(sends_->mu);
  if (sends_->log.empty()) return {};
  std::string rest;
  for (const auto& s : sends_->log)
    rest += "\n  " + s.type_name + " from " + who(s.from) + " to " + who(s.to);
  return error(errc::unexpected_reply,
               std::to_string(sends_->log.size()) + " message(s) sent and not expected:" + rest);
}

test_system::test_system(std::string_view name, system_options options) {
  options.deterministic = true;
  if (options.throughput == system_options{}.throughput) options.throughput = 1;  // a step is one message
  if (!options.logger) options.logger = make_discard_logger();
  auto created = actor_system::create(name, std::move(options));
  if (!created) {
    std::fprintf(stderr, "testkit: cannot create test_system: %s\n", created.error().to_string().c_str());
    std::abort();  // a broken test setup, not a runtime condition
  }
  system_ = std::move(*created);
  sends_ = system_->add_extension(std::make_unique<recorder>()).value();
  if (auto s = system_->start(); !s) {
    std::fprintf(stderr, "testkit: cannot start test_system: %s\n", s.error().to_string().c_str());
    std::abort();
  }
}

test_system::~test_system() {
  system_->run_ready();
  (void)system_->stop();
}

}  // namespace akt::testkit
