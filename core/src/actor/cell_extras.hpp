// cell_extras: what only some actors need — a supervisor strategy of their
// own, restart history, watches, behaviors, a stash — kept out of the cell so
// a million plain actors do not pay for it. Allocated on first use
// (actor_cell::ensure_extras, under the cell's children_lock_) and freed with
// the cell.
//
// Thread safety: `watchers` is guarded by the owning cell's children_lock_
// (other actors add themselves); everything else is touched only by the
// actor's own turn.
#pragma once

#include <akt/context.hpp>
#include <akt/detail/envelope.hpp>
#include <akt/error.hpp>
#include <akt/supervision.hpp>

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

namespace akt::detail {

struct cell_extras {
  std::shared_ptr<const supervisor_strategy> supervisor;  // for this actor's children

  // Restarts within the supervisor's window (oldest first), and the state of
  // a restart in progress.
  std::vector<std::chrono::steady_clock::time_point> restart_times;
  bool restart_waits_for_children = false;
  bool restart_waits_for_delay = false;

  std::vector<ref_ptr<actor_ref>> watchers;  // guarded by the cell's children_lock_
  bool watchers_closed = false;              // guarded likewise: set at termination
  std::vector<ref_ptr<actor_ref>> watching;

  // The behavior stack (empty = receive) and the changes the running handler
  // asked for, applied when it returns.
  enum class behavior_op : std::uint8_t { become, push, reset, pop };
  std::vector<behavior> behaviors;
  std::vector<std::pair<behavior_op, behavior>> behavior_ops;

  std::deque<envelope_ptr> stash;
  // Messages to handle before the mailbox: unstashed ones, and those that
  // arrived while a restart was in progress.
  std::deque<envelope_ptr> replay;
  std::size_t unstash_at = 0;  // where the running handler's next unstash goes, so order holds

  std::optional<error> reported_failure;  // context::fail in the running handler
};

}  // namespace akt::detail
