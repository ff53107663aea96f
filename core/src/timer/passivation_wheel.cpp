#include "timer/passivation_wheel.hpp"

#include <vector>

#include "actor/actor_cell.hpp"
#include "system/system_core.hpp"

namespace akt::detail {

namespace {

const auto clock_origin = std::chrono::steady_clock::now();

struct coarse_cache {
  std::uint32_t now_ms;
  std::uint32_t uses;
};
thread_local coarse_cache tls_coarse;  // NOLINT: zero-initialized

std::uint32_t real_now_ms() noexcept {
  return static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - clock_origin)
          .count());
}

}  // namespace

std::uint32_t coarse_now_ms() noexcept {
  coarse_cache& c = tls_coarse;
  if ((c.uses++ & 63u) == 0) c.now_ms = real_now_ms();
  return c.now_ms;
}

void refresh_coarse_clock() noexcept {
  tls_coarse.uses = 0;
}

std::chrono::steady_clock::time_point coarse_clock_origin() noexcept {
  return clock_origin;
}

void passivation_wheel::arm(actor_cell* c, std::uint64_t deadline_ms) {
  const std::uint64_t slot = (deadline_ms + slot_ms - 1) / slot_ms;
  c->add_ref();  // the wheel keeps the cell until its slot is asked
  std::lock_guard g(mu_);
  actor_cell*& head = slots_[slot];
  c->set_wheel_next(head);
  head = c;
  if (slot < timer_slot_) rearm_timer_locked();
}

void passivation_wheel::rearm_timer_locked() {
  if (timer_slot_ != UINT64_MAX) system_.timers().cancel(timer_key_);
  timer_slot_ = UINT64_MAX;
  if (slots_.empty()) return;
  timer_slot_ = slots_.begin()->first;
  const auto due = clock_origin + std::chrono::milliseconds(timer_slot_ * slot_ms);
  timer_key_ = system_.timers().schedule_at(due, [this] { fire(); });  // same epoch as the manual clock
}

void passivation_wheel::fire() {
  std::vector<actor_cell*> due;
  {
    std::lock_guard g(mu_);
    timer_slot_ = UINT64_MAX;
    refresh_coarse_clock();
    const std::uint64_t now_slot = system_.now_ms() / slot_ms;
    while (!slots_.empty() && slots_.begin()->first <= now_slot) {
      for (actor_cell* c = slots_.begin()->second; c != nullptr;) {
        actor_cell* next = c->wheel_next();
        c->set_wheel_next(nullptr);
        due.push_back(c);
        c = next;
      }
      slots_.erase(slots_.begin());
    }
    rearm_timer_locked();
  }
  for (actor_cell* c : due) {
    c->ask_passivation();
    c->release();
  }
}

void passivation_wheel::clear() {
  std::vector<actor_cell*> dropped;
  {
    std::lock_guard g(mu_);
    for (auto& [slot, head] : slots_) {
      for (actor_cell* c = head; c != nullptr;) {
        actor_cell* next = c->wheel_next();
        c->set_wheel_next(nullptr);
        dropped.push_back(c);
        c = next;
      }
    }
    slots_.clear();
    timer_slot_ = UINT64_MAX;
  }
  for (actor_cell* c : dropped) c->release();
}

}  // namespace akt::detail
