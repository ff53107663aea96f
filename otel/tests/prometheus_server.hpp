// A real Prometheus for the telemetry tests: started on a free loopback
// port with a fresh data directory and a generated configuration that
// scrapes the given targets' /metrics (job "akt") every scrape_interval,
// ready when /-/ready says so (bounded wait), killed and cleaned up at the
// end. Values are read back through its HTTP query API.
//
//   akt_test::prometheus_server prom({"127.0.0.1:" + std::to_string(endpoint->port())});
//   auto v = prom.wait_for_value("akt_test_sent_total", [](double v) { return v >= 5; }, 20s);
//   ASSERT_TRUE(v) << prom.describe("akt_test_sent_total");
//
// Prometheus's own log (stderr) goes to a file in its directory; a failure
// to start says what it said. Start it from the test's own thread: it dies
// with that thread (akt::testkit::spawn_child).
//
// Thread safety: one test thread uses it.
#pragma once

#include <akt/testkit/child_process.hpp>
#include <akt/testkit/ports.hpp>

#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace akt_test {

using akt::testkit::free_tcp_port;

struct http_response {
  long status = 0;  // 0: no response (could not connect, timed out)
  std::string body;
  std::string error;  // libcurl's, when status is 0
};

// GET `url` with libcurl, bounded by `timeout`.
inline http_response http_get(const std::string& url,
                              std::chrono::milliseconds timeout = std::chrono::milliseconds(3000)) {
  http_response r;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) {
    r.error = "curl_easy_init failed";
    return r;
  }
  char error_buffer[CURL_ERROR_SIZE] = {};
  auto write = +[](char* data, std::size_t size, std::size_t n, void* out) -> std::size_t {
    static_cast<std::string*>(out)->append(data, size * n);
    return size * n;
  };
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, write);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, error_buffer);
  if (curl_easy_perform(curl.get()) == CURLE_OK) {
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &r.status);
  } else {
    r.error = error_buffer;
  }
  return r;
}

// One series of a query's answer.
struct prometheus_sample {
  std::map<std::string, std::string> labels;
  double value = 0;
};

class prometheus_server {
 public:
  // Scrapes `targets` ("127.0.0.1:9464") every `scrape_interval` (job
  // "akt"), started at once; throws if it is not ready within 30 s.
  explicit prometheus_server(std::vector<std::string> targets,
                             std::chrono::milliseconds scrape_interval = std::chrono::milliseconds(200))
      : targets_(std::move(targets)), scrape_interval_(scrape_interval) {
    std::string pattern = (std::filesystem::temp_directory_path() / "akt-prometheus.XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("cannot create a temporary directory");
    dir_ = pattern;
    write_config();
    // A port taken between free_tcp_port() and Prometheus's bind makes it
    // exit at start: tried again on another one.
    for (int attempt = 0;; ++attempt) {
      port_ = free_tcp_port();
      if (start()) return;
      if (attempt == 2) {
        std::filesystem::remove_all(dir_);
        throw std::runtime_error("Prometheus (" AKT_PROMETHEUS_BINARY ") did not start; it said: " +
                                 last_log_);
      }
    }
  }
  ~prometheus_server() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  prometheus_server(const prometheus_server&) = delete;
  prometheus_server& operator=(const prometheus_server&) = delete;

  // Its HTTP API and UI: "127.0.0.1:<port>".
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::chrono::milliseconds scrape_interval() const { return scrape_interval_; }

  // An instant query's series (a scalar answer: one sample without labels).
  // Throws when Prometheus does not answer or rejects the query.
  std::vector<prometheus_sample> query(const std::string& promql) const {
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
    char* escaped = curl_easy_escape(curl.get(), promql.c_str(), static_cast<int>(promql.size()));
    const std::string url = "http://" + address() + "/api/v1/query?query=" + escaped;
    curl_free(escaped);
    const http_response r = http_get(url);
    if (r.status == 0) throw std::runtime_error("Prometheus did not answer " + url + ": " + r.error);
    const auto json = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded() || json.value("status", "") != "success") {
      throw std::runtime_error("Prometheus rejected '" + promql + "' (HTTP " + std::to_string(r.status) +
                               "): " + r.body);
    }
    const auto& data = json.at("data");
    std::vector<prometheus_sample> out;
    auto number = [](const nlohmann::json& pair) { return std::stod(pair.at(1).get<std::string>()); };
    const std::string type = data.value("resultType", "");
    if (type == "scalar") {
      out.push_back({{}, number(data.at("result"))});
    } else if (type == "vector") {
      for (const auto& series : data.at("result")) {
        prometheus_sample s;
        for (const auto& [k, v] : series.at("metric").items()) s.labels[k] = v.get<std::string>();
        s.value = number(series.at("value"));
        out.push_back(std::move(s));
      }
    } else {
      throw std::runtime_error("Prometheus answered '" + promql + "' with a " + type +
                               ", not an instant vector");
    }
    return out;
  }

  // The first series' value, or nothing when the query selects none.
  std::optional<double> query_value(const std::string& promql) const {
    auto samples = query(promql);
    if (samples.empty()) return std::nullopt;
    return samples.front().value;
  }

  // Polls the query until its value satisfies `accept` (the value), or
  // `timeout` passes (nothing).
  std::optional<double> wait_for_value(const std::string& promql, const std::function<bool(double)>& accept,
                                       std::chrono::milliseconds timeout = std::chrono::seconds(20)) const {
    const auto until = std::chrono::steady_clock::now() + timeout;
    const auto poll =
        std::min<std::chrono::milliseconds>(scrape_interval_ / 2, std::chrono::milliseconds(100));
    while (true) {
      if (auto v = query_value(promql); v && accept(*v)) return v;
      if (std::chrono::steady_clock::now() >= until) return std::nullopt;
      std::this_thread::sleep_for(poll);
    }
  }

  // For a failed expectation: what the query answers now, and the state of
  // the scrape targets (up, last error).
  std::string describe(const std::string& promql) const {
    std::ostringstream out;
    out << promql << " = ";
    try {
      const auto samples = query(promql);
      if (samples.empty()) out << "(no series)";
      for (const auto& s : samples) out << s.value << " ";
    } catch (const std::exception& e) {
      out << e.what();
    }
    out << "; targets: " << http_get("http://" + address() + "/api/v1/targets").body;
    return out.str();
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  void write_config() const {
    std::ostringstream yaml;
    const auto ms = std::to_string(scrape_interval_.count()) + "ms";
    yaml << "global:\n"
         << "  scrape_interval: " << ms << "\n"
         << "  scrape_timeout: " << ms << "\n"
         << "scrape_configs:\n"
         << "  - job_name: akt\n"
         << "    static_configs:\n"
         << "      - targets: [";
    for (std::size_t i = 0; i < targets_.size(); ++i) yaml << (i ? ", " : "") << "'" << targets_[i] << "'";
    yaml << "]\n";
    std::ofstream(dir_ / "prometheus.yml", std::ios::trunc) << yaml.str();
  }

  // Starts it and waits until ready; false if it exited at start.
  bool start() {
    const auto log_path = dir_ / "prometheus.log";
    const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    // Through a shell, for its stderr (spawn_child sends the child's to
    // /dev/null): exec keeps the pid, so killing it kills Prometheus.
    pid_ = akt::testkit::spawn_child({"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1", AKT_PROMETHEUS_BINARY,
                                      "--config.file=" + (dir_ / "prometheus.yml").string(),
                                      "--storage.tsdb.path=" + (dir_ / "data").string(),
                                      "--web.listen-address=" + address(), "--log.level=info"},
                                     -1, log);
    ::close(log);
    if (pid_ < 0) throw std::runtime_error("cannot start Prometheus (" AKT_PROMETHEUS_BINARY ")");
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < until) {
      if (http_get("http://" + address() + "/-/ready", std::chrono::milliseconds(500)).status == 200)
        return true;
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        last_log_ = read_log_tail(log_path);
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    stop();
    throw std::runtime_error("Prometheus was not ready on " + address() +
                             " within 30 s; it said: " + read_log_tail(log_path));
  }

  static std::string read_log_tail(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
  }

  std::vector<std::string> targets_;
  std::chrono::milliseconds scrape_interval_;
  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  std::string last_log_;
};

}  // namespace akt_test
