// akt/events.hpp — messages the runtime itself sends to actors.
//
//   terminated   to every watcher of an actor, exactly once, whatever ended it
//                (stop, its supervisor, passivation, system shutdown)
//   system_event to subscribers of the system's event stream
//
// They arrive through receive like any message:
//   if (auto* t = ctx.message<akt::terminated>()) forget(t->actor);
#pragma once

#include <akt/pid.hpp>

#include <cstdint>
#include <string>

namespace akt {

// An actor you watched has stopped. `actor` is its pid (now dead).
struct terminated {
  pid actor;
};

enum class event_kind : std::uint8_t {
  actor_started,
  actor_stopped,
  actor_restarted,
  actor_passivated,
  dead_letter,
  unhandled_message,  // a message its actor did not match (context::unhandled)
  node_up,            // another node became reachable; `detail` is its address
  node_down,          // another node was lost; `detail` is "<address>: <why>"
  member_joined,      // cluster: a node joined; `detail` is its address
  member_left,        // cluster: a node left; `detail` is "<address>: <why>"
  leader_changed,     // cluster: `detail` is the new leader's address (empty: none)
};
std::string_view to_string(event_kind k) noexcept;

// One lifecycle event of the system. For dead letters and unhandled
// messages, `actor` is the intended recipient (null if unknown) and `detail`
// says what and why; for node events `actor` is null.
struct system_event {
  event_kind kind;
  pid actor;
  std::string detail;
};

}  // namespace akt
