// Naming rules. Names appear in paths (akt://system/parent/child), so a
// name may not contain '/', and '$' is kept for anonymous actors.
#include <string>

#include "system/system_core.hpp"

namespace akt::detail {

namespace {

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

std::string quoted(std::string_view s) {
  std::string out = "'";
  for (char c : s.substr(0, 80)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > 80) out += "...";
  return out + "'";
}

std::string char_at(std::string_view s, std::size_t i) {
  const char c = s[i];
  std::string shown = (c >= 0x20 && c < 0x7f) ? std::string("'") + c + "'"
                                              : "byte " + std::to_string(static_cast<unsigned char>(c));
  return shown + " at position " + std::to_string(i);
}

}  // namespace

status validate_system_name(std::string_view name) {
  const std::string rule = "use 1 to 64 letters, digits, '-' or '_'";
  if (name.empty() || name.size() > 64) {
    return error(errc::invalid_name, "invalid actor system name " + quoted(name) + " (" +
                                         std::to_string(name.size()) + " characters): " + rule);
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!is_alnum(name[i]) && name[i] != '-' && name[i] != '_') {
      return error(errc::invalid_name, "invalid actor system name " + quoted(name) + ": " + char_at(name, i) +
                                           " is not allowed; " + rule);
    }
  }
  return {};
}

status validate_actor_name(std::string_view name) {
  const std::string rule =
      "use 1 to 255 letters, digits, '-', '_' or '.', starting with a letter, digit or '_'";
  if (name.empty() || name.size() > 255) {
    return error(errc::invalid_name, "invalid actor name " + quoted(name) + " (" +
                                         std::to_string(name.size()) + " characters): " + rule);
  }
  if (name[0] == '-' || name[0] == '.') {
    return error(errc::invalid_name,
                 "invalid actor name " + quoted(name) + ": it starts with " + char_at(name, 0) + "; " + rule);
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (!is_alnum(c) && c != '-' && c != '_' && c != '.') {
      return error(errc::invalid_name, "invalid actor name " + quoted(name) + ": " + char_at(name, i) +
                                           " is not allowed; " + rule);
    }
  }
  return {};
}

}  // namespace akt::detail
