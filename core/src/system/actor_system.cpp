// The public facade of an actor system; everything happens in system_core.
#include <akt/actor_system.hpp>

#include "system/system_core.hpp"

namespace akt {

result<std::unique_ptr<actor_system>> actor_system::create(std::string_view name, system_options options) {
  if (auto s = detail::validate_system_name(name); !s) return std::move(s).error();
  if (options.throughput == 0) {
    return error(errc::invalid_argument, "throughput must be at least 1 message per turn");
  }
  if (options.workers > 1024) {
    return error(errc::invalid_argument, "workers = " + std::to_string(options.workers) +
                                             " is too many (at most 1024; 0 = one per hardware thread)");
  }
  if (options.passivate_after.count() < 0) {
    return error(errc::invalid_argument, "passivate_after must not be negative (zero = never)");
  }
  if (options.shutdown_timeout <= std::chrono::milliseconds::zero()) {
    return error(errc::invalid_argument, "shutdown_timeout must be positive");
  }
  if (options.supervisor) {
    if (auto s = options.supervisor->validate(); !s) return std::move(s).error();
  }
  auto core = detail::ref_ptr<detail::system_core>::adopt(
      new detail::system_core(std::string(name), std::move(options)));
  return std::unique_ptr<actor_system>(new actor_system(std::move(core)));
}

result<std::unique_ptr<actor_system>> actor_system::launch(std::string_view name, system_options options) {
  auto sys = create(name, std::move(options));
  if (!sys) return sys;
  if (auto s = (*sys)->start(); !s) return std::move(s).error();
  return sys;
}

actor_system::actor_system(detail::ref_ptr<detail::system_core> core) : core_(std::move(core)) {
  core_->facade = this;
}

actor_system::~actor_system() {
  (void)core_->stop();
  core_->release_extensions();  // they may refer to this facade
  core_->facade = nullptr;
  core_->release_guardian();
}

status actor_system::start() {
  return core_->start();
}
status actor_system::stop() {
  return core_->stop();
}
bool actor_system::is_running() const noexcept {
  return core_->is_running();
}
const std::string& actor_system::name() const noexcept {
  return core_->name();
}
const system_options& actor_system::options() const noexcept {
  return core_->options();
}
akt::logger& actor_system::logger() const noexcept {
  return core_->log();
}
result<pid> actor_system::lookup(std::string_view name_or_path) const {
  return core_->lookup(name_or_path);
}
result<pid> actor_system::lookup_local(std::string_view name_or_path) const {
  return core_->lookup_local(name_or_path);
}
std::uint64_t actor_system::dead_letters() const noexcept {
  return core_->dead_letters();
}
std::uint64_t actor_system::actor_count() const noexcept {
  return core_->actor_count();
}

result<pid> actor_system::spawn_with(spawn_options options, detail::ref_ptr<detail::actor_factory> factory) {
  return core_->spawn(nullptr, std::move(options), std::move(factory));
}

result<timer_id> actor_system::schedule_timer(std::chrono::nanoseconds delay,
                                              std::chrono::nanoseconds interval, std::function<void()> fire) {
  return core_->schedule_timer(delay, interval, std::move(fire));
}
bool actor_system::cancel_timer(timer_id id) {
  return core_->cancel_timer(id);
}

std::string actor_system::node_address() const {
  return core_->node_address();
}
result<akt::extension*> actor_system::add_extension_impl(std::unique_ptr<akt::extension> ext) {
  return core_->add_extension(std::move(ext));
}
akt::extension* actor_system::find_extension_impl(const std::function<bool(akt::extension&)>& match) const {
  return core_->find_extension(match);
}
void actor_system::announce(const node_event& e) {
  core_->announce(e);
}
trace_ref actor_system::observe_send(const trace_context& current, const send_view& s) const noexcept {
  return core_->observe_send(current, s);
}
void actor_system::report_metrics(metric_sink& sink) const {
  core_->report_metrics(sink);
}
type_registry& actor_system::registry() noexcept {
  return core_->registry();
}
namespace {
// What report_dead_letter hands to the dead-letter path: a message known
// only by its type name.
struct described_envelope final : detail::envelope {
  explicit described_envelope(std::string_view name) : name_(name) {}
  std::string type_name() const override { return name_; }
  std::string name_;
};
}  // namespace

void actor_system::report_dead_letter(std::string_view type_name, error why, std::uint64_t count) {
  if (count == 0) return;
  if (count > 1) core_->count_dead_letters(count - 1);
  core_->dead_letter(detail::envelope_ptr(new described_envelope(type_name)), std::move(why), nullptr);
}

std::uint64_t actor_system::unhandled_messages() const noexcept {
  return core_->unhandled_messages();
}
void actor_system::for_each_actor(const std::function<void(const actor_view&)>& f) const {
  core_->for_each_actor([&](detail::actor_ref& r) { f(actor_view(r)); });
}

std::size_t actor_system::run_ready(std::size_t max_turns) {
  return core_->dispatcher().run_ready(max_turns);
}

std::size_t actor_system::advance_clock(std::chrono::nanoseconds by) {
  if (!core_->is_deterministic()) return 0;
  run_ready();  // what is ready now runs at the current time
  core_->timers().advance(by);
  return run_ready();
}
status actor_system::subscribe(const pid& subscriber) {
  return core_->subscribe(subscriber);
}
status actor_system::unsubscribe(const pid& subscriber) {
  return core_->unsubscribe(subscriber.ref().get());
}

}  // namespace akt
