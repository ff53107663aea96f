// akt/options.hpp — option structs for systems, spawns and mailboxes. Plain
// structs with documented defaults; fill them with designated initializers:
//
//   akt::spawn_options{.name = "orders", .mailbox = {.capacity = 10'000}}
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace akt {

class logger;
class supervisor_strategy;

// What a tell to a full bounded mailbox does.
enum class overflow_policy : std::uint8_t {
  fail,                  // tell returns errc::mailbox_full; the message stays with nobody
  drop_to_dead_letters,  // tell succeeds; the message is counted as a dead letter
};

struct mailbox_options {
  // 0 = unbounded (the default): tell never fails for lack of room. A bound
  // protects a slow actor from fast producers; the count is exact.
  std::size_t capacity = 0;
  overflow_policy overflow = overflow_policy::fail;
};

struct spawn_options {
  // Empty = anonymous: the actor gets the name "$<n>" and cannot be looked up.
  // Otherwise 1..255 of [A-Za-z0-9_.-], unique among its siblings (for
  // top-level actors: in the system).
  std::string name{};
  mailbox_options mailbox{};
  // How this actor supervises its children (see supervision.hpp);
  // null = the system's default strategy.
  std::shared_ptr<const supervisor_strategy> supervisor{};
  // Stop the actor after this long without a message (passivation): its
  // post_stop runs, watchers get akt::terminated, its name is freed.
  // Unset = the system's default; zero = never.
  std::optional<std::chrono::milliseconds> passivate_after{};
};

struct system_options {
  // Worker threads of the dispatcher; 0 = one per hardware thread.
  std::size_t workers = 0;
  // Messages an actor handles per turn before the worker moves on (fairness).
  std::uint32_t throughput = 64;
  // How long stop() waits for every actor to finish before giving up.
  std::chrono::milliseconds shutdown_timeout = std::chrono::seconds(10);
  // Where the runtime logs; null = make_stderr_logger(log_level::info).
  std::shared_ptr<akt::logger> logger{};
  // The default strategy for actors that set none, and the guardian's for
  // top-level actors; null = one_for_one, restart on any failure.
  std::shared_ptr<const supervisor_strategy> supervisor{};
  // Messages one actor may hold in its stash (context::stash); past it,
  // stash fails with errc::mailbox_full.
  std::size_t stash_capacity = 1024;
  // Default passivation for actors that set none; zero = never (default).
  // An idle actor is stopped between this and this + 10 ms after its last
  // message; one busy with a long message is never passivated mid-message.
  std::chrono::milliseconds passivate_after{0};
  // For tests (akt::testkit::test_system): no worker threads and a manual
  // clock. Nothing runs until the test calls actor_system::run_ready() or
  // advance_clock(); timeouts, timers and passivation follow the manual
  // clock, so they are tested without waiting.
  bool deterministic = false;
};

}  // namespace akt
