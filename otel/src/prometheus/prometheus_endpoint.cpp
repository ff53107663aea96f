#include "prometheus_endpoint.hpp"

#include <CivetServer.h>
#include <arpa/inet.h>
#include <civetweb.h>
#include <netdb.h>
#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>
#include <sys/socket.h>

#include <akt/detail/thread_name.hpp>

#include <algorithm>
#include <cassert>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <limits>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace akt::otel::detail {

namespace {

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Every character outside [a-zA-Z0-9_] (and ':' where allowed) becomes '_',
// runs of '_' become one (OpenTelemetry's rule for names and label names).
std::string sanitize(std::string_view s, bool allow_colon) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const char k = is_name_char(c) || (allow_colon && c == ':') ? c : '_';
    if (k == '_' && !out.empty() && out.back() == '_') continue;
    out.push_back(k);
  }
  return out;
}

// UCUM units as Prometheus spells them (the collector's table).
std::string_view unit_word(std::string_view u) {
  static constexpr std::pair<std::string_view, std::string_view> words[] = {
      {"d", "days"},          {"h", "hours"},
      {"min", "minutes"},     {"s", "seconds"},
      {"ms", "milliseconds"}, {"us", "microseconds"},
      {"ns", "nanoseconds"},  {"By", "bytes"},
      {"KiBy", "kibibytes"},  {"MiBy", "mebibytes"},
      {"GiBy", "gibibytes"},  {"TiBy", "tibibytes"},
      {"KBy", "kilobytes"},   {"MBy", "megabytes"},
      {"GBy", "gigabytes"},   {"TBy", "terabytes"},
      {"m", "meters"},        {"V", "volts"},
      {"A", "amperes"},       {"J", "joules"},
      {"W", "watts"},         {"g", "grams"},
      {"Cel", "celsius"},     {"Hz", "hertz"},
      {"%", "percent"},       {"1", ""}};
  for (const auto& [from, to] : words) {
    if (u == from) return to;
  }
  return u;
}

// The denominator of a rate unit ("By/s" → "second").
std::string_view per_unit_word(std::string_view u) {
  static constexpr std::pair<std::string_view, std::string_view> words[] = {
      {"s", "second"}, {"m", "minute"}, {"h", "hour"}, {"d", "day"},
      {"w", "week"},   {"mo", "month"}, {"y", "year"}};
  for (const auto& [from, to] : words) {
    if (u == from) return to;
  }
  return u;
}

std::string trim_underscores(std::string s) {
  const auto first = s.find_first_not_of('_');
  if (first == std::string::npos) return {};
  const auto last = s.find_last_not_of('_');
  return s.substr(first, last - first + 1);
}

// The unit's suffix without the leading '_' ("" for none).
std::string unit_suffix(std::string_view unit, metric_kind kind) {
  std::string u;
  int depth = 0;  // inside {annotations}
  for (char c : unit) {
    if (c == '{') {
      ++depth;
    } else if (c == '}') {
      depth = depth > 0 ? depth - 1 : 0;
    } else if (depth == 0 && c != ' ') {
      u.push_back(c);
    }
  }
  if (u.empty()) return {};
  // A count of things is unitless in Prometheus; "1" as a ratio only where
  // a value can be a fraction of a whole: a gauge.
  if (u == "1") return kind == metric_kind::gauge || kind == metric_kind::up_down ? "ratio" : "";
  const auto slash = u.find('/');
  const std::string_view whole(u);
  std::string out(unit_word(whole.substr(0, slash)));
  if (slash != std::string::npos && slash + 1 < u.size()) {
    const std::string_view per = per_unit_word(whole.substr(slash + 1));
    out = out.empty() ? "per_" + std::string(per) : out + "_per_" + std::string(per);
  }
  return trim_underscores(sanitize(out, false));
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string label_name(std::string_view key) {
  std::string out = sanitize(key, false);
  if (out.empty()) return "key";
  if (is_digit(out.front())) return "key_" + out;
  return out;
}

// `s` with every byte that is not part of well-formed UTF-8 replaced by U+FFFD.
std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    // The sequence's length and the least code point it may encode
    // (anything less is an overlong form).
    std::size_t len = 0;
    std::uint32_t min = 0;
    if (b < 0x80) {
      len = 1;
    } else if ((b & 0xE0) == 0xC0) {
      len = 2;
      min = 0x80;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3;
      min = 0x800;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4;
      min = 0x10000;
    }
    bool ok = len > 0 && i + len <= s.size();
    std::uint32_t cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
    for (std::size_t k = 1; ok && k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      ok = (c & 0xC0) == 0x80;
      cp = (cp << 6) | (c & 0x3F);
    }
    ok = ok && cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
  return out;
}

// prometheus-cpp writes HELP as given: a newline would end the line early.
std::string help_text(std::string_view description) {
  std::string out;
  for (char c : valid_utf8(description)) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::vector<prometheus::ClientMetric::Label> labels_of(
    const std::vector<std::pair<std::string, std::string>>& attrs) {
  // Sorted by original key, so that colliding keys join in a stable order.
  std::vector<const std::pair<std::string, std::string>*> sorted;
  sorted.reserve(attrs.size());
  for (const auto& kv : attrs) sorted.push_back(&kv);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
  std::vector<prometheus::ClientMetric::Label> out;
  for (const auto* kv : sorted) {
    std::string name = label_name(kv->first);
    std::string value = valid_utf8(kv->second);
    auto same = std::find_if(out.begin(), out.end(), [&](const auto& l) { return l.name == name; });
    if (same != out.end()) {
      same->value += ";" + value;
    } else {
      out.push_back({std::move(name), std::move(value)});
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

double number_of(const metric_point& p) {
  return p.is_double ? p.as_double : static_cast<double>(p.as_int);
}

prometheus::ClientMetric client_metric(const metric_family& f, const metric_point& p) {
  prometheus::ClientMetric m;
  m.label = labels_of(p.attributes);
  switch (f.kind) {
    case metric_kind::counter:
      m.counter.value = number_of(p);
      break;
    case metric_kind::up_down:
    case metric_kind::gauge:
      m.gauge.value = number_of(p);
      break;
    case metric_kind::histogram: {
      // OpenTelemetry's counts are per bucket; Prometheus's are cumulative.
      assert(p.counts.size() == p.bounds.size() + 1);
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < p.bounds.size(); ++i) {
        cumulative += i < p.counts.size() ? p.counts[i] : 0;
        m.histogram.bucket.push_back({cumulative, p.bounds[i]});
      }
      if (!p.counts.empty()) cumulative += p.counts.back();
      m.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
      m.histogram.sample_count = p.count;
      m.histogram.sample_sum = p.sum;
      break;
    }
  }
  return m;
}

prometheus::MetricType type_of(metric_kind k) {
  switch (k) {
    case metric_kind::counter:
      return prometheus::MetricType::Counter;
    case metric_kind::up_down:
    case metric_kind::gauge:
      return prometheus::MetricType::Gauge;
    case metric_kind::histogram:
      return prometheus::MetricType::Histogram;
  }
  return prometheus::MetricType::Untyped;
}

prometheus::MetricFamily target_info_of(const resource_info& r) {
  std::vector<std::pair<std::string, std::string>> attrs = r.attributes;
  attrs.emplace_back("service.name", r.service_name);
  prometheus::ClientMetric m;
  m.label = labels_of(attrs);
  m.gauge.value = 1;
  return prometheus::MetricFamily{
      "target_info", "Target metadata", prometheus::MetricType::Gauge, {std::move(m)}};
}

// What the exposer collects at every scrape. Immutable once made: safe on
// any number of exposer threads (collect_ must be too).
class snapshot_collectable final : public prometheus::Collectable {
 public:
  snapshot_collectable(resource_info resource, std::function<metric_snapshot()> collect)
      : target_info_(target_info_of(resource)), collect_(std::move(collect)) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> out{target_info_};
    metric_snapshot snapshot;
    try {
      snapshot = collect_();
    } catch (const std::exception&) {
      // The exposer's thread is no place to throw (civetweb does not catch):
      // this scrape carries the resource alone and the next one tries again.
      return out;
    }
    std::unordered_map<std::string, std::size_t> by_name{{"target_info", 0}};
    for (const metric_family& f : snapshot.families) {
      if (f.points.empty()) continue;
      std::string name = prometheus_name(f);
      auto [it, inserted] = by_name.try_emplace(name, out.size());
      if (inserted) {
        out.push_back(
            prometheus::MetricFamily{std::move(name), help_text(f.description), type_of(f.kind), {}});
      } else if (out[it->second].type != type_of(f.kind)) {
        continue;
      }
      auto& metrics = out[it->second].metric;
      for (const metric_point& p : f.points) metrics.push_back(client_metric(f, p));
    }
    return out;
  }

 private:
  const prometheus::MetricFamily target_info_;
  const std::function<metric_snapshot()> collect_;
};

// Requests admitted and not yet ended, so that the endpoint can stop
// admitting and wait for them before prometheus-cpp frees its handler.
struct request_gate {
  std::mutex mutex;
  std::condition_variable idle;
  int in_flight = 0;      // guarded by mutex
  bool stopping = false;  // guarded by mutex
};

// civetweb's callbacks get no pointer of ours (CivetServer keeps the
// context's user data for itself), so each context finds its gate here.
// init_context runs on the thread that starts civetweb, before any request.
std::mutex gates_mutex;
std::unordered_map<const mg_context*, request_gate*> gates;  // guarded by gates_mutex
thread_local request_gate* starting_gate = nullptr;
thread_local std::string* starting_log = nullptr;  // civetweb's complaints while starting

request_gate* gate_of(const mg_connection* conn) {
  std::lock_guard lock(gates_mutex);
  auto it = gates.find(mg_get_context(conn));
  return it == gates.end() ? nullptr : it->second;
}

// Marks a connection whose current request was admitted.
char admitted_marker;

int on_begin_request(mg_connection* conn) {
  request_gate* g = gate_of(conn);
  if (g == nullptr) return 0;
  {
    std::lock_guard lock(g->mutex);
    if (!g->stopping) {
      ++g->in_flight;
      mg_set_user_connection_data(conn, &admitted_marker);
      return 0;
    }
  }
  mg_send_http_error(conn, 503, "%s", "The metrics endpoint is shutting down.");
  return 503;
}

void on_end_request(const mg_connection* conn, int) {
  if (mg_get_user_connection_data(conn) != &admitted_marker) return;
  mg_set_user_connection_data(conn, nullptr);
  request_gate* g = gate_of(conn);
  if (g == nullptr) return;
  std::lock_guard lock(g->mutex);
  if (--g->in_flight == 0) g->idle.notify_all();
}

void on_init_context(const mg_context* ctx) {
  std::lock_guard lock(gates_mutex);
  if (starting_gate != nullptr) gates[ctx] = starting_gate;
}

int on_log_message(const mg_connection*, const char* message) {
  if (starting_log != nullptr && message != nullptr) {
    if (!starting_log->empty()) *starting_log += "; ";
    *starting_log += message;
  }
  return 1;  // nothing else to do with it: no log file is configured
}

const CivetCallbacks& civetweb_callbacks() {
  static const CivetCallbacks callbacks = [] {
    CivetCallbacks c;
    c.begin_request = on_begin_request;
    c.end_request = on_end_request;
    c.log_message = on_log_message;
    c.init_context = on_init_context;
    return c;
  }();
  return callbacks;
}

void forget_gate(const request_gate* g) {
  std::lock_guard lock(gates_mutex);
  std::erase_if(gates, [g](const auto& kv) { return kv.second == g; });
}

error bad_address(std::string_view address, std::string_view why) {
  return error(errc::invalid_argument, "the Prometheus address '" + std::string(address) + "' " +
                                           std::string(why) +
                                           " (expected host:port, e.g. 127.0.0.1:9464 or [::1]:9464; port 0 "
                                           "picks a free one)");
}

// civetweb's listening_ports value for "host:port": numeric, since civetweb
// takes no host names.
result<std::string> listening_port(std::string_view address) {
  std::string_view host;
  std::string_view port;
  bool v6 = false;
  if (address.starts_with('[')) {
    const auto close = address.find("]:");
    if (close == std::string_view::npos) return bad_address(address, "has no ']:' after its IPv6 address");
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
    v6 = true;
  } else {
    const auto colon = address.rfind(':');
    if (colon == std::string_view::npos) return bad_address(address, "has no port");
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return bad_address(address, "has a bare IPv6 address (put it in brackets)");
    }
  }
  if (host.empty()) return bad_address(address, "has no host (0.0.0.0 listens on every interface)");
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), is_digit) ||
      std::atoi(std::string(port).c_str()) > 65535) {
    return bad_address(address, "has no valid port (0 to 65535)");
  }
  const std::string host_s(host);
  const std::string port_s = std::to_string(std::atoi(std::string(port).c_str()));
  unsigned char buf[sizeof(in6_addr)];
  // Debian's civetweb is built without IPv6 (USE_IPV6): said here, not
  // as a bind failure.
  const bool ipv6_served = mg_check_feature(8) != 0;
  if (v6) {
    if (::inet_pton(AF_INET6, host_s.c_str(), buf) != 1) {
      return bad_address(address, "has no valid IPv6 address");
    }
    if (!ipv6_served) return bad_address(address, "is IPv6, which this build's civetweb does not serve");
    return "[" + host_s + "]:" + port_s;
  }
  if (::inet_pton(AF_INET, host_s.c_str(), buf) == 1) return host_s + ":" + port_s;
  // A host name: letters, digits, '-' and '.' only, then resolved here.
  const bool name_ok =
      std::all_of(host.begin(), host.end(), [](char c) { return is_name_char(c) || c == '-' || c == '.'; });
  if (!name_ok) return bad_address(address, "has neither an IP address nor a host name");
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host_s.c_str(), nullptr, &hints, &found);
  if (rc != 0) {
    const std::string why = std::string("names a host that cannot be resolved: ") + ::gai_strerror(rc);
    if (rc == EAI_AGAIN)
      return error(errc::unavailable, "the Prometheus address '" + std::string(address) + "' " + why);
    return bad_address(address, why);
  }
  std::string numeric;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    if (a->ai_family == AF_INET) {
      ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr, text, sizeof text);
      numeric = std::string(text) + ":" + port_s;
      break;  // IPv4 first: "localhost" then means 127.0.0.1, as most scrapers expect
    }
    if (a->ai_family == AF_INET6 && ipv6_served && numeric.empty()) {
      ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr, text, sizeof text);
      numeric = "[" + std::string(text) + "]:" + port_s;
    }
  }
  ::freeaddrinfo(found);
  if (numeric.empty()) return bad_address(address, "names a host with no address that can be served");
  return numeric;
}

// Connects to `listening` ("127.0.0.1:9464", "[::1]:9464", "0.0.0.0:9464")
// and hangs up at once: wakes civetweb's accepting thread, which otherwise
// looks at its stop flag only every 2 s (its poll quantum). The worker that
// may take the connection reads its end and lets it go.
void poke(const std::string& listening) {
  const bool v6 = listening.starts_with('[');
  const auto colon = listening.rfind(':');
  std::string host = v6 ? listening.substr(1, colon - 2) : listening.substr(0, colon);
  const auto port = static_cast<std::uint16_t>(std::atoi(listening.c_str() + colon + 1));
  sockaddr_storage to{};
  socklen_t len = 0;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&to);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    if (host == "::") host = "::1";
    ::inet_pton(AF_INET6, host.c_str(), &a->sin6_addr);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&to);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    if (host == "0.0.0.0") host = "127.0.0.1";
    ::inet_pton(AF_INET, host.c_str(), &a->sin_addr);
    len = sizeof *a;
  }
  const int fd = ::socket(to.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  (void)::connect(fd, reinterpret_cast<sockaddr*>(&to), len);
  ::close(fd);
}

}  // namespace

std::string prometheus_name(const metric_family& f) {
  std::string name = sanitize(f.name, true);
  if (!name.empty() && is_digit(name.front())) name.insert(name.begin(), '_');
  const bool counter = f.kind == metric_kind::counter;
  // A counter's _total goes last, after the unit.
  if (counter && name.size() > 6 && ends_with(name, "_total")) name.resize(name.size() - 6);
  const std::string unit = unit_suffix(f.unit, f.kind);
  if (!unit.empty() && name != unit && !ends_with(name, "_" + unit)) name += "_" + unit;
  if (counter) name += "_total";
  return name;
}

struct prometheus_endpoint::impl {
  request_gate gate;
  std::shared_ptr<snapshot_collectable> collectable;
  std::unique_ptr<prometheus::Exposer> exposer;
  std::string listening;  // civetweb's listening_ports, with the bound port
  std::uint16_t port = 0;

  ~impl() {
    if (exposer) {
      {
        std::unique_lock lock(gate.mutex);
        gate.stopping = true;
        // Bounded: civetweb gives up on a client that does not take its
        // response within request_timeout.
        gate.idle.wait_for(lock, 2 * request_timeout + std::chrono::seconds(1),
                           [&] { return gate.in_flight == 0; });
      }
      std::mutex m;
      std::condition_variable cv;
      bool stopped = false;  // guarded by m
      std::thread waker([&] {
        akt::detail::name_this_thread("akt-prom-stop");
        std::unique_lock lock(m);
        while (!stopped) {
          lock.unlock();
          poke(listening);
          lock.lock();
          cv.wait_for(lock, std::chrono::milliseconds(20), [&] { return stopped; });
        }
      });
      exposer.reset();  // stops civetweb and joins its threads
      {
        std::lock_guard lock(m);
        stopped = true;
      }
      cv.notify_all();
      waker.join();
    }
    forget_gate(&gate);
  }
};

prometheus_endpoint::prometheus_endpoint(std::unique_ptr<impl> i) : impl_(std::move(i)) {}
prometheus_endpoint::~prometheus_endpoint() = default;
std::uint16_t prometheus_endpoint::port() const noexcept {
  return impl_->port;
}

result<std::unique_ptr<prometheus_endpoint>> prometheus_endpoint::start(
    std::string_view address, resource_info resource, std::function<metric_snapshot()> collect) {
  auto ports = listening_port(address);
  if (!ports) return ports.error();
  auto i = std::make_unique<impl>();
  i->collectable = std::make_shared<snapshot_collectable>(std::move(resource), std::move(collect));
  std::vector<std::string> options = {
      "listening_ports",
      *ports,
      "num_threads",
      std::to_string(worker_threads),
      "request_timeout_ms",
      std::to_string(request_timeout.count()),
      // A scrape per connection: an idle keep-alive connection would hold a
      // worker thread between scrapes.
      "enable_keep_alive",
      "no",
  };
  std::string log;
  starting_gate = &i->gate;
  starting_log = &log;
  try {
    i->exposer = std::make_unique<prometheus::Exposer>(std::move(options), &civetweb_callbacks());
  } catch (const std::exception& e) {
    starting_gate = nullptr;
    starting_log = nullptr;
    forget_gate(&i->gate);
    return error(errc::unavailable,
                 "cannot serve Prometheus metrics on " + std::string(address) +
                     ": the address could not be bound (is the port in use, or the address "
                     "not one of this host's?): " +
                     (log.empty() ? std::string(e.what()) : log));
  }
  starting_gate = nullptr;
  starting_log = nullptr;
  const std::vector<int> bound = i->exposer->GetListeningPorts();
  assert(!bound.empty());
  i->port = static_cast<std::uint16_t>(bound.front());
  i->listening = ports->substr(0, ports->rfind(':') + 1) + std::to_string(i->port);
  i->exposer->RegisterCollectable(i->collectable);
  return std::unique_ptr<prometheus_endpoint>(new prometheus_endpoint(std::move(i)));
}

}  // namespace akt::otel::detail
