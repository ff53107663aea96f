// The default logger (spdlog, stderr) and the discard logger.
#include <akt/logger.hpp>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace akt {

std::string_view to_string(log_level level) noexcept {
  switch (level) {
    case log_level::trace:
      return "trace";
    case log_level::debug:
      return "debug";
    case log_level::info:
      return "info";
    case log_level::warn:
      return "warn";
    case log_level::error:
      return "error";
    case log_level::critical:
      return "critical";
    case log_level::off:
      return "off";
  }
  return "unknown";
}

namespace {

spdlog::level::level_enum to_spdlog(log_level l) {
  switch (l) {
    case log_level::trace:
      return spdlog::level::trace;
    case log_level::debug:
      return spdlog::level::debug;
    case log_level::info:
      return spdlog::level::info;
    case log_level::warn:
      return spdlog::level::warn;
    case log_level::error:
      return spdlog::level::err;
    case log_level::critical:
      return spdlog::level::critical;
    case log_level::off:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

class stderr_logger final : public logger {
 public:
  explicit stderr_logger(log_level level)
      : level_(level),
        impl_(std::make_shared<spdlog::logger>("akt",
                                               std::make_shared<spdlog::sinks::stderr_color_sink_mt>())) {
    impl_->set_level(to_spdlog(level));
    impl_->set_pattern("%Y-%m-%dT%H:%M:%S.%e [akt] [%^%l%$] %v");
  }
  void log(log_level level, std::string_view message) override {
    impl_->log(to_spdlog(level), "{}", message);
  }
  log_level level() const noexcept override { return level_; }

 private:
  log_level level_;
  std::shared_ptr<spdlog::logger> impl_;
};

class discard_logger final : public logger {
 public:
  void log(log_level, std::string_view) override {}
  log_level level() const noexcept override { return log_level::off; }
};

}  // namespace

std::shared_ptr<logger> make_stderr_logger(log_level level) {
  return std::make_shared<stderr_logger>(level);
}

std::shared_ptr<logger> make_discard_logger() {
  return std::make_shared<discard_logger>();
}

}  // namespace akt
