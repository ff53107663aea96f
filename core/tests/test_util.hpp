// test_util.hpp — helpers shared by the core behaviour tests: bounded waits
// (and their deterministic counterpart, after_run), a one-shot gate that an
// actor can block on, a thread-safe recorder, a recording logger, and a
// factory for started systems.
//
// Every wait here is bounded: a runtime bug makes a test fail with a message,
// never hang.
#pragma once

#include <akt/akt.hpp>
#include <akt/testkit/test_system.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace akt_test {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

// Long enough that a loaded CI machine never hits it when the runtime works;
// short enough that a bug fails the test instead of the CTest timeout.
inline constexpr std::chrono::milliseconds default_deadline = std::chrono::seconds(10);

// Polls `pred` with short yields until it holds or `timeout` has passed.
// Returns the predicate's last value.
template <class Pred>
bool wait_until(Pred&& pred, std::chrono::nanoseconds timeout = default_deadline) {
  const auto end = clock_type::now() + timeout;
  int spins = 0;
  while (!pred()) {
    if (clock_type::now() >= end) return pred();
    if (++spins < 100) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  return true;
}

// The deterministic counterpart of wait_until, for protocol tests on a
// test_system (no worker threads, a manual clock): runs every ready actor,
// then tests `pred` once — nothing else would make it true later.
template <class Pred>
bool after_run(akt::testkit::test_system& t, Pred&& pred) {
  t.run();
  return pred();
}

// A one-shot gate: threads (or actors inside receive) wait until the test
// opens it. Waits are bounded so that a failing test never hangs.
class gate {
 public:
  void open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  bool is_open() const {
    std::lock_guard lock(mu_);
    return open_;
  }
  // True if the gate opened before the timeout.
  bool wait_for(std::chrono::nanoseconds timeout = default_deadline) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return open_; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// A count-down latch with a bounded wait (std::latch has no timed wait).
class countdown {
 public:
  explicit countdown(std::int64_t n) : left_(n) {}
  void count_down(std::int64_t n = 1) {
    {
      std::lock_guard lock(mu_);
      left_ -= n;
    }
    cv_.notify_all();
  }
  std::int64_t left() const {
    std::lock_guard lock(mu_);
    return left_;
  }
  bool wait_for(std::chrono::nanoseconds timeout = default_deadline) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return left_ <= 0; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::int64_t left_;
};

// A mutex-protected, append-only list of strings (post_stop order, events).
class recorder {
 public:
  void add(std::string s) {
    std::lock_guard lock(mu_);
    items_.push_back(std::move(s));
  }
  std::vector<std::string> items() const {
    std::lock_guard lock(mu_);
    return items_;
  }
  std::size_t size() const {
    std::lock_guard lock(mu_);
    return items_.size();
  }
  bool contains(std::string_view s) const {
    std::lock_guard lock(mu_);
    return std::find(items_.begin(), items_.end(), s) != items_.end();
  }
  // Index of `s`, or -1.
  long index_of(std::string_view s) const {
    std::lock_guard lock(mu_);
    auto it = std::find(items_.begin(), items_.end(), s);
    return it == items_.end() ? -1 : static_cast<long>(it - items_.begin());
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> items_;
};

// A value guarded by a mutex, for results produced inside actors.
template <class T>
class guarded {
 public:
  void set(T v) {
    std::lock_guard lock(mu_);
    value_ = std::move(v);
    has_ = true;
  }
  bool has() const {
    std::lock_guard lock(mu_);
    return has_;
  }
  T get() const {
    std::lock_guard lock(mu_);
    return value_;
  }
  // Runs f(value) under the lock (to change it in place).
  template <class F>
  void with(F&& f) {
    std::lock_guard lock(mu_);
    f(value_);
    has_ = true;
  }

 private:
  mutable std::mutex mu_;
  T value_{};
  bool has_ = false;
};

// A logger that keeps every line it is given.
class recording_logger final : public akt::logger {
 public:
  struct line {
    akt::log_level level;
    std::string text;
  };

  void log(akt::log_level level, std::string_view message) override {
    std::lock_guard lock(mu_);
    lines_.push_back({level, std::string(message)});
  }
  akt::log_level level() const noexcept override { return akt::log_level::trace; }

  std::vector<line> lines() const {
    std::lock_guard lock(mu_);
    return lines_;
  }
  // True if some line at `level` contains every one of `parts`.
  bool has_line(akt::log_level level, std::initializer_list<std::string_view> parts) const {
    std::lock_guard lock(mu_);
    for (const auto& l : lines_) {
      if (l.level != level) continue;
      bool all = true;
      for (auto p : parts) all = all && l.text.find(p) != std::string::npos;
      if (all) return true;
    }
    return false;
  }

 private:
  mutable std::mutex mu_;
  std::vector<line> lines_;
};

// Creates and starts a system; fails the calling test (and returns null) if
// either step fails. Logs are discarded unless the options say otherwise, so
// that tests which make actors throw keep the output readable.
inline std::unique_ptr<akt::actor_system> start_system(std::string_view name,
                                                       akt::system_options options = {}) {
  if (!options.logger) options.logger = akt::make_discard_logger();
  auto created = akt::actor_system::create(name, std::move(options));
  if (!created) {
    ADD_FAILURE() << "create(" << name << "): " << created.error().to_string();
    return nullptr;
  }
  auto sys = std::move(*created);
  if (auto s = sys->start(); !s) {
    ADD_FAILURE() << "start(" << name << "): " << s.error().to_string();
    return nullptr;
  }
  return sys;
}

// "<code>" or "ok", so that a failed EXPECT prints what came back.
inline std::string outcome(const akt::status& s) {
  return s ? std::string("ok") : std::string(akt::to_string(s.code())) + ": " + s.error().message();
}
template <class T>
std::string outcome(const akt::result<T>& r) {
  return r ? std::string("ok") : std::string(akt::to_string(r.code())) + ": " + r.error().message();
}

// The error code of a failed call, or nullopt-like sentinel 0 when it succeeded,
// so that EXPECT_EQ(code_of(x), errc::y) reads naturally and fails with a value.
inline akt::errc code_of(const akt::status& s) {
  return s ? akt::errc{0} : s.code();
}
template <class T>
akt::errc code_of(const akt::result<T>& r) {
  return r ? akt::errc{0} : r.code();
}

// Plain C++ messages shared by several test files.
struct ping {
  int seq = 0;
};
struct pong {
  int seq = 0;
};
struct get_count {};

// Replies to every ping with a pong of the same seq; ignores the rest.
class echo_actor : public akt::actor {
 public:
  void receive(akt::context& ctx) override {
    if (auto* p = ctx.message<ping>()) (void)ctx.reply(pong{p->seq});
  }
};

// Ignores every message (asks to it time out).
// Takes every message and never answers (an ask to it runs to its timeout).
class silent_actor : public akt::actor {
 public:
  void receive(akt::context& ctx) override { ctx.accept(); }
};

// Counts every ping into an atomic the test owns; replies to get_count.
class counting_actor : public akt::actor {
 public:
  explicit counting_actor(std::shared_ptr<std::atomic<std::int64_t>> total = nullptr)
      : total_(std::move(total)) {}
  void receive(akt::context& ctx) override {
    if (ctx.message<ping>()) {
      ++count_;
      if (total_) total_->fetch_add(1, std::memory_order_relaxed);
    } else if (ctx.message<get_count>()) {
      (void)ctx.reply(count_);
    }
  }

 private:
  std::shared_ptr<std::atomic<std::int64_t>> total_;
  std::int64_t count_ = 0;
};

// A tree node: spawns a child node when asked (replying with the spawn's
// result<pid>), answers ping with pong, records its label in post_stop.
struct make_child {
  std::string name;
};

class tree_node : public akt::actor {
 public:
  explicit tree_node(std::shared_ptr<recorder> stops = nullptr, std::string label = "")
      : stops_(std::move(stops)), label_(std::move(label)) {}

  void receive(akt::context& ctx) override {
    if (auto* m = ctx.message<make_child>()) {
      (void)ctx.reply(ctx.spawn<tree_node>(m->name, stops_, label_ + "/" + m->name));
    } else if (auto* p = ctx.message<ping>()) {
      (void)ctx.reply(pong{p->seq});
    }
  }
  void post_stop(akt::context&) override {
    if (stops_) stops_->add(label_);
  }

 private:
  std::shared_ptr<recorder> stops_;
  std::string label_;
};

// Asks `parent` (a tree_node) to spawn a child; the spawn's outcome.
inline akt::result<akt::pid> try_add_child(const akt::pid& parent, const std::string& name) {
  auto r = parent.ask<akt::result<akt::pid>>(make_child{name}, std::chrono::seconds(5));
  if (!r) return std::move(r).error();
  return std::move(*r);
}

// As try_add_child, failing the test when the spawn fails.
inline akt::pid add_child(const akt::pid& parent, const std::string& name) {
  auto r = try_add_child(parent, name);
  if (!r) {
    ADD_FAILURE() << "spawn child " << name << " of " << parent.path() << ": " << outcome(r);
    return {};
  }
  return *r;
}

}  // namespace akt_test

// Lets gtest print errc values by name in failure messages.
namespace akt {
inline void PrintTo(errc code, std::ostream* os) {
  *os << (static_cast<int>(code) == 0 ? std::string_view("ok") : to_string(code)) << " ("
      << static_cast<int>(code) << ")";
}
inline void PrintTo(const pid& p, std::ostream* os) {
  *os << (p ? p.path() : std::string("<null pid>"));
}
}  // namespace akt
