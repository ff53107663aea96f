#include "timer/timer_service.hpp"

#include <akt/detail/thread_name.hpp>

namespace akt::detail {

timer_service::~timer_service() {
  stop();
}

void timer_service::start() {
  std::lock_guard g(mu_);
  stopping_ = false;
  if (!manual_) {
    thread_ = std::thread([this] {
      name_this_thread("akt-timer");
      run();
    });
  }
}

timer_service::clock::time_point timer_service::now() const {
  if (!manual_) return clock::now();
  std::lock_guard g(mu_);
  return manual_now_;
}

void timer_service::advance(std::chrono::nanoseconds by) {
  std::unique_lock g(mu_);
  const auto target = manual_now_ + by;
  while (!entries_.empty() && entries_.begin()->first.first <= target) {
    auto it = entries_.begin();
    manual_now_ = std::max(manual_now_, it->first.first);
    auto fn = std::move(it->second);
    entries_.erase(it);
    g.unlock();
    fn();
    g.lock();
  }
  manual_now_ = target;
}

void timer_service::stop() {
  {
    std::lock_guard g(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::map<key, std::function<void()>> dropped;
  {
    std::lock_guard g(mu_);
    dropped.swap(entries_);
  }
}

timer_service::key timer_service::schedule_at(clock::time_point at, std::function<void()> fn) {
  bool first;
  key k;
  {
    std::lock_guard g(mu_);
    k = key{at, ++seq_};
    auto it = entries_.emplace(k, std::move(fn)).first;
    first = it == entries_.begin();
  }
  if (first) cv_.notify_one();
  return k;
}

bool timer_service::cancel(const key& k) {
  std::function<void()> dropped;  // destroyed outside the lock
  std::lock_guard g(mu_);
  auto it = entries_.find(k);
  if (it == entries_.end()) return false;
  dropped = std::move(it->second);
  entries_.erase(it);
  return true;
}

std::optional<timer_service::clock::time_point> timer_service::next_due() const {
  std::lock_guard g(mu_);
  if (entries_.empty()) return std::nullopt;
  return entries_.begin()->first.first;
}

std::size_t timer_service::pending() const {
  std::lock_guard g(mu_);
  return entries_.size();
}

void timer_service::run() {
  std::unique_lock g(mu_);
  while (!stopping_) {
    if (entries_.empty()) {
      cv_.wait(g);
      continue;
    }
    auto it = entries_.begin();
    if (it->first.first > clock::now()) {
      // A copy: while we wait, cancel() may erase the entry, and with it its key.
      const clock::time_point deadline = it->first.first;
      cv_.wait_until(g, deadline);
      continue;
    }
    auto fn = std::move(it->second);
    entries_.erase(it);
    g.unlock();
    fn();
    fn = nullptr;
    g.lock();
  }
}

}  // namespace akt::detail
