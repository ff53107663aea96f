// The DNS provider: A/AAAA or SRV records, asked afresh on every nodes()
// call and every watch poll (dns_resolver.hpp does the asking).
#include <akt/detail/thread_name.hpp>
#include <akt/discovery/discovery.hpp>

#include <ares.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "dns_resolver.hpp"

namespace akt::discovery {

namespace {

using detail::dns_answer;
using detail::dns_question;
using detail::dns_resolver;
using detail::dns_type;

std::string_view type_name(dns_type t) {
  switch (t) {
    case dns_type::a:
      return "A";
    case dns_type::aaaa:
      return "AAAA";
    case dns_type::srv:
      return "SRV";
  }
  return "?";
}

bool is_absent(int status) {
  return status == ARES_ENOTFOUND || status == ARES_ENODATA;
}

// Why `q` got no usable answer, for statuses other than success.
error query_error(const dns_question& q, int status, const dns_resolver& r,
                  std::chrono::milliseconds timeout) {
  const std::string what = std::string(type_name(q.type)) + " records of " + q.name;
  switch (status) {
    case ARES_ENOTFOUND:
      return error(errc::not_found, "dns discovery: the name " + q.name + " does not exist (NXDOMAIN from " +
                                        r.servers() + ")");
    case ARES_ENODATA:
      return error(errc::not_found, "dns discovery: " + q.name + " has no " + std::string(type_name(q.type)) +
                                        " records (asked " + r.servers() + ")");
    case ARES_ETIMEOUT:
      return error(errc::unavailable,
                   "dns discovery: no DNS server answered within " +
                       akt::detail::format_duration(std::chrono::nanoseconds(timeout).count()) + " (asked " +
                       r.servers() + " for the " + what + ")");
    case ARES_ECONNREFUSED:
      return error(errc::unavailable,
                   "dns discovery: the DNS server refused the connection (is one listening at " +
                       r.servers() + "?) asking for the " + what);
    case ARES_ECANCELLED:
      return error(errc::unavailable, "dns discovery: stopped while asking for the " + what);
    default:
      return error(errc::unavailable, "dns discovery: " + r.servers() + " gave no answer for the " + what +
                                          ": " + ares_strerror(status));
  }
}

// The address a node is reached at: IPv4 first, then the smallest, so
// that a server's round-robin order does not make the list change.
std::string pick_address(std::vector<std::string> addresses) {
  std::sort(addresses.begin(), addresses.end(), [](const std::string& a, const std::string& b) {
    const bool a6 = a.find(':') != std::string::npos, b6 = b.find(':') != std::string::npos;
    return a6 != b6 ? !a6 : a < b;
  });
  return addresses.empty() ? std::string() : addresses.front();
}

class dns_provider final : public provider {
 public:
  dns_provider(dns_options options, std::vector<detail::dns_server> servers)
      : options_(std::move(options)), servers_(std::move(servers)) {}
  ~dns_provider() override { stop(); }

  std::string_view name() const noexcept override { return "dns"; }

  status start() override {
    auto r = dns_resolver::open(servers_, options_.timeout);
    if (!r) return r.error();
    return {};
  }

  result<std::vector<node>> nodes() override {
    static const std::atomic<bool> never{false};
    return resolve(never);
  }

  status watch(on_change_fn on_change) override {
    if (watcher_.joinable()) {
      return error(errc::invalid_argument,
                   "dns discovery: a watch is already running (one watcher per provider)");
    }
    {
      std::lock_guard lock(mutex_);
      stopping_ = false;
    }
    cancel_.store(false);
    watcher_ = std::thread([this, on_change = std::move(on_change)] {
      akt::detail::name_this_thread("akt-dns-watch");
      run_watch(on_change);
    });
    return {};
  }

  void stop() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cancel_.store(true);
    wake_.notify_all();
    // From on_change itself: the loop ends once the callback returns; the
    // owner's later stop() (or the destructor) joins it.
    if (watcher_.joinable() && watcher_.get_id() != std::this_thread::get_id()) watcher_.join();
  }

 private:
  result<std::vector<node>> resolve(const std::atomic<bool>& cancel) {
    auto resolver = dns_resolver::open(servers_, options_.timeout);
    if (!resolver) return resolver.error();
    auto found = options_.srv ? resolve_srv(**resolver, cancel) : resolve_addresses(**resolver, cancel);
    if (found) {
      std::sort(found->begin(), found->end(), [](const node& a, const node& b) { return a.id < b.id; });
    }
    return found;
  }

  result<std::vector<node>> resolve_addresses(dns_resolver& r, const std::atomic<bool>& cancel) {
    const std::vector<dns_question> questions{{options_.name, dns_type::a}, {options_.name, dns_type::aaaa}};
    const auto answers = r.ask(questions, cancel);
    for (std::size_t i = 0; i < answers.size(); ++i) {
      if (answers[i].status != ARES_SUCCESS && !is_absent(answers[i].status)) {
        return query_error(questions[i], answers[i].status, r, options_.timeout);
      }
    }
    std::vector<node> out;
    for (std::size_t i = 0; i < answers.size(); ++i) {
      for (auto& ip : detail::answer_addresses(answers[i], questions[i].type)) {
        out.push_back({.id = ip, .host = ip, .ports = options_.ports});
      }
    }
    if (out.empty()) {
      if (answers[0].status == ARES_ENOTFOUND)
        return query_error(questions[0], ARES_ENOTFOUND, r, options_.timeout);
      return error(errc::not_found, "dns discovery: " + options_.name + " has no A or AAAA records (asked " +
                                        r.servers() + ")");
    }
    return out;
  }

  result<std::vector<node>> resolve_srv(dns_resolver& r, const std::atomic<bool>& cancel) {
    std::vector<dns_question> questions;
    for (const auto& port_name : options_.port_names) {
      questions.push_back({"_" + port_name + "._tcp." + options_.name, dns_type::srv});
    }
    const auto answers = r.ask(questions, cancel);
    std::map<std::string, node, std::less<>> by_target;
    std::map<std::string, std::uint16_t, std::less<>> priority;  // "target/port name" -> of the port kept
    std::map<std::string, std::vector<std::string>> addresses;   // target -> from additional sections
    std::string absent;
    for (std::size_t i = 0; i < answers.size(); ++i) {
      if (is_absent(answers[i].status)) {
        absent += (absent.empty() ? "" : ", ") + questions[i].name +
                  (answers[i].status == ARES_ENOTFOUND ? " does not exist" : " has no SRV records");
        continue;
      }
      if (answers[i].status != ARES_SUCCESS)
        return query_error(questions[i], answers[i].status, r, options_.timeout);
      auto records = detail::answer_srv_records(answers[i]);
      if (!records) return records.error();
      for (const auto& rec : *records) {
        if (rec.target.empty()) continue;  // "." : this service is not offered here
        auto& n = by_target[rec.target];
        n.id = rec.target;
        const auto& port_name = options_.port_names[i];
        // Two records for one target and port name: the preferred (lowest
        // priority, then lowest port) wins, whatever order they came in.
        auto [it, fresh] = priority.try_emplace(rec.target + "/" + port_name, rec.priority);
        auto& port = n.ports[port_name];
        if (fresh || rec.priority < it->second || (rec.priority == it->second && rec.port < port)) {
          it->second = rec.priority;
          port = rec.port;
        }
      }
      for (auto& [host, ips] : detail::additional_addresses(answers[i].message)) {
        auto& known = addresses[host];
        known.insert(known.end(), ips.begin(), ips.end());
      }
    }
    if (by_target.empty()) {
      return error(errc::not_found, "dns discovery: no SRV records for any port name of " + options_.name +
                                        " (asked " + r.servers() + "): " +
                                        (absent.empty() ? "every record names the root target '.'" : absent));
    }
    // Targets whose addresses the additional sections left out: asked for.
    std::vector<dns_question> lookups;
    for (const auto& [target, n] : by_target) {
      if (addresses.count(target) != 0) continue;
      lookups.push_back({target, dns_type::a});
      lookups.push_back({target, dns_type::aaaa});
    }
    if (!lookups.empty()) {
      const auto found = r.ask(lookups, cancel);
      for (std::size_t i = 0; i < found.size(); ++i) {
        if (found[i].status != ARES_SUCCESS && !is_absent(found[i].status)) {
          return query_error(lookups[i], found[i].status, r, options_.timeout);
        }
        auto ips = detail::answer_addresses(found[i], lookups[i].type);
        auto& known = addresses[lookups[i].name];
        known.insert(known.end(), ips.begin(), ips.end());
      }
    }
    std::vector<node> out;
    std::string unresolved;
    for (auto& [target, n] : by_target) {
      n.host = pick_address(addresses[target]);
      if (n.host.empty()) {
        unresolved += (unresolved.empty() ? "" : ", ") + target;
        continue;  // not reachable: left out rather than failing every other node
      }
      out.push_back(std::move(n));
    }
    if (out.empty()) {
      return error(errc::not_found, "dns discovery: the SRV records of " + options_.name +
                                        " name hosts without an address (" + unresolved + ")");
    }
    return out;
  }

  void run_watch(const on_change_fn& on_change) {
    std::optional<std::vector<node>> last;
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      // A failed poll keeps the last list: DNS cannot tell "no nodes" from
      // "the server is restarting", and an empty list would tell the
      // cluster that every peer left.
      auto now = resolve(cancel_);
      if (now && (!last || *now != *last)) {
        last = std::move(*now);
        on_change(*last);
      }
      lock.lock();
      wake_.wait_for(lock, options_.interval, [this] { return stopping_; });
    }
  }

  const dns_options options_;
  const std::vector<detail::dns_server> servers_;

  std::thread watcher_;  // owned by the thread that calls watch() and stop()
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;            // guarded by mutex_
  std::atomic<bool> cancel_{false};  // ends a resolution under way at stop()
};

bool is_port_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-';
  });
}

}  // namespace

result<std::unique_ptr<provider>> dns(dns_options options) {
  if (options.name.empty()) {
    return error(
        errc::invalid_argument,
        "dns discovery: the name is empty (give a fully qualified name, e.g. akt.shop.svc.cluster.local)");
  }
  if (options.interval <= std::chrono::milliseconds::zero()) {
    return error(errc::invalid_argument,
                 "dns discovery: the interval must be positive (it is how often the watch polls)");
  }
  if (options.timeout <= std::chrono::milliseconds::zero()) {
    return error(errc::invalid_argument, "dns discovery: the timeout must be positive");
  }
  if (options.srv) {
    if (options.port_names.empty()) {
      return error(errc::invalid_argument, "dns discovery: SRV mode needs port names (e.g. clients-port)");
    }
    for (const auto& p : options.port_names) {
      if (!is_port_name(p)) {
        return error(errc::invalid_argument,
                     "dns discovery: the port name '" + p + "' is not a DNS label (letters, digits and '-')");
      }
    }
  } else {
    if (options.ports.empty()) {
      return error(errc::invalid_argument,
                   "dns discovery: A/AAAA mode needs ports (every address gets them), e.g. "
                   "{{\"remoting-port\", 4000}}");
    }
    for (const auto& [port_name, port] : options.ports) {
      if (port == 0) {
        return error(errc::invalid_argument, "dns discovery: the port '" + port_name + "' is 0");
      }
    }
  }
  std::vector<detail::dns_server> servers;
  for (const auto& s : options.servers) {
    auto parsed = detail::parse_dns_server(s);
    if (!parsed) return parsed.error();
    servers.push_back(std::move(*parsed));
  }
  return std::unique_ptr<provider>(new dns_provider(std::move(options), std::move(servers)));
}

}  // namespace akt::discovery
