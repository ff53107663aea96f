// Node addresses ("host:port") and remote actor paths
// ("akt://system@host:port/name"): parsed strictly where they are given, so
// a malformed one is refused with a message that says what is wrong, not
// at the first send.
#pragma once

#include <akt/error.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace akt::remote::detail {

struct node_address {
  std::string host;  // an IP address (IPv6 without brackets)
  std::uint16_t port = 0;
  std::string to_string() const;  // "host:port" ("[v6]:port" is not used: host:port, split at the last ':')
};

// "127.0.0.1:4000": host an IP address, port a number in 1..65535.
result<node_address> parse_address(std::string_view address);

struct remote_path {
  std::string address;  // "host:port", validated
  std::string name;     // the last element of the path
};

// "akt://sys@host:port/a/b". Errors: invalid_argument naming the fault.
result<remote_path> parse_remote_path(std::string_view path);
// True when `path` has the shape of a remote path (akt://x@y/...), valid or not.
bool looks_remote(std::string_view path) noexcept;

bool is_loopback(std::string_view host);

}  // namespace akt::remote::detail
