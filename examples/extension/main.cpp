// An extension: what remoting, the cluster and telemetry are to a system.
//
// Shows: a class deriving from akt::extension that the system owns (added
// before start, started with the system, stopped after the actors), a name
// veto in before_bind (as the cluster claims names), an observer counting
// messages and time per actor type (as telemetry does), and the hooks that
// follow every actor's start and end.
#include <akt/akt.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>

class audit final : public akt::extension, public akt::actor_observer {
 public:
  std::string_view name() const noexcept override { return "audit"; }

  akt::status start(akt::actor_system& sys) override {
    std::printf("audit: started with %s\n", sys.name().c_str());
    return {};
  }
  void stop() override { std::printf("audit: stopped, every actor gone\n"); }

  // Names under "sys-" are reserved: the spawn fails before the actor exists.
  akt::status before_bind(const akt::bind_request& r) override {
    if (r.name.starts_with("sys-")) {
      return akt::error(akt::errc::invalid_name, "'" + std::string(r.name) + "': sys- names are reserved");
    }
    return {};
  }
  void after_start(const akt::actor_view& a) noexcept override {
    ++alive_;
    (void)a;
  }
  void after_terminate(const akt::actor_view& a, bool) noexcept override {
    --alive_;
    (void)a;
  }

  akt::actor_observer* observer() noexcept override { return this; }
  void on_turn_end(const akt::actor_view& a, std::chrono::nanoseconds took) noexcept override {
    std::lock_guard g(mu_);
    auto& s = by_kind_[std::string(a.kind())];  // aggregated per type: a million actors, one series
    ++s.messages;
    s.time += took;
  }

  void report() {
    std::lock_guard g(mu_);
    for (const auto& [kind, s] : by_kind_) {
      std::printf("audit: %-10s %llu messages\n", kind.c_str(), static_cast<unsigned long long>(s.messages));
    }
    std::printf("audit: %d actors alive\n", alive_.load());
  }

 private:
  struct stats {
    std::uint64_t messages = 0;
    std::chrono::nanoseconds time{0};
  };
  std::atomic<int> alive_{0};
  std::mutex mu_;
  std::map<std::string, stats> by_kind_;  // guarded by mu_
};

class counter : public akt::actor {
 public:
  void receive(akt::context& ctx) override {
    if (ctx.message<int>()) ++n_;
    if (ctx.is<std::string>()) (void)ctx.reply(n_);
  }

 private:
  int n_ = 0;
};

int main() {
  auto sys = akt::actor_system::create("audited").value();
  audit* a = sys->add_extension(std::make_unique<audit>()).value();  // the system owns it
  if (auto s = sys->start(); !s) return 1;

  auto refused = sys->spawn<counter>("sys-counter");
  std::printf("spawn sys-counter: %s\n", refused ? "ok" : refused.error().to_string().c_str());
  if (refused) return 1;

  auto c = sys->spawn<counter>("counter").value();
  for (int i = 0; i < 1000; ++i) (void)c.tell(i);
  auto n = c.ask<int>(std::string("how many?"), std::chrono::seconds(1));
  if (!n || *n != 1000) return 1;
  a->report();
  return sys->stop() ? 0 : 1;  // the actors stop, then the extension
}
