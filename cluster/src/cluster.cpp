#include <akt/cluster/cluster.hpp>
#include <akt/remote/remoting.hpp>

#include "engine.hpp"

namespace akt::cluster {

result<cluster*> cluster::enable(actor_system& system, cluster_options options) {
  if (system.find_extension<cluster>() != nullptr) {
    return error(errc::invalid_argument, "cluster mode is already enabled on system " + system.name());
  }
  if (system.find_extension<remote::remoting>() == nullptr) {
    return error(
        errc::invalid_argument,
        "cluster mode needs remoting: call remote::remoting::enable on system " + system.name() + " first");
  }
  auto e = std::make_unique<detail::engine>(system, std::move(options));
  if (auto s = e->validate(); !s) return std::move(s).error();
  return system.add_extension(std::unique_ptr<cluster>(new cluster(std::move(e))));
}

cluster::cluster(std::unique_ptr<detail::engine> engine) : engine_(std::move(engine)) {}
cluster::~cluster() = default;

status cluster::start(actor_system& system) {
  auto* remoting = system.find_extension<remote::remoting>();
  if (remoting == nullptr) return error(errc::invalid_argument, "cluster mode needs remoting");
  return engine_->start(*remoting);
}

void cluster::stopping() {
  engine_->leave();  // singletons move to a member that stays
}

void cluster::stop() {
  engine_->stop();
}

std::string cluster::self() const {
  return engine_->self();
}
std::uint16_t cluster::health_port() const {
  return engine_->health_port();
}
std::vector<member> cluster::members() const {
  return engine_->members();
}
std::optional<member> cluster::leader() const {
  return engine_->leader();
}
bool cluster::is_leader() const {
  auto l = engine_->leader();
  return l && l->address == engine_->self();
}
std::vector<std::pair<std::string, std::string>> cluster::names() const {
  return engine_->names();
}
result<pid> cluster::lookup(std::string_view name) const {
  return engine_->lookup(name);
}

result<pid> cluster::await(std::string_view name, std::chrono::nanoseconds timeout, const pid* stale) const {
  return engine_->await_other(name, std::chrono::steady_clock::now() + timeout, stale);
}

status cluster::by_name(std::string_view name, std::chrono::nanoseconds timeout,
                        const std::function<status(const pid&)>& send) const {
  return engine_->by_name(name, timeout, send);
}

result<pid> cluster::spawn_on(std::string_view kind, std::string_view name, placement where,
                              std::chrono::nanoseconds timeout) {
  return engine_->spawn_on(kind, name, where, timeout);
}

result<pid> cluster::spawn_singleton(std::string_view name, std::string_view kind,
                                     singleton_options options) {
  return engine_->spawn_singleton(name, kind, options);
}

status cluster::stop_singleton(std::string_view name) {
  return engine_->stop_singleton(name);
}

std::vector<std::pair<std::string, std::string>> cluster::singletons() const {
  return engine_->singletons();
}

std::optional<result<pid>> cluster::try_resolve(std::string_view name_or_path) {
  // Only plain names are the cluster's: paths belong to the local tree and remoting.
  if (name_or_path.empty() || name_or_path.find('/') != std::string_view::npos) return std::nullopt;
  auto found = engine_->find(name_or_path);
  if (found && !*found && found->code() == errc::not_found) return std::nullopt;
  return found;
}

status cluster::before_bind(const bind_request& request) {
  if (!request.top_level) return {};  // children are not registered
  return engine_->claim(request.name, request.path);
}

void cluster::report_metrics(metric_sink& sink) const {
  engine_->report_metrics(sink);
}

void cluster::after_terminate(const actor_view& actor, bool was_bound) noexcept {
  if (!was_bound) return;
  try {
    engine_->release(actor.name(), actor.path());
  } catch (...) {
    // Out of memory: the claim goes with this node's lease.
  }
}

}  // namespace akt::cluster
