#include "engine.hpp"

#include <akt/detail/thread_name.hpp>
#include <akt/remote/remoting.hpp>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

namespace akt::cluster::detail {

namespace {

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const auto end = s.find(sep, start);
    out.emplace_back(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

etcd_config config_of(const cluster_options& o) {
  etcd_config c;
  c.endpoints = o.etcd.endpoints;
  c.username = o.etcd.username;
  c.password = o.etcd.password;
  if (o.etcd.tls) {
    c.ca_file = o.etcd.tls->ca_file;
    c.certificate_file = o.etcd.tls->certificate_file;
    c.private_key_file = o.etcd.tls->private_key_file;
  }
  c.request_timeout = o.etcd.request_timeout;
  return c;
}

}  // namespace

engine::engine(actor_system& system, cluster_options options)
    : system_(system), options_(std::move(options)) {
  if (options_.name.empty()) options_.name = system_.name();
  prefix_ = "/akt/" + options_.name + "/";
}

engine::~engine() {
  stop();
}

status engine::validate() const {
  auto bad = [](const std::string& what) {
    return error(errc::invalid_argument, "cluster_options: " + what);
  };
  if (options_.managed_etcd) {
    // The endpoints are the managed member's and the discovered ones.
    if (options_.etcd.tls || !options_.etcd.username.empty())
      return bad(
          "with managed_etcd, TLS is managed_etcd.tls and members have no users: leave etcd.tls and "
          "etcd.username unset");
  } else if (options_.etcd.endpoints.empty()) {
    return bad("etcd.endpoints is empty");
  }
  for (const auto& e : options_.managed_etcd ? std::vector<std::string>{} : options_.etcd.endpoints) {
    const auto colon = e.rfind(':');
    if (colon == std::string::npos || colon == 0) return bad("etcd endpoint '" + e + "' is not host:port");
    int port = 0;
    const char* first = e.data() + colon + 1;
    const char* last = e.data() + e.size();
    const auto [end, ec] = std::from_chars(first, last, port);
    if (first == last || ec != std::errc() || end != last || port < 1 || port > 65535)
      return bad("etcd endpoint '" + e + "' has no port between 1 and 65535");
  }
  if (const auto& tls = options_.etcd.tls) {
    if (tls->ca_file.empty()) return bad("etcd.tls.ca_file is empty (it is what TLS to etcd trusts)");
    for (const std::string* f : {&tls->ca_file, &tls->certificate_file, &tls->private_key_file}) {
      if (!f->empty() && !std::ifstream(*f).good()) return bad("etcd.tls: cannot read '" + *f + "'");
    }
    if (tls->certificate_file.empty() != tls->private_key_file.empty())
      return bad("etcd.tls: certificate_file and private_key_file go together");
  }
  if (options_.lease_ttl < std::chrono::seconds(2) || options_.lease_ttl > std::chrono::seconds(3600))
    return bad("lease_ttl must be between 2 s and 1 h");
  if (options_.etcd.request_timeout.count() <= 0) return bad("etcd.request_timeout must be positive");
  if (options_.name.find('/') != std::string::npos) return bad("the cluster name may not contain '/'");
  if (options_.name.size() > 255) {
    return bad("the cluster name is " + std::to_string(options_.name.size()) +
               " characters long (at most 255)");
  }
  for (const auto& r : options_.roles) {
    if (r.empty() || r.find_first_of(",\t\n") != std::string::npos)
      return bad("role '" + r + "' is empty or has , or a tab");
  }
  return {};
}

// ---------------------------------------------------------------- start / stop

std::string engine::member_value(std::uint64_t load, const std::vector<std::string>& kinds) const {
  auto join = [](const std::vector<std::string>& v) {
    std::string out;
    for (const auto& x : v) out += (out.empty() ? "" : ",") + x;
    return out;
  };
  return system_.name() + "\t" + join(options_.roles) + "\t" + std::to_string(started_at_ms_) + "\t" +
         std::to_string(load) + "\t" + join(kinds);
}

status engine::register_self() {
  auto lease = etcd_->grant_lease(options_.lease_ttl);
  if (!lease)
    return error(lease.code(), "cluster: cannot register " + self_ + ": " + lease.error().message());
  if (auto s = etcd_->put(member_key(self_), member_value(advertised_load_, advertised_kinds_), *lease); !s) {
    (void)etcd_->revoke_lease(*lease);
    return error(s.code(), "cluster: cannot register " + self_ + ": " + s.error().message());
  }
  lease_.store(*lease);
  last_renewed_.store(std::chrono::steady_clock::now().time_since_epoch().count());
  return {};
}

status engine::start(remote::remoting& remoting) {
  remoting_ = &remoting;
  self_ = remoting.address();
  if (options_.health_port) {
    // First: a liveness probe must pass while a managed member joins.
    health_ = std::make_unique<health_server>([this] { return system_.is_running(); },
                                              [this] { return readiness(); });
    const std::string host = options_.health_host.empty() ? remoting.host() : options_.health_host;
    if (auto s = health_->start(host, *options_.health_port); !s) return s;
  }
  if (options_.managed_etcd) {
    member_ = std::make_unique<managed_member>(*options_.managed_etcd, options_.name, system_.logger());
    if (auto s = member_->validate(remoting.host()); !s) return s;
    auto endpoints = member_->start();
    if (!endpoints) return std::move(endpoints).error();
    options_.etcd.endpoints = std::move(*endpoints);
    options_.etcd.tls = options_.managed_etcd->tls;  // the node speaks to the members as they expect
  }
  etcd_config config = config_of(options_);
  config.metrics = &etcd_metrics_;
  etcd_ = std::make_unique<etcd_client>(std::move(config));
  started_at_ms_ = now_ms();
  advertised_load_ = system_.actor_count();
  for (auto& k : system_.registry().kinds()) {
    if (k.find_first_of(",\t\n") == std::string::npos) advertised_kinds_.push_back(std::move(k));
  }
  if (auto s = register_self(); !s) return s;
  if (auto s = list_and_watch(); !s) {
    (void)etcd_->revoke_lease(lease_.load());
    return s;
  }
  runner_ = std::thread([this] {
    akt::detail::name_this_thread("akt-cluster");
    runner();
  });
  system_.logger().info("cluster: " + self_ + " joined cluster '" + options_.name + "' (" +
                        std::to_string(members().size()) + " members)");
  return {};
}

void engine::stop() {
  {
    std::lock_guard g(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (runner_.joinable()) runner_.join();
  if (watch_) watch_->stop();
  watch_.reset();
  // Leaving: revoking the lease deletes this node's member key and every
  // name it still holds, at once for every other node.
  if (const std::int64_t lease = lease_.exchange(0); lease != 0 && etcd_) {
    if (auto s = etcd_->revoke_lease(lease); !s) {
      system_.logger().warn("cluster: could not leave cleanly (" + s.error().message() +
                            "); the others forget this node when its lease expires");
    }
  }
  // Managed: this node's etcd member leaves the etcd cluster last.
  if (member_) member_->leave();
  member_.reset();
  if (health_) health_->stop();
}

// ---------------------------------------------------------------- the view

namespace {
std::optional<member> parse_member(const etcd_kv& kv, std::string_view prefix) {
  // system, roles, started, then (newer nodes) load and kinds.
  const auto fields = split(kv.value, '\t');
  if (fields.size() < 3 || kv.key.size() <= prefix.size()) return std::nullopt;
  member m;
  m.address = kv.key.substr(prefix.size());
  m.system = fields[0];
  if (!fields[1].empty()) m.roles = split(fields[1], ',');
  m.started_at_ms = std::atoll(fields[2].c_str());
  m.joined_revision = kv.create_revision;
  if (fields.size() >= 5) {
    m.load = std::strtoull(fields[3].c_str(), nullptr, 10);
    if (!fields[4].empty()) m.kinds = split(fields[4], ',');
  }
  return m;
}
}  // namespace

std::shared_ptr<const engine::holder> engine::holder_of(std::string_view value, std::string_view name) {
  const auto tab = value.find('\t');
  if (tab == std::string_view::npos) return nullptr;
  const std::string_view address = value.substr(0, tab), path = value.substr(tab + 1);
  auto make = [&](std::string_view prefix, bool exact) {
    return std::make_shared<const holder>(
        holder{std::string(prefix), std::string(address), address == self_, exact});
  };
  // The usual path: <prefix>/<name>, with one prefix per holding system.
  if (path.size() <= name.size() + 1 || !path.ends_with(name) || path[path.size() - name.size() - 1] != '/')
    return make(path, true);
  const std::string_view prefix = path.substr(0, path.size() - name.size() - 1);
  auto& slot = holders_[std::string(prefix)];
  if (auto h = slot.lock(); h && h->address == address) return h;
  auto h = make(prefix, false);
  slot = h;
  return h;
}

void engine::apply(const etcd_kv& kv, bool deleted) {
  const std::string_view key = kv.key;
  const std::string_view rest = key.substr(prefix_.size());
  if (rest.starts_with("members/")) {
    const std::string address(rest.substr(8));
    if (deleted) {
      members_.erase(address);
    } else if (auto m = parse_member(kv, prefix_ + "members/")) {
      members_[address] = std::move(*m);
      std::lock_guard g(placed_mu_);
      placed_.erase(address);  // its advertised load now counts what was placed there
    }
  } else if (rest.starts_with("names/")) {
    const std::string_view name = rest.substr(6);
    if (deleted) {
      if (auto it = names_.find(name); it != names_.end()) names_.erase(it);
    } else if (auto by = holder_of(kv.value, name)) {
      auto& e = names_[std::string(name)];
      e.by = std::move(by);
      e.revision = kv.create_revision;
      e.cached = pid();
    }
  } else if (rest.starts_with("singletons/")) {
    const std::string name(rest.substr(11));
    const auto tab = kv.value.find('\t');
    if (deleted) {
      singletons_.erase(name);
    } else if (tab != std::string::npos) {
      singletons_[name] = singleton_entry{kv.value.substr(0, tab), kv.value.substr(tab + 1)};
    }
  }
}

status engine::list_and_watch() {
  auto all = etcd_->get_prefix(prefix_);
  if (!all) return error(all.code(), "cluster: cannot read the cluster's state: " + all.error().message());
  {
    std::lock_guard a(announce_mu_);
    member_map before, after;
    {
      std::lock_guard g(view_mu_);
      before.swap(members_);
      names_.clear();
      holders_.clear();
      singletons_.clear();
      for (const auto& kv : all->kvs) {
        if (kv.key.starts_with(prefix_)) apply(kv, false);
      }
      revision_ = all->revision;
      after = members_;
    }
    view_changed_.notify_all();
    announce_changes(before, after, "its lease expired");
  }
  request_reconcile();
  auto w = etcd_->watch(
      prefix_, all->revision + 1,
      [this](const std::vector<etcd_event>& events, std::int64_t revision) { on_events(events, revision); },
      [this](status why) { on_watch_end(std::move(why)); });
  if (!w) return error(w.code(), "cluster: cannot watch the cluster's state: " + w.error().message());
  if (watch_) watch_->stop();
  watch_ = std::move(*w);
  return {};
}

void engine::on_events(const std::vector<etcd_event>& events, std::int64_t revision) {
  std::lock_guard a(announce_mu_);
  member_map before, after;
  bool reconcile = false;
  {
    std::lock_guard g(view_mu_);
    if (revision <= revision_) return;  // already in a newer listing
    before = members_;
    for (const auto& e : events) {
      if (!e.kv.key.starts_with(prefix_)) continue;
      apply(e.kv, e.deleted);
      // A name gone, a member gone, a singleton recorded: a singleton may need a host.
      const std::string_view rest = std::string_view(e.kv.key).substr(prefix_.size());
      reconcile =
          reconcile || rest.starts_with("singletons/") || (e.deleted && !rest.starts_with("singletons/"));
    }
    revision_ = revision;
    after = members_;
  }
  view_changed_.notify_all();
  announce_changes(before, after, "it left (its key was deleted or its lease expired)");
  if (reconcile) request_reconcile();
}

void engine::announce_changes(const member_map& before, const member_map& after,
                              const std::string& why_left) {
  auto oldest = [](const member_map& m) {
    const member* best = nullptr;
    for (const auto& [a, x] : m) {
      if (best == nullptr || x.joined_revision < best->joined_revision) best = &x;
    }
    return best == nullptr ? std::string() : best->address;
  };
  for (const auto& [address, m] : after) {
    if (!before.contains(address)) system_.announce(node_event{node_event_kind::joined, address, {}});
  }
  for (const auto& [address, m] : before) {
    if (!after.contains(address)) system_.announce(node_event{node_event_kind::left, address, why_left});
  }
  const std::string was = oldest(before), now = oldest(after);
  if (was != now) system_.announce(node_event{node_event_kind::leader_changed, now, {}});
}

void engine::on_watch_end(status why) {
  {
    std::lock_guard g(mu_);
    if (stopping_) return;
    relist_ = true;
  }
  system_.logger().warn("cluster: the watch of the cluster's state ended (" +
                        (why ? std::string("closed") : why.error().message()) + "); listing again");
  wake_.notify_all();
}

std::vector<member> engine::members() const {
  std::vector<member> out;
  {
    std::lock_guard g(view_mu_);
    for (const auto& [a, m] : members_) out.push_back(m);
  }
  std::sort(out.begin(), out.end(),
            [](const member& a, const member& b) { return a.joined_revision < b.joined_revision; });
  return out;
}

std::optional<member> engine::leader() const {
  auto all = members();
  if (all.empty()) return std::nullopt;
  return all.front();
}

void engine::report_metrics(metric_sink& sink) const {
  static constexpr metric_info members_series{"akt.cluster.members", "{member}",
                                              "Members in this node's view of the cluster, itself included.",
                                              metric_kind::up_down};
  static constexpr metric_info leader_series{
      "akt.cluster.leader", "1", "1 while this node is the cluster's leader (its oldest member), else 0.",
      metric_kind::gauge};
  static constexpr metric_info names_series{
      "akt.cluster.names", "{name}",
      "Names registered cluster-wide in this node's view (singletons included).", metric_kind::up_down};
  static constexpr metric_info singletons_series{"akt.cluster.singletons", "{singleton}",
                                                 "Singletons on record in this node's view.",
                                                 metric_kind::up_down};
  std::size_t member_count = 0, name_count = 0, singleton_count = 0;
  bool leads = false;
  {
    std::lock_guard g(view_mu_);
    member_count = members_.size();
    name_count = names_.size();
    singleton_count = singletons_.size();
    const member* oldest = nullptr;
    for (const auto& [a, m] : members_) {
      if (oldest == nullptr || m.joined_revision < oldest->joined_revision) oldest = &m;
    }
    leads = oldest != nullptr && oldest->address == self_;
  }
  const std::string system = system_.name();
  const metric_attribute attrs[] = {{"akt.system", system}};
  sink.record(members_series, attrs, static_cast<std::int64_t>(member_count));
  sink.record(leader_series, attrs, std::int64_t{leads ? 1 : 0});
  sink.record(names_series, attrs, static_cast<std::int64_t>(name_count));
  sink.record(singletons_series, attrs, static_cast<std::int64_t>(singleton_count));
  etcd_metrics_.report(sink, attrs[0]);
}

// ---------------------------------------------------------------- runner

void engine::post(std::function<void()> job) {
  {
    std::lock_guard g(mu_);
    if (stopping_) return;
    jobs_.push_back(std::move(job));
  }
  wake_.notify_all();
}

std::string engine::readiness() const {
  if (lease_.load() == 0) return "not registered in the cluster (yet)";
  const auto since = std::chrono::steady_clock::duration(
      std::chrono::steady_clock::now().time_since_epoch().count() - last_renewed_.load());
  if (since > options_.lease_ttl) {
    return "etcd has not renewed this node's lease for " +
           akt::detail::format_duration(std::chrono::nanoseconds(since).count());
  }
  return {};
}

void engine::request_reconcile() {
  {
    std::lock_guard g(mu_);
    if (stopping_) return;
    reconcile_ = true;
  }
  wake_.notify_all();
}

void engine::advertise() {
  const std::uint64_t load = system_.actor_count();
  std::vector<std::string> kinds;
  for (auto& k : system_.registry().kinds()) {
    if (k.find_first_of(",\t\n") == std::string::npos) kinds.push_back(std::move(k));
  }
  // Only changes that matter: every put is an event at every node.
  const std::uint64_t step = std::max<std::uint64_t>(16, advertised_load_ / 10);
  const bool moved = load > advertised_load_ + step || load + step < advertised_load_;
  if (!moved && kinds == advertised_kinds_) return;
  if (auto s = etcd_->put(member_key(self_), member_value(load, kinds), lease_.load()); !s) {
    system_.logger().warn("cluster: could not advertise this node's load: " + s.error().message());
    return;
  }
  advertised_load_ = load;
  advertised_kinds_ = std::move(kinds);
}

void engine::keep_alive_once() {
  const std::int64_t lease = lease_.load();
  auto ttl = etcd_->keep_alive(lease);
  if (!ttl) {
    system_.logger().warn("cluster: keep-alive failed: " + ttl.error().message());
    return;
  }
  if (*ttl > 0) {
    last_renewed_.store(std::chrono::steady_clock::now().time_since_epoch().count());
    advertise();
    return;
  }
  // The lease expired (a partition longer than lease_ttl): register again.
  system_.logger().warn("cluster: this node's lease expired; registering again");
  if (auto s = register_self(); !s) {
    system_.logger().warn(s.error().message());
    return;
  }
  reclaim_names();
}

void engine::runner() {
  const auto beat = std::chrono::duration_cast<std::chrono::milliseconds>(options_.lease_ttl) / 3;
  auto next_beat = std::chrono::steady_clock::now() + beat;
  auto retry_backoff = std::chrono::milliseconds(100);
  for (;;) {
    std::function<void()> job;
    bool relist = false, reconcile = false;
    {
      std::unique_lock g(mu_);
      wake_.wait_until(g, next_beat, [&] { return stopping_ || !jobs_.empty() || relist_ || reconcile_; });
      if (stopping_) return;
      if (!jobs_.empty()) {
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      relist = relist_;
      relist_ = false;
      reconcile = reconcile_;
      reconcile_ = false;
    }
    if (job) job();
    if (relist) {
      if (auto s = list_and_watch(); !s) {
        system_.logger().warn(s.error().message() + "; trying again in " +
                              akt::detail::format_duration(std::chrono::nanoseconds(retry_backoff).count()));
        std::this_thread::sleep_for(retry_backoff);  // bounded, on this thread only
        retry_backoff = std::min(retry_backoff * 2, std::chrono::milliseconds(2000));
        std::lock_guard g(mu_);
        relist_ = true;
      } else {
        retry_backoff = std::chrono::milliseconds(100);
      }
    }
    if (reconcile) reconcile_singletons();
    if (std::chrono::steady_clock::now() >= next_beat) {
      keep_alive_once();
      retry_releases();
      reconcile_singletons();  // also catches what a lost event would have missed
      next_beat = std::chrono::steady_clock::now() + beat;
    }
  }
}

}  // namespace akt::cluster::detail
