// akt/logger.hpp — the logging interface Akt writes through, and two
// implementations: a default one on spdlog writing to stderr, and a discard
// logger. Plug in your own by implementing `logger`.
//
// Thread safety: implementations must accept concurrent calls (the provided
// ones do).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

namespace akt {

enum class log_level : std::uint8_t { trace, debug, info, warn, error, critical, off };

std::string_view to_string(log_level level) noexcept;

class logger {
 public:
  virtual ~logger() = default;
  virtual void log(log_level level, std::string_view message) = 0;
  // Messages below this level are not formatted at all.
  virtual log_level level() const noexcept = 0;

  bool is_enabled(log_level l) const noexcept { return l >= level() && l != log_level::off; }
  void debug(std::string_view m) { write(log_level::debug, m); }
  void info(std::string_view m) { write(log_level::info, m); }
  void warn(std::string_view m) { write(log_level::warn, m); }
  void error(std::string_view m) { write(log_level::error, m); }

 private:
  void write(log_level l, std::string_view m) {
    if (is_enabled(l)) log(l, m);
  }
};

// The default: spdlog, colored when stderr is a terminal, "[akt] [level] msg".
std::shared_ptr<logger> make_stderr_logger(log_level level = log_level::info);
// Drops everything; for benchmarks and tests that check their own output.
std::shared_ptr<logger> make_discard_logger();

}  // namespace akt
