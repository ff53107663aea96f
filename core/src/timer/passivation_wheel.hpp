// The passivation wheel: when to ask idle actors whether to stop.
//
// Each actor with passivation on sits in one slot (10 ms wide) of an ordered
// map, linked through the cell itself (no allocation per actor). A slot's
// actors are asked (a passivate_check message, so the check happens in
// their own turn, never mid-message) when the slot comes due; an actor that
// was active meanwhile is put back at last_active + timeout, an idle one
// stops. Only the earliest slot has a timer entry: a million idle actors
// cost no CPU until their deadline, and no timer object each. The hot path
// pays one store per turn (the cell's last-active time, from a clock that
// workers read once per 64 turns).
//
// Thread safety: arm() from any thread; the rest runs on the timer thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>

#include "timer/timer_service.hpp"

namespace akt::detail {

class actor_cell;
class system_core;

class passivation_wheel {
 public:
  static constexpr std::uint64_t slot_ms = 10;

  explicit passivation_wheel(system_core& system) : system_(system) {}
  ~passivation_wheel() { clear(); }

  // Asks `c` at (or just after) `deadline_ms` on the system's coarse clock.
  void arm(actor_cell* c, std::uint64_t deadline_ms);
  // Drops every entry (at system stop).
  void clear();

 private:
  void fire();
  void rearm_timer_locked();

  system_core& system_;
  std::mutex mu_;
  std::map<std::uint64_t, actor_cell*> slots_;  // slot -> first cell; guarded by mu_
  std::uint64_t timer_slot_ = UINT64_MAX;       // the slot the pending timer is for; guarded by mu_
  timer_service::key timer_key_{};              // guarded by mu_
};

// Milliseconds on a coarse monotonic clock, cheap enough for every turn:
// each thread reads the real clock once per 64 calls (and when told to).
std::uint32_t coarse_now_ms() noexcept;
void refresh_coarse_clock() noexcept;
// The instant coarse_now_ms() counts from.
std::chrono::steady_clock::time_point coarse_clock_origin() noexcept;

}  // namespace akt::detail
