#include "otlp/otlp_exporter.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>

namespace akt::otel::detail {

namespace {

constexpr std::chrono::milliseconds first_backoff{100};
constexpr std::chrono::milliseconds max_backoff{5000};
// An error answer is kept to this much; its message quotes less.
constexpr std::size_t max_kept_body = 4096;
constexpr std::size_t max_quoted_body = 200;

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      std::fputs("akt otel: curl_global_init failed\n", stderr);
      std::abort();
    }
  });
}

std::size_t keep_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  const std::size_t n = size * count;
  body->append(data, std::min(n, max_kept_body - std::min(max_kept_body, body->size())));
  return n;  // the rest is read and dropped, so the connection stays usable
}

int check_cancelled(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const otlp_exporter*>(user)->is_cancelled() ? 1 : 0;
}

// The start of a collector's answer, printable and on one line.
std::string quote_body(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, max_quoted_body)) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u >= 0x20 && u < 0x7f ? c : (c == '\n' || c == '\r' || c == '\t') ? ' ' : '?');
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (body.size() > max_quoted_body) out += "...";
  return out.empty() ? std::string("(empty body)") : "\"" + out + "\"";
}

bool is_retryable_status(long status) {
  return status == 429 || status == 502 || status == 503 || status == 504;
}

// Retry-After in seconds (the delta form; the date form through curl's own
// parsing), or -1 when absent.
std::chrono::milliseconds retry_after(CURL* easy) {
  curl_header* h = nullptr;
  if (curl_easy_header(easy, "Retry-After", 0, CURLH_HEADER, -1, &h) != CURLHE_OK || h == nullptr) {
    return std::chrono::milliseconds(-1);
  }
  std::string_view v(h->value);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  long long seconds = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
  if (ec == std::errc() && end == v.data() + v.size() && seconds >= 0) {
    return std::chrono::seconds(std::min<long long>(seconds, 3600));
  }
  curl_off_t parsed = 0;
  if (curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &parsed) == CURLE_OK && parsed > 0) {
    return std::chrono::seconds(std::min<curl_off_t>(parsed, 3600));
  }
  return std::chrono::milliseconds(-1);
}

}  // namespace

struct otlp_exporter::attempt {
  enum class outcome { accepted, retryable, permanent, cancelled };
  outcome result = outcome::accepted;
  std::string what;                           // what happened, for the error message
  std::chrono::milliseconds retry_after{-1};  // the collector's wish; -1: none
};

otlp_exporter::otlp_exporter(otlp_config c) : config_(std::move(c)), jitter_(std::random_device{}()) {
  init_curl_once();
  curl_ = curl_easy_init();
  if (curl_ == nullptr) {
    std::fputs("akt otel: curl_easy_init failed\n", stderr);
    std::abort();
  }
}

otlp_exporter::~otlp_exporter() {
  curl_easy_cleanup(static_cast<CURL*>(curl_));
}

void otlp_exporter::cancel() noexcept {
  {
    std::lock_guard lock(mutex_);
    cancelled_.store(true, std::memory_order_release);
  }
  wake_.notify_all();
}

bool otlp_exporter::wait_before_retry(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, delay, [this] { return is_cancelled(); });
}

status otlp_exporter::export_metrics(const metric_snapshot& s, const resource_info& r) {
  if (!exports_metrics()) return {};
  return post(config_.metrics_url, encode_metrics(s, r));
}

status otlp_exporter::export_spans(std::span<const span_data> spans, const resource_info& r) {
  if (!exports_spans() || spans.empty()) return {};
  return post(config_.traces_url, encode_spans(spans, r));
}

status otlp_exporter::post(const std::string& url, const std::string& body) {
  const auto cancelled = [&url] {
    return error(errc::not_running, "OTLP export to " + url + " cancelled (the telemetry is stopping)");
  };
  std::chrono::milliseconds backoff = first_backoff;
  for (int retry = 0;; ++retry) {
    if (is_cancelled()) return cancelled();
    attempt a = send_once(url, body);
    switch (a.result) {
      case attempt::outcome::accepted:
        return {};
      case attempt::outcome::cancelled:
        return cancelled();
      case attempt::outcome::permanent:
        return error(errc::invalid_argument,
                     "OTLP export to " + url + " refused: " + a.what + " (not retried)");
      case attempt::outcome::retryable:
        break;
    }
    if (retry >= config_.max_retries) {
      return error(errc::unavailable, "OTLP export to " + url + " failed " + std::to_string(retry + 1) +
                                          (retry == 0 ? " time" : " times") + " (" +
                                          std::to_string(config_.max_retries) +
                                          " retries allowed), the last: " + a.what);
    }
    std::chrono::milliseconds delay;
    if (a.retry_after.count() >= 0) {
      delay = std::min(a.retry_after, max_backoff);
    } else {
      // Half the backoff plus up to as much again: exporters that failed
      // together do not retry together.
      std::uniform_int_distribution<long long> spread(0, backoff.count() / 2);
      delay = backoff / 2 + std::chrono::milliseconds(spread(jitter_));
    }
    backoff = std::min(backoff * 2, max_backoff);
    if (!wait_before_retry(delay)) return cancelled();
  }
}

otlp_exporter::attempt otlp_exporter::send_once(const std::string& url, const std::string& body) {
  CURL* easy = static_cast<CURL*>(curl_);
  curl_easy_reset(easy);  // keeps the open connection for the next request
  std::string answer;
  char errbuf[CURL_ERROR_SIZE] = {};
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/x-protobuf");
  // No "Expect: 100-continue" for large bodies: it would wait a second for
  // an interim answer most collectors never send.
  headers = curl_slist_append(headers, "Expect:");
  for (const auto& [name, value] : config_.headers) {
    headers = curl_slist_append(headers, (name + ": " + value).c_str());
  }

  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_POST, 1L);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "akt-otel/0.1.0");
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.timeout.count()));
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &keep_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, &check_cancelled);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, this);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);

  const CURLcode rc = curl_easy_perform(easy);
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  attempt a;
  if (rc == CURLE_OK) {
    if (status >= 200 && status < 300) {
      a.result = attempt::outcome::accepted;
    } else {
      a.result = is_retryable_status(status) ? attempt::outcome::retryable : attempt::outcome::permanent;
      a.what = "HTTP " + std::to_string(status) + " " + quote_body(answer);
      if (a.result == attempt::outcome::retryable) a.retry_after = retry_after(easy);
    }
  } else {
    const std::string detail = errbuf[0] != '\0' ? std::string(errbuf) : std::string(curl_easy_strerror(rc));
    switch (rc) {
      case CURLE_ABORTED_BY_CALLBACK:
        a.result = attempt::outcome::cancelled;
        break;
      case CURLE_OPERATION_TIMEDOUT:
        a.result = attempt::outcome::retryable;
        a.what = "no answer within " +
                 akt::detail::format_duration(std::chrono::nanoseconds(config_.timeout).count()) + " (" +
                 detail + ")";
        break;
      case CURLE_COULDNT_CONNECT:
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_COULDNT_RESOLVE_PROXY:
        a.result = attempt::outcome::retryable;
        a.what = "cannot connect (" + detail + ")";
        break;
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CACERT_BADFILE:
      case CURLE_SSL_CERTPROBLEM:
      case CURLE_UNSUPPORTED_PROTOCOL:
      case CURLE_URL_MALFORMAT:
        // Configuration, not the collector's health: retrying cannot help.
        a.result = attempt::outcome::permanent;
        a.what = detail;
        break;
      default:
        // A connection dropped mid-request and the like: worth another try.
        a.result = attempt::outcome::retryable;
        a.what = detail;
        break;
    }
  }
  // errbuf and headers die here: the handle must not point at them.
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);
  return a;
}

}  // namespace akt::otel::detail
