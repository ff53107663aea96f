// cell_extras: what only some actors need — a supervisor strategy of their
// own, failure and restart counts and history, watches, behaviors, a stash —
// kept out of the cell so a million plain actors do not pay for it.
// Allocated on first use (actor_cell::ensure_extras, under the lock of the
// cell's child tree) and freed with the cell.
//
// Thread safety: `watchers` is guarded by the owning cell's tree lock (other
// actors add themselves); the counters are atomics that metrics() reads from
// any thread; everything else is touched only by the actor's own turn.
#pragma once

#include <akt/context.hpp>
#include <akt/detail/envelope.hpp>
#include <akt/error.hpp>
#include <akt/supervision.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

namespace akt::detail {

struct cell_extras {
  std::shared_ptr<const supervisor_strategy> supervisor;  // for this actor's children

  // Failures and restarts so far (metrics), and the restarts within the
  // supervisor's window (oldest first).
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint32_t> restarts{0};
  std::vector<std::chrono::steady_clock::time_point> restart_times;

  std::vector<ref_ptr<actor_ref>> watchers;  // guarded by the cell's tree lock
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
