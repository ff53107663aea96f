#include "kubernetes/http.hpp"

#include <curl/curl.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace akt::discovery::k8s {

namespace {

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      std::fputs("akt discovery: curl_global_init failed\n", stderr);
      std::abort();
    }
  });
}

struct transfer {
  CURL* easy;
  const http_request* request;
  http_response* response;
  std::string pending;  // a streamed line not complete yet
  bool streaming = false;
  bool decided = false;
  bool aborted = false;
};

std::size_t on_data(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<transfer*>(user);
  const std::size_t n = size * count;
  if (!t->decided) {
    // Only a 200 streams: an error's body is one Status object, kept whole.
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    t->streaming = t->request->on_line && status == 200;
    t->decided = true;
  }
  if (!t->streaming) {
    t->response->body.append(data, n);
    return n;
  }
  t->pending.append(data, n);
  std::size_t start = 0;
  for (std::size_t nl; (nl = t->pending.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string_view line(t->pending.data() + start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (!t->request->on_line(line)) {
      t->aborted = true;
      return 0;  // CURLE_WRITE_ERROR ends the transfer
    }
  }
  t->pending.erase(0, start);
  return n;
}

transport_failure classify(CURLcode code) {
  switch (code) {
    case CURLE_OK:
      return transport_failure::none;
    case CURLE_OPERATION_TIMEDOUT:
      return transport_failure::timed_out;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return transport_failure::unreachable;
    case CURLE_PEER_FAILED_VERIFICATION:
      return transport_failure::tls_untrusted;
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
      return transport_failure::tls_other;
    default:
      return transport_failure::other;
  }
}

}  // namespace

http_session::http_session() {
  init_curl_once();
  multi_ = curl_multi_init();
  if (multi_ == nullptr) {
    std::fputs("akt discovery: curl_multi_init failed\n", stderr);
    std::abort();
  }
}

http_session::~http_session() {
  curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

void http_session::interrupt() noexcept {
  interrupted_.store(true, std::memory_order_release);
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
}

http_outcome http_session::get(const http_request& request) {
  http_outcome out;
  if (is_interrupted()) {
    out.failure = transport_failure::interrupted;
    return out;
  }
  CURLM* multi = static_cast<CURLM*>(multi_);
  CURL* easy = curl_easy_init();
  if (easy == nullptr) {
    out.failure = transport_failure::other;
    out.detail = "curl_easy_init failed";
    return out;
  }
  transfer t{.easy = easy, .request = &request, .response = &out.response, .pending = {}};
  char errbuf[CURL_ERROR_SIZE] = {};
  const std::string auth = "Authorization: Bearer " + request.bearer_token;
  curl_slist* headers = curl_slist_append(nullptr, auth.c_str());
  headers = curl_slist_append(headers, "Accept: application/json");

  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_CAINFO, request.ca_file.c_str());
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "https,http");
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(request.total_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &on_data);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);

  curl_multi_add_handle(multi, easy);
  CURLcode result = CURLE_OK;
  bool done = false;
  while (!done) {
    if (is_interrupted()) {
      out.failure = transport_failure::interrupted;
      break;
    }
    int running = 0;
    if (curl_multi_perform(multi, &running) != CURLM_OK) {
      out.failure = transport_failure::other;
      out.detail = "curl_multi_perform failed";
      break;
    }
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy) {
        result = msg->data.result;
        done = true;
      }
    }
    // Wakes on socket activity, on curl's own timers, or on interrupt().
    if (!done) curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
  }
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &out.response.status);
  curl_multi_remove_handle(multi, easy);
  curl_easy_cleanup(easy);
  curl_slist_free_all(headers);

  if (done && out.failure == transport_failure::none) {
    if (t.aborted) {
      out.failure = transport_failure::aborted;
    } else {
      out.failure = classify(result);
      if (out.failure != transport_failure::none) {
        out.detail = errbuf[0] != '\0' ? std::string(errbuf) : std::string(curl_easy_strerror(result));
      }
    }
  }
  if (t.streaming) out.response.body = std::move(t.pending);
  return out;
}

std::string url_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

}  // namespace akt::discovery::k8s
