// A real OTLP/HTTP receiver for tests: tests/otlp/receiver.mjs run by node,
// decoding every export with the OpenTelemetry JavaScript project's own
// protobuf definitions (not ours), so a test checks the wire, not our
// encoder against itself.
//
//   akt::otel::testing::otlp_receiver receiver;                 // listening when constructed
//   auto o = akt::otel::options{.otlp = {.endpoint = receiver.endpoint()}};
//   ...
//   auto req = receiver.wait_for(akt::otel::testing::has_metric("akt.actor.messages.processed"));
//   ASSERT_TRUE(req);
//   const auto* m = akt::otel::testing::find_metric(*req, "akt.actor.messages.processed");
//   EXPECT_EQ((*m)["sum"]["dataPoints"][0]["asInt"], "3");
//
// Each request is one JSON object: {"path": "/v1/metrics" | "/v1/traces",
// "status": the HTTP status answered, "contentType", "headers" (lower-case
// names), "body": the decoded Export*ServiceRequest}. The body uses
// protobufjs's names (camelCase: resourceMetrics, dataPoints, asInt,
// startTimeUnixNano), 64-bit integers as decimal strings ("42"), doubles as
// numbers, enums by name ("SPAN_KIND_SERVER", "AGGREGATION_TEMPORALITY_CUMULATIVE"),
// trace and span ids as lower-case hex; fields at their default (0, false,
// "", an empty parentSpanId) are left out. A body that did not decode has
// "error" instead of "body" (and was answered 400).
//
// Scripted failures: receiver_options::respond lists the statuses of the
// first requests (503 and 429 carry Retry-After: retry_after_seconds); the
// rest get 200.
//
// The node process dies with the receiver, and with the thread that made it
// (make it on the test's own thread). Every wait is bounded.
//
// Thread safety: every member may be called from any thread.
#pragma once

#include <akt/testkit/child_process.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace akt::otel::testing {

struct receiver_options {
  std::vector<int> respond{};   // statuses of the first requests, in order
  int retry_after_seconds = 0;  // Retry-After on a scripted 503 or 429
  std::chrono::milliseconds start_timeout{20000};
};

class otlp_receiver {
 public:
  explicit otlp_receiver(receiver_options o = {}) {
    const std::filesystem::path script = AKT_OTLP_RECEIVER_SCRIPT;
    if (!std::filesystem::exists(script.parent_path() / "node_modules")) {
      throw std::runtime_error("the OTLP receiver's npm packages are missing: run `npm ci` in " +
                               script.parent_path().string() + " (./run test does)");
    }
    std::vector<std::string> args = {AKT_NODE, script.string()};
    if (!o.respond.empty()) {
      std::string list;
      for (int s : o.respond) list += (list.empty() ? "" : ",") + std::to_string(s);
      args.insert(args.end(), {"--respond", list});
    }
    args.insert(args.end(), {"--retry-after", std::to_string(o.retry_after_seconds)});

    int out[2], in[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(in, O_CLOEXEC) != 0) {
      throw std::runtime_error("otlp_receiver: pipe2 failed");
    }
    pid_ = akt::testkit::spawn_child(std::move(args), in[0], out[1]);
    ::close(in[0]);
    ::close(out[1]);
    to_child_ = in[1];  // the receiver exits when this closes
    from_child_ = out[0];
    if (pid_ < 0) {
      close_fds();
      throw std::runtime_error("otlp_receiver: cannot start " AKT_NODE);
    }
    reader_ = std::thread([this] { read_loop(); });

    std::unique_lock lock(mutex_);
    const bool up = changed_.wait_for(lock, o.start_timeout, [this] { return port_ != 0 || ended_; });
    if (port_ == 0) {
      lock.unlock();
      stop();
      throw std::runtime_error(std::string("the OTLP receiver (") + AKT_OTLP_RECEIVER_SCRIPT + ") " +
                               (up ? "exited before it listened" : "did not say its port in time"));
    }
  }

  ~otlp_receiver() { stop(); }
  otlp_receiver(const otlp_receiver&) = delete;
  otlp_receiver& operator=(const otlp_receiver&) = delete;

  std::uint16_t port() const { return port_; }
  // The base URL: OTLP's /v1/metrics and /v1/traces are under it.
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // The first request (received before or after the call) for which `pred`
  // is true, or nothing after `timeout`. `pred` runs under the receiver's
  // lock: it must not call the receiver.
  std::optional<nlohmann::json> wait_for(const std::function<bool(const nlohmann::json&)>& pred,
                                         std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    std::size_t seen = 0;
    std::optional<nlohmann::json> found;
    changed_.wait_for(lock, timeout, [&] {
      for (; seen < requests_.size(); ++seen) {
        if (pred(requests_[seen])) {
          found = requests_[seen];
          return true;
        }
      }
      return ended_;
    });
    return found;
  }

  // Every request received so far, in order.
  std::vector<nlohmann::json> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  std::size_t count(std::string_view path) const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& r : requests_) n += r.value("path", "") == path ? 1 : 0;
    return n;
  }

  // Returns once every request answered before the call is in requests()
  // (a GET /sync makes the receiver print a marker after them); false when
  // that took longer than `timeout`.
  bool sync(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const std::string id = std::to_string(++syncs_);
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port_);
    bool sent = false;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      const std::string req =
          "GET /sync?id=" + id + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
      sent = ::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size());
    }
    bool seen = false;
    if (sent) {
      std::unique_lock lock(mutex_);
      const auto arrived = [&] { return std::find(synced_.begin(), synced_.end(), id) != synced_.end(); };
      seen = changed_.wait_for(lock, timeout, [&] { return arrived() || ended_; }) && arrived();
    }
    ::close(fd);
    return seen;
  }

 private:
  void read_loop() {
    std::string buffer;
    char chunk[65536];
    for (;;) {
      const ssize_t n = ::read(from_child_, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      buffer.append(chunk, static_cast<std::size_t>(n));
      std::size_t start = 0;
      for (std::size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1) {
        take_line(std::string_view(buffer).substr(start, nl - start));
      }
      buffer.erase(0, start);
    }
    std::lock_guard lock(mutex_);
    ended_ = true;
    changed_.notify_all();
  }

  void take_line(std::string_view line) {
    std::lock_guard lock(mutex_);
    if (port_ == 0 && line.starts_with("listening ")) {
      port_ = static_cast<std::uint16_t>(std::stoi(std::string(line.substr(10))));
    } else {
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded()) j = nlohmann::json{{"path", ""}, {"unparsed", std::string(line)}};
      if (j.value("path", "") == "/sync") {
        synced_.push_back(j.value("id", ""));
      } else {
        requests_.push_back(std::move(j));
      }
    }
    changed_.notify_all();
  }

  void stop() {
    if (to_child_ >= 0) {
      ::close(to_child_);
      to_child_ = -1;
    }
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    if (reader_.joinable()) reader_.join();  // the pipe's only writer is gone: EOF
    close_fds();
  }

  void close_fds() {
    if (to_child_ >= 0) ::close(to_child_);
    if (from_child_ >= 0) ::close(from_child_);
    to_child_ = from_child_ = -1;
  }

  pid_t pid_ = -1;
  int to_child_ = -1;
  int from_child_ = -1;
  std::thread reader_;
  std::atomic<int> syncs_{0};
  std::uint16_t port_ = 0;  // set once, before the constructor returns; guarded by mutex_ until then
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<nlohmann::json> requests_;  // guarded by mutex_
  std::vector<std::string> synced_;       // guarded by mutex_: the /sync ids seen
  bool ended_ = false;                    // guarded by mutex_: the receiver's output ended
};

// Helpers over a request's JSON.

// j[key] when it is an array, else an empty one (by reference: pointers into
// it stay valid as long as `j`).
inline const nlohmann::json& array_member(const nlohmann::json& j, const char* key) {
  static const nlohmann::json empty = nlohmann::json::array();
  if (!j.is_object()) return empty;
  auto it = j.find(key);
  return it != j.end() && it->is_array() ? *it : empty;
}

// The metric named `name` in a /v1/metrics request (null: absent); points
// into `request`.
inline const nlohmann::json* find_metric(const nlohmann::json& request, std::string_view name) {
  if (!request.contains("body")) return nullptr;
  for (const auto& rm : array_member(request["body"], "resourceMetrics")) {
    for (const auto& sm : array_member(rm, "scopeMetrics")) {
      for (const auto& m : array_member(sm, "metrics")) {
        if (m.value("name", "") == name) return &m;
      }
    }
  }
  return nullptr;
}

// Every span of a /v1/traces request (copies).
inline std::vector<nlohmann::json> spans_of(const nlohmann::json& request) {
  std::vector<nlohmann::json> out;
  if (!request.contains("body")) return out;
  for (const auto& rs : array_member(request["body"], "resourceSpans")) {
    for (const auto& ss : array_member(rs, "scopeSpans")) {
      for (const auto& s : array_member(ss, "spans")) out.push_back(s);
    }
  }
  return out;
}

// The AnyValue of `key` in a list of KeyValue ({"stringValue": "x"}; null: absent).
inline const nlohmann::json* find_attribute(const nlohmann::json& key_values, std::string_view key) {
  if (!key_values.is_array()) return nullptr;
  for (const auto& kv : key_values) {
    if (kv.value("key", "") == key && kv.contains("value")) return &kv["value"];
  }
  return nullptr;
}

// A string attribute's value, or "" when absent or not a string.
inline std::string string_attribute(const nlohmann::json& key_values, std::string_view key) {
  const nlohmann::json* v = find_attribute(key_values, key);
  return v != nullptr ? v->value("stringValue", "") : "";
}

// Predicates for wait_for.
inline std::function<bool(const nlohmann::json&)> has_metric(std::string name) {
  return [name = std::move(name)](const nlohmann::json& r) { return find_metric(r, name) != nullptr; };
}
inline std::function<bool(const nlohmann::json&)> has_span(std::string name) {
  return [name = std::move(name)](const nlohmann::json& r) {
    for (const auto& s : spans_of(r)) {
      if (s.value("name", "") == name) return true;
    }
    return false;
  };
}
inline std::function<bool(const nlohmann::json&)> on_path(std::string path) {
  return [path = std::move(path)](const nlohmann::json& r) { return r.value("path", "") == path; };
}

}  // namespace akt::otel::testing
