// The DNS provider's resolver: c-ares underneath, one channel per resolver
// (one per resolution), driven by poll() on the calling thread until every
// question has an answer, the deadline passes or the caller cancels. Plus the parsing
// that c-ares leaves to us: the addresses an SRV answer carries in its
// additional section.
//
// Thread safety: a dns_resolver is used by one thread at a time; separate
// resolvers share nothing (c-ares channels are independent).
#pragma once

#include <akt/error.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace akt::discovery::detail {

// A name server given as "ip:port", "ip", "[ipv6]:port" or "[ipv6]" (port 53
// when left out). No host names: resolving the resolver would need a resolver.
struct dns_server {
  int family = 0;                  // AF_INET or AF_INET6
  unsigned char address[16] = {};  // network byte order, 4 or 16 bytes used
  std::uint16_t port = 53;
  std::string text;  // as written, for messages
};
[[nodiscard]] result<dns_server> parse_dns_server(std::string_view text);

enum class dns_type : int { a = 1, aaaa = 28, srv = 33 };

struct dns_question {
  std::string name;
  dns_type type;
};

struct dns_answer {
  int status = 0;                      // ARES_SUCCESS or an ARES_E* code
  std::vector<unsigned char> message;  // the whole response, when there was one
};

class dns_resolver {
 public:
  // Servers empty: the system's (/etc/resolv.conf). Each round of
  // questions gets at most `timeout` (two tries per server within it).
  [[nodiscard]] static result<std::unique_ptr<dns_resolver>> open(const std::vector<dns_server>& servers,
                                                                  std::chrono::milliseconds timeout);
  ~dns_resolver();
  dns_resolver(const dns_resolver&) = delete;
  dns_resolver& operator=(const dns_resolver&) = delete;

  // Asks every question at once (the name as given, no search domains)
  // and gives the answers in the same order. Unanswered at the deadline:
  // ARES_ETIMEOUT; `cancel` turned true: ARES_ECANCELLED (checked every
  // 20 ms).
  std::vector<dns_answer> ask(const std::vector<dns_question>& questions, const std::atomic<bool>& cancel);

  // "127.0.0.1:53, [::1]:5353": the servers asked, for messages.
  const std::string& servers() const noexcept { return servers_; }

 private:
  struct channel;
  dns_resolver(std::unique_ptr<channel> ch, std::string servers, std::chrono::milliseconds timeout);

  std::unique_ptr<channel> channel_;
  std::string servers_;
  std::chrono::milliseconds timeout_;
};

// The A or AAAA addresses in an answer's answer section (CNAMEs followed),
// as text, sorted.
std::vector<std::string> answer_addresses(const dns_answer& answer, dns_type type);

struct srv_record {
  std::string target;  // lower case, no trailing dot; "" for "." (no service)
  std::uint16_t port = 0;
  std::uint16_t priority = 0;
};
[[nodiscard]] result<std::vector<srv_record>> answer_srv_records(const dns_answer& answer);

// Host (lower case) -> its A and AAAA addresses in the additional section,
// where servers often put the addresses of SRV targets. Malformed or
// absent: an empty map (the caller then asks for them).
std::map<std::string, std::vector<std::string>> additional_addresses(
    const std::vector<unsigned char>& message);

std::string to_lower(std::string_view text);

}  // namespace akt::discovery::detail
