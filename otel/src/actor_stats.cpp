#include "actor_stats.hpp"

#include <algorithm>
#include <map>
#include <thread>

namespace akt::otel::detail {

struct actor_stats::shard {
  std::thread::id thread;  // its only writer
  // The kinds this shard's thread has counted, by name. Written by its
  // thread under mu_, read by collections under mu_.
  std::unordered_map<std::string, std::unique_ptr<kind_counters>> kinds;
};

namespace {

std::atomic<std::uint64_t> next_stats_id{1};

// This thread's way to its counters without a lock: its shard of the stats
// it last counted for, and a direct-mapped cache from kind name (by
// address) to counters. A thread counting for two systems in turn (a plain
// thread sending to both) takes the slow path when it switches.
struct thread_cache {
  struct slot {
    const char* key = nullptr;
    std::size_t size = 0;
    actor_stats::kind_counters* counters = nullptr;
  };
  std::uint64_t owner = 0;
  void* shard = nullptr;
  std::array<slot, 64> slots{};

  static std::size_t index(const char* key) noexcept {
    return (reinterpret_cast<std::uintptr_t>(key) >> 4) & 63;
  }
};

constinit thread_local thread_cache tls_cache{};  // NOLINT: per thread by design

constexpr metric_info received_info{"akt.actor.messages.received", "{message}",
                                    "Messages taken from the mailbox into a handler.", metric_kind::counter};
constexpr metric_info processed_info{"akt.actor.messages.processed", "{message}",
                                     "Messages whose handler returned normally.", metric_kind::counter};
constexpr metric_info errors_info{"akt.actor.errors", "{error}",
                                  "Handlers that failed (threw or called fail).", metric_kind::counter};
constexpr metric_info restarts_info{"akt.actor.restarts", "{restart}", "Restarts by a supervisor.",
                                    metric_kind::counter};
constexpr metric_info unhandled_info{"akt.actor.messages.unhandled", "{message}",
                                     "Messages a handler did not match.", metric_kind::counter};
constexpr metric_info alive_info{"akt.actor.alive", "{actor}",
                                 "Actors of this kind started and not terminated.", metric_kind::up_down};
constexpr metric_info mailbox_info{"akt.actor.mailbox.size", "{message}",
                                   "Messages waiting in the mailboxes of actors of this kind.",
                                   metric_kind::gauge};
constexpr metric_info duration_info{"akt.actor.processing.duration", "s",
                                    "Time a handler took for one message.", metric_kind::histogram};

constexpr metric_info spawned_info{"akt.system.actors.spawned", "{actor}",
                                   "Actors started since the system began.", metric_kind::counter};
constexpr metric_info stopped_info{"akt.system.actors.stopped", "{actor}", "Actors terminated.",
                                   metric_kind::counter};
constexpr metric_info restarted_info{"akt.system.actors.restarted", "{restart}", "Actor restarts.",
                                     metric_kind::counter};
constexpr metric_info sys_processed_info{"akt.system.messages.processed", "{message}",
                                         "Messages handled by every actor (normally or not).",
                                         metric_kind::counter};
constexpr metric_info backlog_info{"akt.system.mailbox.backlog", "{message}",
                                   "Messages waiting in every mailbox.", metric_kind::gauge};

// Bucket bounds in nanoseconds, for counting without floating point.
constexpr auto bounds_ns = [] {
  std::array<std::int64_t, processing_bounds.size()> out{};
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<std::int64_t>(processing_bounds[i] * 1e9 + 0.5);
  return out;
}();

}  // namespace

actor_stats::actor_stats() : id_(next_stats_id.fetch_add(1, std::memory_order_relaxed)) {}
actor_stats::~actor_stats() = default;

actor_stats::kind_counters& actor_stats::of(std::string_view kind) noexcept {
  thread_cache& c = tls_cache;
  if (c.owner == id_) [[likely]] {
    const thread_cache::slot& s = c.slots[thread_cache::index(kind.data())];
    if (s.key == kind.data() && s.size == kind.size()) [[likely]]
      return *s.counters;
  }
  return slow_of(kind);
}

actor_stats::kind_counters& actor_stats::slow_of(std::string_view kind) noexcept {
  thread_cache& c = tls_cache;
  std::lock_guard g(mu_);
  if (c.owner != id_) {
    // This thread's shard of these stats: found by a linear walk, as
    // switching is rare (one per system a thread counts for, in turn). A
    // thread whose id is reused after another's exit continues its shard:
    // still one writer at a time.
    c = thread_cache{};
    c.owner = id_;
    const std::thread::id self = std::this_thread::get_id();
    auto found =
        std::find_if(shards_.begin(), shards_.end(), [&](const auto& s) { return s->thread == self; });
    if (found == shards_.end()) {
      shards_.push_back(std::make_unique<shard>());
      shards_.back()->thread = self;
      found = shards_.end() - 1;
    }
    c.shard = found->get();
  }
  auto& kinds = static_cast<shard*>(c.shard)->kinds;
  auto [it, inserted] = kinds.try_emplace(std::string(kind));
  if (inserted) it->second = std::make_unique<kind_counters>();
  thread_cache::slot& s = c.slots[thread_cache::index(kind.data())];
  s = {kind.data(), kind.size(), it->second.get()};
  return *it->second;
}

void actor_stats::count_time(kind_counters& k, std::chrono::nanoseconds took, std::uint32_t weight) noexcept {
  const std::int64_t ns = took.count();
  if (ns < 0) return;
  std::size_t i = 0;
  while (i < bounds_ns.size() && ns > bounds_ns[i]) ++i;
  k.buckets[i].add(weight);
  k.time_sum_ns.add(static_cast<std::uint64_t>(ns) * weight);
}

void actor_stats::retire(std::string_view kind, const actor_metrics& m) noexcept {
  kind_counters& k = of(kind);
  k.stopped.add();
  k.retired_received.add(m.received);
  k.retired_processed.add(m.processed);
  k.retired_errors.add(m.errors);
  k.retired_restarts.add(m.restarts);
}

void actor_stats::report(metric_sink& sink, std::string_view system_name,
                         const std::function<live_by_kind()>& walk) {
  struct totals {
    std::uint64_t started = 0, stopped = 0, unhandled = 0, received = 0, processed = 0, errors = 0,
                  restarts = 0, alive = 0, mailbox = 0, time_sum_ns = 0;
    std::array<std::uint64_t, processing_bounds.size() + 1> buckets{};
  };
  std::map<std::string, totals, std::less<>> by_kind;  // sorted: stable output
  {
    std::lock_guard g(mu_);
    for (const auto& sh : shards_) {
      for (const auto& [name, k] : sh->kinds) {
        totals& t = by_kind[name];
        t.started += k->started.get();
        t.stopped += k->stopped.get();
        t.unhandled += k->unhandled.get();
        t.received += k->retired_received.get();
        t.processed += k->retired_processed.get();
        t.errors += k->retired_errors.get();
        t.restarts += k->retired_restarts.get();
        t.time_sum_ns += k->time_sum_ns.get();
        for (std::size_t i = 0; i < t.buckets.size(); ++i) t.buckets[i] += k->buckets[i].get();
      }
    }
  }
  // After the retired sums: see the header.
  for (const auto& [kind, live] : walk()) {
    auto it = by_kind.find(kind);
    if (it == by_kind.end()) it = by_kind.emplace(std::string(kind), totals{}).first;
    totals& t = it->second;
    t.received += live.received;
    t.processed += live.processed;
    t.errors += live.errors;
    t.restarts += live.restarts;
    t.alive += live.alive;
    t.mailbox += live.mailbox;
  }

  std::lock_guard g(report_mu_);
  totals sum;
  const auto as_int = [](std::uint64_t v) { return static_cast<std::int64_t>(v); };
  for (auto& [kind, t] : by_kind) {
    auto& last = last_[kind];
    std::uint64_t* const monotonic[] = {&t.received, &t.processed, &t.errors, &t.restarts, &t.unhandled};
    for (std::size_t i = 0; i < last.size(); ++i) {
      *monotonic[i] = std::max(*monotonic[i], last[i]);
      last[i] = *monotonic[i];
    }
    const metric_attribute attrs[] = {{"akt.system", system_name}, {"akt.actor.kind", kind}};
    sink.record(received_info, attrs, as_int(t.received));
    sink.record(processed_info, attrs, as_int(t.processed));
    sink.record(errors_info, attrs, as_int(t.errors));
    sink.record(restarts_info, attrs, as_int(t.restarts));
    sink.record(unhandled_info, attrs, as_int(t.unhandled));
    sink.record(alive_info, attrs, as_int(t.alive));
    sink.record(mailbox_info, attrs, as_int(t.mailbox));
    std::uint64_t count = 0;
    for (std::uint64_t n : t.buckets) count += n;
    sink.record(
        duration_info, attrs,
        histogram_data{processing_bounds, t.buckets, count, static_cast<double>(t.time_sum_ns) / 1e9});
    sum.started += t.started;
    sum.stopped += t.stopped;
    sum.restarts += t.restarts;
    sum.received += t.received;
    sum.mailbox += t.mailbox;
  }
  const metric_attribute sys[] = {{"akt.system", system_name}};
  sink.record(spawned_info, sys, as_int(sum.started));
  sink.record(stopped_info, sys, as_int(sum.stopped));
  sink.record(restarted_info, sys, as_int(sum.restarts));
  sink.record(sys_processed_info, sys, as_int(sum.received));
  sink.record(backlog_info, sys, as_int(sum.mailbox));
}

}  // namespace akt::otel::detail
