// The dispatcher: a fixed pool of worker threads running runnables
// (runnable.hpp): actors that have messages. An actor is "scheduled" when
// its message count goes from 0 to 1 (see mailbox.hpp); it then sits in
// exactly one run queue until a worker runs a turn of it (up to
// `throughput` messages). The scheduler knows nothing else of actors.
//
// Where a schedule goes:
//   - from a worker of this dispatcher: the worker's `next` slot (run right
//     after the current turn, on the same core, with no wake-up: a reply
//     ping-pongs between two actors on one warm core); a displaced occupant
//     moves to the worker's local queue, where idle workers can steal it
//     (they take the `next` slot itself only from a worker stuck in one
//     long turn);
//   - from any other thread: the global queue, and a parked worker is woken.
// Idle workers spin briefly (one at a time), then park on a futex: an idle
// system uses no CPU.
//
// Thread safety: schedule() from any thread; the rest is internal.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "dispatch/run_queue.hpp"

namespace akt::detail {

class scheduler {
 public:
  // manual: no threads; run_ready() runs actors on the caller's thread.
  scheduler(std::size_t workers, std::uint32_t throughput, bool manual = false);
  ~scheduler();
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;

  void start();
  // Lets every worker finish its current turn, then joins them. Actors still
  // queued are not run again.
  void stop();

  // `c` carries the reference that keeps it alive while scheduled.
  void schedule(runnable* c) noexcept;

  // True on one of this dispatcher's workers.
  bool on_worker_thread() const noexcept;
  // From a worker thread blocked in an ask: runs one other ready actor's
  // turn if there is one. Lets blocking asks inside actors make progress.
  bool help_once();

  // Backpressure by helping: when a runnable's backlog grows past a limit
  // and it waits in this worker's `next` slot (it is not running anywhere),
  // the sending worker runs its turns right away until the backlog is small.
  // Producers cannot bury a consumer, and the messages are consumed while
  // still in cache. No-op elsewhere, and never nested.
  void relieve(runnable* c);

  // Called by an idle worker on each round of its spin before it parks
  // (the system's extensions' poll_idle); must not block. An empty
  // function removes it (a worker may still be finishing a call to the old
  // one, which must stay safe to call).
  void set_idle_poller(std::function<void()> poll);

  std::size_t worker_count() const noexcept { return manual_ ? 0 : workers_.size(); }
  // Workers neither parked nor spinning for work right now (for metrics).
  std::size_t busy_workers() const noexcept {
    const std::size_t idle =
        parked_.load(std::memory_order_relaxed) + spinning_.load(std::memory_order_relaxed);
    return worker_count() > idle ? worker_count() - idle : 0;
  }
  bool is_manual() const noexcept { return manual_; }
  // Manual dispatchers: runs ready actors here until none is (or max_turns).
  std::size_t run_ready(std::size_t max_turns);

  struct worker;  // defined in scheduler.cpp

 private:
  void run_worker(worker& w);
  // stuck_since: turn counts seen when spinning began (enables taking a
  // stuck worker's `next` slot); null otherwise.
  runnable* find_work(worker& w, const std::uint64_t* stuck_since);
  runnable* spin_for_work(worker& w);
  void park(worker& w);
  void notify();
  void run_turns(worker& w, runnable* c);
  bool has_visible_work() const noexcept;
  void poll_when_idle() noexcept;

  std::vector<std::unique_ptr<worker>> workers_;
  run_queue global_;
  std::uint32_t throughput_;
  std::size_t max_spinners_;
  std::atomic<std::uint32_t> spinning_{0};
  std::atomic<std::uint32_t> parked_{0};
  std::atomic<bool> stopping_{false};
  // The transport's idle poller (null: none). Every poller ever set is kept
  // until the workers are joined (stop), so a spinner may still be running
  // one that was just replaced (the system sets one when its first extension starts).
  std::atomic<const std::function<void()>*> poller_{nullptr};
  std::mutex pollers_mu_;
  std::vector<std::unique_ptr<const std::function<void()>>> pollers_;  // guarded by pollers_mu_
  const bool manual_;
};

}  // namespace akt::detail
