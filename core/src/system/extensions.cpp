// The extension surface (akt/extension.hpp): how the system owns, starts and
// stops its extensions, and calls their hooks.
#include <akt/actor_system.hpp>

#include <algorithm>

#include "actor/actor_cell.hpp"
#include "system/system_core.hpp"

namespace akt {

std::string_view to_string(node_event_kind k) noexcept {
  switch (k) {
    case node_event_kind::up:
      return "up";
    case node_event_kind::down:
      return "down";
    case node_event_kind::joined:
      return "joined";
    case node_event_kind::left:
      return "left";
    case node_event_kind::leader_changed:
      return "leader_changed";
  }
  return "unknown";
}

namespace detail {

namespace {
// Set while this thread runs an extension's start(): adding another
// extension from there would re-enter the add (and the lock).
thread_local bool tls_starting_extension = false;  // NOLINT
}  // namespace

result<akt::extension*> system_core::add_extension(std::unique_ptr<akt::extension> ext) {
  if (!ext) return error(errc::invalid_argument, "add_extension: the extension is null");
  if (tls_starting_extension) {
    return error(errc::invalid_argument, "add_extension(" + std::string(ext->name()) +
                                             ") from another extension's start(): add both before starting");
  }
  std::lock_guard g(extensions_mu_);
  const system_state s = state_.load();
  if (s == system_state::stopping || s == system_state::stopped) {
    return error(errc::not_running, "actor system " + name_ + " has stopped; extension " +
                                        std::string(ext->name()) + " was not added");
  }
  const std::uint32_t n = extension_count_.load(std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < n; ++i) {
    if (extensions_[i]->name() == ext->name()) {
      return error(errc::invalid_argument, "actor system " + name_ + " already has an extension named '" +
                                               std::string(ext->name()) + "'");
    }
  }
  if (n == max_extensions) {
    return error(errc::invalid_argument,
                 "actor system " + name_ + " has " + std::to_string(n) + " extensions, the most it takes");
  }
  akt::extension* raw = ext.get();
  owned_extensions_.push_back(std::move(ext));
  extensions_[n] = raw;
  extension_count_.store(n + 1, std::memory_order_release);
  if (s == system_state::running) {
    if (auto st = start_extensions_locked(); !st) {
      // It never started, so no hook saw it: forget it.
      extension_count_.store(n, std::memory_order_release);
      extensions_[n] = nullptr;
      owned_extensions_.pop_back();
      return std::move(st).error();
    }
  }
  logger_->info("actor system " + name_ + ": extension " + std::string(raw->name()) + " added");
  return raw;
}

status system_core::adopt_address(akt::extension& ext) {
  std::string address = ext.node_address();
  if (address.empty()) return {};
  std::lock_guard g(root_mu_);
  if (!address_.empty()) {
    return error(errc::invalid_argument, "actor system " + name_ + " already has the address " + address_ +
                                             "; extension " + std::string(ext.name()) + " gives another (" +
                                             address + ")");
  }
  address_ = std::move(address);
  return {};
}

// Starts, in order, the extensions added but not started; each one's hooks
// and observer are published only once its start() succeeded.
status system_core::start_extensions_locked() {
  const std::uint32_t n = extension_count_.load(std::memory_order_relaxed);
  for (; started_extensions_ < n; ++started_extensions_) {
    akt::extension& ext = *extensions_[started_extensions_];
    status st;
    tls_starting_extension = true;
    try {
      st = ext.start(*facade);
    } catch (const std::exception& e) {
      st = error(errc::invalid_argument, std::string("start() threw: ") + e.what());
    } catch (...) {
      st = error(errc::invalid_argument, "start() threw an exception not derived from std::exception");
    }
    tls_starting_extension = false;
    if (st) st = adopt_address(ext);
    if (!st) {
      ext.stopping();
      ext.stop();
      return error(st.code(),
                   "extension " + std::string(ext.name()) + " did not start: " + st.error().message());
    }
    if (actor_observer* o = ext.observer()) {
      const std::uint32_t k = observer_count_.load(std::memory_order_relaxed);
      observers_[k] = o;
      // Interests are published before the count: a cell that sees the
      // observer (acquire on the count) sees what it asked for.
      const actor_observer::interest wants = o->observer_interest();
      const std::uint32_t every = std::max<std::uint32_t>(1, wants.timing_every);
      const std::uint32_t was = timing_every_.load(std::memory_order_relaxed);
      if (was == 0 || every < was) timing_every_.store(every, std::memory_order_relaxed);
      if (wants.every_enqueue) every_enqueue_.store(true, std::memory_order_relaxed);
      if (wants.every_turn) every_turn_.store(true, std::memory_order_relaxed);
      if (wants.entry_turns) entry_turns_.store(true, std::memory_order_relaxed);
      observer_count_.store(k + 1, std::memory_order_release);
      // Every live cell learns it is observed. A spawn racing with this walk
      // links its cell under the parent's lock: if the walk took that lock
      // first, the spawn sees observer_count_ when it checks after linking.
      for_each_actor([](actor_ref& a) { static_cast<actor_cell&>(a).set_observed(); });
    }
    hooked_count_.store(started_extensions_ + 1, std::memory_order_release);
    if (started_extensions_ == 0) scheduler_.set_idle_poller([this] { poll_extensions(); });
  }
  return {};
}

void system_core::stop_extensions(bool before_actors) noexcept {
  std::lock_guard g(extensions_mu_);
  for (std::uint32_t i = started_extensions_; i-- > 0;) {
    akt::extension& ext = *extensions_[i];
    try {
      if (before_actors) {
        ext.stopping();
      } else {
        ext.stop();
      }
    } catch (...) {
      logger_->error("extension " + std::string(ext.name()) + " threw while stopping");
    }
  }
  if (!before_actors) {
    started_extensions_ = 0;
    std::lock_guard a(root_mu_);
    address_.clear();  // the node address goes with its extension
  }
}

void system_core::release_extensions() noexcept {
  std::vector<std::unique_ptr<akt::extension>> gone;
  {
    std::lock_guard g(extensions_mu_);
    // A system that did not stop (the facade destroyed on one of its own
    // workers) still runs hooks: its extensions go with the core instead.
    if (state_.load() != system_state::stopped) return;
    observer_count_.store(0, std::memory_order_release);
    hooked_count_.store(0, std::memory_order_release);
    extension_count_.store(0, std::memory_order_release);
    gone.swap(owned_extensions_);
  }
  scheduler_.set_idle_poller({});
  while (!gone.empty()) gone.pop_back();
}

akt::extension* system_core::find_extension(const std::function<bool(akt::extension&)>& match) const {
  const std::uint32_t n = extension_count_.load(std::memory_order_acquire);
  for (std::uint32_t i = 0; i < n; ++i) {
    if (match(*extensions_[i])) return extensions_[i];
  }
  return nullptr;
}

status system_core::before_bind(const bind_request& r) {
  const std::uint32_t n = hooked_count_.load(std::memory_order_acquire);
  for (std::uint32_t i = 0; i < n; ++i) {
    if (auto s = extensions_[i]->before_bind(r); !s) return s;
  }
  return {};
}

void system_core::after_start(actor_cell& cell) noexcept {
  const std::uint32_t n = hooked_count_.load(std::memory_order_acquire);
  const actor_view v(cell);
  for (std::uint32_t i = 0; i < n; ++i) extensions_[i]->after_start(v);
}

void system_core::after_terminate(actor_cell& cell, bool was_bound) noexcept {
  const std::uint32_t n = hooked_count_.load(std::memory_order_acquire);
  const actor_view v(cell);
  for (std::uint32_t i = 0; i < n; ++i) extensions_[i]->after_terminate(v, was_bound);
}

trace_ref system_core::observe_send(const trace_context& current, const send_view& s) const noexcept {
  trace_ref carried;
  for_each_observer([&](actor_observer& o) {
    if (trace_ref t = o.on_send(carried ? *carried : current, s)) carried = std::move(t);
  });
  return carried ? carried : trace_ref::share(&current);
}

void system_core::report_metrics(metric_sink& sink) const {
  const std::string_view system_name = name();
  const metric_attribute attrs[] = {{"akt.system", system_name}};
  static constexpr metric_info alive{"akt.system.actors.alive", "{actor}",
                                     "Actors started and not yet terminated.", metric_kind::up_down};
  static constexpr metric_info dead{"akt.system.dead_letters", "{message}",
                                    "Messages that reached no actor (stopped, full, unknown or late).",
                                    metric_kind::counter};
  static constexpr metric_info unhandled{"akt.system.unhandled_messages", "{message}",
                                         "Messages handled without being matched (context::unhandled).",
                                         metric_kind::counter};
  static constexpr metric_info busy{"akt.system.workers.busy", "{worker}",
                                    "Workers running actors now (neither spinning for work nor parked).",
                                    metric_kind::gauge};
  static constexpr metric_info workers{"akt.system.workers", "{worker}", "Worker threads of the dispatcher.",
                                       metric_kind::gauge};
  static constexpr metric_info uptime{"akt.system.uptime", "s", "Seconds since the system was created.",
                                      metric_kind::gauge};
  sink.record(alive, attrs, static_cast<std::int64_t>(actor_count()));
  sink.record(dead, attrs, static_cast<std::int64_t>(dead_letters()));
  sink.record(unhandled, attrs, static_cast<std::int64_t>(unhandled_messages()));
  sink.record(busy, attrs, static_cast<std::int64_t>(scheduler_.busy_workers()));
  sink.record(workers, attrs, static_cast<std::int64_t>(scheduler_.worker_count()));
  sink.record(uptime, attrs,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - created_at_).count());
  const std::uint32_t n = hooked_count_.load(std::memory_order_acquire);
  for (std::uint32_t i = 0; i < n; ++i) {
    try {
      extensions_[i]->report_metrics(sink);
    } catch (const std::exception& e) {
      logger_->error("extension " + std::string(extensions_[i]->name()) +
                     " threw reporting metrics: " + e.what());
    }
  }
}

void system_core::announce(const node_event& e) noexcept {
  const std::uint32_t n = hooked_count_.load(std::memory_order_acquire);
  for (std::uint32_t i = 0; i < n; ++i) extensions_[i]->on_node_event(e);
  if (has_subscribers_.load(std::memory_order_relaxed)) {
    event_kind kind = event_kind::node_up;
    switch (e.kind) {
      case node_event_kind::up:
        kind = event_kind::node_up;
        break;
      case node_event_kind::down:
        kind = event_kind::node_down;
        break;
      case node_event_kind::joined:
        kind = event_kind::member_joined;
        break;
      case node_event_kind::left:
        kind = event_kind::member_left;
        break;
      case node_event_kind::leader_changed:
        kind = event_kind::leader_changed;
        break;
    }
    publish_slow(kind, nullptr, e.reason.empty() ? e.address : e.address + ": " + e.reason);
  }
}

void system_core::poll_extensions() noexcept {
  const std::uint32_t n = hooked_count_.load(std::memory_order_acquire);
  for (std::uint32_t i = 0; i < n; ++i) extensions_[i]->poll_idle();
}

void system_core::for_each_actor(const std::function<void(actor_ref&)>& f) const {
  // Breadth-first over snapshots of each child list: no lock is held while f runs.
  std::vector<ref_ptr<actor_cell>> level{guardian_};
  while (!level.empty()) {
    std::vector<ref_ptr<actor_cell>> next;
    for (auto& c : level) {
      for (auto& child : c->children()) {
        auto* cell = static_cast<actor_cell*>(child.get());
        if (cell->state() == cell_state::terminated) continue;
        f(*cell);
        next.push_back(ref_ptr<actor_cell>::share(cell));
      }
    }
    level = std::move(next);
  }
}

}  // namespace detail
}  // namespace akt
