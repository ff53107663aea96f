#include "dispatch/scheduler.hpp"

#include <akt/detail/thread_name.hpp>

#include <chrono>
#include <string>

#include "dispatch/ref_cache.hpp"
#include "timer/passivation_wheel.hpp"
#include "util/futex.hpp"

namespace akt::detail {

namespace {
// How long an idle worker looks for work before it parks: long enough to
// catch the next request of a tight ask loop, short enough to be invisible
// as idle CPU.
constexpr auto spin_time = std::chrono::microseconds(50);
// After this much spinning, an idle worker may take the `next` slot of a
// busy one (whose current turn is evidently long).
constexpr auto steal_next_after = std::chrono::microseconds(10);
// Every this many turns a worker looks at the global queue first (fairness
// towards messages from outside the pool).
constexpr std::uint32_t global_check_interval = 61;
// Workers whose `next` slot a spinner may take (the first this many).
constexpr std::size_t max_snapshot = 64;
// find_work's stuck_since for "take any worker's next slot".
const std::uint64_t any_worker_marker[1] = {0};
const std::uint64_t* const any_worker = any_worker_marker;
// Nested helping (a blocking ask inside a turn run by a helping worker) stops
// here; deeper waits just block until their timeout.
constexpr int max_help_depth = 64;
// A busy worker gives back its cached references (ref_cache.hpp) at least
// this often, counted in run_turns calls.
constexpr std::uint32_t ref_flush_interval = 256;
}  // namespace

void flush_refs() noexcept {
  flush_consumption();  // may drop references into the cache
  ref_cache& c = tls_ref_cache;
  // Each slot is emptied before its object is given back: destroying the
  // object may drop references into any slot, so passes repeat until one
  // finds the cache empty.
  for (bool again = true; again;) {
    again = false;
    for (int i = 0; i < ref_cache::slots; ++i) {
      if (const ref_counted* o = c.object[i]) {
        const std::uint32_t n = c.count[i];
        c.object[i] = nullptr;
        c.count[i] = 0;
        o->release_refs(n);
        again = true;
      }
    }
  }
}

struct alignas(64) scheduler::worker {
  scheduler* owner = nullptr;
  std::size_t index = 0;
  std::atomic<runnable*> next{nullptr};
  run_queue local;
  std::atomic<std::uint32_t> sleeping{0};
  std::atomic<std::uint64_t> turns{0};  // turns started; unchanged for a while = stuck in a long one
  std::uint32_t tick = 0;
  int help_depth = 0;
  std::thread thread;
};

namespace {
thread_local scheduler::worker* tls_worker = nullptr;  // NOLINT
}  // namespace

scheduler::scheduler(std::size_t workers, std::uint32_t throughput, bool manual)
    : throughput_(throughput), max_spinners_(workers / 2 > 0 ? workers / 2 : 1), manual_(manual) {
  if (manual) workers = 1;  // the test thread borrows it in run_ready()
  for (std::size_t i = 0; i < workers; ++i) {
    auto w = std::make_unique<worker>();
    w->owner = this;
    w->index = i;
    workers_.push_back(std::move(w));
  }
}

scheduler::~scheduler() {
  stop();
}

void scheduler::start() {
  if (manual_) return;
  for (auto& w : workers_) {
    worker* raw = w.get();
    raw->thread = std::thread([this, raw] {
      name_this_thread("akt-worker-" + std::to_string(raw->index));
      run_worker(*raw);
    });
  }
}

void scheduler::stop() {
  stopping_.store(true, std::memory_order_seq_cst);
  for (auto& w : workers_) {
    w->sleeping.store(0, std::memory_order_seq_cst);
    futex_wake_one(w->sleeping);
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  // Whatever is still queued will not run again: drop the schedule references.
  auto drop = [](runnable* c) {
    if (c != nullptr) c->abandon();
  };
  while (runnable* c = global_.pop()) drop(c);
  for (auto& w : workers_) {
    drop(w->next.exchange(nullptr));
    while (runnable* c = w->local.pop()) drop(c);
  }
  // No worker is left to call the pollers. They may hold pids, whose cells
  // hold the system that holds this scheduler: kept, they would keep it all.
  std::vector<std::unique_ptr<const std::function<void()>>> pollers;
  {
    std::lock_guard g(pollers_mu_);
    poller_.store(nullptr, std::memory_order_release);
    pollers.swap(pollers_);
  }
}

bool scheduler::on_worker_thread() const noexcept {
  return tls_worker != nullptr && tls_worker->owner == this;
}

void scheduler::schedule(runnable* c) noexcept {
  worker* w = tls_worker;
  if (w != nullptr && w->owner == this) {
    // An empty slot takes a plain store: only this worker fills it, and a
    // thief only ever empties a full one (perf: the exchange was 6 % of
    // pingpong, all of it the locked instruction's wait).
    if (w->next.load(std::memory_order_relaxed) == nullptr) {
      w->next.store(c, std::memory_order_release);
      return;
    }
    runnable* displaced = w->next.exchange(c, std::memory_order_acq_rel);
    if (displaced == nullptr) return;
    w->local.push(displaced);
  } else {
    global_.push(c);
  }
  notify();
}

void scheduler::notify() {
  if (manual_) return;
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (spinning_.load(std::memory_order_seq_cst) != 0) return;  // a spinner will find it
  if (parked_.load(std::memory_order_seq_cst) == 0) return;
  for (auto& w : workers_) {
    std::uint32_t one = 1;
    if (w->sleeping.load(std::memory_order_relaxed) == 1 &&
        w->sleeping.compare_exchange_strong(one, 0, std::memory_order_seq_cst)) {
      futex_wake_one(w->sleeping);
      return;
    }
  }
}

bool scheduler::has_visible_work() const noexcept {
  if (!global_.empty_hint()) return true;
  for (const auto& w : workers_) {
    if (!w->local.empty_hint()) return true;
  }
  return false;
}

runnable* scheduler::find_work(worker& w, const std::uint64_t* stuck_since) {
  if (++w.tick % global_check_interval == 0) {
    if (runnable* c = global_.pop()) return c;
  }
  if (runnable* c = w.next.exchange(nullptr, std::memory_order_acq_rel)) return c;
  if (runnable* c = w.local.pop()) return c;
  if (runnable* c = global_.pop()) return c;
  const std::size_t n = workers_.size();
  for (std::size_t i = 1; i < n; ++i) {
    worker& victim = *workers_[(w.index + i) % n];
    if (runnable* c = victim.local.steal_half(w.local)) return c;
  }
  if (stuck_since != nullptr) {
    // Take what waits in another worker's `next` slot only when that worker
    // has been inside one turn since we started looking: its actor is busy
    // with a long message. A pair ping-ponging on a warm core is left alone.
    for (std::size_t i = 1; i < n; ++i) {
      const std::size_t v = (w.index + i) % n;
      worker& victim = *workers_[v];
      if (stuck_since != any_worker &&
          (v >= max_snapshot || victim.turns.load(std::memory_order_relaxed) != stuck_since[v])) {
        continue;
      }
      if (victim.next.load(std::memory_order_relaxed) == nullptr) continue;
      if (runnable* c = victim.next.exchange(nullptr, std::memory_order_acq_rel)) return c;
    }
  }
  return nullptr;
}

void scheduler::set_idle_poller(std::function<void()> poll) {
  std::lock_guard g(pollers_mu_);  // also against stop() dropping them
  const std::function<void()>* p = nullptr;
  if (poll) {
    pollers_.push_back(std::make_unique<const std::function<void()>>(std::move(poll)));
    p = pollers_.back().get();
  }
  poller_.store(p, std::memory_order_release);
}

void scheduler::poll_when_idle() noexcept {
  if (const std::function<void()>* p = poller_.load(std::memory_order_acquire)) {
    try {
      (*p)();
    } catch (...) {
      // A transport's poll must not fail; if it does, the I/O thread still
      // reads everything: nothing is lost by ignoring it here.
    }
  }
}

runnable* scheduler::spin_for_work(worker& w) {
  if (spinning_.fetch_add(1, std::memory_order_seq_cst) >= max_spinners_) {
    spinning_.fetch_sub(1, std::memory_order_seq_cst);
    return nullptr;
  }
  const auto start = std::chrono::steady_clock::now();
  std::uint64_t snapshot[max_snapshot];
  for (std::size_t i = 0; i < workers_.size() && i < max_snapshot; ++i) {
    snapshot[i] = workers_[i]->turns.load(std::memory_order_relaxed);
  }
  bool steal_next = false;
  for (std::uint32_t round = 0; !stopping_.load(std::memory_order_relaxed); ++round) {
    // A transport's socket may hold the next message; what the poll makes
    // ready is found just below, in the same round (never left behind in
    // this worker's slots when the spin ends).
    poll_when_idle();
    if (runnable* c = find_work(w, steal_next ? snapshot : nullptr)) {
      spinning_.fetch_sub(1, std::memory_order_seq_cst);
      if (has_visible_work()) notify();  // more than we can take: get another worker going
      return c;
    }
    for (int i = 0; i < 32; ++i) cpu_relax();
    // On a machine with more runnable threads than cores (I/O threads, the
    // other process of a pair), a spinner must not sit on a core someone
    // else could use: give it away now and then.
    if (round % 4 == 3) std::this_thread::yield();
    if (round % 8 == 7) {
      auto spent = std::chrono::steady_clock::now() - start;
      if (spent > spin_time) break;
      steal_next = spent > steal_next_after;
    }
  }
  spinning_.fetch_sub(1, std::memory_order_seq_cst);
  return nullptr;
}

void scheduler::park(worker& w) {
  parked_.fetch_add(1, std::memory_order_seq_cst);
  w.sleeping.store(1, std::memory_order_seq_cst);
  if (!has_visible_work() && !stopping_.load(std::memory_order_seq_cst)) {
    while (w.sleeping.load(std::memory_order_acquire) == 1 && !stopping_.load(std::memory_order_relaxed)) {
      futex_wait(w.sleeping, 1);
    }
  }
  w.sleeping.store(0, std::memory_order_relaxed);
  parked_.fetch_sub(1, std::memory_order_seq_cst);
  refresh_coarse_clock();  // time has passed while parked
}

namespace {
// Only the worker itself counts its turns (spinners read them): a load and
// a store, not a locked add (which was 8 % of pingpong).
inline void count_turn(scheduler::worker& w) noexcept {
  w.turns.store(w.turns.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}
}  // namespace

void scheduler::run_turns(worker& w, runnable* c) {
  // Keep running the same actor while it has messages and nobody else waits:
  // no queue traffic, no wake-ups. Otherwise it goes to the back of the line.
  count_turn(w);
  while (c->run(throughput_)) {
    count_turn(w);
    if (w.next.load(std::memory_order_relaxed) == nullptr && w.local.empty_hint() && global_.empty_hint()) {
      continue;
    }
    // Used up its budget while others wait: to the back of the global line,
    // behind work that arrived from outside the pool meanwhile.
    global_.push(c);
    notify();
    return;
  }
}

void scheduler::run_worker(worker& w) {
  tls_worker = &w;
  tls_ref_cache.active = true;
  std::uint32_t since_flush = 0;
  while (!stopping_.load(std::memory_order_relaxed)) {
    runnable* c = find_work(w, nullptr);
    if (c == nullptr) {
      flush_refs();  // idle from here on, maybe for long: hold nothing
      c = spin_for_work(w);
    }
    if (c == nullptr) {
      park(w);
      continue;
    }
    run_turns(w, c);
    if (++since_flush == ref_flush_interval) {
      since_flush = 0;
      flush_refs();  // a worker that is never idle still frees what it let go of
    }
  }
  flush_refs();
  tls_ref_cache.active = false;
  tls_worker = nullptr;
}

void scheduler::relieve(runnable* c) {
  constexpr std::int64_t low_water = 64;
  worker* w = tls_worker;
  if (w == nullptr || w->owner != this || w->help_depth != 0) return;
  runnable* expected = c;
  if (!w->next.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel)) return;
  ++w->help_depth;
  bool more = true;
  while (more && c->backlog() > low_water && !stopping_.load(std::memory_order_relaxed)) {
    more = c->run(throughput_);
  }
  --w->help_depth;
  if (!more) return;  // idle now; its schedule reference is gone
  if (runnable* displaced = w->next.exchange(c, std::memory_order_acq_rel)) {
    w->local.push(displaced);
    notify();
  }
}

std::size_t scheduler::run_ready(std::size_t max_turns) {
  if (!manual_) return 0;
  worker& w = *workers_.front();
  worker* previous = tls_worker;
  tls_worker = &w;
  std::size_t turns = 0;
  while (turns < max_turns) {
    runnable* c = find_work(w, nullptr);
    if (c == nullptr) break;
    ++turns;
    if (c->run(throughput_)) global_.push(c);  // back of the line: the order stays fair and reproducible
  }
  tls_worker = previous;
  return turns;
}

bool scheduler::help_once() {
  worker* w = tls_worker;
  if (w == nullptr || w->owner != this || w->help_depth >= max_help_depth) return false;
  // A worker blocked in an ask may take any `next` slot: the other workers
  // may be blocked too.
  runnable* c = find_work(*w, any_worker);
  if (c == nullptr) return false;
  ++w->help_depth;
  if (c->run(throughput_)) {
    w->local.push(c);
    notify();
  }
  --w->help_depth;
  return true;
}

}  // namespace akt::detail
