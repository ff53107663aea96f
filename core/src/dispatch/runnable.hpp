// runnable: what the scheduler runs. An actor with messages (actor_cell) is
// one; a test can run anything else that wants turns on the pool. The
// scheduler knows nothing more of what it runs.
//
// The contract: a runnable is handed to scheduler::schedule with a
// reference that keeps it alive while it is queued, and is queued at most
// once at a time (an actor's message count guarantees both). Its turns
// never overlap: it runs on one worker at a time.
#pragma once

#include <cstdint>

namespace akt::detail {

class runnable {
 public:
  // One turn of at most `budget` units of work (messages, for an actor).
  // True: work remains; it stays scheduled and the caller runs it again or
  // queues it. False: it went idle and dropped its schedule reference; the
  // caller must not touch it again.
  virtual bool run(std::uint32_t budget) noexcept = 0;
  // The scheduler stops and will not run it again: drop the schedule
  // reference without running.
  virtual void abandon() noexcept = 0;
  // Work waiting (for an actor, its message count): backpressure's measure.
  virtual std::int64_t backlog() const noexcept = 0;

 protected:
  ~runnable() = default;
};

}  // namespace akt::detail
