// A stand-in for the Kubernetes API server (none can run here), for
// kubernetes_test.cpp: HTTPS on 127.0.0.1 (asio + OpenSSL, one thread per
// connection), a bearer token, and the real API's JSON: PodList, WatchEvent
// lines in a chunked stream, Status objects for 401 / 403 / 410. It keeps a
// history of pod changes by resourceVersion as etcd does, so a watch from a
// version replays what came after it, and a version older than the last
// compaction gets 410 Gone.
//
// Thread safety: every public function from any thread.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace akt::discovery::testing {

struct recorded_request {
  std::string target;  // path and query, as sent
  std::string token;   // the bearer token, or empty
  int status = 0;      // what the server answered
  bool watch = false;
};

class fake_api_server {
 public:
  fake_api_server(const std::string& cert_file, const std::string& key_file, std::string token,
                  std::string namespace_name);
  ~fake_api_server();
  fake_api_server(const fake_api_server&) = delete;
  fake_api_server& operator=(const fake_api_server&) = delete;

  std::string url() const;  // "https://127.0.0.1:<port>"
  std::uint16_t port() const;

  void set_token(std::string token);
  void set_forbidden(bool forbidden);            // 403 for every request with the right token
  void set_gone_as_http_status(bool as_status);  // 410 as the response's status, not an ERROR event
  void set_list_body(std::string body);          // a list answers this (malformed) body; empty: the real one

  // A pod changes as it would on the API server: a new resourceVersion and
  // one WatchEvent (ADDED, MODIFIED, DELETED) for every watch that selects it.
  void apply(const std::string& type, nlohmann::json pod);
  // A change no watch sees, then the history is compacted and every watch
  // ends: a watch from any earlier version gets 410 Gone.
  void compact_with_silent_change(const std::string& type, nlohmann::json pod);
  // Every open watch ends (cleanly: the last chunk), as the API server does
  // at a watch's timeoutSeconds.
  void end_watches();

  std::vector<recorded_request> requests() const;
  // Waits (at most `limit`) until the requests so far satisfy `done`.
  bool wait_for_requests(const std::function<bool(const std::vector<recorded_request>&)>& done,
                         std::chrono::milliseconds limit) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// A pod as the API server shows it, labelled for `system` and `app` as the provider selects.
nlohmann::json make_pod(const std::string& name, const std::string& system, const std::string& app,
                        const std::string& phase, bool ready, const std::string& ip,
                        const std::vector<std::pair<std::string, int>>& ports);

}  // namespace akt::discovery::testing
