#include "address.hpp"

#include <asio/ip/address.hpp>

namespace akt::remote::detail {

std::string node_address::to_string() const {
  return host + ":" + std::to_string(port);
}

result<node_address> parse_address(std::string_view address) {
  auto bad = [&](const std::string& why) {
    return error(errc::invalid_argument,
                 "'" + std::string(address) + "' is not a node address host:port: " + why);
  };
  if (address.size() > 64) return bad("too long");
  const auto colon = address.rfind(':');
  if (colon == std::string_view::npos) return bad("no ':port'");
  const std::string_view host = address.substr(0, colon);
  const std::string_view port = address.substr(colon + 1);
  if (host.empty()) return bad("no host");
  if (port.empty() || port.size() > 5) return bad("the port is not a number in 1..65535");
  std::uint32_t p = 0;
  for (char ch : port) {
    if (ch < '0' || ch > '9') return bad("the port '" + std::string(port) + "' is not a number");
    p = p * 10 + static_cast<std::uint32_t>(ch - '0');
  }
  if (p == 0 || p > 65535) return bad("the port " + std::to_string(p) + " is outside 1..65535");
  asio::error_code ec;
  (void)asio::ip::make_address(std::string(host), ec);
  if (ec) return bad("the host '" + std::string(host) + "' is not an IP address");
  return node_address{std::string(host), static_cast<std::uint16_t>(p)};
}

bool looks_remote(std::string_view path) noexcept {
  constexpr std::string_view scheme = "akt://";
  if (!path.starts_with(scheme)) return false;
  path.remove_prefix(scheme.size());
  const auto at = path.find('@');
  const auto slash = path.find('/');
  return at != std::string_view::npos && (slash == std::string_view::npos || at < slash);
}

result<remote_path> parse_remote_path(std::string_view path) {
  auto bad = [&](const std::string& why) {
    return error(errc::invalid_argument,
                 "'" + std::string(path) + "' is not a remote path akt://system@host:port/name: " + why);
  };
  constexpr std::string_view scheme = "akt://";
  if (!path.starts_with(scheme)) return bad("it does not start with akt://");
  std::string_view rest = path.substr(scheme.size());
  const auto at = rest.find('@');
  const auto slash = rest.find('/');
  if (at == std::string_view::npos || (slash != std::string_view::npos && at > slash)) return bad("no '@'");
  if (at == 0) return bad("no system name");
  if (slash == std::string_view::npos) return bad("no actor name after the address");
  auto address = parse_address(rest.substr(at + 1, slash - at - 1));
  if (!address) return bad(address.error().message());
  const auto last = rest.rfind('/');
  const std::string_view name = rest.substr(last + 1);
  if (name.empty()) return bad("an empty actor name");
  return remote_path{address->to_string(), std::string(name)};
}

bool is_loopback(std::string_view host) {
  asio::error_code ec;
  const auto ip = asio::ip::make_address(std::string(host), ec);
  return !ec && ip.is_loopback();
}

}  // namespace akt::remote::detail
