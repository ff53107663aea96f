// One HTTPS GET at a time over libcurl, for the Kubernetes provider: a whole
// response (a list) or a stream of lines (a watch), with a bearer token and
// a CA to trust. Every request runs on a curl multi handle so that another
// thread can end it at once (interrupt(): curl_multi_wakeup), even while it
// waits on a watch that sends nothing for minutes.
//
// Thread safety: get() from one thread at a time; interrupt() from any.
#pragma once

#include <akt/error.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>

namespace akt::discovery::k8s {

struct http_request {
  std::string url;
  std::string bearer_token;
  std::string ca_file;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds total_timeout{5000};  // 0: none (a watch)
  // When set and the status is 200, the body goes here line by line
  // (without the '\n') instead of into http_response::body; returning
  // false ends the transfer.
  std::function<bool(std::string_view line)> on_line{};
};

struct http_response {
  long status = 0;
  std::string body;  // the whole body, or for streamed 200s whatever followed the last '\n'
};

// What failed below HTTP, so the caller can say it in its own words.
enum class transport_failure {
  none,
  interrupted,    // interrupt() was called
  aborted,        // on_line returned false
  timed_out,      // connect or total timeout
  unreachable,    // no connection (refused, no route, name not resolved)
  tls_untrusted,  // the server's certificate does not verify against ca_file
  tls_other,      // another TLS failure (handshake, CA file unreadable)
  other,
};

struct http_outcome {
  transport_failure failure = transport_failure::none;
  std::string detail;  // curl's own words when failure != none
  http_response response;
};

class http_session {
 public:
  http_session();
  ~http_session();
  http_session(const http_session&) = delete;
  http_session& operator=(const http_session&) = delete;

  http_outcome get(const http_request& request);
  // Ends the request in flight and every later one (for good: stop()).
  void interrupt() noexcept;
  bool is_interrupted() const noexcept { return interrupted_.load(std::memory_order_acquire); }

 private:
  void* multi_;  // CURLM*, owned
  std::atomic<bool> interrupted_{false};
};

// Percent-encodes everything but RFC 3986's unreserved characters.
std::string url_encode(std::string_view s);

}  // namespace akt::discovery::k8s
