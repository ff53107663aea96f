#include "dns_resolver.hpp"

#include <ares.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

namespace akt::discovery::detail {

namespace {

constexpr int class_in = 1;
constexpr auto poll_slice = std::chrono::milliseconds(20);  // how soon `cancel` is seen

std::string address_text(int family, const void* address) {
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(family, address, text, sizeof text);
  return text;
}

struct pending_question {
  dns_answer* answer;
  int* remaining;
};

void on_answer(void* arg, int status, int /*timeouts*/, unsigned char* message, int length) {
  auto* q = static_cast<pending_question*>(arg);
  q->answer->status = status;
  if (message != nullptr && length > 0) q->answer->message.assign(message, message + length);
  --*q->remaining;
}

// Reads a DNS message (RFC 1035 4.1) just far enough to find the
// additional section; every read is bounds-checked.
class message_reader {
 public:
  explicit message_reader(const std::vector<unsigned char>& m) : m_(m) {}

  bool u16(std::uint16_t& v) {
    if (pos_ + 2 > m_.size()) return false;
    v = static_cast<std::uint16_t>(m_[pos_] << 8 | m_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool skip(std::size_t n) {
    if (pos_ + n > m_.size()) return false;
    pos_ += n;
    return true;
  }
  bool name(std::string* out) {
    if (pos_ >= m_.size()) return false;
    char* text = nullptr;
    long encoded = 0;
    if (ares_expand_name(m_.data() + pos_, m_.data(), static_cast<int>(m_.size()), &text, &encoded) !=
        ARES_SUCCESS) {
      return false;
    }
    if (out != nullptr) *out = text;
    ares_free_string(text);
    return skip(static_cast<std::size_t>(encoded));
  }
  const unsigned char* here() const { return m_.data() + pos_; }

 private:
  const std::vector<unsigned char>& m_;
  std::size_t pos_ = 0;
};

}  // namespace

struct dns_resolver::channel {
  ares_channel ch = nullptr;
  ~channel() {
    if (ch != nullptr) ares_destroy(ch);
  }
};

std::string to_lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

result<dns_server> parse_dns_server(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return error(errc::invalid_argument,
                 "dns discovery: the server '" + std::string(text) + "' " + std::string(why) +
                     ": give ip:port, e.g. 10.96.0.10:53 or [fd00::a]:53 (no host names)");
  };
  dns_server s;
  s.text = std::string(text);
  std::string_view host = text;
  std::string_view port;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return bad("has no closing ']'");
    host = text.substr(1, close - 1);
    const auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return bad("has something other than :port after ']'");
      port = rest.substr(1);
      if (port.empty()) return bad("has an empty port");
    }
  } else if (const auto colon = text.find(':'); colon != std::string_view::npos && text.rfind(':') == colon) {
    host = text.substr(0, colon);  // one colon: IPv4:port; more: a bare IPv6 address
    port = text.substr(colon + 1);
    if (port.empty()) return bad("has an empty port");
  }
  const std::string host_text(host);
  if (::inet_pton(AF_INET, host_text.c_str(), s.address) == 1) {
    s.family = AF_INET;
  } else if (::inet_pton(AF_INET6, host_text.c_str(), s.address) == 1) {
    s.family = AF_INET6;
  } else {
    return bad("is not an IP address");
  }
  if (!port.empty()) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return bad("has a port that is not 1-65535");
    }
    s.port = static_cast<std::uint16_t>(value);
  }
  return s;
}

result<std::unique_ptr<dns_resolver>> dns_resolver::open(const std::vector<dns_server>& servers,
                                                         std::chrono::milliseconds timeout) {
  // Once per process, never undone: other users of c-ares in the process
  // (gRPC) count on it staying initialized.
  static const int library = ares_library_init(ARES_LIB_INIT_ALL);
  if (library != ARES_SUCCESS) {
    return error(errc::unavailable,
                 std::string("dns discovery: c-ares did not initialize: ") + ares_strerror(library));
  }
  auto ch = std::make_unique<channel>();
  ares_options options{};
  // Two tries per server: the first gets a third of the time, the retry
  // (c-ares doubles it) the other two thirds.
  options.timeout = static_cast<int>(std::max<long long>(1, timeout.count() / 3));
  options.tries = 2;
  const int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
  if (const int rc = ares_init_options(&ch->ch, &options, mask); rc != ARES_SUCCESS) {
    return error(errc::unavailable,
                 std::string("dns discovery: cannot set up the resolver (reading /etc/resolv.conf): ") +
                     ares_strerror(rc));
  }
  if (!servers.empty()) {
    std::vector<ares_addr_port_node> list(servers.size());
    for (std::size_t i = 0; i < servers.size(); ++i) {
      list[i].next = i + 1 < servers.size() ? &list[i + 1] : nullptr;
      list[i].family = servers[i].family;
      std::memcpy(&list[i].addr, servers[i].address, servers[i].family == AF_INET ? 4 : 16);
      list[i].udp_port = list[i].tcp_port = servers[i].port;
    }
    if (const int rc = ares_set_servers_ports(ch->ch, list.data()); rc != ARES_SUCCESS) {
      return error(errc::invalid_argument,
                   std::string("dns discovery: c-ares refused the servers: ") + ares_strerror(rc));
    }
  }
  std::string names;
  ares_addr_port_node* in_use = nullptr;
  if (ares_get_servers_ports(ch->ch, &in_use) == ARES_SUCCESS) {
    for (auto* s = in_use; s != nullptr; s = s->next) {
      const std::string ip = address_text(s->family, &s->addr);
      const int port = s->udp_port != 0 ? s->udp_port : 53;
      names += (names.empty() ? "" : ", ") + (s->family == AF_INET6 ? "[" + ip + "]" : ip) + ":" +
               std::to_string(port);
    }
    ares_free_data(in_use);
  }
  if (names.empty()) names = "no servers";
  return std::unique_ptr<dns_resolver>(new dns_resolver(std::move(ch), std::move(names), timeout));
}

dns_resolver::dns_resolver(std::unique_ptr<channel> ch, std::string servers,
                           std::chrono::milliseconds timeout)
    : channel_(std::move(ch)), servers_(std::move(servers)), timeout_(timeout) {}

dns_resolver::~dns_resolver() = default;

std::vector<dns_answer> dns_resolver::ask(const std::vector<dns_question>& questions,
                                          const std::atomic<bool>& cancel) {
  std::vector<dns_answer> answers(questions.size());
  std::vector<pending_question> pending(questions.size());
  int remaining = static_cast<int>(questions.size());
  ares_channel ch = channel_->ch;
  for (std::size_t i = 0; i < questions.size(); ++i) {
    pending[i] = {&answers[i], &remaining};
    ares_query(ch, questions[i].name.c_str(), class_in, static_cast<int>(questions[i].type), on_answer,
               &pending[i]);
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  bool timed_out = false;
  while (remaining > 0) {
    const auto now = std::chrono::steady_clock::now();
    if (cancel.load(std::memory_order_relaxed) || now >= deadline) {
      timed_out = now >= deadline;
      ares_cancel(ch);  // every question left gets ARES_ECANCELLED, now
      break;
    }
    ares_socket_t sockets[ARES_GETSOCK_MAXNUM];
    const int bits = ares_getsock(ch, sockets, ARES_GETSOCK_MAXNUM);
    pollfd fds[ARES_GETSOCK_MAXNUM];
    nfds_t count = 0;
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
      const bool readable = ARES_GETSOCK_READABLE(bits, i);
      const bool writable = ARES_GETSOCK_WRITABLE(bits, i);
      if (!readable && !writable) continue;
      fds[count++] = {.fd = sockets[i],
                      .events = static_cast<short>((readable ? POLLIN : 0) | (writable ? POLLOUT : 0)),
                      .revents = 0};
    }
    const auto slice = std::min<std::chrono::steady_clock::duration>(deadline - now, poll_slice);
    const auto slice_us = std::chrono::duration_cast<std::chrono::microseconds>(slice).count();
    timeval limit{.tv_sec = slice_us / 1000000, .tv_usec = slice_us % 1000000};
    timeval wait{};
    ares_timeout(ch, &limit, &wait);
    const int wait_ms = static_cast<int>(wait.tv_sec * 1000 + (wait.tv_usec + 999) / 1000);
    if (::poll(fds, count, wait_ms) <= 0) {
      ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // retransmits and timeouts
      continue;
    }
    for (nfds_t i = 0; i < count; ++i) {
      const bool in = (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) != 0;
      const bool out = (fds[i].revents & POLLOUT) != 0;
      ares_process_fd(ch, in ? fds[i].fd : ARES_SOCKET_BAD, out ? fds[i].fd : ARES_SOCKET_BAD);
    }
  }
  for (auto& a : answers) {
    if (timed_out && a.status == ARES_ECANCELLED) a.status = ARES_ETIMEOUT;
  }
  return answers;
}

std::vector<std::string> answer_addresses(const dns_answer& answer, dns_type type) {
  std::vector<std::string> out;
  if (answer.status != ARES_SUCCESS || answer.message.empty()) return out;
  const auto* m = answer.message.data();
  const int length = static_cast<int>(answer.message.size());
  constexpr int capacity = 256;
  int n = capacity;
  hostent* host = nullptr;
  if (type == dns_type::a) {
    ares_addrttl found[capacity];
    if (ares_parse_a_reply(m, length, &host, found, &n) == ARES_SUCCESS) {
      for (int i = 0; i < n; ++i) out.push_back(address_text(AF_INET, &found[i].ipaddr));
    }
  } else {
    ares_addr6ttl found[capacity];
    if (ares_parse_aaaa_reply(m, length, &host, found, &n) == ARES_SUCCESS) {
      for (int i = 0; i < n; ++i) out.push_back(address_text(AF_INET6, &found[i].ip6addr));
    }
  }
  if (host != nullptr) ares_free_hostent(host);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

result<std::vector<srv_record>> answer_srv_records(const dns_answer& answer) {
  ares_srv_reply* replies = nullptr;
  const int rc =
      ares_parse_srv_reply(answer.message.data(), static_cast<int>(answer.message.size()), &replies);
  if (rc == ARES_ENODATA) return std::vector<srv_record>{};  // e.g. only a CNAME that leads nowhere
  if (rc != ARES_SUCCESS) {
    return error(errc::unavailable,
                 std::string("dns discovery: a malformed SRV answer: ") + ares_strerror(rc));
  }
  std::vector<srv_record> out;
  for (auto* r = replies; r != nullptr; r = r->next) {
    std::string target = to_lower(r->host != nullptr ? r->host : "");
    if (target.ends_with('.')) target.pop_back();
    out.push_back({.target = std::move(target), .port = r->port, .priority = r->priority});
  }
  ares_free_data(replies);
  return out;
}

std::map<std::string, std::vector<std::string>> additional_addresses(
    const std::vector<unsigned char>& message) {
  std::map<std::string, std::vector<std::string>> out;
  message_reader r(message);
  std::uint16_t id = 0, flags = 0, questions = 0, answers = 0, authorities = 0, additionals = 0;
  if (!r.u16(id) || !r.u16(flags) || !r.u16(questions) || !r.u16(answers) || !r.u16(authorities) ||
      !r.u16(additionals)) {
    return {};
  }
  for (int i = 0; i < questions; ++i) {
    if (!r.name(nullptr) || !r.skip(4)) return {};
  }
  const int records = answers + authorities + additionals;
  for (int i = 0; i < records; ++i) {
    std::string owner;
    std::uint16_t type = 0, klass = 0, length = 0;
    if (!r.name(&owner) || !r.u16(type) || !r.u16(klass) || !r.skip(4) || !r.u16(length)) return {};
    const unsigned char* data = r.here();
    if (!r.skip(length)) return {};
    if (i < answers + authorities || klass != class_in) continue;
    owner = to_lower(owner);
    if (owner.ends_with('.')) owner.pop_back();
    if (type == static_cast<int>(dns_type::a) && length == 4) {
      out[owner].push_back(address_text(AF_INET, data));
    } else if (type == static_cast<int>(dns_type::aaaa) && length == 16) {
      out[owner].push_back(address_text(AF_INET6, data));
    }
  }
  return out;
}

}  // namespace akt::discovery::detail
