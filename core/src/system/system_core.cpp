#include "system/system_core.hpp"

#include <algorithm>
#include <thread>

#include "actor/actor_cell.hpp"
#include "supervision/supervise.hpp"

namespace akt::detail {

namespace {

// The root of the actor tree: the parent of every top-level actor. It has no
// behaviour of its own; stopping it stops everything, children first.
class guardian_actor final : public actor {
 public:
  void receive(context&) override {}
};

std::size_t resolve_workers(std::size_t requested) {
  if (requested != 0) return requested;
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

system_core::system_core(std::string name, system_options options)
    : name_(std::move(name)),
      options_(std::move(options)),
      logger_(options_.logger ? options_.logger : make_stderr_logger()),
      scheduler_(resolve_workers(options_.workers), options_.throughput, options_.deterministic),
      timers_(options_.deterministic) {
  options_.workers = scheduler_.worker_count();
  options_.logger = logger_;
  guardian_ = ref_ptr<actor_cell>::adopt(
      new actor_cell(*this, nullptr, std::string(), 0, mailbox_options{}, make_factory<guardian_actor>(),
                     std::make_unique<guardian_actor>(), options_.supervisor));
  add_ref();  // held by the guardian, released when it is destroyed
}

system_core::~system_core() = default;

std::string system_core::root_path() const {
  const std::string address = node_address();
  return address.empty() ? "akt://" + name_ : "akt://" + name_ + "@" + address;
}

std::string system_core::node_address() const {
  std::lock_guard g(root_mu_);
  return address_;
}

void system_core::release_guardian() {
  guardian_.reset();
}

status system_core::start() {
  {
    std::lock_guard g(lifecycle_mu_);
    switch (state_.load()) {
      case system_state::running:
        return error(errc::invalid_argument, "actor system " + name_ + " is already running");
      case system_state::stopping:
      case system_state::stopped:
        return error(errc::not_running,
                     "actor system " + name_ + " has stopped; create a new one to start again");
      case system_state::created:
        break;
    }
    timers_.start();
    scheduler_.start();
    if (auto s = guardian_->start(); !s) return s;
    std::lock_guard ge(extensions_mu_);
    state_.store(system_state::running, std::memory_order_release);
  }
  status ext;
  {
    std::lock_guard ge(extensions_mu_);
    ext = start_extensions_locked();
  }
  if (!ext) {
    logger_->error("actor system " + name_ + " could not start: " + ext.error().message());
    (void)stop();
    return ext;
  }
  logger_->info("actor system " + name_ + " started with " + std::to_string(scheduler_.worker_count()) +
                " workers");
  return {};
}

status system_core::stop() {
  if (scheduler_.on_worker_thread()) {
    return error(errc::invalid_argument,
                 "stop() of actor system " + name_ +
                     " was called from one of its own actors, which it would wait for");
  }
  std::lock_guard g(lifecycle_mu_);
  const system_state s = state_.load();
  if (s == system_state::stopped) return {};
  if (s == system_state::created) {
    state_.store(system_state::stopped);
    return {};
  }
  {
    std::lock_guard ge(extensions_mu_);  // no extension is added from here on
    state_.store(system_state::stopping, std::memory_order_release);
  }
  fail_unanswered();
  const auto started = std::chrono::steady_clock::now();
  stop_extensions(true);
  (void)guardian_->request_stop();
  status outcome = wait_terminated(*guardian_, options_.shutdown_timeout);
  if (!outcome) {
    std::vector<ref_ptr<actor_cell>> live;
    guardian_->collect_live(live);
    std::string names;
    for (std::size_t i = 0; i < live.size() && i < 20; ++i) names += (i ? ", " : "") + live[i]->path();
    if (live.size() > 20) names += ", ... (" + std::to_string(live.size()) + " in all)";
    outcome = error(errc::shutdown_timeout, "actor system " + name_ + " did not stop within " +
                                                std::to_string(options_.shutdown_timeout.count()) +
                                                " ms; still running: " + names);
    logger_->error(outcome.error().message() + "; waiting for their handlers to return");
  }
  stop_extensions(false);
  scheduler_.stop();
  timers_.stop();
  passivation_.clear();
  {
    // Subscribers that are not actors (inboxes, remote references) would
    // otherwise keep this core alive through the list.
    std::lock_guard gs(subscribers_mu_);
    subscribers_.clear();
    has_subscribers_.store(false, std::memory_order_relaxed);
  }
  state_.store(system_state::stopped, std::memory_order_release);
  const auto took = std::chrono::steady_clock::now() - started;
  logger_->info("actor system " + name_ + " stopped in " +
                format_duration(std::chrono::nanoseconds(took).count()));
  return outcome;
}

bool system_core::run_manually(std::chrono::nanoseconds within, const std::function<bool()>& done) {
  const auto deadline = timers_.now() + within;
  for (;;) {
    if (done()) return true;
    if (scheduler_.run_ready(1'000'000) > 0) continue;
    const auto now = timers_.now();
    if (now >= deadline) return done();
    timers_.advance(std::min(timers_.next_due().value_or(deadline), deadline) - now);
  }
}

std::uint32_t system_core::now_ms() noexcept {
  if (!options_.deterministic) return coarse_now_ms();
  return static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(timers_.now() - coarse_clock_origin()).count());
}

const supervisor_strategy& system_core::default_supervisor() const noexcept {
  return options_.supervisor ? *options_.supervisor : default_strategy();
}

status system_core::check_running() const {
  if (is_running()) return {};
  const bool never = state_.load() == system_state::created;
  return error(errc::not_running, "actor system " + name_ + (never ? " is not started" : " has stopped"));
}

result<pid> system_core::spawn(actor_cell* parent, spawn_options options, ref_ptr<actor_factory> factory) {
  if (!is_running()) [[unlikely]]
    return check_running().error();  // says why
  if (!options.name.empty()) {
    if (auto s = validate_actor_name(options.name); !s) return std::move(s).error();
  }
  if (options.passivate_after && options.passivate_after->count() < 0) {
    return error(errc::invalid_argument, "passivate_after must not be negative (zero = never)");
  }
  if (options.supervisor) {
    if (auto s = options.supervisor->validate(); !s) return std::move(s).error();
  }
  if (options.mailbox.capacity > UINT32_MAX) {
    return error(errc::invalid_argument, "mailbox capacity " + std::to_string(options.mailbox.capacity) +
                                             " is too large (at most 4294967295; 0 = unbounded)");
  }
  if (parent == nullptr) parent = guardian_.get();
  auto instance = factory->make();
  if (!instance) {
    auto e = std::move(instance).error();
    return error(errc::pre_start_failed, e.message());
  }
  const bool bind = !options.name.empty() && has_extensions();
  if (bind) {
    const bind_request r{.name = options.name,
                         .kind = factory->kind(),
                         .path = parent->path() + "/" + options.name,
                         .top_level = parent == guardian_.get()};
    if (auto s = before_bind(r); !s) return std::move(s).error();
  }
  auto cell = ref_ptr<actor_cell>::adopt(new actor_cell(*this, parent, std::move(options.name),
                                                        next_actor_id(), options.mailbox, std::move(factory),
                                                        std::move(*instance), std::move(options.supervisor)));
  if (bind) cell->set_bound();
  if (auto s = parent->adopt_child(cell.get()); !s) {
    if (bind) after_terminate(*cell, true);  // the claim is given back
    return std::move(s).error();
  }
  // Linked (under the parent's lock), then checked: an observer installed
  // meanwhile either finds this cell in its walk or is seen here.
  if (observed()) cell->set_observed();
  on_started();
  if (auto s = cell->start(); !s) return std::move(s).error();
  const auto passivate = options.passivate_after.value_or(options_.passivate_after);
  if (passivate.count() > 0) cell->enable_passivation(passivate);
  publish(event_kind::actor_started, *cell, {});
  return pid(ref_ptr<actor_ref>(std::move(cell)));
}

result<pid> system_core::lookup(std::string_view name_or_path) const {
  // A plain top-level name found here, or by an extension, builds no error
  // on the way (a cluster lookup of another node's name is a hot path).
  if (!name_or_path.empty() && name_or_path.find('/') == std::string_view::npos &&
      !name_or_path.starts_with("$inbox-") && is_running()) {
    if (auto cell = guardian_->find_child(name_or_path)) return pid(ref_ptr<actor_ref>(std::move(cell)));
    const std::uint32_t n = hooked_count_.load(std::memory_order_acquire);
    for (std::uint32_t i = 0; i < n; ++i) {
      if (auto r = extensions_[i]->try_resolve(name_or_path)) return std::move(*r);
    }
    return lookup_local(name_or_path);  // says why not
  }
  auto local = lookup_local(name_or_path);
  if (local || local.code() != errc::not_found) return local;
  const std::uint32_t n = hooked_count_.load(std::memory_order_acquire);
  for (std::uint32_t i = 0; i < n; ++i) {
    if (auto r = extensions_[i]->try_resolve(name_or_path)) return std::move(*r);
  }
  return local;
}

result<pid> system_core::lookup_local(std::string_view path) const {
  const std::string_view original = path;  // for the errors
  constexpr std::string_view scheme = "akt://";
  if (path.starts_with(scheme)) {
    path.remove_prefix(scheme.size());
    const auto slash = path.find('/');
    std::string_view sys = path.substr(0, slash);
    if (const auto at = sys.find('@'); at != std::string_view::npos) {
      if (sys.substr(at + 1) != node_address()) {
        return error(errc::not_found, "'" + std::string(original) + "' names node " +
                                          std::string(sys.substr(at + 1)) + ", not this one (" +
                                          (node_address().empty() ? "no address" : node_address()) + ")");
      }
      sys = sys.substr(0, at);
    }
    if (sys != name_) {
      return error(errc::not_found,
                   "'" + std::string(original) + "' names system '" + std::string(sys) + "', not " + name_);
    }
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
  }
  if (path.empty()) return error(errc::invalid_name, "lookup of an empty name");
  if (!is_running()) return error(errc::not_running, "actor system " + name_ + " is not running");
  if (path.starts_with("$inbox-")) {  // a plain thread's inbox: replies from other nodes find it
    std::lock_guard g(inboxes_mu_);
    if (auto it = inboxes_.find(std::string(path)); it != inboxes_.end()) {
      return pid(ref_ptr<actor_ref>::share(it->second));
    }
    return error(errc::not_found, "no inbox '" + std::string(path) + "' in " + name_ + " (closed?)");
  }
  ref_ptr<actor_cell> at = guardian_;
  while (!path.empty()) {
    const auto slash = path.find('/');
    const std::string_view part = path.substr(0, slash);
    auto next = at->find_child(part);
    if (!next) {
      return error(errc::not_found, "no actor named '" + std::string(part) + "' under " + at->path() +
                                        " (looking up '" + std::string(original) + "')");
    }
    at = std::move(next);
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
  }
  return pid(ref_ptr<actor_ref>(std::move(at)));
}

void system_core::add_inbox(std::string name, actor_ref* ref) {
  std::lock_guard g(inboxes_mu_);
  inboxes_[std::move(name)] = ref;
}

void system_core::remove_inbox(const std::string& name) {
  std::lock_guard g(inboxes_mu_);
  inboxes_.erase(name);
}

void system_core::unhandled(envelope_ptr e, actor_cell& recipient) noexcept {
  unhandled_.fetch_add(1, std::memory_order_relaxed);
  const std::string what = e->type_name();
  if (observed()) {
    const actor_view to(recipient);
    const message_view m(*e);
    for_each_observer([&](actor_observer& o) { o.on_unhandled(to, m); });
  }
  // Counted as a dead letter (and its asker failed) before the event goes
  // out: whoever hears of it sees the counts already moved.
  dead_letter(std::move(e), error(errc::unhandled, "actor " + recipient.path() + " did not handle a " + what),
              &recipient);
  if (has_subscribers_.load(std::memory_order_relaxed)) {
    publish_slow(event_kind::unhandled_message, &recipient, what);
  }
}

void system_core::dead_letter(envelope_ptr e, error why, actor_cell* recipient) noexcept {
  dead_letters_.fetch_add(1, std::memory_order_relaxed);
  if (observed()) [[unlikely]] {
    const message_view m(*e);
    if (recipient != nullptr) {
      const actor_view to(*recipient);
      for_each_observer([&](actor_observer& o) { o.on_dead_letter(&to, m, why); });
    } else {
      for_each_observer([&](actor_observer& o) { o.on_dead_letter(nullptr, m, why); });
    }
  }
  if (logger_->is_enabled(log_level::debug)) {
    logger_->debug("dead letter: " + e->type_name() + " (" + why.message() + ")");
  }
  // Events that themselves end as dead letters are not announced again.
  if (has_subscribers_.load(std::memory_order_relaxed) && e->type != type_id_of<system_event>()) {
    publish_slow(event_kind::dead_letter, recipient, e->type_name() + ": " + why.message());
  }
  if (e->reply_to) e->reply_to->fail(std::move(why));
}

void system_core::keep_unanswered(ref_ptr<reply_sink> ask) noexcept {
  {
    std::lock_guard g(unanswered_mu_);
    if (!unanswered_closed_) {
      if (unanswered_.size() >= unanswered_sweep_at_) {  // drop those that timed out meanwhile
        std::erase_if(unanswered_, [](const auto& a) { return !a->is_waiting(); });
        unanswered_sweep_at_ = std::max<std::size_t>(64, 2 * unanswered_.size());
      }
      unanswered_.push_back(std::move(ask));
      return;
    }
  }
  ask->fail(error(errc::not_running, "actor system " + name_ + " stopped before the reply"));
}

void system_core::fail_unanswered() noexcept {
  std::vector<ref_ptr<reply_sink>> asks;
  {
    std::lock_guard g(unanswered_mu_);
    unanswered_closed_ = true;
    asks.swap(unanswered_);
  }
  for (auto& a : asks)
    a->fail(error(errc::not_running, "actor system " + name_ + " stopped before the reply"));
}

void system_core::on_terminated(actor_cell& cell) noexcept {
  if (!cell.is_guardian()) live_actors_.add(-1);
  if (has_subscribers_.load(std::memory_order_relaxed)) {
    remove_subscriber(&cell);
    if (!cell.is_guardian()) publish_slow(event_kind::actor_stopped, &cell, {});
  }
  if (terminated_waiters_.load(std::memory_order_seq_cst) != 0) {
    std::lock_guard g(terminated_mu_);
    terminated_cv_.notify_all();
  }
}

status system_core::wait_terminated(const actor_cell& cell, std::chrono::nanoseconds timeout) {
  if (options_.deterministic) scheduler_.run_ready(SIZE_MAX);  // nobody else will
  terminated_waiters_.fetch_add(1, std::memory_order_seq_cst);
  bool done;
  {
    std::unique_lock g(terminated_mu_);
    done = terminated_cv_.wait_for(g, timeout, [&] { return cell.has_finished(); });
  }
  terminated_waiters_.fetch_sub(1, std::memory_order_seq_cst);
  if (done) return {};
  return error(errc::timeout,
               "actor " + cell.path() + " did not stop within " + format_duration(timeout.count()));
}

}  // namespace akt::detail
