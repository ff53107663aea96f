// One thread that runs callbacks at deadlines: the timeouts of non-blocking
// requests (and, later, scheduled messages and passivation). There is no
// timer per actor or per request, only an entry in one ordered map.
//
// Callbacks run on the timer thread and must be short: they hand work to
// actors (a message), never do it themselves.
//
// Thread safety: schedule/cancel from any thread. Idle (no entries) the
// thread sleeps on a condition variable and uses no CPU.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

namespace akt::detail {

class timer_service {
 public:
  using clock = std::chrono::steady_clock;
  using key = std::pair<clock::time_point, std::uint64_t>;

  // manual = a deterministic clock for tests: no thread; time moves only
  // by advance(), which runs what became due on the caller's thread.
  explicit timer_service(bool manual = false) : manual_(manual) {}
  ~timer_service();
  timer_service(const timer_service&) = delete;
  timer_service& operator=(const timer_service&) = delete;

  void start();
  // Joins the thread; pending callbacks are destroyed without running.
  void stop();

  key schedule_at(clock::time_point at, std::function<void()> fn);
  key schedule_after(std::chrono::nanoseconds delay, std::function<void()> fn) {
    return schedule_at(now() + delay, std::move(fn));
  }
  // The service's clock: steady_clock, or the manual one.
  clock::time_point now() const;
  bool is_manual() const noexcept { return manual_; }
  // Manual clock only: moves time forward and runs every callback now due.
  void advance(std::chrono::nanoseconds by);
  // When the earliest entry is due (none: nullopt).
  std::optional<clock::time_point> next_due() const;
  // True if the entry was removed before it ran.
  bool cancel(const key& k);
  std::size_t pending() const;

 private:
  void run();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<key, std::function<void()>> entries_;  // guarded by mu_
  std::uint64_t seq_ = 0;                         // guarded by mu_
  bool stopping_ = false;                         // guarded by mu_
  const bool manual_;
  clock::time_point manual_now_ = clock::now();  // guarded by mu_ (manual clock only)
  std::thread thread_;
};

}  // namespace akt::detail
