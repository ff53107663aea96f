// The Kubernetes provider: the pods of one application, from the API server
// the pod runs under (list, then watch), over libcurl; see discovery.hpp for
// the behaviour and kubernetes/ for HTTP and the API's JSON.
#include <akt/detail/thread_name.hpp>
#include <akt/discovery/discovery.hpp>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "kubernetes/http.hpp"
#include "kubernetes/pods.hpp"

namespace akt::discovery {

namespace {

using namespace std::chrono_literals;
using k8s::http_outcome;
using k8s::http_session;
using k8s::missing_port;
using k8s::pod_list;
using k8s::transport_failure;

constexpr auto min_backoff = 100ms;
constexpr auto max_backoff = 5000ms;
// The API server ends each watch after this long; the provider then resumes
// from the last resourceVersion. Bounds how long a half-open connection
// (a server gone without a FIN) goes unnoticed.
constexpr int watch_timeout_seconds = 300;

std::string prefix(std::string_view s) {
  return "kubernetes discovery: " + std::string(s);
}

// The file's contents without surrounding white space, or nullopt when it
// cannot be read.
std::optional<std::string> read_trimmed(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return std::nullopt;
  std::string s = ss.str();
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return std::string();
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

class kubernetes_provider final : public provider {
 public:
  explicit kubernetes_provider(kubernetes_options options) : options_(std::move(options)) {}
  ~kubernetes_provider() override { stop(); }

  std::string_view name() const noexcept override { return "kubernetes"; }

  status start() override {
    std::string server = options_.api_server;
    if (server.empty()) {
      const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
      const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
      if (host == nullptr || *host == '\0' || port == nullptr || *port == '\0') {
        return error(errc::invalid_argument,
                     prefix("no API server: options.api_server is empty and KUBERNETES_SERVICE_HOST / "
                            "KUBERNETES_SERVICE_PORT are not set (is this process running in a pod?)"));
      }
      const std::string h = host;
      server = "https://" + (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + port;
    }
    while (!server.empty() && server.back() == '/') server.pop_back();
    if (server.rfind("https://", 0) != 0 && server.rfind("http://", 0) != 0) {
      return error(errc::invalid_argument,
                   prefix("options.api_server = '" + server + "' is not an https:// (or http://) URL"));
    }
    if (server.rfind("https://", 0) == 0 && !std::ifstream(options_.ca_file)) {
      return error(errc::invalid_argument,
                   prefix("cannot read the CA file " + options_.ca_file +
                          " (options.ca_file) that the API server's certificate is checked against"));
    }
    std::string ns = options_.namespace_name;
    if (ns.empty()) {
      auto from_file = read_trimmed(options_.namespace_file);
      if (!from_file || from_file->empty()) {
        return error(
            errc::invalid_argument,
            prefix("namespace unknown: options.namespace_name is empty and " + options_.namespace_file +
                   (from_file ? " is empty" : " cannot be read") + " (options.namespace_file)"));
      }
      ns = std::move(*from_file);
    }
    if (auto token = read_token(); !token) return token.error();
    base_url_ = std::move(server);
    namespace_ = std::move(ns);
    selector_ = k8s::label_selector(options_.system, options_.application);
    started_ = true;
    return {};
  }

  result<std::vector<node>> nodes() override {
    if (!started_) return error(errc::not_running, prefix("nodes() before a successful start()"));
    http_session session;
    auto list = list_pods(session, missing_port::fail);
    if (!list) return list.error();
    return std::move(list->nodes);
  }

  status watch(on_change_fn on_change) override {
    if (!started_) return error(errc::not_running, prefix("watch() before a successful start()"));
    if (thread_.joinable())
      return error(errc::invalid_argument, prefix("watch() twice: one watcher per provider"));
    if (watch_session_.is_interrupted()) return error(errc::not_running, prefix("watch() after stop()"));
    auto first = list_pods(watch_session_, missing_port::fail);
    if (!first) return first.error();
    thread_ = std::thread([this, on_change = std::move(on_change), first = std::move(*first)]() mutable {
      akt::detail::name_this_thread("akt-k8s-watch");
      run(on_change, std::move(first));
    });
    return {};
  }

  void stop() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    watch_session_.interrupt();
    if (thread_.joinable()) thread_.join();
  }

 private:
  enum class watch_end { ended, gone, failed, malformed, stopped };

  result<std::string> read_token() const {
    auto token = read_trimmed(options_.token_file);
    if (!token) {
      return error(errc::invalid_argument,
                   prefix("cannot read the service account token " + options_.token_file +
                          " (options.token_file); is automountServiceAccountToken off for this pod?"));
    }
    if (token->empty())
      return error(errc::invalid_argument, prefix("the token file " + options_.token_file + " is empty"));
    return std::move(*token);
  }

  std::string pods_url() const {
    return base_url_ + "/api/v1/namespaces/" + k8s::url_encode(namespace_) +
           "/pods?labelSelector=" + k8s::url_encode(selector_);
  }

  // What went wrong with a request, in words that say what to fix.
  error failure(const http_outcome& out, std::string_view verb) const {
    const std::string where = "the API server at " + base_url_;
    switch (out.failure) {
      case transport_failure::none:
        break;
      case transport_failure::interrupted:
      case transport_failure::aborted:
        return error(errc::not_running, prefix("stopped"));
      case transport_failure::timed_out:
        return error(errc::unavailable,
                     prefix(where + " did not answer within " +
                            detail::format_duration(std::chrono::nanoseconds(options_.timeout).count()) +
                            " (options.timeout): " + out.detail));
      case transport_failure::unreachable:
        return error(errc::unavailable, prefix("cannot reach " + where + ": " + out.detail));
      case transport_failure::tls_untrusted:
        return error(errc::invalid_argument,
                     prefix(where + " has a certificate that the CA in " + options_.ca_file +
                            " (options.ca_file) does not vouch for: " + out.detail));
      case transport_failure::tls_other:
        return error(errc::unavailable, prefix("TLS with " + where + " failed (CA file " + options_.ca_file +
                                               "): " + out.detail));
      case transport_failure::other:
        return error(errc::unavailable, prefix(where + ": " + out.detail));
    }
    const auto status = k8s::parse_status(out.response.body);
    const std::string said = status && !status->message.empty() ? ": " + status->message : "";
    const long code = out.response.status;
    if (code == 401) {
      return error(errc::not_permitted,
                   prefix(where + " refused the service account token from " + options_.token_file +
                          " (401 Unauthorized" + said + "): it is invalid or expired"));
    }
    if (code == 403) {
      return error(errc::not_permitted, prefix("the service account may not " + std::string(verb) +
                                               " pods in namespace " + namespace_ + " (403 Forbidden" + said +
                                               "); bind it to a Role that allows get, list and watch on pods "
                                               "(deploy/kubernetes/rbac.yaml's pod-reader)"));
    }
    return error(errc::unavailable, prefix(where + " answered " + std::to_string(code) + " to " +
                                           std::string(verb) + " pods in namespace " + namespace_ + said));
  }

  result<pod_list> list_pods(http_session& session, missing_port on_missing) const {
    auto token = read_token();  // every request: the kubelet rotates it
    if (!token) return token.error();
    auto out = session.get({.url = pods_url(),
                            .bearer_token = std::move(*token),
                            .ca_file = options_.ca_file,
                            .connect_timeout = options_.timeout,
                            .total_timeout = options_.timeout});
    if (out.failure != transport_failure::none || out.response.status != 200) return failure(out, "list");
    return k8s::parse_pod_list(out.response.body, options_.port_names, on_missing);
  }

  // One watch request from `version`, applying its events to `pods`.
  watch_end watch_from(std::string& version, std::map<std::string, node>& pods, bool& got_events,
                       const std::function<void()>& publish) {
    auto token = read_token();
    if (!token) return watch_end::failed;
    bool gone = false;
    bool malformed = false;
    auto out = watch_session_.get(
        {.url = pods_url() + "&watch=true&resourceVersion=" + k8s::url_encode(version) +
                "&allowWatchBookmarks=true&timeoutSeconds=" + std::to_string(watch_timeout_seconds),
         .bearer_token = std::move(*token),
         .ca_file = options_.ca_file,
         .connect_timeout = options_.timeout,
         .total_timeout = 0ms,
         .on_line = [&](std::string_view line) {
           auto event = k8s::parse_watch_event(line, options_.port_names);
           if (!event) {
             malformed = true;
             return false;
           }
           if (event->type == "ERROR") {
             gone = event->status_code == 410;
             return false;
           }
           got_events = true;
           if (!event->resource_version.empty()) version = event->resource_version;
           if (event->type == "DELETED" || (event->type != "BOOKMARK" && !event->serving)) {
             pods.erase(event->pod_name);
           } else if (event->serving) {
             pods.insert_or_assign(event->pod_name, std::move(*event->serving));
           }
           publish();
           return true;
         }});
    if (out.failure == transport_failure::interrupted) return watch_end::stopped;
    if (gone || out.response.status == 410) return watch_end::gone;
    if (malformed) return watch_end::malformed;
    if (out.failure != transport_failure::none || out.response.status != 200) return watch_end::failed;
    return watch_end::ended;
  }

  // Waits `d` unless stop() comes first; false when stopping.
  bool pause(std::chrono::milliseconds d) {
    std::unique_lock lock(mu_);
    return !cv_.wait_for(lock, d, [this] { return stopping_; });
  }

  // The watch thread: list, watch, resume; re-list when the version is gone.
  void run(const on_change_fn& on_change, pod_list first) {
    std::map<std::string, node> pods;
    for (auto& n : first.nodes) pods.emplace(n.id, std::move(n));
    std::vector<node> last;
    bool published = false;
    auto publish = [&] {
      std::vector<node> now;
      now.reserve(pods.size());
      for (const auto& [id, n] : pods) now.push_back(n);  // a map: sorted by id
      if (published && now == last) return;
      published = true;
      last = std::move(now);
      on_change(last);
    };
    publish();
    std::string version = std::move(first.resource_version);
    auto backoff = min_backoff;
    auto back_off = [&] {
      const bool go_on = pause(backoff);
      backoff = std::min(backoff * 2, max_backoff);
      return go_on;
    };
    bool relist = false;
    while (!watch_session_.is_interrupted()) {
      if (relist) {
        auto list = list_pods(watch_session_, missing_port::skip);
        if (!list) {
          if (!back_off()) return;
          continue;
        }
        pods.clear();
        for (auto& n : list->nodes) pods.emplace(n.id, std::move(n));
        version = std::move(list->resource_version);
        relist = false;
        publish();
      }
      bool got_events = false;
      const watch_end end = watch_from(version, pods, got_events, publish);
      if (got_events) backoff = min_backoff;
      switch (end) {
        case watch_end::stopped:
          return;
        case watch_end::gone:
          relist = true;
          break;  // at once: the server is fine, our version is old
        case watch_end::ended:
          if (!got_events && !back_off()) return;
          break;
        case watch_end::malformed:
          relist = true;
          [[fallthrough]];
        case watch_end::failed:
          if (!back_off()) return;
          break;
      }
    }
  }

  const kubernetes_options options_;
  // Set by start(), read-only afterwards.
  std::string base_url_;
  std::string namespace_;
  std::string selector_;
  bool started_ = false;

  http_session watch_session_;  // the watch thread's (and watch()'s first list)
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
};

}  // namespace

result<std::unique_ptr<provider>> kubernetes(kubernetes_options options) {
  if (auto wrong = k8s::check_label_value("system", options.system); !wrong.empty()) {
    return error(errc::invalid_argument, wrong);
  }
  if (auto wrong = k8s::check_label_value("application", options.application); !wrong.empty()) {
    return error(errc::invalid_argument, wrong);
  }
  if (options.port_names.empty()) {
    return error(errc::invalid_argument,
                 prefix("options.port_names is empty: name at least one container port"));
  }
  if (options.timeout <= std::chrono::milliseconds::zero()) {
    return error(errc::invalid_argument, prefix("options.timeout must be positive"));
  }
  return std::unique_ptr<provider>(new kubernetes_provider(std::move(options)));
}

}  // namespace akt::discovery
